"""European swaptions in Hull-White 1F (generalised Jamshidian), at time 0.

The underlying's rows (see :mod:`xvaflow.products.tables`) are worth at expiry T, in terms of
the T-forward Gaussian y ~ N(0, V(T)) of :mod:`xvaflow.models.hull_white`,

    fixed row      a P(T, p)                 = K exp(-B(T,p) y),
    projected row  a P(T, p) P(T, s)/P(T, e) = K exp(-(B(T,p) + B(T,s) - B(T,e)) y),

with K = a [P(0,p) P(0,s) / (P(0,e) P(0,T))] exp(-(B_p^2 + B_s^2 - B_e^2) V(T) / 2) (for a
fixed row drop the s, e factors). The swaption is worth sign * P(0,T) E^T[max(sum K e^{-beta y},
0)], evaluated exactly by :func:`~xvaflow.pricing.gaussian.expected_positive_part`. A cash-settled
swaption (collateralised cash price) has the same value.
"""

from __future__ import annotations

import numpy as np

from xvaflow.market.market import Market
from xvaflow.models.hull_white import bond_b, state_variance
from xvaflow.pricing.gaussian import expected_positive_part
from xvaflow.products.tables import FIXED, FloatArray, LinearFlows, SwaptionTable


def swaption_values_t0(table: SwaptionTable, flows: LinearFlows, currencies: tuple[str, ...],
                       market: Market) -> FloatArray:
    """``[swaptions]`` values at as_of, each in its own currency."""
    out = np.zeros(len(table))
    if len(table) == 0:
        return out
    # Map each underlying row to its swaption row.
    order = np.argsort(table.trade)
    owner = order[np.searchsorted(table.trade[order], flows.trade)]
    for c in np.unique(table.currency):
        curve = market.curve(currencies[c])
        hw = market.hull_white_params(currencies[c])
        a, sigma = hw.mean_reversion, hw.volatility
        opts = np.flatnonzero(table.currency == c)
        rows = np.flatnonzero(np.isin(owner, opts))
        local = np.searchsorted(opts, owner[rows])  # 0..len(opts)-1, opts is sorted
        expiry = table.expiry[opts]
        T = expiry[local]
        f = flows.take(rows)
        fixed = f.kind == FIXED
        b_p = bond_b(a, T, f.pay_time)
        b_s = np.where(fixed, 0.0, bond_b(a, T, f.fix_start))
        b_e = np.where(fixed, 0.0, bond_b(a, T, f.fix_end))
        beta = b_p + b_s - b_e
        gamma = b_p**2 + b_s**2 - b_e**2
        v = state_variance(a, sigma, expiry)
        ratio = np.where(fixed, 1.0, curve.discount(f.fix_start) / curve.discount(f.fix_end))
        coef = (f.amount * curve.discount(f.pay_time) * ratio / curve.discount(T)
                * np.exp(-0.5 * gamma * v[local]))
        # Pad to [options, max rows].
        counts = np.bincount(local, minlength=opts.size)
        ordered = np.argsort(local, kind="stable")
        pos = np.empty(local.size, dtype=np.int64)
        pos[ordered] = np.arange(local.size) - (np.cumsum(counts) - counts)[local[ordered]]
        K = np.zeros((opts.size, counts.max()))
        Bm = np.zeros_like(K)
        K[local, pos] = coef
        Bm[local, pos] = beta
        value = expected_positive_part(K, Bm, np.zeros(opts.size), v)
        out[opts] = table.sign[opts] * curve.discount(expiry) * value
    return out
