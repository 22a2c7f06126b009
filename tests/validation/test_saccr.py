"""SA-CCR (Basel CRE52 / BCBS 279) against the published example and hand calculations.

Published figures: BCBS 279 ("The standardised approach for measuring counterparty credit risk
exposures", March 2014, rev. April 2014), Annex 4a, example 1 (reproduced in the consolidated
Basel Framework as CRE99, example 1): a netting set of two USD interest-rate swaps and a bought
EUR receiver swaption, unmargined, amounts in thousands:

    trade  nature           residual maturity  notional  pays / receives      value
    1      IRS              10 years           10,000    fixed / floating       30
    2      IRS               4 years           10,000    floating / fixed      -20
    3      swaption (bought) 1 into 10 years    5,000    floating / fixed       50

with underlying price 6% and strike 5% for the swaption. Published intermediates: supervisory
durations 7.87, 3.63, 7.49 (CRE52.34); adjusted notionals 78,694, 36,254, 37,428; supervisory
deltas 1, -1, -0.27 (CRE52.38-40); maturity factors 1 (CRE52.48); effective notionals 59,270
(USD) and -10,083 (EUR) (CRE52.57); add-ons 296 (USD) + 50 (EUR) = 347 (CRE52.56); RC 60
(CRE52.10); multiplier 1 (CRE52.23); EAD = 1.4 x (60 + 347) = 569 (CRE52.1).

The other Annex 4a examples involve credit or commodity derivatives, which xvaflow does not
book. The margined branches (CRE52.18-21: threshold, MTA, NICA, the margined maturity factor of
CRE52.52 and the cap of CRE52.1) and the FX and equity add-ons are checked against hand
calculations whose arithmetic is written out below.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ql_reference import qd, ql_calendar, ql_daycount, ql_schedule
from scipy.stats import norm

from xvaflow.io.portfolio import load_portfolio
from xvaflow.portfolio import Portfolio
from xvaflow.pricing.t0 import price_t0
from xvaflow.products.registry import saccr_positions
from xvaflow.regulatory.capital import capital_section
from xvaflow.regulatory.saccr import (
    ir_bucket,
    ir_effective_notional,
    maturity_factor_margined,
    maturity_factor_unmargined,
    option_delta,
    pfe_multiplier,
    position_arrays,
    replacement_cost_margined,
    replacement_cost_unmargined,
    supervisory_duration,
)

TRADE_COLUMNS = ["trade_id", "netting_set_id", "product", "direction", "notional", "currency",
                 "start_date", "maturity_date", "fixed_rate", "fixed_frequency", "fixed_daycount",
                 "float_index", "float_frequency", "float_spread", "float_daycount",
                 "currency_2", "notional_2", "fixed_rate_2", "fixed_frequency_2",
                 "fixed_daycount_2", "float_index_2", "float_frequency_2", "float_daycount_2",
                 "buy_currency", "buy_amount", "sell_currency", "sell_amount", "expiry_date",
                 "settlement", "direction_underlying", "underlying", "quantity", "strike",
                 "option_type"]


def write_portfolio(root: Path, market: dict[str, Any], trades: list[dict[str, str]],
                    netting_sets: list[tuple[str, str, str]],
                    counterparties: list[tuple[str, str, str]],
                    csas: list[dict[str, str]] | None = None) -> Path:
    """A portfolio directory: trades by column, (netting set, counterparty, CSA),
    (counterparty, rating, sector) with a flat 1% hazard rate, CSAs by column."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "market.json").write_text(json.dumps(market))

    def write(name: str, header: list[str], rows: list[list[str]]) -> None:
        with (root / name).open("w", newline="") as fh:
            csv.writer(fh, lineterminator="\n").writerows([header, *rows])

    write("trades.csv", TRADE_COLUMNS, [[t.get(c, "") for c in TRADE_COLUMNS] for t in trades])
    write("netting_sets.csv", ["netting_set_id", "counterparty_id", "csa_id"],
          [list(n) for n in netting_sets])
    write("counterparties.csv", ["counterparty_id", "recovery", "rating", "sector",
                                 "hazard_rate"],
          [[c, "0.4", rating, sector, "0.01"] for c, rating, sector in counterparties])
    if csas:
        columns = list(csas[0])
        write("csas.csv", columns, [[c[k] for k in columns] for c in csas])
    return root


def flat_market(as_of: str, rates: dict[str, float], spots: dict[str, float],
                **extra: Any) -> dict[str, Any]:
    return {"as_of": as_of, "base_currency": "USD",
            "curves": {c: {"zero_rates": {"1Y": r, "30Y": r}} for c, r in rates.items()},
            "fx_spots": spots, **extra}


# ---------------------------------------------------------------------------------------------
# BCBS 279 Annex 4a, example 1, formula by formula
# ---------------------------------------------------------------------------------------------
def test_example1_published_intermediates() -> None:
    """Annex 4a example 1 (CRE99 example 1): every published figure from the trade terms."""
    sd = supervisory_duration(np.array([0.0, 0.0, 1.0]), np.array([10.0, 4.0, 11.0]))
    np.testing.assert_array_equal(np.round(sd, 2), [7.87, 3.63, 7.49])
    adjusted = np.array([10_000.0, 10_000.0, 5_000.0]) * sd
    np.testing.assert_array_equal(np.round(adjusted), [78_694, 36_254, 37_428])
    # trade 3: bought receiver swaption = bought put on the rate, P = 6%, K = 5%, T = 1
    delta = option_delta(np.array([False]), np.array([True]), np.array([0.06]),
                         np.array([0.05]), np.array([1.0]), np.array([0.50]))[0]
    assert round(delta, 2) == -0.27
    assert maturity_factor_unmargined(np.array([10.0, 4.0, 11.0])).tolist() == [1.0, 1.0, 1.0]
    np.testing.assert_array_equal(ir_bucket(np.array([10.0, 4.0, 11.0])), [2, 1, 2])
    usd = ir_effective_notional(np.float64(0.0), -adjusted[1], adjusted[0])
    eur = delta * adjusted[2]
    assert round(float(usd)) == 59_270
    assert round(eur) == -10_083
    addon_usd, addon_eur = 0.005 * usd, 0.005 * abs(eur)
    assert (round(float(addon_usd)), round(addon_eur)) == (296, 50)
    addon = float(addon_usd + addon_eur)
    assert round(addon) == 347
    rc = float(replacement_cost_unmargined(np.array(30.0 - 20.0 + 50.0), np.array(0.0)))
    assert rc == 60.0
    assert float(pfe_multiplier(np.array(60.0), np.array(addon))) == 1.0
    assert round(1.4 * (rc + addon)) == 569


def _par_rate(as_of: dt.date, start: dt.date, end: dt.date, daycount: str, rate: float) -> float:
    """Independent par rate: QuantLib schedule (backward, Modified Following, weekends) and day
    count, discount exp(-r t) on ACT/365F days from as_of; OIS leg P(T_0) - P(T_n)."""
    schedule = ql_schedule(start, end, 12, ql_calendar())
    dates = [dt.date(d.year(), d.month(), d.dayOfMonth()) for d in schedule]
    dc = ql_daycount(daycount)

    def disc(d: dt.date) -> float:
        return math.exp(-rate * (d - as_of).days / 365.0)

    annuity = sum(dc.yearFraction(qd(a), qd(b)) * disc(b)
                  for a, b in itertools.pairwise(dates))
    return (disc(dates[0]) - disc(dates[-1])) / annuity


def example1_portfolio(root: Path, csa: dict[str, str] | None = None,
                       eurusd: float = 1.0) -> Path:
    """Example 1 booked as trades: as_of 2026-09-30, the maturities in whole 365-day years
    (10 y = 3650 days, ...), EURUSD 1 so that every notional is in USD as published, and the
    swaption strike set to the underlying's par rate / 1.2 (P = 6%, K = 5% in the example)."""
    as_of = dt.date(2026, 9, 30)
    par = _par_rate(as_of, dt.date(2027, 9, 30), dt.date(2037, 9, 27), "ACT/365F", 0.06)
    market = flat_market("2026-09-30", {"USD": 0.03, "EUR": 0.06}, {"EURUSD": eurusd},
                         hull_white={"USD": {"mean_reversion": 0.03, "volatility": 0.01},
                                     "EUR": {"mean_reversion": 0.03, "volatility": 0.01}})
    swap = {"product": "IRS", "currency": "USD", "notional": "10000000",
            "start_date": "2026-09-30", "fixed_rate": "0.03", "fixed_frequency": "annual",
            "fixed_daycount": "ACT/360", "float_index": "USD-SOFR",
            "float_frequency": "annual", "float_daycount": "ACT/360", "netting_set_id": "NS1"}
    trades = [
        {**swap, "trade_id": "T1", "direction": "payer", "maturity_date": "2036-09-27"},
        {**swap, "trade_id": "T2", "direction": "receiver", "maturity_date": "2030-09-29"},
        {"trade_id": "T3", "netting_set_id": "NS1", "product": "SWAPTION", "direction": "long",
         "notional": "5000000", "currency": "EUR", "start_date": "2027-09-30",
         "maturity_date": "2037-09-27", "fixed_rate": repr(par / 1.2),
         "fixed_frequency": "annual", "fixed_daycount": "ACT/365F", "float_index": "EUR-ESTR",
         "float_frequency": "annual", "float_daycount": "ACT/360",
         "expiry_date": "2027-09-30", "settlement": "physical",
         "direction_underlying": "receiver"},
    ]
    return write_portfolio(root, market, trades,
                           [("NS1", "C1", "CSA1" if csa else "")], [("C1", "A", "Banks")],
                           [csa] if csa else None)


def _capital(pf: Portfolio) -> dict[str, Any]:
    return capital_section(pf, price_t0(pf.compiled, pf.market).npv_base)


def test_example1_booked_as_trades(tmp_path: Path) -> None:
    """The same netting set from trades.csv: the product families' positions give the
    published supervisory durations, adjusted notionals and deltas, and the add-on of 347
    (thousands) in the IR add-on of results.json."""
    pf = load_portfolio(example1_portfolio(tmp_path / "ex1"))
    positions = saccr_positions(list(enumerate(pf.trades)), pf.market)
    p = position_arrays(positions, pf.compiled.netting_set)
    np.testing.assert_allclose([x.start for x in positions], [0.0, 0.0, 1.0], atol=1e-15)
    np.testing.assert_allclose([x.end for x in positions], [10.0, 4.0, 11.0], atol=1e-15)
    np.testing.assert_array_equal(np.round(p.adjusted / 1000.0), [78_694, 36_254, 37_428])
    np.testing.assert_array_equal(np.round(p.delta, 2), [1.0, -1.0, -0.27])
    # P / K = 1.2 exactly: the delta is the example's unrounded one
    assert p.delta[2] == pytest.approx(-norm.cdf(-(math.log(1.2) + 0.125) / 0.5), abs=1e-12)

    ns = _capital(pf)["saccr"]["NS1"]
    assert round(ns["addon_ir"] / 1000.0) == 347
    assert ns["addon_ir"] == pytest.approx(346_764.3864, abs=1e-3)
    assert (ns["addon_fx"], ns["addon_eq"]) == (0.0, 0.0)
    assert (ns["margined"], ns["c"], ns["ead_unmargined"]) == (False, 0.0, None)
    # V is this market's value (not the example's 60): RC and EAD follow CRE52.10 and .1
    assert ns["rc"] == max(ns["v"], 0.0)
    assert ns["pfe"] == pytest.approx(ns["multiplier"] * ns["addon"], rel=1e-15)
    assert ns["ead"] == pytest.approx(1.4 * (ns["rc"] + ns["pfe"]), rel=1e-15)


# ---------------------------------------------------------------------------------------------
# Branches of the formulas
# ---------------------------------------------------------------------------------------------
def test_multiplier_below_one() -> None:
    """CRE52.23 with V - C = -200, AddOn = 1000: 0.05 + 0.95 exp(-200 / 1900) = 0.90507...;
    capped at 1 for V - C >= 0; floor 5% far out of the money."""
    got = pfe_multiplier(np.array([-200.0, 50.0, -1e9]), np.array([1000.0, 1000.0, 1000.0]))
    np.testing.assert_allclose(got, [0.05 + 0.95 * 0.9000876262522591, 1.0, 0.05], rtol=1e-12)


def test_margined_replacement_cost_branches() -> None:
    """CRE52.18: RC = max(V - C, TH + MTA - NICA, 0)."""
    v, c = np.array([10.0, 100.0, 10.0]), np.array([5.0, 5.0, 50.0])
    th, mta, nica = np.array([20.0, 20.0, 0.0]), np.array([5.0, 5.0, 0.0]), np.zeros(3)
    # the floor TH + MTA - NICA = 25 binds; V - C = 95 binds; neither: 0
    assert replacement_cost_margined(v, c, th, mta, nica).tolist() == [25.0, 95.0, 0.0]
    # a net independent amount held lowers the floor below zero
    assert float(replacement_cost_margined(np.array(10.0), np.array(5.0), np.array(20.0),
                                           np.array(5.0), np.array(40.0))) == 5.0


def test_maturity_factors() -> None:
    """CRE52.48: sqrt(min(max(M, 10/250), 1)); CRE52.52: 1.5 sqrt(max(MPOR, 10) / 250)."""
    np.testing.assert_allclose(maturity_factor_unmargined(np.array([0.01, 0.25, 3.0])),
                               [math.sqrt(0.04), 0.5, 1.0], rtol=1e-15)
    np.testing.assert_allclose(maturity_factor_margined(np.array([5.0, 10.0, 20.0])),
                               [0.3, 0.3, 1.5 * math.sqrt(0.08)], rtol=1e-15)


def test_margined_netting_set_floor_and_cap(tmp_path: Path) -> None:
    """Example 1 under a EUR CSA (EURUSD 1.25): TH 2,000,000, MTA 500,000, IA 300,000 held,
    VM -100,000 (posted), MPOR 20. C = (-100,000 + 300,000) x 1.25 = 250,000; the floor
    (2,000,000 + 500,000 - 300,000) x 1.25 = 2,750,000 exceeds V - C, so RC = 2,750,000; the
    margined maturity factor 1.5 sqrt(20/250) scales every position; the margined EAD exceeds
    the unmargined one, which caps it (CRE52.1)."""
    csa = {"csa_id": "CSA1", "threshold_cpty": "2000000", "threshold_own": "0",
           "mta": "500000", "independent_amount": "300000", "mpor_days": "20",
           "currency": "EUR", "im_model": "none", "collateral_balance": "-100000"}
    pf = load_portfolio(example1_portfolio(tmp_path / "m", csa, eurusd=1.25))
    ns = _capital(pf)["saccr"]["NS1"]
    unmargined = _capital(load_portfolio(example1_portfolio(tmp_path / "u", None, 1.25)))
    u = unmargined["saccr"]["NS1"]
    assert ns["margined"] is True
    assert ns["c"] == pytest.approx(250_000.0, rel=1e-15)
    assert ns["v"] == pytest.approx(u["v"], rel=1e-15)
    assert ns["v"] - ns["c"] < 2_750_000.0
    assert ns["rc"] == pytest.approx(2_750_000.0, rel=1e-15)
    mf = 1.5 * math.sqrt(20.0 / 250.0)
    assert ns["addon"] == pytest.approx(mf * u["addon"], rel=1e-12)
    assert ns["pfe"] == pytest.approx(ns["multiplier"] * ns["addon"], rel=1e-15)
    margined_ead = 1.4 * (ns["rc"] + ns["pfe"])
    # unmargined EAD of the same netting set, with its collateral: RC = max(V - C, 0)
    exposure = u["v"] - 250_000.0
    mult = min(1.0, 0.05 + 0.95 * math.exp(exposure / (2 * 0.95 * u["addon"])))
    capped = 1.4 * (max(exposure, 0.0) + mult * u["addon"])
    assert capped < margined_ead
    assert ns["ead_unmargined"] == pytest.approx(capped, rel=1e-12)
    assert ns["ead"] == pytest.approx(capped, rel=1e-12)


def test_overcollateralised_margined_set(tmp_path: Path) -> None:
    """A zero-threshold CSA holding more collateral than V: RC = 0, multiplier < 1 from
    V - C < 0 (CRE52.23), margined EAD below the unmargined one (no cap)."""
    csa = {"csa_id": "CSA1", "threshold_cpty": "0", "threshold_own": "0", "mta": "0",
           "independent_amount": "0", "mpor_days": "10", "currency": "USD",
           "im_model": "none", "collateral_balance": "1000000"}
    ns = _capital(load_portfolio(example1_portfolio(tmp_path / "o", csa)))["saccr"]["NS1"]
    assert ns["c"] == 1_000_000.0
    assert ns["v"] < ns["c"]
    assert ns["rc"] == 0.0
    expected = 0.05 + 0.95 * math.exp((ns["v"] - ns["c"]) / (2 * 0.95 * ns["addon"]))
    assert ns["multiplier"] == pytest.approx(expected, rel=1e-13)
    assert ns["multiplier"] < 1.0
    assert ns["addon"] == pytest.approx(0.3 * 346_764.3864, rel=1e-9)  # MF 1.5 sqrt(10/250)
    assert ns["ead"] == pytest.approx(1.4 * ns["pfe"], rel=1e-15)
    assert ns["ead"] < ns["ead_unmargined"]


# ---------------------------------------------------------------------------------------------
# IR buckets, FX pairs, equities and CCS by hand
# ---------------------------------------------------------------------------------------------
AS_OF = dt.date(2026, 11, 20)
RATES = {"USD": 0.04, "EUR": 0.02, "GBP": 0.045}


def _years(d: str) -> float:
    return (dt.date.fromisoformat(d) - AS_OF).days / 365.0


def _sd(start: str, end: str) -> float:
    s = max(_years(start), 0.0)
    return (math.exp(-0.05 * s) - math.exp(-0.05 * _years(end))) / 0.05


def hand_portfolio(root: Path) -> Portfolio:
    market = flat_market(
        "2026-11-20", RATES, {"EURUSD": 1.25, "GBPUSD": 1.3}, fx_vols={"EURUSD": 0.1},
        equities={"SPX": {"spot": 5000, "currency": "USD", "dividend_yield": 0.01, "vol": 0.2},
                  "ACME": {"spot": 100, "currency": "USD", "dividend_yield": 0.0,
                           "vol": 0.3}})
    irs = {"product": "IRS", "currency": "USD", "start_date": "2026-11-20",
           "fixed_rate": "0.04", "fixed_frequency": "annual", "fixed_daycount": "ACT/360",
           "float_index": "USD-SOFR", "float_frequency": "annual", "float_daycount": "ACT/360",
           "netting_set_id": "NS_IR"}
    fx = {"product": "FXFWD", "netting_set_id": "NS_FX"}
    trades = [
        {**irs, "trade_id": "I1", "direction": "payer", "notional": "1000000",
         "maturity_date": "2027-05-20"},
        {**irs, "trade_id": "I2", "direction": "receiver", "notional": "2000000",
         "maturity_date": "2029-11-20"},
        {**irs, "trade_id": "I3", "direction": "payer", "notional": "3000000",
         "maturity_date": "2033-11-21", "start_date": "2027-11-22"},
        {**fx, "trade_id": "F1", "maturity_date": "2027-05-21", "buy_currency": "EUR",
         "buy_amount": "1000000", "sell_currency": "USD", "sell_amount": "1260000"},
        {**fx, "trade_id": "F2", "maturity_date": "2028-11-20", "buy_currency": "USD",
         "buy_amount": "1300000", "sell_currency": "EUR", "sell_amount": "1000000"},
        {**fx, "trade_id": "F3", "maturity_date": "2027-11-22", "buy_currency": "GBP",
         "buy_amount": "1000000", "sell_currency": "EUR", "sell_amount": "1150000"},
        {"trade_id": "O1", "netting_set_id": "NS_FX", "product": "FXOPT", "direction": "long",
         "maturity_date": "2027-11-24", "buy_currency": "EUR", "buy_amount": "1000000",
         "sell_currency": "USD", "sell_amount": "1200000", "expiry_date": "2027-11-22"},
        {"trade_id": "E1", "netting_set_id": "NS_EQ", "product": "EQFWD", "direction": "long",
         "maturity_date": "2028-11-20", "underlying": "SPX", "quantity": "100",
         "strike": "5000"},
        {"trade_id": "E2", "netting_set_id": "NS_EQ", "product": "EQFWD", "direction": "short",
         "maturity_date": "2027-05-20", "underlying": "ACME", "quantity": "1000",
         "strike": "100"},
        {"trade_id": "E3", "netting_set_id": "NS_EQ", "product": "EQOPT", "direction": "short",
         "maturity_date": "2027-11-22", "expiry_date": "2027-11-22", "underlying": "ACME",
         "quantity": "500", "strike": "110", "option_type": "call"},
        {"trade_id": "X1", "netting_set_id": "NS_CCS", "product": "CCS", "direction": "payer",
         "notional": "1000000", "currency": "EUR", "start_date": "2026-11-20",
         "maturity_date": "2029-11-20", "fixed_rate": "0.02", "fixed_frequency": "annual",
         "fixed_daycount": "30/360", "currency_2": "USD", "notional_2": "1250000",
         "float_index_2": "USD-SOFR", "float_frequency_2": "quarterly",
         "float_daycount_2": "ACT/360"},
    ]
    return load_portfolio(write_portfolio(
        root, market, trades,
        [("NS_IR", "C1", ""), ("NS_FX", "C2", ""), ("NS_EQ", "C2", ""), ("NS_CCS", "C3", "")],
        [("C1", "A+", "Banks"), ("C2", "BB", "energy"), ("C3", "", "")]))


@pytest.fixture(scope="module")
def hand(tmp_path_factory: pytest.TempPathFactory) -> tuple[Portfolio, dict[str, Any]]:
    pf = hand_portfolio(tmp_path_factory.mktemp("hand") / "p")
    return pf, _capital(pf)


def test_ir_three_buckets(hand: tuple[Portfolio, dict[str, Any]]) -> None:
    """One USD hedging set with a trade in each bucket (CRE52.55-57): D1 = +1e6 SD(0, 0.5)
    MF(0.5), D2 = -2e6 SD(0, 3), D3 = +3e6 SD(1.005, 7.005); AddOn = 0.5% EN."""
    d1 = 1e6 * _sd("2026-11-20", "2027-05-20") * math.sqrt(_years("2027-05-20"))
    d2 = -2e6 * _sd("2026-11-20", "2029-11-20")
    d3 = 3e6 * _sd("2027-11-22", "2033-11-21")
    en = math.sqrt(d1 * d1 + d2 * d2 + d3 * d3 + 1.4 * d1 * d2 + 1.4 * d2 * d3 + 0.6 * d1 * d3)
    ns = hand[1]["saccr"]["NS_IR"]
    assert ns["addon_ir"] == pytest.approx(0.005 * en, rel=1e-13)
    assert ns["addon"] == ns["addon_ir"]


def test_fx_pairs_and_option(hand: tuple[Portfolio, dict[str, Any]]) -> None:
    """EURUSD: F1 +1.25e6 MF(0.5), F2 -1.25e6 (sells EUR), O1 bought EUR call (P = forward to
    settlement, K = 1.2, T = expiry, vol 15%) on 1.25e6; EURGBP (a cross): F3 sells EUR, the
    alphabetically first currency, d = the larger leg at spot, max(1.3e6, 1.4375e6)."""
    t_pay, t_exp = _years("2027-11-24"), _years("2027-11-22")
    fwd = 1.25 * math.exp(-RATES["EUR"] * t_pay) / math.exp(-RATES["USD"] * t_pay)
    d = (math.log(fwd / 1.2) + 0.5 * 0.15**2 * t_exp) / (0.15 * math.sqrt(t_exp))
    eurusd = (1.25e6 * math.sqrt(_years("2027-05-21")) - 1.25e6
              + norm.cdf(d) * 1.25e6 * 1.0)
    eurgbp = -1.4375e6 * 1.0
    ns = hand[1]["saccr"]["NS_FX"]
    assert ns["addon_fx"] == pytest.approx(0.04 * (abs(eurusd) + abs(eurgbp)), rel=1e-13)
    assert ns["addon_ir"] == ns["addon_eq"] == 0.0


def test_equity_index_and_single_name(hand: tuple[Portfolio, dict[str, Any]]) -> None:
    """SPX (index: SF 20%, rho 80%) long 100 x 5000; ACME (single name: SF 32%, rho 50%)
    short forward 1000 x 100 with MF(0.5) and a sold call (vol 120%, P = forward, K = 110, T
    = M = 1.005) on 500 x 100 (CRE52.66-68)."""
    t = _years("2027-11-22")
    fwd = 100.0 / math.exp(-RATES["USD"] * t)
    d = (math.log(fwd / 110.0) + 0.5 * 1.2**2 * t) / (1.2 * math.sqrt(t))
    spx = 0.20 * 500_000.0
    acme = 0.32 * (-100_000.0 * math.sqrt(_years("2027-05-20")) - norm.cdf(d) * 50_000.0)
    expected = math.sqrt((0.8 * spx + 0.5 * acme) ** 2 + (1 - 0.64) * spx**2
                         + (1 - 0.25) * acme**2)
    assert hand[1]["saccr"]["NS_EQ"]["addon_eq"] == pytest.approx(expected, rel=1e-13)


def test_ccs_fx_and_fixed_leg(hand: tuple[Portfolio, dict[str, Any]]) -> None:
    """Pay EUR fixed, receive USD floating: FX -1.25e6 (the bank repays EUR at maturity), IR
    +1.25e6 SD(0, 3) on the EUR fixed leg, none on the USD floating leg."""
    ns = hand[1]["saccr"]["NS_CCS"]
    assert ns["addon_fx"] == pytest.approx(0.04 * 1.25e6, rel=1e-15)
    assert ns["addon_ir"] == pytest.approx(0.005 * 1.25e6 * _sd("2026-11-20", "2029-11-20"),
                                           rel=1e-13)
    positions = [p for p in saccr_positions(list(enumerate(hand[0].trades)), hand[0].market)
                 if hand[0].trades[p.trade].info.trade_id == "X1"]
    assert [(p.asset_class, p.hedging_set, p.sign) for p in positions] == \
        [("FX", "EURUSD", -1.0), ("IR", "EUR", 1.0)]


def test_unmargined_rc_and_ead(hand: tuple[Portfolio, dict[str, Any]]) -> None:
    """Without CSA: C = 0, RC = max(V, 0), V the sum of the trades' npv_base, EAD = 1.4 (RC +
    multiplier AddOn)."""
    pf, cap = hand
    values = price_t0(pf.compiled, pf.market).npv_base
    for k, ns in enumerate(pf.compiled.netting_set_ids):
        r = cap["saccr"][ns]
        v = float(values[pf.compiled.netting_set == k].sum())
        assert r["v"] == pytest.approx(v, rel=1e-13, abs=1e-9)
        assert (r["c"], r["rc"]) == (0.0, max(v, 0.0))
        mult = min(1.0, 0.05 + 0.95 * math.exp(v / (1.9 * r["addon"])))
        assert r["multiplier"] == pytest.approx(mult, rel=1e-13)
        assert r["ead"] == pytest.approx(1.4 * (max(v, 0.0) + mult * r["addon"]), rel=1e-13)
