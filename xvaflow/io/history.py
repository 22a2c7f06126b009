"""``history/``: daily curve snapshots per currency, the scenarios of CCP historical-VaR
initial margin (csas.csv ``im_model = ccp_hvar``; :mod:`xvaflow.margin.ccp`).

One file per currency, ``history/<CCY>.csv``: a ``date`` column, a ``type`` column (``par``:
par swap rates; ``zero``: continuously compounded zero rates, ACT/365F) and one column per
tenor (``1M`` ... ``30Y``), decimal rates, one row per business day, dates increasing, none
after as_of. Par snapshots are turned into zero rates as the source material builds its
curves: a quote below one year is a continuously compounded zero rate; from one year on, the
par rates are interpolated linearly to every whole year and bootstrapped with annual fixed
payments, P(n) = (1 - S_n sum_{i<n} P(i)) / (1 + S_n), and z(T) = -ln P(T) / T at the quoted
tenors (a tenor between whole years takes its discount factor log-linearly between them).
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xvaflow.core.dates import parse_date, parse_tenor
from xvaflow.core.errors import ProblemLog
from xvaflow.io.tables import AnyColumns, read_csv

HISTORY_DIR = "history"
MIN_SNAPSHOTS = 251  # 250 daily changes
RATE_LIMIT = 1.0  # |rate| above 100% is a typing error


@dataclass(frozen=True)
class CurveHistory:
    """Zero curves of one currency by day.

    Attributes:
        currency: the currency.
        dates: ``[days]`` snapshot dates, increasing.
        times: ``[k]`` pillar times (ACT/365F from each snapshot date: tenors, not dates).
        zero: ``[days, k]`` continuously compounded zero rates.
    """

    currency: str
    dates: tuple[_dt.date, ...]
    times: np.ndarray
    zero: np.ndarray


def tenor_years(tenor: str) -> float:
    """A tenor as a year fraction: months / 12, weeks 7 days, days / 365."""
    return parse_tenor(tenor).approx_years


def par_discounts(times: np.ndarray, rates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(whole years 1 ... N, their discount factors) bootstrapped from the par rates quoted at
    ``times`` >= 1 (interpolated linearly to every year, flat beyond the quotes)."""
    years = np.arange(1, math.ceil(times.max()) + 1, dtype=float)
    par = np.interp(years, times, rates)
    discount = np.empty(years.size)
    annuity = 0.0
    for n, s in enumerate(par):
        discount[n] = (1.0 - s * annuity) / (1.0 + s)
        annuity += discount[n]
    return years, discount


def par_to_zero(times: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """Zero rates at ``times`` from par rates (see the module docstring)."""
    short = times < 1.0
    zero = np.where(short, rates, 0.0)
    if not short.all():
        years, discount = par_discounts(times[~short], rates[~short])
        log_p = np.interp(times[~short], np.concatenate([[0.0], years]),
                          np.concatenate([[0.0], np.log(discount)]))
        zero[~short] = -log_p / times[~short]
    return zero


def load_histories(directory: Path, currencies: list[str], as_of: _dt.date,
                   log: ProblemLog) -> dict[str, CurveHistory]:
    """``history/<CCY>.csv`` of each currency (problems in ``log``, named by file, row and
    field); at least :data:`MIN_SNAPSHOTS` dates common to all of them are required."""
    out: dict[str, CurveHistory] = {}
    for ccy in currencies:
        name = f"{HISTORY_DIR}/{ccy}.csv"
        path = directory / HISTORY_DIR / f"{ccy}.csv"
        if not path.is_file():
            log.add(name, None, None, f"missing: CCP historical-VaR margin of {ccy} swaps needs "
                    f"at least {MIN_SNAPSHOTS} daily curve snapshots")
            continue
        before = len(log.problems)
        rows = read_csv(path, log, ("date", "type"), AnyColumns(), name=name)  # tenors vary
        if not rows:
            if rows is not None:
                log.add(name, None, None, "has no rows")
            continue
        tenors = [c for c in rows[0][1] if c not in ("date", "type")]
        times = []
        for t in tenors:
            try:
                times.append(tenor_years(t))
            except ValueError as exc:
                log.add(name, 1, t, f"column is not a tenor ({exc})")
        if len(times) != len(tenors) or not tenors:
            if not tenors:
                log.add(name, 1, None, "needs tenor columns (e.g. 1Y, 2Y, 5Y, 10Y)")
            continue
        order = np.argsort(times)
        dates: list[_dt.date] = []
        curves = []
        kinds = set()
        for row, values in rows:
            try:
                d = parse_date((values["date"] or "").strip())
            except ValueError as exc:
                log.add(name, row, "date", str(exc))
                continue
            if d > as_of:
                log.add(name, row, "date", f"{d} is after as_of {as_of}")
            if dates and d <= dates[-1]:
                log.add(name, row, "date", f"{d} does not follow {dates[-1]}: dates must "
                        "increase")
            kind = (values["type"] or "").strip().lower()
            if kind not in ("par", "zero"):
                log.add(name, row, "type", f"must be par or zero, got {values['type']!r}")
            kinds.add(kind)
            rates = []
            for t in tenors:
                try:
                    r = float(values[t] or "")
                except (TypeError, ValueError):
                    log.add(name, row, t, f"must be a rate (decimal), got {values[t]!r}")
                    continue
                if not math.isfinite(r) or abs(r) > RATE_LIMIT:
                    log.add(name, row, t, f"must be a decimal rate within +-1, got {r!r}")
                rates.append(r)
            dates.append(d)
            curves.append(rates)
        if len(kinds) > 1:
            log.add(name, None, "type", "mixes par and zero rows: one type per file")
        if len(log.problems) > before:
            continue
        t_sorted = np.asarray(times)[order]
        raw = np.asarray(curves, dtype=float)[:, order]
        zero = (np.array([par_to_zero(t_sorted, r) for r in raw]) if kinds == {"par"}
                else raw)
        out[ccy] = CurveHistory(ccy, tuple(dates), t_sorted, zero)
    if len(out) == len(currencies) and out:
        common = set.intersection(*(set(h.dates) for h in out.values()))
        if len(common) < MIN_SNAPSHOTS:
            log.add(HISTORY_DIR, None, None, f"{len(common)} dates common to "
                    f"{', '.join(f'{c}.csv' for c in currencies)}: at least {MIN_SNAPSHOTS} are "
                    "needed (250 daily changes)")
    return out

