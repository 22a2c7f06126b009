"""Closed-form option formulas, vectorised over arrays of any backend.

- Black (1976) on a forward F, strike K, total standard deviation s = sigma sqrt(T):
  call = F N(d1) - K N(d2), put = K N(-d2) - F N(-d1), d1,2 = ln(F/K)/s +- s/2.
  Undiscounted; multiply by the discount factor of the payment date.
- Bachelier (normal): call = (F - K) N(d) + s n(d), d = (F - K)/s, s = sigma_N sqrt(T).

References: F. Black, "The pricing of commodity contracts", J. Fin. Econ. 3 (1976);
M. Garman, S. Kohlhagen, "Foreign currency option values", J. Int. Money Fin. 2 (1983).
"""

from __future__ import annotations

from typing import Any

from xvaflow.core.backend import array_namespace, special


def black(forward: Any, strike: Any, stdev: Any, is_call: Any) -> Any:
    """Undiscounted Black price; ``stdev`` = sigma sqrt(T) >= 0, ``is_call`` boolean (array).

    At zero standard deviation the price is the intrinsic value of the forward.
    """
    xp = array_namespace(forward, strike, stdev)
    f = xp.asarray(forward, dtype=xp.float64)
    k = xp.asarray(strike, dtype=xp.float64)
    s = xp.asarray(stdev, dtype=xp.float64)
    ndtr = special(xp).ndtr
    positive = s > 0.0
    s_safe = xp.where(positive, s, 1.0)
    d1 = xp.log(f / k) / s_safe + 0.5 * s_safe
    call = f * ndtr(d1) - k * ndtr(d1 - s_safe)
    smooth = xp.where(is_call, call, call - (f - k))  # put by put-call parity
    intrinsic = xp.where(is_call, xp.maximum(f - k, 0.0), xp.maximum(k - f, 0.0))
    return xp.where(positive, smooth, intrinsic)


def bachelier(forward: Any, strike: Any, stdev: Any, is_call: Any) -> Any:
    """Undiscounted Bachelier (normal) price; ``stdev`` = sigma_N sqrt(T) >= 0."""
    xp = array_namespace(forward, strike, stdev)
    f = xp.asarray(forward, dtype=xp.float64)
    k = xp.asarray(strike, dtype=xp.float64)
    s = xp.asarray(stdev, dtype=xp.float64)
    sp = special(xp)
    w = xp.where(is_call, 1.0, -1.0)
    positive = s > 0.0
    s_safe = xp.where(positive, s, 1.0)
    d = w * (f - k) / s_safe
    smooth = w * (f - k) * sp.ndtr(d) + s_safe * xp.exp(-0.5 * d * d) / (2.0 * xp.pi) ** 0.5
    return xp.where(positive, smooth, xp.maximum(w * (f - k), 0.0))
