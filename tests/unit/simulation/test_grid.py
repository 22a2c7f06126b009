"""Exposure grid specifications (CONTRACT.md "Grids")."""

from __future__ import annotations

import datetime as _dt

import numpy as np
import pytest

from xvaflow.core.calendar import Calendar
from xvaflow.core.dates import add_tenor, parse_tenor
from xvaflow.simulation.grid import GridError, build_grid, default_grid_spec, exposure_dates

AS_OF = _dt.date(2026, 11, 20)


def _iso(dates: np.ndarray) -> list[str]:
    return [str(d) for d in dates]


def test_one_segment_steps_from_as_of_to_its_horizon() -> None:
    dates = exposure_dates("3M:1Y", AS_OF)
    assert _iso(dates) == ["2027-02-20", "2027-05-20", "2027-08-20", "2027-11-20"]


def test_segments_continue_from_the_last_date_of_the_previous_one() -> None:
    dates = _iso(exposure_dates("1M:2Y,3M:10Y,1Y:50Y", AS_OF))
    assert dates[:2] == ["2026-12-20", "2027-01-20"]
    assert dates[23] == "2028-11-20"           # 24 monthly dates
    assert dates[24] == "2029-02-20"           # quarterly from the last monthly date
    assert dates[55] == "2036-11-20"           # 32 quarterly dates to 10Y
    assert dates[56] == "2037-11-20"           # yearly from there
    assert dates[-1] == "2076-11-20"
    assert len(dates) == 24 + 32 + 40


def test_month_ends_clamp_within_a_segment_without_drifting() -> None:
    dates = _iso(exposure_dates("1M:4M", _dt.date(2027, 1, 31)))
    assert dates == ["2027-02-28", "2027-03-31", "2027-04-30", "2027-05-31"]


@pytest.mark.parametrize(("spec", "message"), [
    ("1M", "must be '<step>:<horizon>'"),
    ("1M:2Y,3M", "segment '3M'"),
    ("1X:2Y", "not a tenor"),
    ("2Y:1Y", "step is longer than the horizon"),
    ("1M:2Y,3M:1Y", "segment 2 (3M:1Y) adds no date"),
])
def test_malformed_specs_are_clear_errors(spec: str, message: str) -> None:
    with pytest.raises(GridError, match=message.replace("(", r"\(").replace(")", r"\)")):
        exposure_dates(spec, AS_OF)


@pytest.mark.parametrize("end_years", [0.01, 0.25, 0.5, 1.0, 1.004, 2.7, 10.0, 30.0, 49.9])
def test_default_grid_reaches_the_last_event(end_years: float) -> None:
    spec = default_grid_spec(AS_OF, end_years)
    dates = exposure_dates("auto", AS_OF, end_years)
    assert _iso(dates) == _iso(exposure_dates(spec, AS_OF))
    times = (dates - np.datetime64(AS_OF, "D")).astype(np.int64) / 365.0
    assert times[-1] >= end_years - 1e-12            # covers the portfolio
    assert times.size == 1 or times[-2] < end_years   # and stops at the first date after it
    monthly = np.diff(np.r_[0.0, times])[: min(12, times.size)]
    assert np.all((monthly > 27 / 365) & (monthly < 32 / 365))
    if times.size > 12:
        quarterly = np.diff(times[11:])
        assert np.all((quarterly > 88 / 365) & (quarterly < 93 / 365))


def test_explicit_dates_and_year_fractions() -> None:
    dates = exposure_dates(["2027-01-15", 0.5, "2026-11-20", 0.5], AS_OF)
    assert _iso(dates) == ["2027-01-15", "2027-05-21"]  # 0.5 x 365 = 182.5 -> 182 days
    with pytest.raises(GridError, match="no date after as_of"):
        exposure_dates(["2026-01-01"], AS_OF)


def test_margin_calls_follow_each_csas_frequency() -> None:
    """Daily: the call for t is at t - MPoR business days. Weekly / monthly: at the last call
    date (as_of + n weeks / months, rolled back to a business day) on or before it; a call
    date on or before as_of is today's call (-1)."""
    holidays = [np.datetime64("2027-01-20"), np.datetime64("2027-03-19")]
    calendar = Calendar(holidays)
    exposure = exposure_dates("2W:6M", AS_OF)
    grid = build_grid(AS_OF, exposure, [], [(2, "daily"), (2, "weekly"), (0, "monthly")],
                      calendar)
    steps = grid.exposure_steps
    for (mpor, frequency), lags in grid.lags.items():
        for step in steps:
            t = grid.dates[step]
            lag_date = calendar.advance_business_days(t, -mpor) if mpor else t
            if frequency == "daily":
                expected = lag_date
            else:
                tenor = parse_tenor("1W" if frequency == "weekly" else "1M")
                calls = [calendar.adjust(add_tenor(np.datetime64(AS_OF), tenor, n),
                                         "preceding") for n in range(40)]
                expected = max(c for c in calls if c <= lag_date)
            if expected <= np.datetime64(AS_OF):
                assert lags[step] == -1, (mpor, frequency, t)
            else:
                assert grid.dates[lags[step]] == expected, (mpor, frequency, t)
    monthly = grid.lags[0, "monthly"][steps]
    # two exposure dates a month share their call; the holiday call (2027-01-20) rolled back
    assert len(set(monthly.tolist())) < steps.size
    assert np.datetime64("2027-01-19") in grid.dates
    assert np.datetime64("2027-01-20") not in grid.dates[monthly[monthly >= 0]]
