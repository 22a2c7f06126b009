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

from xvaflow.core.backend import array_namespace

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
