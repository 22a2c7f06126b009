"""Day-count fractions, vectorised over ``datetime64[D]`` arrays.

Conventions (ISDA 2006 section 4.16):

- ``ACT/360``: days / 360.
- ``ACT/365F``: days / 365.
- ``30/360`` (Bond Basis, 4.16(f)): D1 = 31 -> 30; D2 = 31 and D1 in {30, 31} -> 30;
  fraction = (360 (Y2 - Y1) + 30 (M2 - M1) + (D2 - D1)) / 360. QuantLib ``Thirty360.BondBasis``.
- ``ACT/ACT`` (ISDA, 4.16(b)): days in a leap year / 366 + days in a non-leap year / 365.
  QuantLib ``ActualActual.ISDA``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from xvaflow.core.dates import FloatArray

DAYCOUNTS = ("ACT/360", "ACT/365F", "30/360", "ACT/ACT")


def _days(d1: Any, d2: Any) -> FloatArray:
    a: Any = np.asarray(d1, dtype="datetime64[D]")
    b: Any = np.asarray(d2, dtype="datetime64[D]")
    out: FloatArray = (b - a).astype(np.int64).astype(np.float64)
    return out


def _ymd(d: Any) -> tuple[Any, Any, Any]:
    d = np.asarray(d, dtype="datetime64[D]")
    years = d.astype("datetime64[Y]")
    months = d.astype("datetime64[M]")
    y = years.astype(np.int64) + 1970
    m = (months - years.astype("datetime64[M]")).astype(np.int64) + 1
    day = (d - months.astype("datetime64[D]")).astype(np.int64) + 1
    return y, m, day


def act_360(d1: Any, d2: Any) -> FloatArray:
    return _days(d1, d2) / 360.0


def act_365f(d1: Any, d2: Any) -> FloatArray:
    return _days(d1, d2) / 365.0


def thirty_360(d1: Any, d2: Any) -> FloatArray:
    y1, m1, dd1 = _ymd(d1)
    y2, m2, dd2 = _ymd(d2)
    dd1 = np.where(dd1 == 31, 30, dd1)
    dd2 = np.where((dd2 == 31) & (dd1 == 30), 30, dd2)
    out: FloatArray = (360.0 * (y2 - y1) + 30.0 * (m2 - m1) + (dd2 - dd1)) / 360.0
    return out


def _year_start(y: Any) -> Any:
    return (np.asarray(y, dtype=np.int64) - 1970).astype("datetime64[Y]").astype("datetime64[D]")


def act_act_isda(d1: Any, d2: Any) -> FloatArray:
    a = np.asarray(d1, dtype="datetime64[D]")
    b = np.asarray(d2, dtype="datetime64[D]")
    sign = np.where(b < a, -1.0, 1.0)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    y1, _, _ = _ymd(lo)
    y2, _, _ = _ymd(hi)
    len1 = _days(_year_start(y1), _year_start(y1 + 1))
    len2 = _days(_year_start(y2), _year_start(y2 + 1))
    same = _days(lo, hi) / len1
    split = (
        _days(lo, _year_start(y1 + 1)) / len1
        + (y2 - y1 - 1)
        + _days(_year_start(y2), hi) / len2
    )
    out: FloatArray = sign * np.where(y1 == y2, same, split)
    return out


_FUNCS: dict[str, Callable[[Any, Any], FloatArray]] = {
    "ACT/360": act_360,
    "ACT/365F": act_365f,
    "30/360": thirty_360,
    "ACT/ACT": act_act_isda,
}


def year_fraction(daycount: str, d1: Any, d2: Any) -> FloatArray:
    """Accrual fraction from ``d1`` to ``d2`` under ``daycount`` (one of :data:`DAYCOUNTS`)."""
    try:
        func = _FUNCS[daycount]
    except KeyError:
        raise ValueError(f"unknown day count {daycount!r}; expected one of {DAYCOUNTS}") from None
    return func(d1, d2)
