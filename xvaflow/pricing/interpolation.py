"""Function interpolation used to value many paths from a few exact evaluations.

In Hull-White 1F, everything a netting set holds in one currency is, at a simulation date, a
function of one scalar per path (the shifted short-rate state y). Evaluating it exactly at a few
nodes and interpolating costs (rows x nodes + paths x groups x nodes) instead of
rows x paths.

- :class:`ExpSumFit`: a Chebyshev series fitted on equispaced points of [lo, hi]; for entire
  functions such as sums of exp(-beta y) the coefficients decay faster than geometrically, so a
  degree of 16 to 20 per piece reaches rounding error on the range spanned by the paths.
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

# (points, degree, largest exponent range c of one piece). The error of the fit of a sum of
# exponentials, relative to the sum of the terms' magnitudes at the same y, within 5 of the 7
# standard deviations the range spans, is below 1e-12 for any c (measured up to c = 100 in
# tests/unit/pricing/test_interpolation.py). A single polynomial over a wider range holds a
# dynamic range exp(2c) it cannot resolve locally (degree 32 at c = 10: 5e-12; degree 48 at
# c = 20: 9e-8, at c = 25: 2e-5), so wider ranges are cut into pieces of c <= 3.
_FITS = ((32, 16, 2.0), (48, 20, 3.0))
MAX_PIECE_RANGE = _FITS[-1][2]


@dataclass(frozen=True)
class ExpSumFit:
    """Piecewise Chebyshev series fitted by least squares to values at equispaced points.

    Made for sums of exponentials sum_r a_r exp(-beta_r y) on [lo, hi]: on equispaced points
    y_k = lo + k h each term is geometric in k, so its values cost two exponentials and a
    cumulative product instead of one exponential per point (:meth:`exp_values`). With twice as
    many points as the degree the fit is well conditioned (condition number < 8); the degree is
    chosen from c = max|beta| (hi - lo) / 2 so that the truncation error, about (c/2)^n / n! of
    the function's scale, is at rounding level. Beyond c = 3 the range is cut into ``pieces``
    equal sub-ranges, each with its own series of c <= 3: the dynamic range of exp(-beta y)
    over one piece, not the degree, limits what one polynomial can hold.
    """

    lo: float
    hi: float
    points: int
    degree: int
    pieces: int = 1

    @classmethod
    def for_exponents(cls, lo: float, hi: float, max_beta: float) -> ExpSumFit:
        fits, _ = cls.for_each(lo, hi, np.array([max_beta]))
        return fits[0]

    @classmethod
    def for_each(cls, lo: float, hi: float, max_beta: FloatArray
                 ) -> tuple[list[ExpSumFit], np.ndarray]:
        """The distinct fits for functions with largest exponents ``max_beta`` ``[m]`` on
        [lo, hi], and the index of each function's fit ``[m]``."""
        c = np.asarray(max_beta, dtype=np.float64) * 0.5 * (hi - lo)
        pieces = np.maximum(1, np.ceil(c / MAX_PIECE_RANGE - 1e-12)).astype(np.int64)
        limits = np.array([limit for _, _, limit in _FITS])
        which = np.minimum(np.searchsorted(limits + 1e-12, c / pieces, side="left"),
                           limits.size - 1)
        keys, index = np.unique(np.stack([pieces, which], axis=1), axis=0, return_inverse=True)
        fits = [cls(lo, hi, _FITS[w][0], _FITS[w][1], int(n)) for n, w in keys.tolist()]
        return fits, index.ravel()

    @property
    def width(self) -> float:
        """Width of one piece."""
        return (self.hi - self.lo) / self.pieces

    @property
    def step(self) -> float:
        return self.width / (self.points - 1)

    @property
    def size(self) -> int:
        """Number of basis functions (columns of :meth:`basis`)."""
        return self.pieces * (self.degree + 1)

    def exp_values(self, scale: FloatArray, log_scale: FloatArray, beta: FloatArray
                   ) -> FloatArray:
        """``[rows, pieces * points]`` values scale_r exp(log_scale_r - beta_r y_k) at the
        points of every piece (piece-major)."""
        starts = self.lo + self.width * np.arange(self.pieces)
        steps = np.empty((beta.size, self.pieces, self.points))
        steps[:, :, 0] = scale[:, None] * np.exp(log_scale[:, None]
                                                 - beta[:, None] * starts[None, :])
        steps[:, :, 1:] = np.exp(-beta * self.step)[:, None, None]
        out: FloatArray = np.cumprod(steps, axis=2, dtype=np.float64).reshape(beta.size, -1)
        return out

    def _chebyshev(self, z: Any, xp: Any) -> Any:
        out = xp.empty((z.shape[0], self.degree + 1))
        out[:, 0] = 1.0
        if self.degree > 0:
            out[:, 1] = z
        two_z = 2.0 * z
        for j in range(2, self.degree + 1):  # T_j = 2 z T_{j-1} - T_{j-2}
            out[:, j] = two_z * out[:, j - 1] - out[:, j - 2]
        return out

    def coefficients(self, values: FloatArray) -> FloatArray:
        """Coefficients ``[pieces * (degree + 1), m]`` from values ``[m, pieces * points]``
        (least squares per piece)."""
        m = values.shape[0]
        if self.hi <= self.lo:  # degenerate range: a constant
            out = np.zeros((self.size, m))
            out[0] = values[:, 0]
            return out
        per_piece = np.asarray(values).reshape(m, self.pieces, self.points)
        result = np.einsum("dp,mkp->kdm", _pseudo_inverse(self.points, self.degree), per_piece)
        return np.ascontiguousarray(result.reshape(self.size, m))

    def basis(self, x: Any) -> Any:
        """``[n, pieces * (degree + 1)]``: T_j(z(x)) in the columns of the piece holding x
        (x clipped to [lo, hi]), zero in the other pieces' columns."""
        xp = array_namespace(x)
        half = 0.5 * self.width
        if half <= 0.0:
            out = xp.zeros((x.shape[0], self.size))
            out[:, 0] = 1.0
            return out
        if self.pieces == 1:
            return self._chebyshev(xp.clip((x - 0.5 * (self.hi + self.lo)) / half, -1.0, 1.0),
                                   xp)
        piece = xp.clip(xp.floor((x - self.lo) / self.width), 0, self.pieces - 1)
        out = xp.zeros((x.shape[0], self.size))
        for p in range(self.pieces):
            inside = piece == p
            centre = self.lo + (p + 0.5) * self.width
            block = self._chebyshev(xp.clip((x - centre) / half, -1.0, 1.0), xp)
            block *= inside[:, None]
            out[:, p * (self.degree + 1): (p + 1) * (self.degree + 1)] = block
        return out


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
