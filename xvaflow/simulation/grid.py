"""Simulation time grid: exposure dates, product dates and margin-period-of-risk lag dates.

- Exposure dates come from the run's ``grid``: ``"auto"`` (the default: monthly for a year, then
  quarterly until the portfolio's last cash flow), ``"<step>:<horizon>"`` (e.g. ``"1M:10Y"``:
  as_of + k steps, calendar dates, up to and including as_of + horizon), segments of those
  (``"1M:2Y,3M:10Y,1Y:50Y"``), or an explicit list of ISO dates or year fractions.
- Product dates the pricers need exactly are added as simulation-only dates: option expiries
  (exercise decisions) within the horizon.
- For every collateralised netting set, the date ``mpor_days`` business days before each exposure
  date is added as a lag date: the collateral at t is called on the portfolio value at
  t - MPoR (ORE's "lagged" close-out). With ``mpor_days`` 0 the call is on t itself.

All dates become ACT/365F times; the grid is the sorted union, time 0 excluded.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from xvaflow.core.calendar import Calendar
from xvaflow.core.dates import DateArray, FloatArray, add_tenor, parse_date, parse_tenor


class GridError(ValueError):
    """The grid specification is malformed (message says how)."""


@dataclass(frozen=True)
class TimeGrid:
    """The simulation dates.

    Attributes:
        dates: ``[S]`` simulation dates, increasing, all after as_of.
        times: ``[S]`` ACT/365F times of ``dates``.
        exposure: ``[S]`` True at exposure (reporting) dates.
        lags: (mpor days, call frequency) -> ``[S]`` int, for each exposure step the index of
            the step of its margin call (-1 when that is not after as_of: today's call, or at
            non-exposure steps).
    """

    dates: DateArray
    times: FloatArray
    exposure: np.ndarray
    lags: dict[tuple[int, str], np.ndarray]

    def __len__(self) -> int:
        return int(self.times.size)

    @property
    def exposure_steps(self) -> np.ndarray:
        return np.flatnonzero(self.exposure)


AUTO = "auto"
DEFAULT_SEGMENTS = ((parse_tenor("1M"), 12), (parse_tenor("3M"), None))
"""The default grid: monthly for the first year, then quarterly until the first date on or after
the portfolio's last cash flow, settlement or exercise (``"1M:1Y,3M:<end>"``)."""


def default_grid_spec(as_of: _dt.date, end_time: float) -> str:
    """The default grid spec reaching ``end_time`` (ACT/365F years from as_of): monthly dates
    up to one year, then quarterly ones, up to the first date on or after the end."""
    base = np.datetime64(as_of, "D")
    end = base + np.timedelta64(max(1, math.ceil(end_time * 365.0 - 1e-9)), "D")
    months = 1
    while add_tenor(base, parse_tenor("1M"), months) < end and months < 12:
        months += 1
    if months < 12 or add_tenor(base, parse_tenor("1M"), 12) >= end:
        return f"1M:{months}M"
    quarters = 1
    first = add_tenor(base, parse_tenor("1Y"))
    while add_tenor(first, parse_tenor("3M"), quarters) < end:
        quarters += 1
    return f"1M:1Y,3M:{12 + 3 * quarters}M"


def _segment_dates(spec: str, base: np.datetime64) -> list[Any]:
    """Dates of ``"<step>:<horizon>[,<step>:<horizon>...]"``: each segment steps from the last
    date of the previous one (as_of for the first) up to and including as_of + its horizon."""
    dates: list[Any] = []
    start: Any = base
    for i, segment in enumerate(spec.split(",")):
        parts = segment.strip().split(":")
        if len(parts) != 2:
            raise GridError(f"grid {spec!r}: segment {segment.strip()!r} must be "
                            "'<step>:<horizon>', e.g. '1M:10Y' or '1M:2Y,3M:10Y,1Y:50Y'")
        try:
            step, horizon = parse_tenor(parts[0].strip()), parse_tenor(parts[1].strip())
        except ValueError as exc:
            raise GridError(f"grid {spec!r}: {exc}") from None
        end = add_tenor(base, horizon)
        found: list[Any] = []
        k = 1
        while True:
            d = add_tenor(start, step, k)
            if d > end:
                break
            found.append(d)
            k += 1
        if not found:
            where = "the step is longer than the horizon" if i == 0 else (
                f"segment {i + 1} ({segment.strip()}) adds no date after {start}")
            raise GridError(f"grid {spec!r}: {where}")
        dates.extend(found)
        start = found[-1]
    return dates


def exposure_dates(spec: str | Sequence[Any], as_of: _dt.date, end_time: float | None = None
                   ) -> DateArray:
    """Expand a grid specification into exposure dates after as_of.

    ``spec`` is ``"auto"`` (the default grid, :func:`default_grid_spec`; needs ``end_time``),
    ``"<step>:<horizon>"`` or segments ``"1M:2Y,3M:10Y,1Y:50Y"`` (horizons from as_of, each
    segment continuing from the last date of the previous one), or an explicit list of ISO
    dates or year fractions.

    Raises:
        GridError: malformed specification or no date after as_of.
    """
    base = np.datetime64(as_of, "D")
    if isinstance(spec, str):
        if spec.strip().lower() == AUTO:
            spec = default_grid_spec(as_of, end_time or 0.0)
        return np.array(_segment_dates(spec, base), dtype="datetime64[D]")
    out = []
    for item in spec:
        if isinstance(item, str):
            try:
                out.append(np.datetime64(parse_date(item), "D"))
            except ValueError as exc:
                raise GridError(f"grid entry {item!r}: {exc}") from None
        elif isinstance(item, int | float) and not isinstance(item, bool):
            out.append(base + np.timedelta64(round(float(item) * 365.0), "D"))
        else:
            raise GridError(f"grid entry {item!r} is neither a date nor a year fraction")
    dates_arr = np.unique(np.array(out, dtype="datetime64[D]"))
    dates_arr = dates_arr[dates_arr > base]
    if dates_arr.size == 0:
        raise GridError("grid has no date after as_of")
    return dates_arr


CALL_TENORS = {"weekly": parse_tenor("1W"), "monthly": parse_tenor("1M")}


def _call_dates(base: np.datetime64, frequency: str, last: np.datetime64,
                calendar: Calendar) -> DateArray:
    """as_of + n x the frequency up to ``last``, rolled back to business days (as_of first)."""
    tenor = CALL_TENORS[frequency]
    n = 1
    while add_tenor(base, tenor, n) <= last:
        n += 1
    raw = np.array([add_tenor(base, tenor, k) for k in range(n)], dtype="datetime64[D]")
    out: DateArray = np.unique(calendar.adjust(raw, "preceding"))
    return out


def _last_call(lags: DateArray, calls: DateArray) -> DateArray:
    """For each lag date, the last call date on or before it."""
    out: DateArray = calls[np.searchsorted(calls, lags, side="right") - 1]
    return out


def build_grid(as_of: _dt.date, exposure: DateArray, product_times: Iterable[float],
               margin_terms: Iterable[tuple[int, str]], calendar: Calendar) -> TimeGrid:
    """Union of exposure dates, product dates within the horizon and margin-call dates.

    Args:
        as_of: valuation date.
        exposure: exposure dates (after as_of).
        product_times: times the pricers need on the grid (e.g. option expiries); those beyond
            the last exposure date are dropped.
        margin_terms: distinct (margin period of risk in business days, call frequency) of the
            CSAs. The call for exposure date t is made at t - MPoR (MPoR 0: on t itself) with
            daily calls, else on the last call date on or before it: as_of + n weeks or months
            (calendar arithmetic, rolled back to a business day).
        calendar: business-day calendar for the lag and call dates.
    """
    base = np.datetime64(as_of, "D")
    horizon = exposure.max()
    prod = [base + np.timedelta64(round(t * 365.0), "D") for t in product_times]
    prod_dates = np.array([d for d in prod if base < d <= horizon], dtype="datetime64[D]")
    lag_dates: dict[tuple[int, str], DateArray] = {}
    for m, frequency in set(margin_terms):
        lag = exposure if m == 0 else calendar.advance_business_days(exposure, -m)
        lag_dates[m, frequency] = lag if frequency == "daily" else _last_call(
            lag, _call_dates(base, frequency, lag.max(), calendar))
    all_dates = np.unique(np.concatenate(
        [exposure, prod_dates, *[d[d > base] for d in lag_dates.values()]]))
    index = {d: i for i, d in enumerate(all_dates)}
    is_exposure = np.isin(all_dates, exposure)
    lags: dict[tuple[int, str], np.ndarray] = {}
    for terms, dates in lag_dates.items():
        lag = np.full(all_dates.size, -1, dtype=np.int64)
        for d_exp, d_lag in zip(exposure, dates, strict=True):
            if d_lag > base:
                lag[index[d_exp]] = index[d_lag]
        lags[terms] = lag
    times = (all_dates - base).astype(np.int64) / 365.0
    return TimeGrid(dates=all_dates, times=times, exposure=is_exposure, lags=lags)
