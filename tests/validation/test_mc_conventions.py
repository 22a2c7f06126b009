"""Conventions that ordinary runs depend on, each checked against an independent computation.

1. PORTFOLIO PFE is a quantile over paths: with one netting set it equals that netting set's
   PFE at every date, for any ratio of paths to dates (it was once a quantile over dates, and
   crashed when there were fewer paths than dates).
2. Basel EEPE averages the effective EE over one year or, when every contract of the netting
   set matures earlier, up to its maturity (CRE53.15-16), the year ending on the calendar date
   as_of + 1Y (366 days when it holds a 29 February). Reference: the time average recomputed
   here from the engine's Basel EE profile.
3. The default grid covers the book: a 30Y swap's exposure dates reach its maturity, no
   netting set is reported short, and its CVA equals the CVA on an explicit quarterly grid to
   31Y within 1% + 3 combined standard errors (10Y alone, the old default, loses about half).
"""

from __future__ import annotations

import csv
import datetime as _dt
from pathlib import Path

import numpy as np
import pytest
from mc_portfolios import MARKET, NettingSet, load, write_portfolio

from xvaflow.pipeline.local import run_pipeline
from xvaflow.pipeline.stages import simulation_plan
from xvaflow.xva.adjustments import batch_stderr
from xvaflow.xva.engine import RunSettings, run_partition


def _fx_forward(ns: str, maturity: str, amount: float = 10e6, rate: float = 1.10
                ) -> dict[str, object]:
    return {"netting_set_id": ns, "product": "FXFWD", "start_date": "2026-11-20",
            "maturity_date": maturity, "buy_currency": "EUR", "buy_amount": amount,
            "sell_currency": "USD", "sell_amount": amount * rate}


def _exposure_rows(out: Path) -> dict[str, list[dict[str, str]]]:
    with open(out / "exposure.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    by_ns: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by_ns.setdefault(r["netting_set_id"], []).append(r)
    return by_ns


@pytest.mark.parametrize("paths", [7, 40, 500])
def test_portfolio_pfe_of_one_netting_set_is_its_pfe(tmp_path: Path, paths: int) -> None:
    """24 monthly dates: 7 paths (fewer than dates), 40 and 500 paths."""
    root = write_portfolio(tmp_path / "pf", [_fx_forward("NS1", "2028-11-20")],
                           [NettingSet("NS1")], MARKET)
    run_pipeline(root, tmp_path / "out", {"paths": paths, "grid": "1M:2Y", "seed": 3},
                 workers=1, log=lambda _: None)
    rows = _exposure_rows(tmp_path / "out")
    assert len(rows["NS1"]) == len(rows["PORTFOLIO"]) == 24
    for a, b in zip(rows["NS1"], rows["PORTFOLIO"], strict=True):
        assert a["date"] == b["date"]
        for col in ("pfe_95", "pfe_975", "pfe_99", "epe", "ene"):
            assert float(a[col]) == pytest.approx(float(b[col]), rel=1e-12, abs=1e-9), col
    assert max(float(r["pfe_99"]) for r in rows["NS1"]) > 0.0


def _time_average(times: np.ndarray, ee: np.ndarray, window: float) -> float:
    """(1/T) int_0^T EEE(t) dt with EEE(t) = running max of EE at the first date >= t."""
    eee = np.maximum.accumulate(ee)
    total, prev = 0.0, 0.0
    for t, e in zip(times, eee, strict=True):
        if prev >= window:
            break
        total += e * (min(t, window) - prev)
        prev = t
    return total / window


@pytest.mark.parametrize(("as_of", "maturities"), [
    ("2026-11-20", ("2027-02-22", "2028-11-20")),   # a 3M forward and a 2Y forward
    ("2027-03-01", ("2027-06-01", "2029-03-01")),   # the first year holds 29 February 2028
])
def test_eepe_window_is_one_year_or_the_netting_set_maturity(
        tmp_path: Path, as_of: str, maturities: tuple[str, str]) -> None:
    market = dict(MARKET, as_of=as_of)
    trades = [_fx_forward("SHORT", maturities[0]) | {"start_date": as_of},
              _fx_forward("LONG", maturities[1]) | {"start_date": as_of}]
    portfolio = load(tmp_path, trades, [NettingSet("SHORT"), NettingSet("LONG")], market)
    result = run_partition(portfolio, ["SHORT", "LONG"],
                           RunSettings(paths=2000, seed=4, grid="1M:2Y"))
    base = _dt.date.fromisoformat(as_of)
    one_year = (_dt.date(base.year + 1, base.month, base.day) - base).days / 365.0
    short_end = (_dt.date.fromisoformat(maturities[0]) - base).days / 365.0
    times = result.times
    assert np.any(np.isclose(times, one_year))  # the 1Y date is on the grid and in the window
    for j, window in ((0, short_end), (1, one_year)):
        expected = _time_average(times, result.profile.basel_ee[:, j], window)
        assert result.eepe[j] == pytest.approx(expected, rel=1e-12)
    # the short forward's EEPE is not diluted by the running maximum after its maturity
    whole_year = _time_average(times, result.profile.basel_ee[:, 0], one_year)
    assert result.eepe[0] < whole_year


def test_default_grid_covers_a_30y_swap(tmp_path: Path) -> None:
    swap = {"netting_set_id": "NS_30Y", "product": "IRS", "direction": "payer",
            "notional": 100e6, "currency": "USD", "start_date": "2026-11-24",
            "maturity_date": "2056-11-24", "fixed_rate": 0.039, "fixed_frequency": "annual",
            "fixed_daycount": "ACT/360", "float_index": "USD-SOFR", "float_frequency": "annual",
            "float_spread": 0, "float_daycount": "ACT/360"}
    portfolio = load(tmp_path, [swap], [NettingSet("NS_30Y")], MARKET)
    maturity = (_dt.date(2056, 11, 24) - _dt.date(2026, 11, 20)).days / 365.0

    def cva(grid: str, seed: int) -> tuple[float, float, np.ndarray]:
        r = run_partition(portfolio, ["NS_30Y"], RunSettings(paths=4096, seed=seed, grid=grid,
                                                             bilateral=False, antithetic=True))
        se = float(batch_stderr(r.xva["cva"][1], r.batch_size)[0])
        return float(r.xva["cva"][0][0]) / r.n_paths, se, r.times

    auto, se_auto, times = cva("auto", 1)
    assert times[-1] >= maturity
    assert simulation_plan(portfolio, RunSettings(grid="auto"))[2] == []
    assert simulation_plan(portfolio, RunSettings(grid="1M:10Y"))[2] == ["NS_30Y"]
    explicit, se_explicit, _ = cva("3M:31Y", 2)
    ten_years, _, _ = cva("1M:10Y", 1)
    combined = float(np.hypot(se_auto, se_explicit))
    print(f"30Y swap CVA: auto {auto:.0f} ± {se_auto:.0f}, 3M:31Y {explicit:.0f} ± "
          f"{se_explicit:.0f}, 1M:10Y {ten_years:.0f}")
    assert abs(auto - explicit) <= 0.01 * explicit + 3.0 * combined
    assert ten_years < 0.7 * auto
