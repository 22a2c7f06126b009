"""Expected positive part of a sum of exponentials of a Gaussian variable, exactly.

For y ~ N(mu, v) and coefficients c_m, b_m:

    E[max(V(y), 0)],   V(y) = sum_m c_m exp(-b_m y).

The roots of V are located on a grid of +-10 standard deviations and refined by bisection; on
each interval (l, u) where V > 0 the expectation is closed form,

    E[exp(-b y) 1{l < y < u}] = exp(-b mu + b^2 v / 2) [N((u - mu + b v)/sqrt(v))
                                                        - N((l - mu + b v)/sqrt(v))].

In the Hull-White model a swap's value at the option expiry is such a sum in the (shifted) state
variable, so this is the price of a European swaption: Jamshidian's decomposition
(F. Jamshidian, "An exact bond option formula", J. Finance 44, 1989) when V is monotone, and
still exact for any number of sign changes (spreads, basis, mixed legs). Roots closer together
than the grid spacing (1/16 of a standard deviation) would be missed; swap values do not have
them.
"""

from __future__ import annotations

from typing import Any

from xvaflow.core.backend import array_namespace, special

_GRID = 321  # points on [-10 sd, +10 sd]
_BISECTIONS = 64


def expected_positive_part(coef: Any, beta: Any, mean: Any, var: Any) -> Any:
    """E[max(sum_m coef[n, m] exp(-beta[n, m] y), 0)] for y ~ N(mean[n], var[n]).

    Args:
        coef: ``[n, m]`` coefficients (zero-padded rows are fine).
        beta: ``[n, m]`` exponents.
        mean: ``[n]`` mean of y.
        var: ``[n]`` variance of y (> 0).

    Returns:
        ``[n]`` expectations.
    """
    xp = array_namespace(coef, beta, mean, var)
    ndtr = special(xp).ndtr
    c = xp.asarray(coef, dtype=xp.float64)
    b = xp.asarray(beta, dtype=xp.float64)
    mu = xp.asarray(mean, dtype=xp.float64)
    v = xp.asarray(var, dtype=xp.float64)
    n = c.shape[0]
    sd = xp.sqrt(v)
    z = xp.linspace(-10.0, 10.0, _GRID)
    y = mu[:, None] + sd[:, None] * z[None, :]  # [n, G]
    values = xp.einsum("nm,nmg->ng", c, xp.exp(-b[:, :, None] * y[:, None, :]))
    pos = values > 0.0

    # Refine one root inside every grid interval where the sign changes.
    row, col = xp.nonzero(pos[:, 1:] != pos[:, :-1])
    lo, hi = y[row, col], y[row, col + 1]
    lo_positive = pos[row, col]
    cr, br = c[row], b[row]
    for _ in range(_BISECTIONS):
        mid = 0.5 * (lo + hi)
        same = ((cr * xp.exp(-br * mid[:, None])).sum(axis=1) > 0.0) == lo_positive
        lo = xp.where(same, mid, lo)
        hi = xp.where(same, hi, mid)
    root = 0.5 * (lo + hi)

    # Intervals where V > 0: from a root where V turns positive (or -inf) to the next root where
    # it turns negative (or +inf). Rows of ``nonzero`` come sorted by (n, column), so the k-th
    # opening of a row pairs with its k-th closing.
    inf = float("inf")
    opens_row = xp.concatenate([xp.nonzero(pos[:, 0])[0], row[~lo_positive]])
    opens_at = xp.concatenate([xp.full(int(pos[:, 0].sum()), -inf), root[~lo_positive]])
    opens_col = xp.concatenate([xp.full(int(pos[:, 0].sum()), -1), col[~lo_positive]])
    closes_row = xp.concatenate([row[lo_positive], xp.nonzero(pos[:, -1])[0]])
    closes_at = xp.concatenate([root[lo_positive], xp.full(int(pos[:, -1].sum()), inf)])
    closes_col = xp.concatenate([col[lo_positive], xp.full(int(pos[:, -1].sum()), _GRID)])
    o = xp.lexsort(xp.stack([opens_col, opens_row]))
    k = xp.lexsort(xp.stack([closes_col, closes_row]))
    seg_row, lower, upper = opens_row[o], opens_at[o], closes_at[k]

    bs, cs = b[seg_row], c[seg_row]
    mus, vs, sds = mu[seg_row, None], v[seg_row, None], sd[seg_row, None]
    shift = -mus + bs * vs
    hi_arg = (upper[:, None] + shift) / sds
    lo_arg = (lower[:, None] + shift) / sds
    # N(hi) - N(lo), computed on the side of the distribution that keeps precision.
    mass = xp.where(lo_arg > 0.0, ndtr(-lo_arg) - ndtr(-hi_arg), ndtr(hi_arg) - ndtr(lo_arg))
    terms = cs * xp.exp(-bs * mus + 0.5 * bs * bs * vs) * mass
    return xp.bincount(seg_row, weights=terms.sum(axis=1), minlength=n)
