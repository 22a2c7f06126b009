"""The command line (CONTRACT.md, "Command line"): exit status 0 on success, 2 on bad input or
usage with one ``error:`` line per problem on stderr and no traceback."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from xvaflow.cli import main
from xvaflow.io.portfolio import load_portfolio
from xvaflow.pricing.t0 import price_t0

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"
TRADE_IDS = [f"T{i:03d}" for i in range(1, 21)]
BROKEN_LINES = [
    "error: counterparties.csv row 4 (CP_HELIOS), recovery: must be at most 0.99, got 1.5",
    "error: trades.csv row 3 (T002), notional: must be positive, got 0",
    "error: trades.csv row 8 (T007), float_index: unknown index 'SOFR'; expected one of "
    "CHF-SARON, EUR-ESTR, EUR-EURIBOR-3M, EUR-EURIBOR-6M, GBP-SONIA, JPY-TONA, USD-SOFR, "
    "USD-TERM-3M",
]


def _set_cell(path: Path, key: str, column: str, value: str) -> None:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    row = next(r for r in rows if r[0] == key)
    row[rows[0].index(column)] = value
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    return Path(shutil.copytree(DEMO, tmp_path / "demo"))


@pytest.fixture
def broken(demo: Path) -> Path:
    """The demo with three mistakes in two files."""
    _set_cell(demo / "trades.csv", "T002", "notional", "0")
    _set_cell(demo / "trades.csv", "T007", "float_index", "SOFR")
    _set_cell(demo / "counterparties.csv", "CP_HELIOS", "recovery", "1.5")
    return demo


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("xvaflow")
    return [str(script)] if script.exists() else [sys.executable, "-m", "xvaflow.cli"]


def test_validate_demo(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(demo)]) == 0
    out, err = capsys.readouterr()
    assert out == (f"{demo}: OK - 20 trades, 3 netting sets, 3 counterparties, 1 CSAs, as of "
                   "2026-11-20, 0 warnings\n")
    assert err == ""


def test_validate_prints_warnings(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (demo / "run.json").write_text('{"paths": 100, "colour": "blue"}', encoding="utf-8")
    assert main(["validate", str(demo)]) == 0
    out, err = capsys.readouterr()
    assert "1 warnings" in out
    assert err == "warning: run.json, colour: unknown setting, ignored\n"


def test_validate_broken(broken: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(broken)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines == [*BROKEN_LINES, "3 problem(s); nothing was computed."]
    assert "Traceback" not in err


def test_validate_missing_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[0] == f"error: {tmp_path / 'nothing'}: is not a directory"


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["validate"])
    assert info.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_real_exit_codes(demo: Path, tmp_path: Path) -> None:
    ok = subprocess.run([*_cli(), "validate", str(demo)],  # noqa: S603 (our own script)
                        capture_output=True, text=True, check=False, timeout=60)
    assert ok.returncode == 0, ok.stderr
    broken = Path(shutil.copytree(demo, tmp_path / "broken"))
    _set_cell(broken / "trades.csv", "T002", "notional", "0")
    _set_cell(broken / "trades.csv", "T007", "float_index", "SOFR")
    _set_cell(broken / "counterparties.csv", "CP_HELIOS", "recovery", "1.5")
    bad = subprocess.run([*_cli(), "validate", str(broken)],  # noqa: S603
                         capture_output=True, text=True, check=False, timeout=60)
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert bad.stderr.splitlines() == [*BROKEN_LINES, "3 problem(s); nothing was computed."]


def test_price_writes_results(demo: Path, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "out"
    assert main(["price", str(demo), "--out", str(out_dir)]) == 0
    stdout, stderr = capsys.readouterr()
    assert stderr == f"wrote {out_dir / 'results.json'}\n"
    assert len(stdout.splitlines()) == 22  # header, 20 trades, total
    visible = [p.name for p in out_dir.iterdir() if not p.name.startswith(".")]
    assert visible == ["results.json"]  # beside the published set: .lock, .runs/, .current

    doc = json.loads((out_dir / "results.json").read_text(encoding="utf-8"))
    assert doc["schema_version"] == 1
    assert (doc["as_of"], doc["base_currency"]) == ("2026-11-20", "USD")
    assert list(doc["trades"]) == TRADE_IDS
    pf = load_portfolio(demo)
    values = price_t0(pf.compiled, pf.market)
    eur = {"T002", "T005", "T006", "T008", "T011", "T014", "T016", "T018", "T020"}
    for i, tid in enumerate(TRADE_IDS):
        row = doc["trades"][tid]
        assert set(row) == {"netting_set_id", "product", "npv", "currency", "npv_base"}
        assert row["netting_set_id"] == pf.trades[i].info.netting_set_id
        assert row["product"] == pf.trades[i].info.product
        assert row["currency"] == ("EUR" if tid in eur else "USD")
        assert row["npv"] == values.npv[i]
        assert row["npv_base"] == values.npv_base[i]
        fx = 1.08 if row["currency"] == "EUR" else 1.0
        assert row["npv_base"] == pytest.approx(row["npv"] * fx, rel=1e-12)
        assert row["npv"] != 0.0


def test_price_without_out_writes_nothing(demo: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    before = sorted(p.name for p in demo.iterdir())
    assert main(["price", str(demo)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("total")
    assert sorted(p.name for p in demo.iterdir()) == before


def test_price_bad_input_writes_nothing(broken: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "out"
    assert main(["price", str(broken), "--out", str(out_dir)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [*BROKEN_LINES, "3 problem(s); nothing was computed."]
    assert not out_dir.exists()


def test_price_out_is_a_file(demo: Path, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "results"
    target.write_text("keep me", encoding="utf-8")
    assert main(["price", str(demo), "--out", str(target)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines()[0] == (f"error: command line: --out {target}: exists and is not a "
                                   "directory")
    assert "Traceback" not in err
    assert target.read_text(encoding="utf-8") == "keep me"


@pytest.mark.parametrize("argv", [
    ["run", str(DEMO), "--out", "{tmp}/out", "--run-id", "no spaces"],
    ["submit", str(DEMO), "--stack", "S", "--run-id", "../escape"],
    ["status", "a/b", "--stack", "S"],
])
def test_bad_run_id_is_a_usage_error(argv: list[str], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """A run id becomes S3 keys and an execution name: checked before anything runs or any AWS
    client is made (these commands would otherwise need credentials)."""
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: command line: --run-id: run id ")
    assert "must be 1-80 letters, digits" in err
    assert not (tmp_path / "out").exists()


def test_submit_bad_portfolio_fails_before_aws(broken: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """The local checks run first: a bad portfolio never reaches AWS (no credentials here)."""
    assert main(["submit", str(broken), "--stack", "S", "--run-id", "r1"]) == 2
    assert capsys.readouterr().err.splitlines() == [*BROKEN_LINES,
                                                     "3 problem(s); nothing was computed."]


SACCR_FIELDS = {"margined", "v", "c", "rc", "multiplier", "addon", "addon_ir", "addon_fx",
                "addon_eq", "pfe", "ead", "ead_unmargined"}


def test_capital_demo(demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``xvaflow capital`` publishes results.json with the capital section (CONTRACT.md) and
    prints one line per netting set; the numbers are those of the library call."""
    from xvaflow.regulatory.capital import capital_section

    out_dir = tmp_path / "out"
    assert main(["capital", str(demo), "--out", str(out_dir)]) == 0
    out, err = capsys.readouterr()
    assert f"wrote {out_dir / 'results.json'}" in err
    assert [line.split()[0] for line in out.splitlines()[2:5]] == \
        ["NS_NORDBANK", "NS_ACME", "NS_HELIOS"]
    doc = json.loads((out_dir / "results.json").read_text())
    assert (out_dir / "results.json").is_symlink()
    assert (doc["schema_version"], doc["run"]["command"]) == (1, "capital")
    assert set(doc) == {"schema_version", "as_of", "base_currency", "run", "capital"}
    saccr = doc["capital"]["saccr"]
    assert list(saccr) == ["NS_NORDBANK", "NS_ACME", "NS_HELIOS"]
    assert all(set(r) == SACCR_FIELDS for r in saccr.values())
    assert [r["margined"] for r in saccr.values()] == [True, False, False]
    assert all(r["ead"] > 0 for r in saccr.values())
    ba = doc["capital"]["ba_cva"]
    assert set(ba["by_counterparty"]) == {"CP_NORDBANK", "CP_ACME", "CP_HELIOS"}
    assert ba["full"] is None
    assert ba["reduced"] > 0
    pf = load_portfolio(demo)
    assert doc["capital"] == capital_section(pf, price_t0(pf.compiled, pf.market).npv_base)


def test_capital_bad_input_writes_nothing(broken: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "out"
    assert main(["capital", str(broken), "--out", str(out_dir)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [*BROKEN_LINES, "3 problem(s); nothing was computed."]
    assert not out_dir.exists()


def test_capital_needs_out(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["capital", str(demo)])
    assert info.value.code == 2
    assert "--out" in capsys.readouterr().err


NEW_SWAP = ("trade_id,netting_set_id,product,direction,notional,currency,start_date,"
            "maturity_date,fixed_rate,fixed_frequency,fixed_daycount,float_index,"
            "float_frequency,float_spread,float_daycount\n"
            "N1,NS_ACME,IRS,receiver,50000000,USD,2026-11-24,2033-11-24,0.036,annual,ACT/360,"
            "USD-SOFR,annual,0,ACT/360\n")


def test_whatif_demo(demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``xvaflow whatif`` publishes results.json with the ``whatif`` section of the touched
    netting set and prints its increments."""
    new = tmp_path / "new.csv"
    new.write_text(NEW_SWAP, encoding="utf-8")
    out_dir = tmp_path / "out"
    assert main(["whatif", str(demo), "--trades", str(new), "--out", str(out_dir),
                 "--paths", "200", "--grid", "3M:2Y"]) == 0
    out, err = capsys.readouterr()
    assert f"wrote {out_dir / 'results.json'}" in err
    assert [line.split()[0] for line in out.splitlines()[2:4]] == ["NS_ACME", "total"]
    doc = json.loads((out_dir / "results.json").read_text())
    assert set(doc) == {"schema_version", "as_of", "base_currency", "run", "whatif"}
    assert doc["run"]["command"] == "whatif"
    entry = doc["whatif"]["netting_sets"]["NS_ACME"]
    assert set(entry) == {"cva", "dva", "fca", "fba", "fva", "ead"}
    assert entry["cva"]["increment"] == pytest.approx(
        entry["cva"]["with_trades"] - entry["cva"]["base"], rel=1e-12)
    assert doc["whatif"]["grid"] == "3M:2Y"


def test_whatif_bad_trades_file(demo: Path, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    new = tmp_path / "new.csv"
    new.write_text(NEW_SWAP.replace("N1,NS_ACME", "T001,NS_ACME"), encoding="utf-8")
    out_dir = tmp_path / "out"
    assert main(["whatif", str(demo), "--trades", str(new), "--out", str(out_dir)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "new.csv row 2 (T001), trade_id: 'T001' is already in the portfolio" in err
    assert "Traceback" not in err
    assert not (out_dir / "results.json").exists()
    assert main(["whatif", str(demo), "--trades", str(tmp_path / "missing.csv"), "--out",
                 str(out_dir)]) == 2
    assert "missing.csv: is not a file" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from xvaflow import __version__

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"xvaflow {__version__}"


def test_abbreviated_options_are_refused(demo: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """``--pat`` must not silently mean ``--paths`` (or ``--path-chunk``)."""
    with pytest.raises(SystemExit) as exc:
        main(["run", str(demo), "--out", str(tmp_path / "o"), "--pat", "10"])
    assert exc.value.code == 2
    assert "unrecognized arguments: --pat 10" in capsys.readouterr().err
    assert not (tmp_path / "o" / "results.json").exists()


def test_a_bad_grid_flag_is_named_as_the_flag(demo: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(demo), "--out", str(tmp_path / "o"), "--grid", "3X:2Y"]) == 2
    err = capsys.readouterr().err
    assert "error: command line, --grid: grid '3X:2Y': '3X' is not a tenor" in err
    assert "run.json" not in err
