"""CCP historical-VaR initial margin (csas.csv im_model ccp_hvar, history/): the matrix-product
P&L against a plain loop that reprices the swaps on each scenario's market with the t0 pricer,
the EWMA-weighted tail against a plain loop, the par bootstrap against the par condition, and
the inputs' errors.

The cleared book: the demo's interest-rate swaps, NS_NORDBANK (USD and EUR swaps) under a CSA
with im_model ccp_hvar and a 5-day holding period; history/ of 300 synthetic days, USD as par
quotes, EUR as zero rates.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as _dt
import io
import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from jsonschema import Draft202012Validator

from xvaflow.cli import main
from xvaflow.core.errors import ProblemLog
from xvaflow.io.history import par_discounts, par_to_zero, tenor_years
from xvaflow.io.portfolio import load_portfolio
from xvaflow.margin.ccp import (
    ccp_section,
    cleared_netting_sets,
    ewma_weights,
    load_ccp_histories,
    scenario_changes,
    weighted_tail,
)
from xvaflow.market.curves import ZeroCurve
from xvaflow.pricing.t0 import price_t0
from xvaflow.report.schema import results_schema

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"
TENORS = ("3M", "1Y", "2Y", "5Y", "10Y", "30Y")
DAYS = 300


def _history(kind: str, seed: int, as_of: _dt.date) -> str:
    rng = np.random.default_rng(seed)
    level = np.array([0.036, 0.035, 0.034, 0.035, 0.037, 0.038])
    steps = rng.normal(0.0, 0.0006, (DAYS, len(TENORS))) + rng.normal(0.0, 0.0004, (DAYS, 1))
    walk = np.cumsum(steps, axis=0)
    rates = level + walk - walk[-1]  # a random walk that ends at today's level
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["date", "type", *TENORS])
    day, rows = as_of, []
    while len(rows) < DAYS:
        if day.weekday() < 5:
            rows.append(day)
        day -= _dt.timedelta(days=1)
    for d, r in zip(reversed(rows), rates, strict=True):
        w.writerow([d.isoformat(), kind, *(f"{x:.6f}" for x in r)])
    return out.getvalue()


def cleared_book(root: Path) -> Path:
    """The demo's swaps only, NS_NORDBANK cleared (ccp_hvar, 5 days), with history/."""
    book = root / "cleared"
    shutil.copytree(DEMO, book)
    with (DEMO / "trades.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    with (book / "trades.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(r for r in rows if r["product"] == "IRS")
    text = (book / "csas.csv").read_text(encoding="utf-8").splitlines()
    header = text[0].split(",")
    lines = [text[0]]
    for line in text[1:]:
        cells = line.split(",")
        if cells[header.index("csa_id")] == "CSA_NORDBANK":
            cells[header.index("im_model")] = "ccp_hvar"
            cells[header.index("mpor_days")] = "5"
        lines.append(",".join(cells))
    (book / "csas.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    as_of = load_portfolio(DEMO).market.as_of
    (book / "history").mkdir()
    (book / "history" / "USD.csv").write_text(_history("par", 1, as_of), encoding="utf-8")
    (book / "history" / "EUR.csv").write_text(_history("zero", 2, as_of), encoding="utf-8")
    return book


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cleared_book(tmp_path_factory.mktemp("ccp"))


def test_par_bootstrap_reprices_annual_par_swaps() -> None:
    times = np.array([0.25, 1.0, 2.0, 5.0, 10.0, 30.0])
    rates = np.array([0.031, 0.033, 0.034, 0.036, 0.037, 0.035])
    zero = par_to_zero(times, rates)
    assert zero[0] == rates[0]  # below a year: the quote is the zero rate
    years, discount = par_discounts(times[1:], rates[1:])
    assert list(years) == list(range(1, 31))
    par = np.interp(years, times[1:], rates[1:])
    for n in range(1, 31):  # every annual swap prices at par on the bootstrapped curve
        assert par[n - 1] * discount[:n].sum() + discount[n - 1] == pytest.approx(1.0, abs=1e-12)
    for t, z in zip(times[1:], zero[1:], strict=True):
        assert math.exp(-z * t) == pytest.approx(discount[int(t) - 1], rel=1e-12)


def test_weights_and_the_weighted_tail() -> None:
    w = ewma_weights(250)
    assert w.sum() == pytest.approx(1.0, abs=1e-15)
    assert np.all(np.diff(w) < 0)  # the most recent first
    assert w[1] / w[0] == pytest.approx(0.99)
    rng = np.random.default_rng(3)
    losses = rng.normal(size=250)
    equal = np.full(250, 1 / 250)
    assert weighted_tail(losses, equal) == np.sort(losses)[::-1][math.ceil(0.05 * 250) - 1]
    # a plain loop: walk down the losses until 5% of the weight is behind
    total, expected = 0.0, None
    for i in np.argsort(-losses):
        total += w[i]
        if total >= 0.05 - 1e-15:
            expected = losses[i]
            break
    assert weighted_tail(losses, w) == expected


def test_scenario_pnl_equals_repricing_every_scenario(book: Path) -> None:
    pf = load_portfolio(book)
    cleared = cleared_netting_sets(pf)
    assert cleared == ["NS_NORDBANK"]
    log = ProblemLog()
    histories = load_ccp_histories(pf, log)
    assert not log.problems
    assert set(histories) == {"USD", "EUR"}
    base = price_t0(pf.compiled, pf.market).npv_base
    got = ccp_section(pf, cleared, histories, base)
    dates, changes = scenario_changes(histories)
    assert got["scenarios"] == len(dates) == DAYS - 1
    mine = np.array([pf.compiled.netting_set_ids[j] == "NS_NORDBANK"
                     for j in pf.compiled.netting_set])
    pnl = []
    for s in range(len(dates)):
        curves = dict(pf.market.curves)
        for ccy, h in histories.items():
            curve = pf.market.curves[ccy]
            knots = np.union1d(curve.times, h.times)
            moved = curve.zero_rate(knots) + np.interp(knots, h.times, changes[ccy][s])
            curves[ccy] = ZeroCurve(knots, moved, ccy)
        market = dataclasses.replace(pf.market, curves=curves)
        pnl.append(float((price_t0(pf.compiled, market).npv_base - base)[mine].sum()))
    pnl_arr = np.array(pnl)
    w = ewma_weights(len(dates))
    entry = got["netting_sets"]["NS_NORDBANK"]
    # the two routes differ only by rounding: P products against exp of a matrix product
    assert entry["received"] == pytest.approx(weighted_tail(pnl_arr, w) * math.sqrt(5),
                                              rel=1e-9)
    assert entry["posted"] == pytest.approx(weighted_tail(-pnl_arr, w) * math.sqrt(5), rel=1e-9)
    assert entry["holding_days"] == 5
    assert entry["mtm"] == pytest.approx(float(base[mine].sum()), rel=1e-12)
    assert entry["received"] > 0
    assert entry["posted"] > 0
    member = got["members"]["CP_NORDBANK"]
    assert member["netting_sets"] == ["NS_NORDBANK"]
    assert member["received"] == entry["received"]


def test_margin_command_reports_ccp_margin(book: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(book)]) == 0
    out = tmp_path / "m"
    assert main(["margin", str(book), "--out", str(out)]) == 0
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert list(Draft202012Validator(results_schema()).iter_errors(doc)) == []
    ccp: dict[str, Any] = doc["initial_margin"]["ccp"]
    assert list(ccp["netting_sets"]) == ["NS_NORDBANK"]
    assert ccp["first_date"] < ccp["last_date"] <= doc["as_of"]
    assert "CCP historical VaR (299 scenarios" in capsys.readouterr().out
    # a book without cleared netting sets has no ccp section
    plain = tmp_path / "plain"
    assert main(["margin", str(DEMO), "--out", str(plain)]) == 0
    assert json.loads((plain / "results.json").read_text())["initial_margin"]["ccp"] is None


def _fails(book: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["validate", str(book)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_bad_histories_are_clear_errors(book: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "b"
    shutil.copytree(book, broken)
    (broken / "history" / "EUR.csv").unlink()
    assert "history/EUR.csv: missing" in _fails(broken, capsys)
    shutil.copy(book / "history" / "EUR.csv", broken / "history" / "EUR.csv")
    lines = (book / "history" / "USD.csv").read_text().splitlines()
    short = [lines[0], *lines[-200:]]
    (broken / "history" / "USD.csv").write_text("\n".join(short) + "\n")
    assert "200 dates common to" in _fails(broken, capsys)
    bad = lines.copy()
    bad[5] = bad[5].rsplit(",", 1)[0] + ",4.5%"
    (broken / "history" / "USD.csv").write_text("\n".join(bad) + "\n")
    assert "history/USD.csv row 6, 30Y: must be a rate (decimal), got '4.5%'" in \
        _fails(broken, capsys)
    swapped = lines.copy()
    swapped[3], swapped[4] = swapped[4], swapped[3]
    (broken / "history" / "USD.csv").write_text("\n".join(swapped) + "\n")
    assert "history/USD.csv row 5, date" in _fails(broken, capsys)


def test_only_swaps_can_be_cleared(book: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    mixed = tmp_path / "mixed"
    shutil.copytree(book, mixed)
    shutil.copy(DEMO / "trades.csv", mixed / "trades.csv")  # FX and options in NS_NORDBANK too
    err = _fails(mixed, capsys)
    assert "CCS in netting set NS_NORDBANK, whose CSA CSA_NORDBANK has im_model ccp_hvar" in err
    assert "trades.csv row" in err


def test_tenor_years() -> None:
    assert [tenor_years(t) for t in TENORS] == [0.25, 1.0, 2.0, 5.0, 10.0, 30.0]
