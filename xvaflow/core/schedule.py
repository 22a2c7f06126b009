"""Coupon schedules, generated backward from maturity (CONTRACT.md, "Conventions").

For each leg, unadjusted dates are ``maturity - k * tenor`` for k = 0, 1, ... while they are not
before ``start``; the start date closes the schedule, so an irregular period is a short front stub.
Every date is then rolled with the calendar (Modified Following unless the leg says otherwise);
a date that rolls onto the same business day as the previous one is dropped. This is
QuantLib's ``DateGeneration.Backward`` with ``endOfMonth=False`` and the same convention for
the termination date.

Generation is vectorised over many legs at once: the cost is a handful of numpy passes over all
periods of all legs rather than a Python loop per date.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from xvaflow.core.calendar import Calendar
from xvaflow.core.dates import DateArray, IntArray, add_months


@dataclass(frozen=True)
class Periods:
    """Accrual periods of many legs, one row per period, legs in input order.

    Attributes:
        leg: ``[n]`` index of the leg each period belongs to.
        start: ``[n]`` adjusted accrual start dates.
        end: ``[n]`` adjusted accrual end dates (= payment dates; no payment lag).
    """

    leg: IntArray
    start: DateArray
    end: DateArray

    def __len__(self) -> int:
        return int(self.leg.shape[0])


def backward_schedules(
    start: Any, maturity: Any, months: Any, calendar: Calendar,
    convention: str = "modifiedfollowing"
) -> Periods:
    """Generate the accrual periods of many legs.

    Args:
        start: ``[legs]`` unadjusted start dates.
        maturity: ``[legs]`` unadjusted maturity dates, each after its start.
        months: ``[legs]`` period length in months (1, 3, 6, 12, ...).
        calendar: business-day calendar of the rolls.
        convention: the roll (:meth:`~xvaflow.core.calendar.Calendar.adjust`): Modified
            Following by default, or ``following``, ``preceding``, ``modifiedpreceding``,
            ``unadjusted``.

    Returns:
        The periods of every leg, each leg's periods in date order.
    """
    s = np.asarray(start, dtype="datetime64[D]").reshape(-1)
    m = np.asarray(maturity, dtype="datetime64[D]").reshape(-1)
    step = np.broadcast_to(np.asarray(months, dtype=np.int64), s.shape)
    if np.any(m <= s):
        raise ValueError("every maturity must be after its start date")
    if np.any(step <= 0):
        raise ValueError("period lengths must be positive")
    # Upper bound on the number of backward steps, k = 0..count-1 (one more than needed).
    month_span = (m.astype("datetime64[M]") - s.astype("datetime64[M]")).astype(np.int64)
    count = month_span // step + 2
    leg = np.repeat(np.arange(s.size), count)
    first = np.cumsum(count) - count
    k = np.arange(leg.size) - first[leg]
    raw = add_months(m[leg], -k * step[leg])
    keep = raw >= s[leg]
    leg, raw = leg[keep], raw[keep]
    adj = calendar.adjust(raw, convention)
    # Rows are grouped by leg with k ascending, i.e. dates descending within a leg. Drop a date
    # that rolls onto the previous (later) kept date of the same leg.
    dup = np.zeros(leg.size, dtype=bool)
    dup[1:] = (leg[1:] == leg[:-1]) & (adj[1:] == adj[:-1])
    leg, adj = leg[~dup], adj[~dup]
    # Close each leg with its start date unless the last (earliest) date already rolls onto it.
    last = np.r_[leg[1:] != leg[:-1], True]
    adj_start = calendar.adjust(s, convention)
    needs_start = adj[last] != adj_start[leg[last]]
    add_legs = leg[last][needs_start]
    leg = np.concatenate([leg, add_legs])
    adj = np.concatenate([adj, adj_start[add_legs]])
    # Sort ascending by (leg, date); then consecutive rows of a leg form its periods.
    order = np.lexsort((adj, leg))
    leg, adj = leg[order], adj[order]
    same_leg = leg[1:] == leg[:-1]
    return Periods(leg=leg[1:][same_leg], start=adj[:-1][same_leg], end=adj[1:][same_leg])
