"""European swaptions in Hull-White 1F (generalised Jamshidian), at time 0.

The underlying's rows (see :mod:`xvaflow.products.tables`) are worth at expiry T, in terms of
the T-forward Gaussian y ~ N(0, V(T)) of :mod:`xvaflow.models.hull_white`,

    fixed row      a P(T, p)                 = K exp(-B(T,p) y),
    projected row  a P(T, p) P(T, s)/P(T, e) = K exp(-(B(T,p) + B(T,s) - B(T,e)) y),

with K = a [P(0,p) P(0,s) / (P(0,e) P(0,T))] exp(-(B_p^2 + B_s^2 - B_e^2) V(T) / 2) (for a
fixed row drop the s, e factors). Terms with the same exponent are merged: on a single curve an
overnight leg telescopes, so an underlying reduces to about one term per fixed-leg date. The
swaption is worth sign * P(0,T) E^T[max(sum K e^{-beta y}, 0)], evaluated exactly by
:mod:`xvaflow.pricing.gaussian`. A cash-settled swaption (collateralised cash price) has the same
value.
"""

from __future__ import annotations

import numpy as np

from xvaflow.market.curves import ZeroCurve
from xvaflow.market.market import Market
from xvaflow.models.hull_white import bond_b, state_variance
from xvaflow.pricing.gaussian import expected_positive_part
from xvaflow.products.tables import FIXED, FloatArray, LinearFlows, SwaptionTable


def expiry_coefficients(flows: LinearFlows, expiry: float, a: float, sigma: float,
                        curve: ZeroCurve) -> tuple[FloatArray, FloatArray]:
    """(K ``[m]``, beta ``[m]``) of the underlying at expiry, equal exponents merged."""
    fixed = flows.kind == FIXED
    b_p = bond_b(a, expiry, flows.pay_time)
    b_s = np.where(fixed, 0.0, bond_b(a, expiry, flows.fix_start))
    b_e = np.where(fixed, 0.0, bond_b(a, expiry, flows.fix_end))
    v = float(state_variance(a, sigma, expiry))
    ratio = np.where(fixed, 1.0, curve.discount(flows.fix_start) / curve.discount(flows.fix_end))
    coef = (flows.amount * curve.discount(flows.pay_time) * ratio / curve.discount(expiry)
            * np.exp(-0.5 * (b_p**2 + b_s**2 - b_e**2) * v))
    beta = b_p + b_s - b_e
    # Merge equal exponents (to 1e-12); drop terms that cancel to rounding.
    key = np.round(beta, 12)
    uniq, inverse = np.unique(key, return_inverse=True)
    merged = np.bincount(inverse.ravel(), weights=coef, minlength=uniq.size)
    keep = np.abs(merged) > 1e-15 * max(float(np.abs(coef).sum()), 1e-300)
    return np.asarray(merged[keep], dtype=np.float64), np.asarray(uniq[keep], dtype=np.float64)


def padded_coefficients(table: SwaptionTable, flows: LinearFlows, currencies: tuple[str, ...],
                        params: list[tuple[float, float]], curves: list[ZeroCurve]
                        ) -> tuple[FloatArray, FloatArray, np.ndarray]:
    """(K ``[n, m]``, beta ``[n, m]``, widths ``[n]``) of every swaption, zero-padded.

    ``params[i]`` and ``curves[i]`` are the (a, sigma) and curve of swaption i.
    """
    parts = [expiry_coefficients(flows.take(flows.trade == table.trade[i]),
                                 float(table.expiry[i]), *params[i], curves[i])
             for i in range(len(table))]
    widths = np.array([p[0].size for p in parts], dtype=np.int64)
    m = max(1, int(widths.max())) if widths.size else 1
    coef, beta = np.zeros((len(table), m)), np.zeros((len(table), m))
    for i, (k, b) in enumerate(parts):
        coef[i, : k.size], beta[i, : b.size] = k, b
    return coef, beta, widths


def swaption_values_t0(table: SwaptionTable, flows: LinearFlows, currencies: tuple[str, ...],
                       market: Market) -> FloatArray:
    """``[swaptions]`` values at as_of, each in its own currency."""
    if len(table) == 0:
        return np.zeros(0)
    ccys = [currencies[c] for c in table.currency]
    params = [(market.hull_white_params(c).mean_reversion, market.hull_white_params(c).volatility)
              for c in ccys]
    curves = [market.curve(c) for c in ccys]
    coef, beta, _ = padded_coefficients(table, flows, currencies, params, curves)
    var = np.array([float(state_variance(a, s, t)) for (a, s), t in zip(params, table.expiry,
                                                                       strict=True)])
    value = expected_positive_part(coef, beta, np.zeros(len(table)), var)
    discount = np.array([float(c.discount(t)) for c, t in zip(curves, table.expiry, strict=True)])
    out: FloatArray = table.sign * discount * value
    return out
