"""Yield and credit curves as functions of model time (ACT/365F from as_of).

:class:`ZeroCurve`: continuously compounded zero rates z(t) on pillar times, linear interpolation
in z, flat extrapolation on both sides; P(t) = exp(-z(t) t).

:class:`HazardCurve`: piecewise-constant hazard rate h on (t_{i-1}, t_i], flat beyond the last
pillar; survival S(t) = exp(-int_0^t h(u) du) (QuantLib ``PiecewiseFlatHazardRate`` /
``HazardRateCurve`` with backward-flat interpolation).

Both accept scalars or arrays of any backend (numpy or cupy) and return the same shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xvaflow.core.backend import array_namespace
from xvaflow.core.dates import FloatArray


def _as_pillars(times: Any, values: Any, what: str) -> tuple[FloatArray, FloatArray]:
    t = np.asarray(times, dtype=np.float64).reshape(-1)
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if t.size == 0 or t.shape != v.shape:
        raise ValueError(f"{what}: need as many values as pillar times (at least one)")
    if np.any(t <= 0.0) or np.any(np.diff(t) <= 0.0):
        raise ValueError(f"{what}: pillar times must be positive and strictly increasing")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{what}: values must be finite")
    return t, v


class ZeroCurve:
    """Zero curve, linear in continuously compounded zero rates, flat extrapolation.

    Args:
        times: pillar times in years (ACT/365F from as_of), strictly increasing, > 0.
        zero_rates: continuously compounded zero rates at the pillars.
        name: label, e.g. the currency.

    Example:
        >>> c = ZeroCurve([1.0, 5.0], [0.04, 0.03])
        >>> round(float(c.zero_rate(3.0)), 6), round(float(c.discount(1.0)), 6)
        (0.035, 0.960789)
    """

    def __init__(self, times: Any, zero_rates: Any, name: str = "") -> None:
        self.times, self.rates = _as_pillars(times, zero_rates, f"curve {name}")
        self.name = name

    def zero_rate(self, t: Any) -> Any:
        """z(t), continuously compounded, ACT/365F."""
        xp = array_namespace(t)
        return xp.interp(xp.asarray(t, dtype=xp.float64), xp.asarray(self.times),
                         xp.asarray(self.rates))

    def discount(self, t: Any) -> Any:
        """P(0, t) = exp(-z(t) t)."""
        xp = array_namespace(t)
        tt = xp.asarray(t, dtype=xp.float64)
        return xp.exp(-self.zero_rate(tt) * tt)

    def forward_rate(self, t1: Any, t2: Any) -> Any:
        """Simple forward rate on ACT/365F time: (P(t1)/P(t2) - 1) / (t2 - t1)."""
        return (self.discount(t1) / self.discount(t2) - 1.0) / (t2 - t1)

    def shifted(self, shift: float | Any) -> ZeroCurve:
        """The curve with every pillar zero rate moved by ``shift`` (scalar or per pillar)."""
        return ZeroCurve(self.times, self.rates + np.asarray(shift, dtype=np.float64), self.name)

    def __repr__(self) -> str:
        return f"ZeroCurve({self.name!r}, {self.times.size} pillars, {self.times[-1]:.2f}y)"


class HazardCurve:
    """Piecewise-constant hazard rate curve.

    Args:
        times: pillar times, strictly increasing, > 0; ``hazards[i]`` applies on
            (times[i-1], times[i]] (from 0 for i = 0) and beyond the last pillar.
        hazards: hazard rates (continuous), non-negative.
        name: label, e.g. the counterparty id.
    """

    def __init__(self, times: Any, hazards: Any, name: str = "") -> None:
        self.times, self.hazards = _as_pillars(times, hazards, f"hazard curve {name}")
        if np.any(self.hazards < 0.0):
            raise ValueError(f"hazard curve {name}: hazard rates must be non-negative")
        self.name = name
        widths = np.diff(np.r_[0.0, self.times])
        self._cum = np.r_[0.0, np.cumsum(self.hazards * widths)]  # H at 0, t_0, t_1, ...

    @classmethod
    def flat(cls, hazard: float, name: str = "") -> HazardCurve:
        """Constant hazard rate."""
        return cls([1.0], [hazard], name)

    def cumulative_hazard(self, t: Any) -> Any:
        """H(t) = int_0^t h(u) du."""
        xp = array_namespace(t)
        tt = xp.asarray(t, dtype=xp.float64)
        times = xp.asarray(self.times)
        k = xp.minimum(xp.searchsorted(times, tt, side="left"), times.size - 1)
        start = xp.concatenate([xp.zeros(1), times])[k]
        return xp.asarray(self._cum)[k] + xp.asarray(self.hazards)[k] * (tt - start)

    def survival(self, t: Any) -> Any:
        """S(t) = exp(-H(t))."""
        xp = array_namespace(t)
        return xp.exp(-self.cumulative_hazard(t))

    def hazard_rate(self, t: Any) -> Any:
        """h(t) (right-continuous at pillars is not needed: value on (t_{i-1}, t_i])."""
        xp = array_namespace(t)
        tt = xp.asarray(t, dtype=xp.float64)
        times = xp.asarray(self.times)
        k = xp.minimum(xp.searchsorted(times, tt, side="left"), times.size - 1)
        return xp.asarray(self.hazards)[k]

    def shifted(self, shift: float) -> HazardCurve:
        """Every hazard rate moved by ``shift`` (floored at zero)."""
        return HazardCurve(self.times, np.maximum(self.hazards + shift, 0.0), self.name)

    def __repr__(self) -> str:
        return f"HazardCurve({self.name!r}, {self.times.size} pillars)"
