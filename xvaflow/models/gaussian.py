"""Expected positive part of a sum of exponentials of a Gaussian variable, exactly.

For y ~ N(mu, v) and coefficients c_m, b_m:

    g(mu) = E[max(V(y), 0)],   V(y) = sum_m c_m exp(-b_m y).

The sign of V does not depend on the distribution, so the intervals where V > 0 are found once
(:func:`positive_intervals`: a grid of 241 points over y in [-1.5, 1.5], far beyond any
simulated rate state, refined by bisection). On each interval (l, u) the expectation is closed form,

    E[exp(-b y) 1{l < y < u}] = exp(-b mu + b^2 v / 2) [N((u - mu + b v)/sqrt(v))
                                                        - N((l - mu + b v)/sqrt(v))],

and g'(mu) = E[V'(y) 1{V(y) > 0}] (the boundary terms vanish since V = 0 there), so the
derivative costs one more multiplication per term.

In the Hull-White model a swap's value at the option expiry is such a sum in the shifted state,
so this prices European swaptions: Jamshidian's decomposition (F. Jamshidian, "An exact bond
option formula", J. Finance 44, 1989) when V is monotone, and still exact for any number of sign
changes (spreads, basis, mixed legs). Two roots closer together than the grid spacing (0.0125
in y) would be missed; swap values do not have them, and V is negligible between such roots.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from xvaflow.core.backend import array_namespace, special

_RANGE = 1.5
_GRID = 241
_BISECTIONS = 60


@dataclass(frozen=True)
class Intervals:
    """Intervals where V > 0: ``row[k]`` owns (``lower[k]``, ``upper[k]``), possibly infinite."""

    row: Any
    lower: Any
    upper: Any


def positive_intervals(coef: Any, beta: Any) -> Intervals:
    """Where sum_m coef[n, m] exp(-beta[n, m] y) > 0, for each row n (``[n, m]`` inputs)."""
    xp = array_namespace(coef, beta)
    c = xp.asarray(coef, dtype=xp.float64)
    b = xp.asarray(beta, dtype=xp.float64)
    y = xp.linspace(-_RANGE, _RANGE, _GRID)
    pos = _signs(xp, c, b, y)
    row, col = xp.nonzero(pos[:, 1:] != pos[:, :-1])
    lo, hi = y[col], y[col + 1]
    lo_positive = pos[row, col]
    cr, br = c[row], b[row]
    for _ in range(_BISECTIONS):
        mid = 0.5 * (lo + hi)
        same = ((cr * xp.exp(-br * mid[:, None])).sum(axis=1) > 0.0) == lo_positive
        lo = xp.where(same, mid, lo)
        hi = xp.where(same, hi, mid)
    root = 0.5 * (lo + hi)
    # An interval opens where V turns positive (or at -inf) and closes where it turns negative
    # (or at +inf). ``nonzero`` sorts by (row, column), so the k-th opening of a row pairs with
    # its k-th closing.
    inf = float("inf")
    start_pos, end_pos = pos[:, 0], pos[:, -1]
    n_start, n_end = int(start_pos.sum()), int(end_pos.sum())
    opens_row = xp.concatenate([xp.nonzero(start_pos)[0], row[~lo_positive]])
    opens_col = xp.concatenate([xp.full(n_start, -1), col[~lo_positive]])
    opens_at = xp.concatenate([xp.full(n_start, -inf), root[~lo_positive]])
    closes_row = xp.concatenate([row[lo_positive], xp.nonzero(end_pos)[0]])
    closes_col = xp.concatenate([col[lo_positive], xp.full(n_end, _GRID)])
    closes_at = xp.concatenate([root[lo_positive], xp.full(n_end, inf)])
    o = xp.lexsort(xp.stack([opens_col, opens_row]))
    k = xp.lexsort(xp.stack([closes_col, closes_row]))
    return Intervals(row=opens_row[o], lower=opens_at[o], upper=closes_at[k])


def _signs(xp: Any, c: Any, b: Any, y: Any) -> Any:
    """sign(V) > 0 on the grid, ``[n, G]``, in chunks of rows to bound memory."""
    out = xp.empty((c.shape[0], y.size), dtype=bool)
    step = max(1, 2_000_000 // max(1, c.shape[1] * y.size))
    for s in range(0, c.shape[0], step):
        out[s: s + step] = xp.einsum("nm,nmg->ng", c[s: s + step],
                                     xp.exp(-b[s: s + step, :, None] * y[None, None, :])) > 0.0
    return out


def interval_expectation(coef: Any, beta: Any, intervals: Intervals, mean: Any, var: Any,
                         derivative: bool = False) -> tuple[Any, Any]:
    """g(mu) (and g'(mu)) for rows n at means ``mean[n, L]`` and variances ``var[n]``.

    Only the normal CDFs an interval needs are evaluated (one for a half-infinite interval), and
    when each row's means are equispaced, exp(-b mu + b^2 v / 2) is geometric along the nodes
    and costs two exponentials per term and a cumulative product.

    Returns:
        (values ``[n, L]``, derivatives ``[n, L]`` or None).
    """
    xp = array_namespace(coef, beta, mean)
    ndtr = special(xp).ndtr
    c = xp.asarray(coef, dtype=xp.float64)
    b = xp.asarray(beta, dtype=xp.float64)
    mu = xp.asarray(mean, dtype=xp.float64)
    v = xp.asarray(var, dtype=xp.float64)
    n, n_pts = mu.shape
    seg = intervals.row
    values = xp.zeros((n, n_pts))
    derivs = xp.zeros((n, n_pts)) if derivative else None
    if seg.size == 0:
        return values, derivs
    bs, cs = b[seg][:, :, None], c[seg][:, :, None]  # [S, M, 1]
    mus = mu[seg][:, None, :]  # [S, 1, L]
    vs = v[seg][:, None, None]
    sds = xp.sqrt(vs)
    shift = (bs * vs - mus) / sds  # [S, M, L]: N's argument is (bound - mu + b v) / sd

    # P(l < y' < u) under the tilted law, on the side of the distribution that keeps precision.
    lower, upper = intervals.lower[:, None, None], intervals.upper[:, None, None]
    mass = xp.empty_like(shift)
    lo_inf, hi_inf = ~xp.isfinite(intervals.lower), ~xp.isfinite(intervals.upper)
    for sel, kind in ((lo_inf & hi_inf, 0), (lo_inf & ~hi_inf, 1), (~lo_inf & hi_inf, 2),
                      (~lo_inf & ~hi_inf, 3)):
        idx = xp.nonzero(sel)[0]
        if idx.size == 0:
            continue
        if kind == 0:
            mass[idx] = 1.0
        elif kind == 1:
            mass[idx] = ndtr(upper[idx] / sds[idx] + shift[idx])
        elif kind == 2:
            mass[idx] = ndtr(-(lower[idx] / sds[idx] + shift[idx]))
        else:
            z_lo = lower[idx] / sds[idx] + shift[idx]
            z_hi = upper[idx] / sds[idx] + shift[idx]
            mass[idx] = xp.where(z_lo > 0.0, ndtr(-z_lo) - ndtr(-z_hi), ndtr(z_hi) - ndtr(z_lo))

    step = mus[:, :, 1:2] - mus[:, :, 0:1] if n_pts > 1 else xp.zeros_like(mus[:, :, :1])
    uniform = n_pts > 2 and bool(xp.all(xp.abs(
        mus - (mus[:, :, :1] + step * xp.arange(n_pts)[None, None, :]))
        <= 1e-12 * (1.0 + xp.abs(mus))))
    if uniform:
        growth = xp.empty(mass.shape)
        growth[:, :, 0:1] = cs * xp.exp(-bs * mus[:, :, :1] + 0.5 * bs * bs * vs)
        growth[:, :, 1:] = xp.exp(-bs * step)
        terms = xp.cumprod(growth, axis=2)
    else:
        terms = cs * xp.exp(-bs * mus + 0.5 * bs * bs * vs)
    terms *= mass  # [S, M, L]
    xp.add.at(values, seg, terms.sum(axis=1))
    if derivs is not None:
        xp.add.at(derivs, seg, (-bs * terms).sum(axis=1))
    return values, derivs


def expected_positive_part(coef: Any, beta: Any, mean: Any, var: Any) -> Any:
    """E[max(sum_m coef[n, m] exp(-beta[n, m] y), 0)] for y ~ N(mean[n], var[n]) (``[n]``)."""
    xp = array_namespace(coef, beta, mean, var)
    intervals = positive_intervals(coef, beta)
    values, _ = interval_expectation(coef, beta, intervals, xp.asarray(mean)[:, None], var)
    return values[:, 0]
