"""Correlation matrices: assembly from named pairs and repair to the nearest valid matrix.

The repair is Higham's alternating projections with Dykstra's correction (N. J. Higham,
"Computing the nearest correlation matrix - a problem from finance", IMA J. Numer. Anal. 22,
2002): alternately project onto the positive semidefinite cone (clip eigenvalues) and onto the
unit-diagonal matrices, in the Frobenius norm, until the change is below tolerance. A small
eigenvalue floor keeps the result strictly positive definite, so that Cholesky factors exist.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from xvaflow.core.dates import FloatArray

EIGEN_FLOOR = 1e-10


def assemble(names: Sequence[str], lookup: Callable[[str, str], float | None]) -> FloatArray:
    """Symmetric matrix with unit diagonal; ``lookup(a, b)`` gives rho or None (-> 0)."""
    n = len(names)
    out = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            rho = lookup(names[i], names[j])
            out[i, j] = out[j, i] = 0.0 if rho is None else rho
    return out


def is_valid(corr: FloatArray, floor: float = EIGEN_FLOOR) -> bool:
    """Unit diagonal, symmetric and smallest eigenvalue at least ``floor``."""
    return bool(np.allclose(corr, corr.T) and np.allclose(np.diag(corr), 1.0)
                and np.linalg.eigvalsh(corr).min() >= floor)


def nearest_correlation(corr: FloatArray, tol: float = 1e-12, max_iter: int = 1000
                        ) -> FloatArray:
    """Nearest (Frobenius) correlation matrix with eigenvalues >= :data:`EIGEN_FLOOR`."""
    y = 0.5 * (np.asarray(corr, dtype=np.float64) + np.asarray(corr, dtype=np.float64).T)
    correction = np.zeros_like(y)
    x = y.copy()
    for _ in range(max_iter):
        r = y - correction
        w, v = np.linalg.eigh(r)
        x = (v * np.maximum(w, EIGEN_FLOOR)) @ v.T
        correction = x - r
        y_new = x.copy()
        np.fill_diagonal(y_new, 1.0)
        if np.linalg.norm(y_new - y) <= tol * max(1.0, float(np.linalg.norm(y))):
            y = y_new
            break
        y = y_new
    # The final unit-diagonal projection can nudge an eigenvalue below the floor: rescale.
    w, v = np.linalg.eigh(y)
    y = (v * np.maximum(w, EIGEN_FLOOR)) @ v.T
    d = np.sqrt(np.diag(y))
    out: FloatArray = y / np.outer(d, d)
    return out
