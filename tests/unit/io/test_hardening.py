"""Issue 9, bad inputs: every class the fuzzing pass found gets one clear problem (or a stated
warning), naming file, row and field, before anything is computed.

Bounds and their reasons: docs/conventions.md "Input limits" (xvaflow/io/limits.py).
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from xvaflow.cli import main
from xvaflow.core.backend import BackendUnavailableError, get_namespace
from xvaflow.core.errors import InputError
from xvaflow.io import files
from xvaflow.io.portfolio import load_portfolio
from xvaflow.pipeline.local import check_portfolio
from xvaflow.pipeline.stages import memory_estimate, memory_problem, simulation_plan

from .conftest import PortfolioDir


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Fail instead of hanging (a FIFO or /dev/zero read used to block or never end)."""

    def expired(signum: int, frame: object) -> None:
        raise AssertionError(f"still running after {seconds}s: the input blocked")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _usable(backend: str) -> bool:
    try:
        get_namespace(backend)
    except BackendUnavailableError:
        return False
    return True


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


# --- tracebacks -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["market.json", "run.json"])
@pytest.mark.parametrize("depth", [100, 100_000])
def test_deeply_nested_json_is_one_problem(pf: PortfolioDir, name: str, depth: int) -> None:
    text = json.dumps(json.loads((pf.path / name).read_text()))
    (pf.path / name).write_text(text[:-1] + ', "deep": ' + "[" * depth + "]" * depth + "}")
    report = pf.errors()
    assert "nested more than 64 levels" in report.only(name, None, None).message


def test_mpor_days_near_float_max_is_refused(pf: PortfolioDir) -> None:
    row = pf.set_cell("csas.csv", "CSA_NORDBANK", "mpor_days", "1e308")
    assert "must be at most 365" in pf.errors().only("csas.csv", row, "mpor_days").message


@pytest.mark.parametrize(("column", "trade"), [
    ("notional", "T001"), ("notional", "T002"), ("buy_amount", None), ("sell_amount", None),
    ("strike", None), ("quantity", None), ("notional_2", None)])
def test_amounts_near_float_max_are_refused(pf: PortfolioDir, column: str,
                                            trade: str | None) -> None:
    rows = pf.rows("trades.csv")
    col = pf.column("trades.csv", column)
    target = trade or next(r[0] for r in rows[1:] if r[col])
    row = pf.set_cell("trades.csv", target, column, "1.7e308")
    assert "above the limit" in pf.errors().only("trades.csv", row, column).message


def test_notional_1e26_is_refused_and_1e15_accepted(pf: PortfolioDir) -> None:
    row = pf.set_cell("trades.csv", "T001", "notional", "1e26")
    assert "above the limit of 1e+15" in pf.errors().only("trades.csv", row, "notional").message
    pf.set_cell("trades.csv", "T001", "notional", "1e15")
    pf.load()


@pytest.mark.parametrize("spot", [1e308, 1e-300, 0.0])
def test_fx_spots_are_bounded(pf: PortfolioDir, spot: float) -> None:
    pf.set_market("fx_spots.EURUSD", spot)
    pf.errors().at("market.json", None, "fx_spots.EURUSD")


def test_equity_spot_is_bounded(pf: PortfolioDir) -> None:
    pf.set_market("equities.SPX.spot", 1e300)
    pf.errors().only("market.json", None, "equities.SPX.spot")


@pytest.mark.parametrize(("key", "value"), [
    ("hull_white.USD.volatility", 1e-300), ("fx_vols.EURUSD.1Y", 1e-300),
    ("equities.SPX.vol", 1e-300), ("equities.SPX.spot", 1e-300),
    ("swaption_vols.USD.normal_bp.1Y.5Y", 1e-300)])
def test_vanishing_vols_and_spots_are_refused(pf: PortfolioDir, key: str, value: float
                                              ) -> None:
    """Found by the fuzzer: a "positive" vol of 1e-300 priced swaptions to NaN."""
    pf.set_market(key, value)
    pf.errors().at("market.json", None, key)


def test_price_refuses_to_print_a_non_finite_value(pf: PortfolioDir,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np

    import xvaflow.pricing.t0 as t0

    real = t0.price_t0

    def nan_first(*args: object, **kwargs: object) -> object:
        values = real(*args, **kwargs)  # type: ignore[arg-type]
        values.npv_base[0] = np.nan
        return values

    monkeypatch.setattr(t0, "price_t0", nan_first)
    code, err = _cli(["price", str(pf.path)], capsys)
    assert code == 1
    assert err == ("error: 1 trade(s) priced to a value that is not a finite number (T001); "
                   "nothing was published (an internal error: please report it with the "
                   "inputs)\n")


@pytest.mark.parametrize("command", ["run", "generate"])
def test_unwritable_out_is_one_line(pf: PortfolioDir, tmp_path: Path, command: str,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    out = blocker / "out"  # its parent is a file: cannot be created, whoever runs the test
    args = (["run", str(pf.path), "--out", str(out), "--paths", "64", "--grid", "3M:1Y"]
            if command == "run" else
            ["generate", "--counterparties", "2", "--trades", "3", "--out", str(out)])
    code, err = _cli(args, capsys)
    assert code == 2
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert errors == [f"error: command line: --out {out}: cannot write "
                      f"{'there' if command == 'run' else 'the portfolio there'}: "
                      "Not a directory"]


# --- internal failures after a clean validate --------------------------------------------------
def test_empty_trades_csv_is_refused(pf: PortfolioDir, capsys: pytest.CaptureFixture[str]
                                     ) -> None:
    pf.write_rows("trades.csv", pf.rows("trades.csv")[:1])
    assert "holds no trades" in pf.errors().only("trades.csv", None, None).message
    code, err = _cli(["validate", str(pf.path)], capsys)
    assert code == 2
    assert "error: trades.csv: holds no trades" in err


@pytest.mark.parametrize("seed", [2**64, 2**64 + 5, 10**400, -1])
def test_seeds_beyond_64_bits_are_refused_in_run_json(pf: PortfolioDir, seed: int) -> None:
    (pf.path / "run.json").write_text(f'{{"seed": {seed}}}')
    problem = pf.errors().only("run.json", None, "seed")
    assert problem.message.startswith("must be an integer >= 0")
    if seed > 0:
        assert "at most 18446744073709551615" in problem.message


def test_seed_2_64_minus_1_is_accepted(pf: PortfolioDir) -> None:
    (pf.path / "run.json").write_text(f'{{"seed": {2**64 - 1}}}')
    assert pf.load().run.seed == 2**64 - 1


def test_seed_beyond_64_bits_is_refused_on_the_command_line(
        pf: PortfolioDir, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _cli(["run", str(pf.path), "--out", str(tmp_path / "o"), "--seed",
                      str(2**64)], capsys)
    assert code == 2
    assert ("error: command line, seed: must be an integer >= 0 and at most "
            "18446744073709551615" in err)
    code, err = _cli(["generate", "--counterparties", "1", "--trades", "1", "--seed",
                      str(2**64), "--out", str(tmp_path / "g")], capsys)
    assert code == 2
    assert "--seed must be from 0 to 18446744073709551615" in err


def test_paths_1e12_is_refused(pf: PortfolioDir, capsys: pytest.CaptureFixture[str]) -> None:
    (pf.path / "run.json").write_text('{"paths": 1000000000000}')
    assert ">= 1 and at most 10000000" in pf.errors().only("run.json", None, "paths").message
    code, _ = _cli(["validate", str(pf.path)], capsys)
    assert code == 2


def test_a_run_beyond_the_machine_memory_is_refused_with_the_figure(pf: PortfolioDir) -> None:
    portfolio = pf.load()
    from xvaflow.pipeline.stages import settings_for

    settings = settings_for(portfolio, {"paths": 2_000_000, "grid": "1M:10Y"}, "command line")
    model, grid, _ = simulation_plan(portfolio, settings)
    need = memory_estimate(portfolio, settings, grid, len(model.factor_names), 2)
    assert need >= 8 * 120 * 2_000_000  # the path-wise portfolio exposure alone
    assert memory_problem(portfolio, settings, grid, len(model.factor_names), 2, 2,
                          available=10 * need) is None
    problem = memory_problem(portfolio, settings, grid, len(model.factor_names), 2, 2,
                             available=need)
    assert problem is not None
    assert problem.field == "paths"
    assert f"{2 * need / 2**30:,.1f} GiB" in problem.message
    assert "2 partition(s) at once" in problem.message


def test_validate_refuses_what_the_memory_check_of_run_refuses(
        pf: PortfolioDir, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("xvaflow.pipeline.local.machine_memory", lambda: 1 << 20)
    code, err = _cli(["validate", str(pf.path)], capsys)
    assert code == 2
    assert "error: run settings, paths: 5000 paths on" in err
    assert "but this machine has 0.0 GiB" in err


@pytest.mark.parametrize(("chunk", "ok"), [(1, False), (255, False), (256, True),
                                           (5000, True)])
def test_path_chunk_has_a_minimum(pf: PortfolioDir, chunk: int, ok: bool) -> None:
    (pf.path / "run.json").write_text(f'{{"paths": 5000, "path_chunk": {chunk}}}')
    if ok:
        assert pf.load().run.path_chunk == chunk
    else:
        assert "at least 256 paths" in pf.errors().only("run.json", None, "path_chunk").message


def test_a_chunk_covering_every_path_is_accepted(pf: PortfolioDir) -> None:
    (pf.path / "run.json").write_text('{"paths": 64, "path_chunk": 64}')
    assert pf.load().run.path_chunk == 64


@pytest.mark.parametrize(("grid", "message"), [
    ("1M:10", "is not a tenor"),
    ("1D:500Y", "beyond 100 years"),
    ("1D:80Y", "at most 20,000 are allowed"),
    (["9999-12-31"], "more than 100 years after as_of"),
    ([1e308], "beyond 100 years"),
])
def test_validate_checks_the_grid_as_run_does(pf: PortfolioDir, grid: object, message: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    (pf.path / "run.json").write_text(json.dumps({"grid": grid}))
    code, err = _cli(["validate", str(pf.path)], capsys)
    assert code == 2
    assert err.startswith("error: run.json, grid: "), err
    assert message in err


def test_validate_checks_the_backend_as_run_does(pf: PortfolioDir,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    if _usable("cupy"):
        pytest.skip("cupy is usable here")
    (pf.path / "run.json").write_text('{"backend": "cupy"}')
    code, err = _cli(["validate", str(pf.path)], capsys)
    assert code == 2
    assert err.startswith("error: run settings, backend: ")


# --- hangs ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["trades.csv", "market.json", "run.json", "counterparties.csv",
                                  "csas.csv"])
def test_a_fifo_input_is_refused_without_blocking(pf: PortfolioDir, name: str) -> None:
    (pf.path / name).unlink()
    os.mkfifo(pf.path / name)
    with deadline(10):
        report = pf.errors()
    assert "named pipe (FIFO), not a regular file" in report.at(name, None, None).message


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
@pytest.mark.parametrize("name", ["trades.csv", "market.json", "netting_sets.csv"])
def test_a_device_input_is_refused_without_reading(pf: PortfolioDir, device: str,
                                                   name: str) -> None:
    if not Path(device).exists():
        pytest.skip(f"no {device}")
    (pf.path / name).unlink()
    (pf.path / name).symlink_to(device)
    with deadline(10):
        report = pf.errors()
    assert "is a character device, not a regular file" in report.at(name, None, None).message


def test_whatif_trades_from_a_fifo_are_refused(pf: PortfolioDir, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "new.csv"
    os.mkfifo(fifo)
    with deadline(10):
        code, err = _cli(["whatif", str(pf.path), "--trades", str(fifo), "--out",
                          str(tmp_path / "o")], capsys)
    assert code == 2
    assert "new.csv: is a named pipe (FIFO)" in err


def test_inputs_beyond_their_size_limit_are_refused(pf: PortfolioDir,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "TABLE_LIMIT", 1000)
    monkeypatch.setattr("xvaflow.io.tables.TABLE_LIMIT", 1000)
    report = pf.errors()
    assert "larger than the 1000-byte limit" in report.at("trades.csv", None, None).message


def test_a_file_growing_past_the_limit_is_cut_off(tmp_path: Path) -> None:
    from xvaflow.core.errors import ProblemLog

    big = tmp_path / "big.csv"
    big.write_bytes(b"x" * (files.MIB + 1))
    log = ProblemLog()
    assert files.read_input(big, log, files.MIB) is None
    assert "larger than the 1 MiB limit" in log.problems[0].message
    assert files.read_input(big, ProblemLog(), 2 * files.MIB) == b"x" * (files.MIB + 1)


# --- accepted nonsense -------------------------------------------------------------------------
def test_maturity_9999_is_refused(pf: PortfolioDir) -> None:
    row = pf.set_cell("trades.csv", "T001", "maturity_date", "9999-12-31")
    assert "more than 100 years from as_of" in pf.errors().only(
        "trades.csv", row, "maturity_date").message


def test_start_in_year_1_is_refused(pf: PortfolioDir) -> None:
    row = pf.set_cell("trades.csv", "T001", "start_date", "0001-01-01")
    pf.errors().only("trades.csv", row, "start_date")


def test_an_unused_expiry_date_is_warned_as_ignored(pf: PortfolioDir) -> None:
    row = pf.set_cell("trades.csv", "T001", "expiry_date", "0000-01-01")
    portfolio = pf.load()
    warned = [w for w in portfolio.warnings if w.field == "expiry_date"]
    assert len(warned) == 1
    assert (warned[0].file, warned[0].row) == ("trades.csv", row)
    assert warned[0].message == f"is not used by IRS and is ignored (1 row(s): {row})"


@pytest.mark.parametrize("value", ["-0.5", "0.9", "3.5"])
def test_last_fixing_is_bounded(pf: PortfolioDir, value: str) -> None:
    row = pf.set_cell("trades.csv", "T002", "last_fixing", value)
    problem = pf.errors().only("trades.csv", row, "last_fixing")
    assert "limit" in problem.message


def test_last_fixing_far_outside_reports_once(pf: PortfolioDir) -> None:
    row = pf.set_cell("trades.csv", "T002", "last_fixing", "-5")
    assert "below the limit of -0.1" in pf.errors().only("trades.csv", row,
                                                         "last_fixing").message


@pytest.mark.parametrize("as_of", ["1900-01-01", "2300-01-01"])
def test_as_of_is_bounded(pf: PortfolioDir, as_of: str) -> None:
    pf.set_market("as_of", as_of)
    assert "is outside 1970-01-01 to 2199-12-31" in pf.errors().only(
        "market.json", None, "as_of").message


def test_negative_mean_reversion_is_warned_within_the_bound(pf: PortfolioDir) -> None:
    pf.set_market("hull_white.USD.mean_reversion", -0.03)
    portfolio = pf.load()
    assert [w.field for w in portfolio.warnings] == ["hull_white.USD.mean_reversion"]
    pf.set_market("hull_white.USD.mean_reversion", -0.5)
    assert "at least -0.05" in pf.errors().only("market.json", None,
                                                "hull_white.USD.mean_reversion").message


def test_negative_mean_reversion_closed_forms_hold() -> None:
    """The Hull-White closed forms used for a < 0: B and the state variance against their
    integrals computed numerically."""
    import numpy as np

    from xvaflow.models.hull_white import bond_b, state_variance

    def integral(f: np.ndarray, x: np.ndarray) -> float:  # trapezoidal rule
        return float(np.sum((f[1:] + f[:-1]) * np.diff(x)) / 2.0)

    a, sigma, t, big_t = -0.03, 0.01, 7.0, 12.0
    s = np.linspace(t, big_t, 200_001)
    assert float(bond_b(a, t, big_t)) == pytest.approx(integral(np.exp(-a * (s - t)), s),
                                                       rel=1e-9)
    u = np.linspace(0.0, t, 200_001)
    assert float(state_variance(a, sigma, t)) == pytest.approx(
        integral(sigma**2 * np.exp(-2 * a * (t - u)), u), rel=1e-9)


def test_a_correlation_with_an_unknown_factor_is_refused(pf: PortfolioDir) -> None:
    pf.set_market("correlations.IR_USD:FX_USDEUR", 0.1)
    problem = pf.errors().only("market.json", None, "correlations.IR_USD:FX_USDEUR")
    assert problem.message == ("unknown factor 'FX_USDEUR'; the factors of this market.json "
                               "are IR_EUR, IR_USD, FX_EURUSD, EQ_EUROSTOXX, EQ_SPX")


def test_a_netting_set_named_portfolio_is_refused(pf: PortfolioDir) -> None:
    pf.set_cell("netting_sets.csv", "NS_ACME", "netting_set_id", "PORTFOLIO")
    report = pf.errors()
    assert "reserved" in report.at("netting_sets.csv", 2, "netting_set_id").message


def test_csas_unused_without_the_csa_id_column_is_warned(pf: PortfolioDir) -> None:
    pf.drop_column("netting_sets.csv", "csa_id")
    portfolio = pf.load()
    warned = [w for w in portfolio.warnings if w.file == "netting_sets.csv"]
    assert len(warned) == 1
    assert warned[0].field == "csa_id"
    assert "the CSAs are unused" in warned[0].message


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\u202e", "\u2066", "\u200b", "\u2028"])
def test_control_and_bidi_characters_in_ids_are_refused(pf: PortfolioDir, char: str,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    row = pf.set_cell("trades.csv", "T003", "trade_id", f"T0{char}03")
    report = pf.errors()
    assert "invisible or control character" in report.at("trades.csv", row,
                                                         "trade_id").message
    code, err = _cli(["validate", str(pf.path)], capsys)
    assert code == 2
    assert char not in err  # quoted escaped, never raw


@pytest.mark.parametrize("char", ["\x00", "\u202e"])
def test_control_characters_in_headers_are_refused(pf: PortfolioDir, char: str) -> None:
    pf.rename_column("counterparties.csv", "sector", f"sec{char}tor")
    report = pf.errors()
    assert "invisible or control character" in report.at("counterparties.csv", 1,
                                                         "column 5").message


def test_control_characters_in_other_files_ids(pf: PortfolioDir) -> None:
    pf.set_cell("counterparties.csv", "CP_ACME", "counterparty_id", "CP_ACME\x07")
    report = pf.errors()
    assert report.at("counterparties.csv", 2, "counterparty_id")


@pytest.mark.parametrize("key", ["borrow_spread_bp", "lend_spread_bp"])
def test_negative_funding_spreads_are_refused(pf: PortfolioDir, key: str) -> None:
    pf.set_market(f"funding.{key}", -10)
    assert "must be at least 0" in pf.errors().only("market.json", None,
                                                    f"funding.{key}").message


def test_the_demo_still_loads_without_warnings() -> None:
    from .conftest import DEMO

    portfolio, warnings = check_portfolio(DEMO, {}, here=True)
    assert portfolio.compiled.n_trades == 20
    assert warnings == ()
    assert load_portfolio(DEMO).warnings == ()


def test_input_error_is_raised_not_other_exceptions(pf: PortfolioDir) -> None:
    pf.set_cell("trades.csv", "T001", "notional", "1e400")  # parses as inf
    with pytest.raises(InputError):
        pf.load()


def test_the_allocation_counts_in_the_memory_estimate(pf: PortfolioDir) -> None:
    """Each trade of a partition adds ALLOCATION_ARRAYS arrays of [chunk] floats."""
    import dataclasses

    from xvaflow.pipeline.stages import ALLOCATION_ARRAYS, settings_for

    portfolio = pf.load()
    settings = settings_for(portfolio, {"paths": 5000, "grid": "1M:2Y"}, "command line")
    model, grid, _ = simulation_plan(portfolio, settings)
    factors = len(model.factor_names)
    plain = memory_estimate(portfolio, settings, grid, factors, 1)
    allocated = memory_estimate(portfolio, dataclasses.replace(settings, allocation=True), grid,
                                factors, 1)
    assert allocated - plain == 8 * ALLOCATION_ARRAYS * 5000 * len(portfolio.compiled.trade_ids)
