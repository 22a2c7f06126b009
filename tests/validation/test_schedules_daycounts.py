"""Schedules and day counts against QuantLib.

Our backward schedules (vectorised over many legs) must produce exactly the dates of
``ql.Schedule(start, maturity, Period(m, Months), WeekendsOnly + holidays, ModifiedFollowing,
ModifiedFollowing, DateGeneration.Backward, endOfMonth=False)`` (and with each other business-day
convention a leg may carry: Following, Preceding, Modified Preceding, Unadjusted), and our four
day counts the
year fractions of QuantLib's Actual360, Actual365Fixed, Thirty360(BondBasis) and
ActualActual(ISDA).
"""

from __future__ import annotations

import datetime as _dt

import numpy as np
import pytest
import QuantLib as ql
from ql_reference import qd, ql_calendar, ql_daycount, ql_schedule

from xvaflow.core.calendar import Calendar
from xvaflow.core.daycount import DAYCOUNTS, year_fraction
from xvaflow.core.schedule import backward_schedules

FREQUENCIES = (1, 3, 6, 12)  # monthly, quarterly, semiannual, annual


def _month_end(y: int, m: int) -> _dt.date:
    nxt = _dt.date(y + (m == 12), m % 12 + 1, 1)
    return nxt - _dt.timedelta(days=1)


def _random_dates(rng: np.random.Generator, n: int, lo: _dt.date, hi: _dt.date) -> list[_dt.date]:
    """Random dates, a third of them month ends or the 28th-30th (the end-of-month cases)."""
    span = (hi - lo).days
    out = []
    for _ in range(n):
        d = lo + _dt.timedelta(days=int(rng.integers(span)))
        kind = rng.integers(3)
        if kind == 0:
            d = _month_end(d.year, d.month)
        elif kind == 1:
            d = d.replace(day=int(rng.integers(28, min(30, _month_end(d.year, d.month).day) + 1)))
        out.append(d)
    return out


def _random_holidays(rng: np.random.Generator, lo: _dt.date, hi: _dt.date) -> list[_dt.date]:
    """About 15 holidays a year, biased to month ends and the first days of months, which are
    where Modified Following changes direction."""
    days = (hi - lo).days
    hol = [lo + _dt.timedelta(days=int(x)) for x in rng.integers(0, days, size=15 * days // 365)]
    for y in range(lo.year, hi.year + 1):
        for m in range(1, 13):
            if rng.random() < 0.3:
                hol.append(_month_end(y, m) - _dt.timedelta(days=int(rng.integers(3))))
            if rng.random() < 0.2:
                hol.append(_dt.date(y, m, int(rng.integers(1, 4))))
    return sorted(set(hol))


@pytest.mark.parametrize("roll", ["modifiedfollowing", "following", "preceding",
                                  "modifiedpreceding", "unadjusted"])
@pytest.mark.parametrize("seed", range(6))
def test_backward_schedules_equal_quantlib(seed: int, roll: str) -> None:
    rng = np.random.default_rng(1000 + seed)
    lo, hi = _dt.date(2018, 1, 1), _dt.date(2032, 12, 31)
    holidays = _random_holidays(rng, lo, _dt.date(2075, 12, 31)) if seed % 3 else []
    cal, qcal = Calendar(holidays), ql_calendar(holidays)
    n = 400
    starts = _random_dates(rng, n, lo, hi)
    months = rng.choice(FREQUENCIES, size=n)
    maturities = []
    for s, m in zip(starts, months, strict=True):
        kind = rng.integers(4)
        if kind == 0:  # whole number of periods: regular schedule (start may be a month end)
            mat = ql.Date(s.day, s.month, s.year) + ql.Period(int(m * rng.integers(1, 40)),
                                                              ql.Months)
            mat = _dt.date(mat.year(), mat.month(), mat.dayOfMonth())
        elif kind == 1:  # a random month end: front stubs, end-of-month clamping backward
            mat = _random_dates(rng, 1, s + _dt.timedelta(days=20),
                                s + _dt.timedelta(days=40 * 365))[0]
            mat = _month_end(mat.year, mat.month)
        else:  # anything: odd stubs
            mat = s + _dt.timedelta(days=int(rng.integers(10, 30 * 365)))
        maturities.append(mat)
    periods = backward_schedules(starts, maturities, months, cal, roll)

    checked = 0
    for i, (s, mat, m) in enumerate(zip(starts, maturities, months, strict=True)):
        expected = [qcal_date for qcal_date in ql_schedule(s, mat, int(m), qcal, roll).dates()]
        if len(expected) < 2 or expected[-1] <= expected[0]:
            continue
        mine = periods.leg == i
        got = [qd(d) for d in np.r_[periods.start[mine][:1], periods.end[mine]]]
        assert got == list(expected), (i, s, mat, m)
        # accrual periods chain and payment = accrual end (no lag): periods are contiguous
        assert np.all(periods.start[mine][1:] == periods.end[mine][:-1])
        checked += 1
    assert checked > 0.95 * n


def test_schedule_where_the_stub_rolls_onto_the_first_date() -> None:
    """Start on a Saturday whose first backward date rolls forward onto the same Monday: the
    date is dropped on both sides (QuantLib does the same)."""
    qcal = ql_calendar()
    start, maturity = _dt.date(2026, 1, 31), _dt.date(2027, 2, 2)  # 31 Jan 2026 is a Saturday
    for m in FREQUENCIES:
        p = backward_schedules([start], [maturity], [m], Calendar())
        got = [qd(d) for d in np.r_[p.start[:1], p.end]]
        assert got == list(ql_schedule(start, maturity, m, qcal).dates())


def _day_pairs(rng: np.random.Generator, n: int) -> tuple[list[_dt.date], list[_dt.date]]:
    lo, hi = _dt.date(1996, 1, 1), _dt.date(2060, 12, 31)
    d1 = _random_dates(rng, n, lo, hi)
    d2 = []
    for d in d1:
        kind = rng.integers(4)
        if kind == 0:
            d2.append(d + _dt.timedelta(days=int(rng.integers(0, 400))))
        elif kind == 1:
            e = d + _dt.timedelta(days=int(rng.integers(0, 40 * 365)))
            d2.append(_month_end(e.year, e.month))
        elif kind == 2:  # Feb 28/29 and the 30th/31st around leap years
            y = d.year + int(rng.integers(0, 9))
            d2.append(_dt.date(y, 2, 29 if y % 4 == 0 else 28) if rng.random() < 0.5
                      else _dt.date(y, 12, 31))
        else:
            d2.append(d + _dt.timedelta(days=int(rng.integers(0, 40 * 365))))
    return d1, d2


@pytest.mark.parametrize("daycount", DAYCOUNTS)
def test_daycounts_equal_quantlib(daycount: str) -> None:
    """Year fractions equal QuantLib's to 1e-15 (absolute), in both date orders."""
    rng = np.random.default_rng(7)
    d1, d2 = _day_pairs(rng, 4000)
    d1, d2 = d1 + d2[:1000], d2 + d1[:1000]  # negative fractions too
    got = year_fraction(daycount, np.array(d1, dtype="datetime64[D]"),
                        np.array(d2, dtype="datetime64[D]"))
    dc = ql_daycount(daycount)
    expected = np.array([dc.yearFraction(qd(a), qd(b)) for a, b in zip(d1, d2, strict=True)])
    assert np.max(np.abs(got - expected)) <= 1e-15
