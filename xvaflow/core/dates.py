"""Dates, tenors and model time.

Dates live in numpy ``datetime64[D]`` arrays in vectorised code and as :class:`datetime.date` in
records. Model time is the ACT/365F year fraction from the valuation date ``as_of``
(CONTRACT.md, "Conventions"): ``t = (d - as_of) / 365``.

Month arithmetic follows QuantLib's ``Date + Period``: the day of month is kept and clamped to the
last day of the target month (31 Jan + 1M = 28/29 Feb), with no end-of-month rule.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

DateArray = npt.NDArray[np.datetime64]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DAY = np.timedelta64(1, "D")
TenorUnit = Literal["D", "W", "M", "Y"]
_TENOR_RE = re.compile(r"^\s*(\d+)\s*([DWMYdwmy])\s*$")


def parse_date(text: str) -> _dt.date:
    """Parse an ISO ``YYYY-MM-DD`` date.

    Raises:
        ValueError: the text is not a valid ISO calendar date.
    """
    text = text.strip()
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        raise ValueError(f"{text!r} is not a date (expected YYYY-MM-DD)")
    try:
        return _dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a valid calendar date (expected YYYY-MM-DD)") from None


@dataclass(frozen=True, slots=True)
class Tenor:
    """A period such as ``3M``: ``n`` units of D (days), W (weeks), M (months) or Y (years)."""

    n: int
    unit: TenorUnit

    @property
    def months(self) -> int:
        """Length in months; only defined for M and Y tenors."""
        if self.unit == "M":
            return self.n
        if self.unit == "Y":
            return 12 * self.n
        raise ValueError(f"tenor {self} has no whole number of months")

    @property
    def approx_years(self) -> float:
        """Nominal length in years (D/365, W*7/365, M/12, Y), for ordering and bucketing."""
        return {"D": self.n / 365.0, "W": 7.0 * self.n / 365.0, "M": self.n / 12.0,
                "Y": float(self.n)}[self.unit]

    def __str__(self) -> str:
        return f"{self.n}{self.unit}"


def parse_tenor(text: str) -> Tenor:
    """Parse ``<n>D|W|M|Y`` (case-insensitive), e.g. ``"6M"`` or ``"10Y"``.

    Raises:
        ValueError: malformed tenor or ``n == 0``.
    """
    m = _TENOR_RE.match(text)
    if m is None:
        raise ValueError(f"{text!r} is not a tenor (expected <n>D, <n>W, <n>M or <n>Y)")
    n = int(m.group(1))
    if n == 0:
        raise ValueError(f"{text!r} is a zero-length tenor")
    unit: TenorUnit = m.group(2).upper()  # type: ignore[assignment]
    return Tenor(n, unit)


def add_months(dates: Any, months: Any) -> DateArray:
    """Add a (possibly negative) number of months, clamping the day to the month's end.

    Vectorised: ``dates`` and ``months`` broadcast against each other.
    """
    d: Any = np.asarray(dates, dtype="datetime64[D]")
    month_start = d.astype("datetime64[M]")
    day = (d - month_start.astype("datetime64[D]")).astype(np.int64)  # 0-based day of month
    target = month_start + np.asarray(months, dtype=np.int64).astype("timedelta64[M]")
    target_days = target.astype("datetime64[D]")
    month_len = ((target + np.timedelta64(1, "M")).astype("datetime64[D]") - target_days).astype(
        np.int64
    )
    out: DateArray = target_days + np.minimum(day, month_len - 1).astype("timedelta64[D]")
    return out


def add_tenor(dates: Any, tenor: Tenor, times: int = 1) -> DateArray:
    """``dates + times * tenor`` without business-day adjustment (calendar arithmetic)."""
    n = tenor.n * times
    if tenor.unit in ("D", "W"):
        d: Any = np.asarray(dates, dtype="datetime64[D]")
        out: DateArray = d + np.timedelta64(n * (7 if tenor.unit == "W" else 1), "D")
        return out
    return add_months(dates, tenor.months * times)


def year_fraction_365(as_of: Any, dates: Any) -> FloatArray:
    """Model time: ACT/365F year fraction from ``as_of`` to ``dates`` (negative before as_of)."""
    days = (np.asarray(dates, dtype="datetime64[D]") - np.datetime64(as_of, "D")).astype(np.int64)
    return days.astype(np.float64) / 365.0
