"""Hull-White calibration to ATM swaption normal vols."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from xvaflow.core.errors import ProblemLog
from xvaflow.io.market_json import market_from_json
from xvaflow.io.portfolio import load_portfolio, simulation_problems
from xvaflow.market.market import HullWhiteParams, Market, SwaptionVolGrid
from xvaflow.models.calibration import (
    _instruments,
    calibrate_hull_white,
    hull_white_for,
    model_prices,
)

DEMO = Path(__file__).resolve().parents[3] / "examples" / "demo"


def _market(**changes: object) -> Market:
    doc = json.loads((DEMO / "market.json").read_text())
    doc.update(changes)
    log = ProblemLog()
    market = market_from_json(doc, log)
    assert market is not None, log.problems
    return market


def test_model_vols_reproduce_quotes_generated_by_the_model() -> None:
    # Quotes made by the model itself with known (a, sigma) must be fitted back exactly.
    market = _market()
    truth = HullWhiteParams(0.045, 0.0087)
    inst = _instruments(market, "USD")
    prices = model_prices(inst, truth, market, "USD")
    implied_bp = prices * np.sqrt(2 * np.pi) / (inst.annuity * np.sqrt(inst.expiry)) * 1e4
    grid = market.swaption_vols["USD"]
    vols = np.full((len(grid.expiries), len(grid.tenors)), np.nan)
    for (e, t), v in zip(inst.labels, implied_bp, strict=True):
        vols[[str(x) for x in grid.expiries].index(e), [str(x) for x in grid.tenors].index(t)] = v
    synthetic = SwaptionVolGrid(grid.expiries, grid.tenors,
                                tuple(tuple(float(v) / 1e4 for v in row) for row in vols))
    market = dataclasses.replace(market, swaption_vols={"USD": synthetic})
    report = calibrate_hull_white(market, "USD")
    # least_squares to xtol 1e-12 on parameters of order 1e-2: recovered to ~1e-8 relative
    assert report.params.mean_reversion == pytest.approx(truth.mean_reversion, rel=1e-6)
    assert report.params.volatility == pytest.approx(truth.volatility, rel=1e-6)
    assert report.rms_bp < 1e-6


def test_atm_strike_makes_the_underlying_worth_zero() -> None:
    market = _market()
    inst = _instruments(market, "EUR")
    curve = market.curve("EUR")
    value = np.bincount(inst.flows.trade, weights=inst.flows.amount
                        * curve.discount(inst.flows.pay_time))
    np.testing.assert_allclose(value, 0.0, atol=1e-14)


def test_demo_vols_are_fitted_within_a_few_bp_and_reported() -> None:
    report = calibrate_hull_white(_market(), "USD")
    # A 2-parameter model on a 3x3 grid: a few bp of residual is expected, not zero.
    assert 0.0 < report.rms_bp < 5.0
    assert report.max_bp >= report.rms_bp
    assert len(report.points) == 9
    assert -0.05 < report.params.mean_reversion < 0.5
    assert 0.0 < report.params.volatility < 0.05


def test_given_parameters_win_over_calibration() -> None:
    market = _market()
    params, report = hull_white_for(market, "USD")
    assert report is None
    assert params == market.hull_white["USD"]


def test_calibrated_when_parameters_are_absent() -> None:
    market = _market(hull_white={})
    params, report = hull_white_for(market, "EUR")
    assert report is not None
    assert params == report.params


def test_calibration_belongs_to_its_market_snapshot() -> None:
    """A modified snapshot is calibrated afresh (the cache was once keyed by id(market), which
    a new Market can reuse, and grew without bound)."""
    market = _market(hull_white={})
    first, _ = hull_white_for(market, "EUR")
    assert hull_white_for(market, "EUR")[0] is first  # calibrated once per snapshot
    grid = market.swaption_vols["EUR"]
    scaled = SwaptionVolGrid(grid.expiries, grid.tenors, tuple(
        tuple(None if v is None else 1.5 * v for v in row) for row in grid.vols))
    bumped = dataclasses.replace(market, swaption_vols={**market.swaption_vols, "EUR": scaled})
    assert not bumped.memo
    params, _ = hull_white_for(bumped, "EUR")
    assert params.volatility > 1.3 * first.volatility
    for _ in range(30):  # fresh snapshots built from the same document never share results
        again = _market(hull_white={})
        assert not again.memo
        del again


def test_run_needs_a_rates_model_and_fx_vol_for_every_simulated_currency(tmp_path: Path) -> None:
    # Without options the portfolio prices, but simulating EUR needs its rates model and FX vol.
    shutil.copytree(DEMO, tmp_path / "pf")
    path = tmp_path / "pf" / "market.json"
    doc = json.loads(path.read_text())
    del doc["hull_white"]["EUR"], doc["swaption_vols"]["EUR"]
    doc["fx_vols"] = {}
    path.write_text(json.dumps(doc))
    trades = (tmp_path / "pf" / "trades.csv").read_text().splitlines()
    keep = [trades[0]] + [r for r in trades[1:] if ",FXOPT," not in r and ",SWAPTION," not in r]
    (tmp_path / "pf" / "trades.csv").write_text("\n".join(keep) + "\n")
    problems = simulation_problems(load_portfolio(tmp_path / "pf"))
    assert [(p.file, p.field) for p in problems] == [("market.json", "hull_white.EUR"),
                                                    ("market.json", "fx_vols.EURUSD")]
    assert all("simulating EUR needs" in p.message for p in problems)
