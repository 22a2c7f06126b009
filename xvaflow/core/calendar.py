"""Business-day calendars and the Modified Following convention.

A calendar is weekends (Saturday, Sunday) plus an optional list of holidays per currency
(market.json ``"holidays": {"USD": [dates]}``). Adjustment is vectorised with numpy's business-day
routines, whose ``modifiedfollowing`` roll is ISDA Modified Following: the next business day,
unless it falls in the next month, then the previous business day.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from xvaflow.core.dates import DateArray

_WEEKMASK = "1111100"  # Monday..Friday are business days


class Calendar:
    """Weekend calendar with optional holidays.

    Args:
        holidays: dates that are not business days (weekends need not be listed).
        name: label for messages, e.g. the currency.
    """

    def __init__(self, holidays: Iterable[Any] = (), name: str = "weekends") -> None:
        hol = np.unique(np.asarray(list(holidays), dtype="datetime64[D]"))
        self.name = name
        self.holidays: DateArray = hol
        self._cal = np.busdaycalendar(weekmask=_WEEKMASK, holidays=hol)

    def is_business_day(self, dates: Any) -> Any:
        """Boolean (array): is each date a business day."""
        return np.is_busday(np.asarray(dates, dtype="datetime64[D]"), busdaycal=self._cal)

    def adjust(self, dates: Any, convention: str = "modifiedfollowing") -> DateArray:
        """Roll dates to business days.

        Args:
            dates: ``datetime64[D]`` (array) or anything numpy converts to it.
            convention: ``"modifiedfollowing"`` (default), ``"following"``, ``"preceding"``,
                ``"modifiedpreceding"`` or ``"unadjusted"``.
        """
        d: Any = np.asarray(dates, dtype="datetime64[D]")
        if convention == "unadjusted":
            return d  # type: ignore[no-any-return]
        out: DateArray = np.busday_offset(d, 0, roll=convention,  # type: ignore[call-overload]
                                          busdaycal=self._cal)
        return out

    def advance_business_days(self, dates: Any, n: int) -> DateArray:
        """Move ``n`` business days (``n`` may be negative), rolling a holiday start forward."""
        d: Any = np.asarray(dates, dtype="datetime64[D]")
        out: DateArray = np.busday_offset(d, n, roll="forward" if n >= 0 else "backward",
                                          busdaycal=self._cal)
        return out

    def __repr__(self) -> str:
        return f"Calendar({self.name!r}, {len(self.holidays)} holidays)"


WEEKENDS = Calendar()
