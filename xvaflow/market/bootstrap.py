"""Curve bootstrapping: OIS zero curves from par quotes, hazard curves from CDS par spreads.

Yield curves ("interpolate, then bootstrap", the method of the CCP margin source)
---------------------------------------------------------------------------------
Quotes are deposits (simple rate, ACT/360, from as_of to adjusted as_of + tenor) and OIS swaps
(fixed annual ACT/360 against the compounded overnight index of the same curve, starting at as_of,
whole-year tenors). On a single curve an OIS swap's floating leg is worth 1 - P(T_n), so the par
condition of an n-year swap is

    S_n * sum_{i<=n} tau_i P(T_i) = 1 - P(T_n),     T_i = adjusted(as_of + i years).

1. Deposits give P(T) = 1 / (1 + r tau) directly (continuously compounded zero rates below 1y).
2. Swap par rates are linearly interpolated (in maturity time) onto every whole year from 1Y to
   the longest quote; years before the first swap quote take the first quote (flat).
3. Year by year beyond the last deposit, P(T_n) = (1 - S_n sum_{i<n} tau_i P(T_i)) / (1 + S_n
   tau_n); earlier annual dates inside the deposit range read the deposit curve.
The curve's pillars are the deposit maturities and the bootstrapped annual dates, linear in zero
rate (:class:`~xvaflow.market.curves.ZeroCurve`). Every input quote is repriced exactly because
each swap's payment dates are pillars of the final curve.

Hazard curves from CDS par spreads
----------------------------------
A CDS of tenor T pays a premium s quarterly (periods backward from as_of + T, Modified Following,
ACT/360) with accrued premium paid on default, and protection (1 - R) on default. With the
mid-point rule of QuantLib's ``MidPointCdsEngine`` (default at the middle of each period,
d_i = start_i + floor((end_i - start_i) / 2) days):

    protection = (1 - R) sum_i (S(s_i) - S(e_i)) P(d_i)
    RPV01      = sum_i [ S(e_i) tau_i P(e_i) + (S(s_i) - S(e_i)) tau(s_i, d_i) P(d_i) ]
    par spread = protection / RPV01

Hazard rates are piecewise constant between the CDS maturities and are solved one tenor at a time
(Brent) so that each CDS reprices its quoted par spread. Discounting uses the curve of the base
currency.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from xvaflow.core.calendar import Calendar
from xvaflow.core.dates import FloatArray, Tenor, add_months, add_tenor, year_fraction_365
from xvaflow.core.daycount import act_360
from xvaflow.core.schedule import backward_schedules
from xvaflow.market.curves import HazardCurve, ZeroCurve


class BootstrapError(ValueError):
    """A curve cannot be built from its quotes (the message names the offending quote).

    Attributes:
        index: for credit curves bootstrapped together, the position of the failing name.
        tenor: the tenor of the failing quote, when known.
    """

    def __init__(self, message: str, index: int | None = None, tenor: Tenor | None = None):
        super().__init__(message)
        self.index = index
        self.tenor = tenor


@dataclass(frozen=True, slots=True)
class ParQuote:
    """One par quote of a yield curve: ``kind`` is ``"deposit"`` or ``"swap"``."""

    kind: str
    tenor: Tenor
    rate: float


def bootstrap_ois_curve(
    as_of: _dt.date, quotes: Sequence[ParQuote], calendar: Calendar, name: str = ""
) -> ZeroCurve:
    """Bootstrap a single-curve OIS zero curve from deposit and OIS swap par quotes.

    Args:
        as_of: valuation date (curve time 0, swaps start here; no spot lag).
        quotes: deposits (any tenor) and swaps (whole-year tenors), at least one quote.
        calendar: calendar of the currency, for Modified Following maturities.
        name: curve label for messages.

    Returns:
        The zero curve whose pillars are the deposit maturities and the annual swap dates.

    Raises:
        BootstrapError: duplicate maturities, a swap tenor that is not whole years, or quotes
            that imply a non-positive discount factor.
    """
    base = np.datetime64(as_of, "D")
    def by_tenor(kind: str) -> list[ParQuote]:
        return sorted((q for q in quotes if q.kind == kind), key=lambda q: q.tenor.approx_years)

    deposits, swaps = by_tenor("deposit"), by_tenor("swap")
    if not deposits and not swaps:
        raise BootstrapError(f"curve {name}: no par quotes")
    for q in swaps:
        if q.tenor.unit not in ("M", "Y") or q.tenor.months % 12:
            raise BootstrapError(
                f"curve {name}: swap tenor {q.tenor} is not a whole number of years "
                "(OIS swaps pay an annual fixed leg)"
            )

    dep_dates = np.array([calendar.adjust(add_tenor(base, q.tenor)) for q in deposits],
                         dtype="datetime64[D]")
    if dep_dates.size and (np.any(np.diff(dep_dates) <= np.timedelta64(0, "D")) or
                           dep_dates[0] <= base):
        raise BootstrapError(f"curve {name}: deposit maturities must be distinct and after as_of")
    dep_df = np.array([1.0 / (1.0 + q.rate * float(act_360(base, d)))
                       for q, d in zip(deposits, dep_dates, strict=True)])

    pillar_dates = list(dep_dates)
    pillar_df = list(dep_df)
    if swaps:
        years = np.array([q.tenor.months // 12 for q in swaps])
        if np.any(np.diff(years) == 0):
            raise BootstrapError(f"curve {name}: two swap quotes with the same tenor")
        rates = np.array([q.rate for q in swaps])
        grid_years = np.arange(1, years[-1] + 1)
        grid_rates = np.interp(grid_years, years, rates)  # flat before the first quote
        # Each annual date is as_of + k years computed from as_of (QuantLib's schedule rule).
        grid_dates = calendar.adjust(add_months(base, 12 * grid_years))
        tau = act_360(np.r_[base, grid_dates[:-1]], grid_dates)
        last_dep = dep_dates[-1] if dep_dates.size else base
        if grid_dates[years[0] - 1] <= last_dep:
            raise BootstrapError(
                f"curve {name}: swap {swaps[0].tenor} matures within the deposit quotes; "
                "quote each maturity once"
            )
        dep_curve = (_curve_from(base, dep_dates, dep_df, name) if dep_dates.size else None)
        df = np.empty(grid_dates.size)
        annuity = 0.0
        for i, (d, s) in enumerate(zip(grid_dates, grid_rates, strict=True)):
            if d <= last_dep:
                assert dep_curve is not None
                df[i] = float(dep_curve.discount(year_fraction_365(base, d)))
            else:
                df[i] = (1.0 - s * annuity) / (1.0 + s * tau[i])
                if not df[i] > 0.0:
                    raise BootstrapError(
                        f"curve {name}: swap rates imply a non-positive discount factor at "
                        f"{grid_years[i]}Y"
                    )
                pillar_dates.append(d)
                pillar_df.append(df[i])
            annuity += tau[i] * df[i]
    return _curve_from(base, np.array(pillar_dates, dtype="datetime64[D]"),
                       np.array(pillar_df), name)


def _curve_from(base: np.datetime64, dates: np.ndarray, dfs: FloatArray, name: str) -> ZeroCurve:
    t = year_fraction_365(base, dates)
    return ZeroCurve(t, -np.log(dfs) / t, name)


@dataclass(frozen=True)
class CdsLegs:
    """Period data of one CDS, all times in ACT/365F years from as_of.

    Attributes:
        t_start, t_end: ``[n]`` protection/accrual period bounds (t_start[0] = 0).
        t_default: ``[n]`` mid-point default times.
        accrual: ``[n]`` ACT/360 accrual fractions of the periods.
        accrual_to_default: ``[n]`` ACT/360 fractions from period start to the default time.
    """

    t_start: FloatArray
    t_end: FloatArray
    t_default: FloatArray
    accrual: FloatArray
    accrual_to_default: FloatArray


def cds_legs(as_of: _dt.date, tenor: Tenor, calendar: Calendar) -> CdsLegs:
    """Quarterly premium periods of a CDS from as_of to as_of + tenor (see module docstring)."""
    base = np.datetime64(as_of, "D")
    maturity = add_tenor(base, tenor)
    p = backward_schedules([base], [maturity], [3], calendar)
    start = p.start.copy()
    start[0] = base  # protection and accrual start on the valuation date itself
    half = ((p.end - start).astype(np.int64) // 2).astype("timedelta64[D]")
    default = start + half
    return CdsLegs(
        t_start=year_fraction_365(base, start),
        t_end=year_fraction_365(base, p.end),
        t_default=year_fraction_365(base, default),
        accrual=act_360(start, p.end),
        accrual_to_default=act_360(start, default),
    )


def cds_par_spread(legs: CdsLegs, survival: HazardCurve, discount: ZeroCurve,
                   recovery: float) -> float:
    """Mid-point par spread of a CDS (decimal)."""
    s0, s1 = survival.survival(legs.t_start), survival.survival(legs.t_end)
    pd = s0 - s1
    p_def = discount.discount(legs.t_default)
    protection = (1.0 - recovery) * float(np.sum(pd * p_def))
    rpv01 = float(np.sum(s1 * legs.accrual * discount.discount(legs.t_end)
                         + pd * legs.accrual_to_default * p_def))
    return protection / rpv01


def bootstrap_hazard_curves(
    as_of: _dt.date,
    tenors: Sequence[Tenor],
    spreads: Any,
    recoveries: Any,
    discount: ZeroCurve,
    calendar: Calendar,
    names: Sequence[str] | None = None,
) -> list[HazardCurve]:
    """Piecewise-constant hazard curves that reprice every CDS par spread, for many names at once.

    All names share the tenors, so the periods and discount factors are computed once and each
    tenor's hazard rate is found for every name together by bisection on [0, 5] (64 halvings:
    the hazard is exact to rounding; the par spread is monotone increasing in it).

    Args:
        as_of: valuation date.
        tenors: ``[k]`` distinct CDS tenors.
        spreads: ``[n, k]`` par spreads (decimal), columns in the order of ``tenors``.
        recoveries: ``[n]`` recovery rates.
        discount: discount curve (base currency).
        calendar: calendar for the premium schedule.
        names: ``[n]`` labels for curves and messages.

    Raises:
        BootstrapError: for the first name and tenor whose spread needs a negative (or absurdly
            large) hazard rate given the shorter tenors.
    """
    s = np.atleast_2d(np.asarray(spreads, dtype=np.float64))
    rec = np.broadcast_to(np.asarray(recoveries, dtype=np.float64), (s.shape[0],))
    n, k = s.shape
    labels = list(names) if names is not None else [str(i) for i in range(n)]
    order = sorted(range(k), key=lambda j: tenors[j].approx_years)
    legs = [cds_legs(as_of, tenors[j], calendar) for j in order]
    pillars = np.array([leg.t_end[-1] for leg in legs])
    if np.any(np.diff(pillars) <= 0.0):
        raise BootstrapError("CDS tenors must be distinct")
    hazards = np.zeros((n, k))
    lgd = (1.0 - rec)[:, None]
    for j, leg in enumerate(legs):
        quote = s[:, order[j]][:, None]
        prev = pillars[j - 1] if j else 0.0
        starts = np.r_[0.0, pillars[: j - 1]] if j else np.zeros(0)
        widths = pillars[:j] - starts

        def solved_part(t: FloatArray, starts: FloatArray = starts, widths: FloatArray = widths,
                        j: int = j) -> Any:
            # H(t) contributed by the solved segments: sum_m h_m * |(start_m, T_m] ∩ (0, t]|.
            overlap = np.clip(t[None, :] - starts[:, None], 0.0, widths[:, None])
            return hazards[:, :j] @ overlap

        a0, a1 = solved_part(leg.t_start), solved_part(leg.t_end)
        b0 = np.maximum(leg.t_start - prev, 0.0)
        b1 = np.maximum(leg.t_end - prev, 0.0)
        p_def = discount.discount(leg.t_default)
        p_end = discount.discount(leg.t_end)

        def error(h: Any, a0: Any = a0, a1: Any = a1, b0: Any = b0, b1: Any = b1,
                  p_def: Any = p_def, p_end: Any = p_end, quote: Any = quote,
                  leg: CdsLegs = leg) -> Any:
            s0 = np.exp(-a0 - b0 * h)
            s1 = np.exp(-a1 - b1 * h)
            pd = s0 - s1
            protection = lgd[:, 0] * np.sum(pd * p_def, axis=1)
            rpv01 = np.sum(s1 * leg.accrual * p_end + pd * leg.accrual_to_default * p_def, axis=1)
            return protection - quote[:, 0] * rpv01

        lo, hi = np.zeros(n), np.full(n, 5.0)
        bad = (error(lo[:, None]) > 0.0) | (error(hi[:, None]) < 0.0)
        if np.any(bad):
            i = int(np.argmax(bad))
            raise BootstrapError(
                f"credit curve {labels[i]}: CDS {tenors[order[j]]} spread "
                f"{s[i, order[j]] * 1e4:.4g}bp cannot be matched with a non-negative hazard "
                "rate given the shorter tenors", index=i, tenor=tenors[order[j]]
            )
        for _ in range(64):
            mid = 0.5 * (lo + hi)
            up = error(mid[:, None]) > 0.0
            hi = np.where(up, mid, hi)
            lo = np.where(up, lo, mid)
        hazards[:, j] = 0.5 * (lo + hi)
    return [HazardCurve(pillars, hazards[i], labels[i]) for i in range(n)]


def bootstrap_each(as_of: _dt.date, tenors: Sequence[Tenor], spreads: Any, recoveries: Any,
                   discount: ZeroCurve, calendar: Calendar, names: Sequence[str]
                   ) -> list[HazardCurve | BootstrapError]:
    """:func:`bootstrap_hazard_curves` for names sharing their tenors, each name's curve or
    its error: a name that cannot be bootstrapped gets its error and the others are
    bootstrapped again without it (their curves do not depend on each other)."""
    s = np.atleast_2d(np.asarray(spreads, dtype=np.float64))
    rec = np.broadcast_to(np.asarray(recoveries, dtype=np.float64), (s.shape[0],))
    out: list[HazardCurve | BootstrapError | None] = [None] * s.shape[0]
    todo = list(range(s.shape[0]))
    while todo:
        try:
            curves = bootstrap_hazard_curves(as_of, tenors, s[todo], rec[todo], discount,
                                             calendar, [names[i] for i in todo])
        except BootstrapError as exc:
            bad = todo[exc.index or 0]
            out[bad] = exc
            todo.remove(bad)
            continue
        for i, curve in zip(todo, curves, strict=True):
            out[i] = curve
        break
    return [x for x in out if x is not None]
