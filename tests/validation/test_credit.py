"""Hazard curves bootstrapped from CDS par spreads, against QuantLib's ``MidPointCdsEngine``.

For each name and tenor, QuantLib prices a protection-buyer ``CreditDefaultSwap`` on a schedule
it generates itself (quarterly, backward from as_of to the unadjusted as_of + tenor,
WeekendsOnly + holidays, Modified Following for every date and for payments, Actual360 accrual
including the last period, accrued premium paid on default, protection from as_of, no accrual
rebate) with a ``HazardRateCurve`` copied from our bootstrapped curve and the discount curve
copied from ours. Its fair spread must equal the quoted spread to 1e-8 (absolute, decimal: 1e-4
basis points; measured agreement is ~1e-16 because both sides evaluate the same mid-point sums).
"""

from __future__ import annotations

import datetime as _dt

import numpy as np
import pytest
import QuantLib as ql
from ql_reference import (
    MF,
    handle,
    qd,
    ql_calendar,
    ql_hazard_curve,
    ql_zero_curve,
    set_evaluation_date,
)

from xvaflow.core.calendar import Calendar
from xvaflow.core.dates import parse_tenor
from xvaflow.market.bootstrap import (
    BootstrapError,
    ParQuote,
    bootstrap_hazard_curves,
    bootstrap_ois_curve,
    cds_legs,
    cds_par_spread,
)
from xvaflow.market.curves import HazardCurve, ZeroCurve

CDS_TENORS = ("6M", "1Y", "2Y", "3Y", "5Y", "7Y", "10Y")
AS_OF_DATES = (_dt.date(2026, 11, 20), _dt.date(2025, 3, 31), _dt.date(2027, 6, 30),
               _dt.date(2028, 12, 29))


def _discount_curve(rng: np.random.Generator, as_of: _dt.date, holidays: list[_dt.date],
                    bootstrapped: bool) -> ZeroCurve:
    """Either a bootstrapped OIS curve or a zero curve with random whole-day pillars."""
    level = rng.uniform(0.0, 0.06)
    if bootstrapped:
        quotes = [ParQuote("deposit", parse_tenor("3M"), level),
                  *(ParQuote("swap", parse_tenor(f"{y}Y"), level + rng.normal(0, 0.003))
                    for y in (1, 2, 3, 5, 7, 10, 15))]
        return bootstrap_ois_curve(as_of, quotes, Calendar(holidays), "USD")
    days = np.unique(rng.integers(20, 12 * 365, size=8))
    return ZeroCurve(days / 365.0, level + rng.normal(0.0, 0.005, days.size), "USD")


def _spread_matrix(rng: np.random.Generator, n: int) -> np.ndarray:
    """[n, 7] par spreads (decimal): IG (20-150bp), HY (200-800bp) and EM-like (humped or
    inverted, 100-1500bp) term structures."""
    t = np.array([parse_tenor(x).approx_years for x in CDS_TENORS])
    out = np.empty((n, t.size))
    for i in range(n):
        kind = i % 3
        if kind == 0:  # investment grade: upward sloping
            short = rng.uniform(0.002, 0.008)
            out[i] = short + rng.uniform(0.0005, 0.012) * (1 - np.exp(-t / 4.0))
        elif kind == 1:  # high yield: flatter, sometimes inverted at the short end
            long = rng.uniform(0.02, 0.08)
            out[i] = long * (1 + rng.uniform(-0.3, 0.15) * np.exp(-t / 2.0))
        else:  # distressed EM: humped or inverted
            long = rng.uniform(0.01, 0.06)
            out[i] = long * (1 + rng.uniform(-0.2, 1.2) * t * np.exp(1 - t / 1.5) / 1.5)
        out[i] *= 1 + rng.normal(0.0, 0.01, t.size)
    return out


def _ql_fair_spreads(today: ql.Date, tenors: tuple[str, ...], calendar: ql.Calendar,
                     hazard: ql.HazardRateCurve, recovery: float,
                     discount: ql.YieldTermStructureHandle) -> list[float]:
    engine = ql.MidPointCdsEngine(ql.DefaultProbabilityTermStructureHandle(hazard), recovery,
                                  discount)
    out = []
    for tenor in tenors:
        schedule = ql.Schedule(today, today + ql.Period(tenor), ql.Period(ql.Quarterly), calendar,
                               MF, MF, ql.DateGeneration.Backward, False)
        # lastPeriodDayCounter=Actual360 stated explicitly (the standard-CDS Actual360(true) would
        # add a day to the last period: 3e-6 on a 5y spread, which this test detects) and
        # rebatesAccrual=False (no accrual rebate: protection and accrual start on as_of).
        cds = ql.CreditDefaultSwap(ql.Protection.Buyer, 1.0, 0.01, schedule, MF, ql.Actual360(),
                                   True, True, today, None, ql.Actual360(), False)
        cds.setPricingEngine(engine)
        out.append(cds.fairSpread())
    return out


@pytest.mark.parametrize("case", range(6))
def test_bootstrapped_hazard_curves_reprice_cds_spreads(case: int) -> None:
    rng = np.random.default_rng(500 + case)
    as_of = AS_OF_DATES[case % len(AS_OF_DATES)]
    holidays = sorted({as_of + _dt.timedelta(days=int(x))
                       for x in rng.integers(1, 11 * 365, size=150)}) if case % 2 else []
    discount = _discount_curve(rng, as_of, holidays, bootstrapped=case < 3)
    n = 12
    # a random subset of the standard tenors (at least two), in shuffled column order
    k = int(rng.integers(2, len(CDS_TENORS) + 1))
    cols = rng.permutation(np.sort(rng.choice(len(CDS_TENORS), k, replace=False)))
    tenors = tuple(CDS_TENORS[j] for j in cols)
    spreads = _spread_matrix(rng, n)[:, cols]
    recoveries = rng.uniform(0.2, 0.6, n)
    curves = bootstrap_hazard_curves(as_of, [parse_tenor(x) for x in tenors], spreads,
                                     recoveries, discount, Calendar(holidays),
                                     [f"N{i}" for i in range(n)])

    today = set_evaluation_date(as_of)
    qcal = ql_calendar(holidays)
    qdisc = handle(ql_zero_curve(discount, as_of))
    for i, curve in enumerate(curves):
        assert np.all(curve.hazards >= 0.0)
        fair = _ql_fair_spreads(today, tenors, qcal, ql_hazard_curve(curve, as_of),
                                float(recoveries[i]), qdisc)
        np.testing.assert_allclose(fair, spreads[i], rtol=0.0, atol=1e-8,
                                   err_msg=f"name {i}, tenors {tenors}")


def test_par_spread_formula_equals_quantlib_on_arbitrary_hazard_curves() -> None:
    """``cds_par_spread`` (the pricing side of the bootstrap) on random hazard curves whose
    pillars are not CDS maturities, including tenors beyond the last pillar."""
    rng = np.random.default_rng(42)
    as_of = _dt.date(2026, 11, 20)
    holidays = sorted({as_of + _dt.timedelta(days=int(x))
                       for x in rng.integers(1, 16 * 365, size=200)})
    cal, qcal = Calendar(holidays), ql_calendar(holidays)
    discount = _discount_curve(rng, as_of, holidays, bootstrapped=True)
    today = set_evaluation_date(as_of)
    qdisc = handle(ql_zero_curve(discount, as_of))
    tenors = ("3M", "6M", "1Y", "18M", "2Y", "4Y", "5Y", "7Y", "10Y", "12Y", "15Y")
    for _ in range(10):
        days = np.unique(rng.integers(30, 12 * 365, size=int(rng.integers(1, 7))))
        curve = HazardCurve(days / 365.0, rng.uniform(0.0, 0.15, days.size))
        recovery = float(rng.uniform(0.2, 0.6))
        ours = [cds_par_spread(cds_legs(as_of, parse_tenor(x), cal), curve, discount, recovery)
                for x in tenors]
        fair = _ql_fair_spreads(today, tenors, qcal, ql_hazard_curve(curve, as_of), recovery,
                                qdisc)
        np.testing.assert_allclose(ours, fair, rtol=0.0, atol=1e-12)


def test_inconsistent_cds_quotes_raise_naming_the_tenor() -> None:
    as_of = _dt.date(2026, 11, 20)
    discount = ZeroCurve([1.0, 10.0], [0.03, 0.035])
    tenors = [parse_tenor(x) for x in CDS_TENORS]
    good = np.array([60, 70, 85, 100, 120, 135, 150]) * 1e-4
    bad = good.copy()
    bad[-1] = 20e-4  # 10y far below 7y: needs a negative hazard rate on (7y, 10y]
    with pytest.raises(BootstrapError, match=r"CDS 10Y spread 20bp"):
        bootstrap_hazard_curves(as_of, tenors, np.vstack([good, bad]), [0.4, 0.4], discount,
                                Calendar(), ["GOOD", "BAD"])
    with pytest.raises(BootstrapError, match=r"credit curve BAD: CDS 10Y"):
        bootstrap_hazard_curves(as_of, tenors, np.vstack([good, bad]), [0.4, 0.4], discount,
                                Calendar(), ["GOOD", "BAD"])
    bad2 = good.copy()
    bad2[3] = 5e-4  # 3y far below 2y
    with pytest.raises(BootstrapError, match=r"CDS 3Y"):
        bootstrap_hazard_curves(as_of, tenors, bad2, [0.4], discount, Calendar(), ["X"])
    # the good name alone bootstraps and reprices (sanity check of the fixture)
    (curve,) = bootstrap_hazard_curves(as_of, tenors, good, [0.4], discount, Calendar(), ["OK"])
    legs = [cds_legs(as_of, t, Calendar()) for t in tenors]
    np.testing.assert_allclose([cds_par_spread(x, curve, discount, 0.4) for x in legs], good,
                               rtol=0, atol=1e-12)
    assert qd(as_of) == ql.Date(20, 11, 2026)
