"""QuantLib counterparts of xvaflow's building blocks, for the independent-reference tests.

Everything here is built on the QuantLib side from dates, conventions and market numbers only:
QuantLib generates the schedules, rolls the dates, computes the accruals and prices. What is
copied from xvaflow is market data (a curve's pillar zero rates or hazard rates), and only where
the copy is exact: our curve pillars are whole days after as_of (t = days / 365), so a QuantLib
``ZeroCurve`` / ``HazardRateCurve`` on Actual365Fixed with those dates has identical pillar times.

Calendars: a fresh ``BespokeCalendar`` with Saturday and Sunday as weekend days plus the
holidays. It is the same calendar as ``ql.WeekendsOnly()`` with added holidays, but private to
the test (``WeekendsOnly`` shares one implementation between all instances, so ``addHoliday`` on
it would leak holidays into every other test).
"""

from __future__ import annotations

import datetime as _dt
import itertools
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import QuantLib as ql

from xvaflow.market.curves import HazardCurve, ZeroCurve

MF = ql.ModifiedFollowing
FLAT_TAIL_DAYS = 150 * 365  # an extra pillar this far out makes QuantLib extrapolate flat

_names = itertools.count()


def unique_name(prefix: str) -> str:
    """A fresh name for a QuantLib index (fixing histories are global, keyed by name)."""
    return f"{prefix}{next(_names)}"


def qd(d: Any) -> ql.Date:
    """``datetime.date`` / ``numpy.datetime64`` / ISO string -> ``ql.Date``."""
    if isinstance(d, ql.Date):
        return d
    if isinstance(d, np.datetime64 | str):
        d = _dt.date.fromisoformat(str(np.datetime64(d, "D")))
    return ql.Date(d.day, d.month, d.year)


def pyd(d: ql.Date) -> _dt.date:
    """``ql.Date`` -> ``datetime.date``."""
    return _dt.date(d.year(), d.month(), d.dayOfMonth())


def set_evaluation_date(as_of: Any) -> ql.Date:
    today = qd(as_of)
    ql.Settings.instance().evaluationDate = today
    return today


def ql_calendar(holidays: Iterable[Any] = ()) -> ql.Calendar:
    """Saturday/Sunday weekends plus ``holidays`` (QuantLib ``WeekendsOnly`` + holidays)."""
    cal = ql.BespokeCalendar(unique_name("cal"))
    cal.addWeekend(ql.Saturday)
    cal.addWeekend(ql.Sunday)
    for h in holidays:
        cal.addHoliday(qd(h))
    return cal


DAYCOUNTERS = {
    "ACT/360": ql.Actual360(),
    "ACT/365F": ql.Actual365Fixed(),
    "30/360": ql.Thirty360(ql.Thirty360.BondBasis),
    "ACT/ACT": ql.ActualActual(ql.ActualActual.ISDA),
}


def ql_daycount(name: str) -> ql.DayCounter:
    return DAYCOUNTERS[name]


ROLLS = {"modifiedfollowing": ql.ModifiedFollowing, "following": ql.Following,
         "preceding": ql.Preceding, "modifiedpreceding": ql.ModifiedPreceding,
         "unadjusted": ql.Unadjusted}  # our Calendar.adjust conventions -> QuantLib's


def ql_schedule(start: Any, maturity: Any, months: int, calendar: ql.Calendar,
                roll: str = "modifiedfollowing") -> ql.Schedule:
    """Backward schedule, ``roll`` (default Modified Following) for every date, no end-of-month
    rule."""
    return ql.Schedule(qd(start), qd(maturity), ql.Period(months, ql.Months), calendar,
                       ROLLS[roll], ROLLS[roll], ql.DateGeneration.Backward, False)


def whole_days(times: Sequence[float] | np.ndarray) -> list[int]:
    """Pillar times (days / 365) back to whole days; fails if a pillar is not a whole day."""
    days = np.asarray(times, dtype=np.float64) * 365.0
    rounded = np.round(days)
    if np.any(np.abs(days - rounded) > 1e-7):
        raise ValueError("curve pillars are not whole days: the QuantLib copy would not be exact")
    return [int(x) for x in rounded]


def ql_zero_curve(curve: ZeroCurve, as_of: Any) -> ql.ZeroCurve:
    """QuantLib copy of a zero curve: linear in continuous zero rate on Actual365Fixed, flat
    zero rate before the first pillar (a pillar at as_of) and after the last (a pillar 150 years
    out with the last rate: QuantLib would otherwise extrapolate the forward rate)."""
    today = qd(as_of)
    days = whole_days(curve.times)
    rates = [float(r) for r in curve.rates]
    dates = [today] + [today + d for d in days] + [today + FLAT_TAIL_DAYS]
    values = [rates[0], *rates, rates[-1]]
    out = ql.ZeroCurve(dates, values, ql.Actual365Fixed(), ql.NullCalendar(), ql.Linear(),
                       ql.Continuous)
    out.enableExtrapolation()
    return out


def ql_zero_curve_from_tenors(as_of: Any, rates: dict[str, float]) -> ql.ZeroCurve:
    """QuantLib curve straight from market.json ``zero_rates``: pillars at as_of + tenor
    (QuantLib ``Date + Period``, not rolled), linear in continuous zero rate on Actual365Fixed,
    flat zero rate on both sides (as :func:`ql_zero_curve`)."""
    today = qd(as_of)
    pillars = sorted((today + ql.Period(t), r) for t, r in rates.items())
    dates = [today] + [d for d, _ in pillars] + [today + FLAT_TAIL_DAYS]
    values = [pillars[0][1]] + [r for _, r in pillars] + [pillars[-1][1]]
    out = ql.ZeroCurve(dates, values, ql.Actual365Fixed(), ql.NullCalendar(), ql.Linear(),
                       ql.Continuous)
    out.enableExtrapolation()
    return out


def ql_hazard_curve(curve: HazardCurve, as_of: Any) -> ql.HazardRateCurve:
    """QuantLib copy of a piecewise-constant hazard curve (backward flat between pillars,
    QuantLib's own flat extrapolation beyond the last one)."""
    today = qd(as_of)
    days = whole_days(curve.times)
    hazards = [float(h) for h in curve.hazards]
    out = ql.HazardRateCurve([today] + [today + d for d in days], [hazards[0], *hazards],
                             ql.Actual365Fixed())
    out.enableExtrapolation()
    return out


def handle(curve: ql.YieldTermStructure) -> ql.YieldTermStructureHandle:
    return ql.YieldTermStructureHandle(curve)


CURRENCY = {"USD": ql.USDCurrency(), "EUR": ql.EURCurrency(), "GBP": ql.GBPCurrency(),
            "JPY": ql.JPYCurrency(), "CHF": ql.CHFCurrency()}
