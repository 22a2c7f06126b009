"""Dates, tenors, month arithmetic and business-day adjustment (docs/conventions.md)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from xvaflow.core.calendar import WEEKENDS, Calendar
from xvaflow.core.dates import (
    Tenor,
    add_months,
    add_tenor,
    parse_date,
    parse_tenor,
    year_fraction_365,
)


def d64(text: str) -> np.datetime64:
    return np.datetime64(text, "D")


# ---------------------------------------------------------------------------------------------
# parse_date
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-20", dt.date(2026, 11, 20)),
    (" 2028-02-29 ", dt.date(2028, 2, 29)),
    ("1999-12-31", dt.date(1999, 12, 31)),
])
def test_parse_date(text: str, expected: dt.date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", ["20261120", "2026/11/20", "20-11-2026", "2026-1-05",
                                  "2026-11-20T00:00", "", "2026-W47-5", "today"])
def test_parse_date_wrong_format(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not a date \(expected YYYY-MM-DD\)"):
        parse_date(text)


@pytest.mark.parametrize("text", ["2026-02-29", "2026-13-01", "2026-04-31", "2026-00-10",
                                  "2026-ab-10"])
def test_parse_date_invalid_calendar_date(text: str) -> None:
    with pytest.raises(ValueError, match="is not a valid calendar date") as info:
        parse_date(text)
    assert repr(text) in str(info.value)


# ---------------------------------------------------------------------------------------------
# parse_tenor and Tenor
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "n", "unit"), [
    ("1D", 1, "D"), ("2W", 2, "W"), ("6M", 6, "M"), ("10Y", 10, "Y"), ("3m", 3, "M"),
    (" 30y ", 30, "Y"), ("18M", 18, "M"), ("007D", 7, "D"),
])
def test_parse_tenor(text: str, n: int, unit: str) -> None:
    assert parse_tenor(text) == Tenor(n, unit)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["", "M", "6", "1.5Y", "-1M", "6MO", "1Q", "Y1", "6 months"])
def test_parse_tenor_malformed(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not a tenor \(expected <n>D, <n>W, <n>M or <n>Y\)"):
        parse_tenor(text)


@pytest.mark.parametrize("text", ["0D", "0Y", "00M"])
def test_parse_tenor_zero_length(text: str) -> None:
    with pytest.raises(ValueError, match="zero-length tenor"):
        parse_tenor(text)


def test_tenor_properties() -> None:
    assert Tenor(18, "M").months == 18
    assert Tenor(2, "Y").months == 24
    assert str(Tenor(6, "M")) == "6M"
    with pytest.raises(ValueError, match="no whole number of months"):
        _ = Tenor(3, "W").months
    assert Tenor(1, "W").approx_years == pytest.approx(7 / 365)
    assert Tenor(6, "M").approx_years == 0.5
    assert sorted([Tenor(1, "Y"), Tenor(1, "W"), Tenor(6, "M")],
                  key=lambda t: t.approx_years) == [Tenor(1, "W"), Tenor(6, "M"), Tenor(1, "Y")]


# ---------------------------------------------------------------------------------------------
# add_months, add_tenor, year_fraction_365
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("start", "months", "expected"), [
    ("2026-01-15", 1, "2026-02-15"),
    ("2026-01-31", 1, "2026-02-28"),  # clamped to the month's end
    ("2028-01-31", 1, "2028-02-29"),  # leap year
    ("2026-03-31", 1, "2026-04-30"),
    ("2026-08-31", 1, "2026-09-30"),
    ("2026-02-28", 1, "2026-03-28"),  # no end-of-month rule
    ("2026-11-30", 3, "2027-02-28"),  # across the year end
    ("2028-02-29", 12, "2029-02-28"),
    ("2026-05-20", 0, "2026-05-20"),
    ("2026-03-31", -1, "2026-02-28"),  # negative months clamp too
    ("2026-01-15", -1, "2025-12-15"),
    ("2026-01-31", -14, "2024-11-30"),
    ("2028-03-31", -13, "2027-02-28"),
    ("2026-11-20", 360, "2056-11-20"),
])
def test_add_months(start: str, months: int, expected: str) -> None:
    assert add_months(d64(start), months) == d64(expected)


def test_add_months_is_not_invertible_at_month_end() -> None:
    there = add_months(d64("2026-01-31"), 1)
    assert add_months(there, -1) == d64("2026-01-28")


def test_add_months_vectorised() -> None:
    dates = np.array(["2026-01-31", "2026-03-31", "2028-01-30"], dtype="datetime64[D]")
    np.testing.assert_array_equal(
        add_months(dates, 1),
        np.array(["2026-02-28", "2026-04-30", "2028-02-29"], dtype="datetime64[D]"))
    np.testing.assert_array_equal(
        add_months(dates, np.array([1, -1, 12])),
        np.array(["2026-02-28", "2026-02-28", "2029-01-30"], dtype="datetime64[D]"))
    # Broadcasting one date against several month counts (a schedule's unadjusted dates).
    np.testing.assert_array_equal(
        add_months(d64("2036-11-30"), -np.arange(4) * 3),
        np.array(["2036-11-30", "2036-08-30", "2036-05-30", "2036-02-29"],
                 dtype="datetime64[D]"))
    out = add_months(dates.reshape(3, 1), np.array([0, 1]))
    assert out.shape == (3, 2)
    assert out.dtype == np.dtype("datetime64[D]")


def test_add_months_accepts_python_dates() -> None:
    assert add_months(dt.date(2026, 1, 31), 1) == d64("2026-02-28")
    assert add_months("2026-01-31", 13) == d64("2027-02-28")


@pytest.mark.parametrize(("tenor", "times", "expected"), [
    (Tenor(1, "D"), 1, "2026-11-21"), (Tenor(2, "W"), 1, "2026-12-04"),
    (Tenor(3, "M"), 1, "2027-02-20"), (Tenor(1, "Y"), 2, "2028-11-20"),
    (Tenor(6, "M"), -1, "2026-05-20"), (Tenor(10, "D"), -2, "2026-10-31"),
])
def test_add_tenor(tenor: Tenor, times: int, expected: str) -> None:
    assert add_tenor(d64("2026-11-20"), tenor, times) == d64(expected)


def test_add_tenor_clamps_like_add_months() -> None:
    assert add_tenor(d64("2027-08-31"), Tenor(6, "M")) == d64("2028-02-29")


def test_year_fraction_365() -> None:
    as_of = dt.date(2026, 11, 20)
    t = year_fraction_365(as_of, np.array(["2026-11-20", "2027-11-20", "2026-11-19",
                                           "2028-11-20"], dtype="datetime64[D]"))
    np.testing.assert_allclose(t, [0.0, 1.0, -1 / 365, 731 / 365], rtol=0, atol=1e-15)


# ---------------------------------------------------------------------------------------------
# Calendar
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("date", "expected"), [
    ("2026-11-20", "2026-11-20"),  # a Friday stays
    ("2026-11-21", "2026-11-23"),  # Saturday -> Monday
    ("2026-11-22", "2026-11-23"),  # Sunday -> Monday
    ("2026-02-28", "2026-02-27"),  # Saturday at month end: Monday is in March -> Friday
    ("2026-05-31", "2026-05-29"),  # Sunday at month end -> Friday
    ("2026-01-31", "2026-01-30"),
    ("2026-08-29", "2026-08-31"),  # Saturday, Monday still in August
])
def test_modified_following_weekends(date: str, expected: str) -> None:
    assert WEEKENDS.adjust(d64(date)) == d64(expected)


def test_modified_following_with_holidays() -> None:
    cal = Calendar(["2026-12-25", "2026-07-31", "2026-08-31", "2027-01-01"], name="USD")
    cases = {
        "2026-12-25": "2026-12-28",  # Friday holiday -> Monday
        "2026-07-31": "2026-07-30",  # holiday on the last business day -> back to Thursday
        "2026-08-29": "2026-08-28",  # weekend, then a month-end holiday -> Friday before
        "2027-01-01": "2027-01-04",  # New Year's Day (Friday) -> Monday
        "2026-12-24": "2026-12-24",
    }
    dates = np.array(list(cases), dtype="datetime64[D]")
    np.testing.assert_array_equal(cal.adjust(dates),
                                  np.array(list(cases.values()), dtype="datetime64[D]"))
    assert not cal.is_business_day(d64("2026-12-25"))
    assert cal.is_business_day(d64("2026-12-24"))
    assert not cal.is_business_day(d64("2026-12-26"))  # weekends need not be listed
    assert repr(cal) == "Calendar('USD', 4 holidays)"


def test_calendar_other_conventions() -> None:
    sat = d64("2026-02-28")
    assert WEEKENDS.adjust(sat, "following") == d64("2026-03-02")
    assert WEEKENDS.adjust(sat, "preceding") == d64("2026-02-27")
    assert WEEKENDS.adjust(d64("2026-03-01"), "modifiedpreceding") == d64("2026-03-02")
    assert WEEKENDS.adjust(sat, "unadjusted") == sat


def test_calendar_holidays_may_repeat_and_be_unsorted() -> None:
    cal = Calendar(["2027-01-01", "2026-12-25", "2026-12-25"])
    assert cal.holidays.tolist() == [dt.date(2026, 12, 25), dt.date(2027, 1, 1)]


def test_advance_business_days() -> None:
    cal = Calendar(["2026-11-26"])
    assert cal.advance_business_days(d64("2026-11-24"), 2) == d64("2026-11-27")
    assert cal.advance_business_days(d64("2026-11-27"), -1) == d64("2026-11-25")
    assert cal.advance_business_days(d64("2026-11-21"), 0) == d64("2026-11-23")
