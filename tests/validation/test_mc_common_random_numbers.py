"""Common random numbers: a change to ONE netting set leaves every other netting set's numbers
bit-identical (the paths are keyed by seed, path and calendar day, never by grid step; the
model simulates every factor the market can, not only the book's).

The base book has four netting sets on the validation market (stochastic rates in USD, EUR and
GBP, FX and equities, all correlated): NS_RATES (a USD swap with a term-index leg fixing
between grid dates and an EUR overnight swap), NS_FX (an FX forward under a CSA with a 10-day
margin period of risk), NS_EQ (a long SPX call and an FX option) and NS_X, the netting set the
variants change:

1. a CSA with a 7-day margin period of risk (new lag dates on the grid);
2. an FX option with an expiry and settlement on new dates;
3. a cash-settled swaption with a new expiry;
4. trades in a currency and an equity nobody else holds (a GBP swap, an SX5E forward);
5. all of these at once.

Each variant is run on the default grid (``auto``, which the variants do not extend) and the
netting sets other than NS_X must agree with the base run exactly (``np.array_equal``): every
profile (EPE, ENE, EE, PFE quantiles, collateral, Basel EE), EEPE, NPV, the XVA totals, their
batch sums and their term structure. The test has power: each variant does change the grid,
and NS_X's own numbers do change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mc_portfolios import MARKET, NettingSet, load

from xvaflow.portfolio import Portfolio
from xvaflow.xva.engine import PartitionResult, RunSettings, run_partition, simulation_setup

SETTINGS = RunSettings(paths=512, seed=4242, grid="auto", antithetic=True)
OTHERS = ("NS_RATES", "NS_FX", "NS_EQ")

BASE_TRADES: list[dict[str, Any]] = [
    {"netting_set_id": "NS_RATES", "product": "IRS", "direction": "payer", "notional": 5e7,
     "currency": "USD", "start_date": "2026-06-15", "maturity_date": "2031-06-15",
     "fixed_rate": 0.036, "fixed_frequency": "semiannual", "fixed_daycount": "30/360",
     "float_index": "USD-TERM-3M", "float_frequency": "quarterly", "float_spread": 0.0,
     "float_daycount": "ACT/360", "last_fixing": 0.041},
    {"netting_set_id": "NS_RATES", "product": "IRS", "direction": "receiver", "notional": 3e7,
     "currency": "EUR", "start_date": "2026-11-24", "maturity_date": "2030-11-24",
     "fixed_rate": 0.022, "fixed_frequency": "annual", "fixed_daycount": "ACT/360",
     "float_index": "EUR-ESTR", "float_frequency": "annual", "float_spread": 0.0,
     "float_daycount": "ACT/360"},
    {"netting_set_id": "NS_FX", "product": "FXFWD", "maturity_date": "2028-03-17",
     "buy_currency": "EUR", "buy_amount": 1e7, "sell_currency": "USD", "sell_amount": 1.1e7},
    {"netting_set_id": "NS_EQ", "product": "EQOPT", "direction": "long", "underlying": "SPX",
     "quantity": 2000, "strike": 6000, "option_type": "call", "expiry_date": "2028-05-19",
     "maturity_date": "2028-05-19"},
    {"netting_set_id": "NS_EQ", "product": "FXOPT", "direction": "long",
     "buy_currency": "EUR", "buy_amount": 5e6, "sell_currency": "USD", "sell_amount": 5.5e6,
     "expiry_date": "2027-09-22", "maturity_date": "2027-09-24"},
    {"netting_set_id": "NS_X", "product": "IRS", "direction": "receiver", "notional": 2e7,
     "currency": "USD", "start_date": "2026-11-24", "maturity_date": "2029-11-26",
     "fixed_rate": 0.035, "fixed_frequency": "annual", "fixed_daycount": "ACT/360",
     "float_index": "USD-SOFR", "float_frequency": "annual", "float_spread": 0.0,
     "float_daycount": "ACT/360"},
]
FX_CSA = {"threshold_cpty": 0, "threshold_own": 0, "mta": 1e5, "mpor_days": 10}
NEW_CSA = {"threshold_cpty": 1e5, "threshold_own": 1e5, "mta": 5e4, "mpor_days": 7}
NEW_OPTION = {"netting_set_id": "NS_X", "product": "FXOPT", "direction": "short",
              "buy_currency": "USD", "buy_amount": 4.4e6, "sell_currency": "EUR",
              "sell_amount": 4e6, "expiry_date": "2028-01-13", "maturity_date": "2028-01-18"}
NEW_SWAPTION = {"netting_set_id": "NS_X", "product": "SWAPTION", "direction": "long",
                "notional": 1e7, "currency": "USD", "start_date": "2027-07-21",
                "maturity_date": "2030-07-22", "fixed_rate": 0.037, "fixed_frequency": "annual",
                "fixed_daycount": "ACT/360", "float_index": "USD-SOFR",
                "float_frequency": "annual", "float_spread": 0.0, "float_daycount": "ACT/360",
                "expiry_date": "2027-07-19", "settlement": "cash",
                "direction_underlying": "payer"}
NEW_FACTORS = [
    {"netting_set_id": "NS_X", "product": "IRS", "direction": "payer", "notional": 1e7,
     "currency": "GBP", "start_date": "2026-11-24", "maturity_date": "2029-05-24",
     "fixed_rate": 0.042, "fixed_frequency": "annual", "fixed_daycount": "ACT/365F",
     "float_index": "GBP-SONIA", "float_frequency": "annual", "float_spread": 0.0,
     "float_daycount": "ACT/365F"},
    {"netting_set_id": "NS_X", "product": "EQFWD", "direction": "long", "underlying": "SX5E",
     "quantity": 1000, "strike": 5200, "expiry_date": "2028-10-11",
     "maturity_date": "2028-10-11"},
]
VARIANTS: dict[str, tuple[list[dict[str, Any]], dict[str, Any] | None]] = {
    "csa with a new MPoR": ([], NEW_CSA),
    "fx option with new dates": ([NEW_OPTION], None),
    "swaption with a new expiry": ([NEW_SWAPTION], None),
    "a new currency and equity": (NEW_FACTORS, None),
    "all at once": ([NEW_OPTION, NEW_SWAPTION, *NEW_FACTORS], NEW_CSA),
}


def _book(root: Path, extra: list[dict[str, Any]], x_csa: dict[str, Any] | None) -> Portfolio:
    netting = [NettingSet("NS_RATES"), NettingSet("NS_FX", csa=FX_CSA), NettingSet("NS_EQ"),
               NettingSet("NS_X", csa=x_csa)]
    return load(root, [*BASE_TRADES, *extra], netting, MARKET)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Portfolio, PartitionResult]:
    portfolio = _book(tmp_path_factory.mktemp("base"), [], None)
    return portfolio, run_partition(portfolio, [*OTHERS, "NS_X"], SETTINGS)


def _columns(result: PartitionResult, j: int) -> dict[str, np.ndarray]:
    """Every number the run reports for netting set column j."""
    p = result.profile
    out = {name: getattr(p, name)[:, j] for name in ("epe", "ene", "ee", "basel_ee",
                                                       "collateral")}
    out["pfe"] = p.pfe[..., j]
    out["eepe"], out["npv"] = result.eepe[j], result.npv[j]
    for m, (total, batches) in result.xva.items():
        out[f"{m} total"], out[f"{m} batches"] = total[j], batches[:, j]
        out[f"{m} by date"] = result.xva_by_date[m][:, j]
    return out


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_other_netting_sets_are_bit_identical(base: tuple[Portfolio, PartitionResult],
                                              variant: str, tmp_path: Path) -> None:
    base_portfolio, ref = base
    extra, x_csa = VARIANTS[variant]
    portfolio = _book(tmp_path, extra, x_csa)
    _, grid_ref = simulation_setup(base_portfolio, SETTINGS)
    _, grid_new = simulation_setup(portfolio, SETTINGS)
    # power: the variant adds simulation dates (or, for new factors, new values) ...
    assert variant == "a new currency and equity" or grid_new.times.size > grid_ref.times.size
    got = run_partition(portfolio, [*OTHERS, "NS_X"], SETTINGS)
    assert np.array_equal(got.times, ref.times)  # the same exposure dates
    # ... and changes NS_X itself
    assert not np.array_equal(got.profile.epe[:, 3], ref.profile.epe[:, 3])
    assert ref.xva["cva"][0][:3].min() > 0.0
    for j, ns in enumerate(OTHERS):
        a, b = _columns(ref, j), _columns(got, j)
        for name, value in a.items():
            assert np.array_equal(value, b[name]), f"{variant}: {ns} {name} changed"
