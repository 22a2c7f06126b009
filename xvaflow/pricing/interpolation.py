"""Function interpolation used to value many paths from a few exact evaluations.

In Hull-White 1F, everything a netting set holds in one currency is, at a simulation date, a
function of one scalar per path (the shifted short-rate state y). Evaluating it exactly at a few
nodes and interpolating costs (rows x nodes + paths x groups x nodes) instead of
rows x paths.

- :class:`ExpSumFit`: a Chebyshev series fitted on equispaced points of [lo, hi]; for entire
  functions such as sums of exp(-beta y) the coefficients decay faster than geometrically, so a
  degree of 16 to 32 reaches rounding error on the range spanned by the simulated paths.
- :func:`hermite_rows`: piecewise cubic Hermite on a uniform grid with exact derivatives, for
  functions with a sharp (but smooth) bend, such as an option close to expiry; error
  O(h^4 f''''), no overshoot at the bend beyond that.

Reference: L. N. Trefethen, "Approximation Theory and Approximation Practice", SIAM 2013.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from xvaflow.core.backend import array_namespace
from xvaflow.core.dates import FloatArray

# (points, degree, largest exponent range c they fit to ~1e-14 of the function's scale)
_FITS = ((32, 16, 2.0), (48, 20, 4.0), (64, 24, 6.0), (96, 32, 10.0), (160, 48, 20.0))


@dataclass(frozen=True)
class ExpSumFit:
    """Chebyshev series fitted by least squares to values at equispaced points on [lo, hi].

    Made for sums of exponentials sum_r a_r exp(-beta_r y): on equispaced points y_k = lo + k h
    each term is geometric in k, so its values cost two exponentials and a cumulative product
    instead of one exponential per point (:meth:`exp_values`). With twice as many points as the
    degree the fit is well conditioned (condition number < 8); the degree is chosen from
    c = max|beta| (hi - lo) / 2 so that the truncation error, about (c/2)^n / n! of the
    function's scale, is below 1e-14 (measured in the tests).
    """

    lo: float
    hi: float
    points: int
    degree: int

    @classmethod
    def for_exponents(cls, lo: float, hi: float, max_beta: float) -> ExpSumFit:
        c = max_beta * 0.5 * (hi - lo)
        points, degree = next(((p, d) for p, d, limit in _FITS if c <= limit), _FITS[-1][:2])
        return cls(lo, hi, points, degree)

    @property
    def step(self) -> float:
        return (self.hi - self.lo) / (self.points - 1)

    def exp_values(self, scale: FloatArray, log_scale: FloatArray, beta: FloatArray
                   ) -> FloatArray:
        """``[rows, points]`` values scale_r exp(log_scale_r - beta_r y_k) at the points."""
        first = scale * np.exp(log_scale - beta * self.lo)
        ratio = np.exp(-beta * self.step)
        steps = np.empty((beta.size, self.points))
        steps[:, 0] = first
        steps[:, 1:] = ratio[:, None]
        out: FloatArray = np.cumprod(steps, axis=1, dtype=np.float64)
        return out

    def _basis_at(self, z: Any, xp: Any) -> Any:
        out = xp.empty((z.shape[0], self.degree + 1))
        out[:, 0] = 1.0
        if self.degree > 0:
            out[:, 1] = z
        two_z = 2.0 * z
        for j in range(2, self.degree + 1):  # T_j = 2 z T_{j-1} - T_{j-2}
            out[:, j] = two_z * out[:, j - 1] - out[:, j - 2]
        return out

    def coefficients(self, values: FloatArray) -> FloatArray:
        """Coefficients ``[degree + 1, m]`` from values ``[m, points]`` (least squares)."""
        if self.hi <= self.lo:  # degenerate range: a constant
            out = np.zeros((self.degree + 1, values.shape[0]))
            out[0] = values[:, 0]
            return out
        result: FloatArray = _pseudo_inverse(self.points, self.degree) @ np.asarray(values).T
        return result

    def basis(self, x: Any) -> Any:
        """T_j(z(x)) ``[points, degree + 1]`` for points x in [lo, hi] (clipped)."""
        xp = array_namespace(x)
        half = 0.5 * (self.hi - self.lo)
        if half <= 0.0:
            return self._basis_at(xp.zeros(x.shape[0]), xp)
        z = xp.clip((x - 0.5 * (self.hi + self.lo)) / half, -1.0, 1.0)
        return self._basis_at(z, xp)


@functools.cache
def _pseudo_inverse(points: int, degree: int) -> FloatArray:
    """Least-squares map from values at equispaced points of [-1, 1] to Chebyshev coefficients."""
    z = np.linspace(-1.0, 1.0, points)
    basis = np.cos(np.outer(np.arccos(z), np.arange(degree + 1)))
    out: FloatArray = np.linalg.pinv(basis)
    return out


def hermite_rows(lo: float, hi: float, values: Any, derivs: Any, x: Any) -> Any:
    """Cubic Hermite interpolation of many functions sharing one uniform grid on [lo, hi].

    Args:
        values, derivs: ``[m, L]`` values and derivatives of m functions at L nodes.
        x: ``[points]`` where to evaluate (clipped to the grid).

    Returns:
        ``[m, points]``. The cell and the basis weights of each point are computed once and
        shared by all m functions.
    """
    xp = array_namespace(values, x)
    n_nodes = values.shape[1]
    h = (hi - lo) / (n_nodes - 1) if hi > lo else 1.0
    u = xp.clip((x - lo) / h, 0.0, n_nodes - 1.0)
    k = xp.minimum(xp.floor(u).astype(xp.int64), n_nodes - 2)
    s = u - k
    s2 = s * s
    s3 = s2 * s
    out = xp.take(values, k, axis=1) * (2 * s3 - 3 * s2 + 1)
    out += xp.take(values, k + 1, axis=1) * (-2 * s3 + 3 * s2)
    out += xp.take(derivs, k, axis=1) * ((s3 - 2 * s2 + s) * h)
    out += xp.take(derivs, k + 1, axis=1) * ((s3 - s2) * h)
    return out
