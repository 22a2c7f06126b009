"""Hull-White one-factor model fitted to an initial curve: the closed forms every layer shares.

Short rate r(t) = x(t) + alpha(t), dx = -a x dt + sigma dW (risk-neutral measure), x(0) = 0,
with alpha chosen so that the model reprices the initial curve P(0, .). Then

    B(t, T) = (1 - exp(-a (T - t))) / a
    V(t)    = Var[x(t)] = sigma^2 (1 - exp(-2 a t)) / (2 a)
    c(t)    = sigma^2 (1 - exp(-a t))^2 / (2 a^2)
    P(t, T) = P(0, T) / P(0, t) exp(-B(t, T) (x(t) + c(t)) - B(t, T)^2 V(t) / 2).

Under the T-forward measure, y = x(T) + c(T) ~ N(0, V(T)), so a bond maturing at U is worth at T

    P(T, U) = P(0, U) / P(0, T) exp(-B(T, U) y - B(T, U)^2 V(T) / 2).

Reference: D. Brigo, F. Mercurio, "Interest Rate Models - Theory and Practice", 2nd ed.,
Springer 2006, section 3.3. The limit a -> 0 (Ho-Lee) is taken where a is tiny.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xvaflow.core.backend import array_namespace
from xvaflow.market.curves import ZeroCurve
from xvaflow.products.tables import FIXED, FloatArray, LinearFlows, SwaptionTable

_SMALL_A = 1e-8


def bond_b(a: float, t: Any, T: Any) -> Any:
    """B(t, T) = (1 - exp(-a (T - t))) / a (T - t when a -> 0)."""
    xp = array_namespace(t, T)
    tau = xp.asarray(T, dtype=xp.float64) - xp.asarray(t, dtype=xp.float64)
    if abs(a) < _SMALL_A:
        return tau
    return -xp.expm1(-a * tau) / a


def state_variance(a: float, sigma: float, t: Any) -> Any:
    """V(t) = Var[x(t)] = sigma^2 (1 - exp(-2 a t)) / (2 a)."""
    xp = array_namespace(t)
    tt = xp.asarray(t, dtype=xp.float64)
    if abs(a) < _SMALL_A:
        return sigma * sigma * tt
    return -sigma * sigma * xp.expm1(-2.0 * a * tt) / (2.0 * a)


def forward_measure_shift(a: float, sigma: float, t: Any) -> Any:
    """c(t) = sigma^2 (1 - exp(-a t))^2 / (2 a^2): minus the T-forward mean of x(T) at T = t."""
    b = bond_b(a, 0.0, t)
    return 0.5 * sigma * sigma * b * b


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
    # each swaption's flows as one slice of the flows sorted by trade (stable: file order
    # within a trade), not a mask over all flows per swaption
    order = np.argsort(flows.trade, kind="stable")
    lo = np.searchsorted(flows.trade[order], table.trade, side="left")
    hi = np.searchsorted(flows.trade[order], table.trade, side="right")
    parts = [expiry_coefficients(flows.take(order[lo[i]:hi[i]]), float(table.expiry[i]),
                                 *params[i], curves[i])
             for i in range(len(table))]
    widths = np.array([p[0].size for p in parts], dtype=np.int64)
    m = max(1, int(widths.max())) if widths.size else 1
    coef, beta = np.zeros((len(table), m)), np.zeros((len(table), m))
    for i, (k, b) in enumerate(parts):
        coef[i, : k.size], beta[i, : b.size] = k, b
    return coef, beta, widths
