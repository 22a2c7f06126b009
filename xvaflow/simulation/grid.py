"""Simulation time grid: exposure dates, product dates and margin-period-of-risk lag dates.

- Exposure dates come from the run's ``grid``: ``"<step>:<horizon>"`` (e.g. ``"1M:10Y"``: as_of +
  k steps, calendar dates, up to and including as_of + horizon) or an explicit list of ISO dates
  or year fractions.
- Product dates the pricers need exactly are added as simulation-only dates: option expiries
  (exercise decisions) within the horizon.
- For every collateralised netting set, the date ``mpor_days`` business days before each exposure
  date is added as a lag date: the collateral at t is called on the portfolio value at
  t - MPoR (ORE's "lagged" close-out). With ``mpor_days`` 0 the call is on t itself.

All dates become ACT/365F times; the grid is the sorted union, time 0 excluded.
"""

from __future__ import annotations

import datetime as _dt
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
        lags: mpor days -> ``[S]`` int, for each exposure step the index of its lag step
            (-1 when the lag date is not after as_of, or at non-exposure steps).
    """

    dates: DateArray
    times: FloatArray
    exposure: np.ndarray
    lags: dict[int, np.ndarray]

    def __len__(self) -> int:
        return int(self.times.size)

    @property
    def exposure_steps(self) -> np.ndarray:
        return np.flatnonzero(self.exposure)


def exposure_dates(spec: str | Sequence[Any], as_of: _dt.date) -> DateArray:
    """Expand a grid specification into exposure dates after as_of.

    Raises:
        GridError: malformed specification or no date after as_of.
    """
    base = np.datetime64(as_of, "D")
    if isinstance(spec, str):
        parts = spec.split(":")
        if len(parts) != 2:
            raise GridError(f"grid {spec!r} must be '<step>:<horizon>', e.g. '1M:10Y'")
        try:
            step, horizon = parse_tenor(parts[0]), parse_tenor(parts[1])
        except ValueError as exc:
            raise GridError(f"grid {spec!r}: {exc}") from None
        end = add_tenor(base, horizon)
        dates, k = [], 1
        while True:
            d = add_tenor(base, step, k)
            if d > end:
                break
            dates.append(d)
            k += 1
        if not dates:
            raise GridError(f"grid {spec!r}: the step is longer than the horizon")
        return np.array(dates, dtype="datetime64[D]")
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


def build_grid(as_of: _dt.date, exposure: DateArray, product_times: Iterable[float],
               mpor_days: Iterable[int], calendar: Calendar) -> TimeGrid:
    """Union of exposure dates, product dates within the horizon and lag dates.

    Args:
        as_of: valuation date.
        exposure: exposure dates (after as_of).
        product_times: times the pricers need on the grid (e.g. option expiries); those beyond
            the last exposure date are dropped.
        mpor_days: distinct margins of risk in business days (0: calls on the exposure date).
        calendar: business-day calendar for the lag dates.
    """
    base = np.datetime64(as_of, "D")
    horizon = exposure.max()
    prod = [base + np.timedelta64(round(t * 365.0), "D") for t in product_times]
    prod_dates = np.array([d for d in prod if base < d <= horizon], dtype="datetime64[D]")
    # With no margin period of risk the call is made on the exposure date itself.
    lag_dates = {m: exposure if m == 0 else calendar.advance_business_days(exposure, -m)
                 for m in set(mpor_days)}
    all_dates = np.unique(np.concatenate(
        [exposure, prod_dates, *[d[d > base] for d in lag_dates.values()]]))
    index = {d: i for i, d in enumerate(all_dates)}
    is_exposure = np.isin(all_dates, exposure)
    lags: dict[int, np.ndarray] = {}
    for m, dates in lag_dates.items():
        lag = np.full(all_dates.size, -1, dtype=np.int64)
        for d_exp, d_lag in zip(exposure, dates, strict=True):
            if d_lag > base:
                lag[index[d_exp]] = index[d_lag]
        lags[m] = lag
    times = (all_dates - base).astype(np.int64) / 365.0
    return TimeGrid(dates=all_dates, times=times, exposure=is_exposure, lags=lags)
