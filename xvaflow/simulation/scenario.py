"""Scenario generation: the model state on every path at every grid date, streamed step by step.

:class:`Scenario` advances the cross-asset state with the exact Gaussian transitions of
:class:`~xvaflow.models.crossasset.CrossAssetModel`, one grid step at a time, and keeps the
history of each currency's short-rate state x_c and its integral I_c (``[steps + 1, paths, C]``:
small next to netting-set values), which floating coupons fixed between grid dates read back.

Between two grid dates t_a < s < t_b, the pair (x_c, I_c) at s is taken as its conditional
expectation given both ends (the Gaussian bridge of the pair's own linear dynamics):

    E[Y(s) | Y(t_a), Y(t_b)] = M(h1) Y_a + m(h1) + W (Y_b - M(h) Y_a - m(h)),
    W = Q(h1) M(h2)^T Q(h)^{-1},   h1 = s - t_a, h2 = t_b - s, h = t_b - t_a,

with M, m, Q the pair's transition matrix, mean and covariance
(:meth:`~xvaflow.models.crossasset.CrossAssetModel.pair_moments`). Exact at
grid dates; between them it replaces the unobserved path by its mean, an approximation whose
effect on exposure vanishes with the grid spacing (a fixing that matters exactly, such as an
option expiry, is put on the grid).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from xvaflow.core.backend import get_namespace
from xvaflow.core.dates import FloatArray
from xvaflow.models.crossasset import CrossAssetModel
from xvaflow.simulation.rng import path_normals


@dataclass(frozen=True)
class Step:
    """The state at one grid date.

    Attributes:
        index: step number, 1..S (0 is as_of).
        t: time of the step.
        state: ``[paths, D]`` model state (backend array).
    """

    index: int
    t: float
    state: Any


class Scenario:
    """Paths of the cross-asset model on a grid.

    Args:
        model: the model.
        times: ``[S]`` increasing grid times (> 0).
        n_paths: number of paths.
        seed: random seed (see :mod:`xvaflow.simulation.rng`).
        first_path: index of the first path (path chunks of one run share the seed).
        antithetic: pair paths with opposite draws.
        backend: ``"numpy"`` or ``"cupy"``.
    """

    def __init__(self, model: CrossAssetModel, times: FloatArray, n_paths: int, seed: int,
                 first_path: int = 0, antithetic: bool = False, backend: str = "numpy") -> None:
        self.model = model
        self.times = np.asarray(times, dtype=np.float64)
        self.n_paths = n_paths
        self.seed = seed
        self.first_path = first_path
        self.antithetic = antithetic
        self.xp = get_namespace(backend)
        c = model.n_ccy
        self.x_hist = self.xp.zeros((self.times.size + 1, n_paths, c))
        self.i_hist = self.xp.zeros((self.times.size + 1, n_paths, c))

    def steps(self) -> Iterator[Step]:
        """Advance through the grid, yielding the state at each date."""
        xp, m = self.xp, self.model
        state = xp.zeros((self.n_paths, m.dim))
        prev = 0.0
        c = m.n_ccy
        for i, t in enumerate(self.times, start=1):
            tr = m.transition(prev, float(t))
            eps = xp.asarray(path_normals(self.seed, self.first_path, self.n_paths, i, m.dim,
                                          self.antithetic))
            state = (state @ xp.asarray(tr.matrix.T) + xp.asarray(tr.mean)
                     + eps @ xp.asarray(tr.loading.T))
            self.x_hist[i] = state[:, :c]
            self.i_hist[i] = state[:, c: 2 * c]
            prev = float(t)
            yield Step(i, float(t), state)

    def pair_at(self, c: int, s: FloatArray, upto: int) -> tuple[Any, Any]:
        """(x_c(s), I_c(s)) ``[n, paths]`` for times ``s`` ``[n]`` with 0 <= s <= times[upto-1].

        Exact at grid dates, Gaussian-bridge mean in between (see module docstring).
        """
        xp = self.xp
        grid = np.r_[0.0, self.times[:upto]]
        s = np.asarray(s, dtype=np.float64)
        b = np.clip(np.searchsorted(grid, s, side="left"), 1, grid.size - 1)
        a = b - 1
        t_a, t_b = grid[a], grid[b]
        wa, wb, w0 = bridge_weights(self.model, c, t_a, s, t_b)
        xa, ia = self.x_hist[a, :, c], self.i_hist[a, :, c]  # [n, paths]
        xb, ib = self.x_hist[b, :, c], self.i_hist[b, :, c]

        def w(m: FloatArray) -> Any:
            return xp.asarray(m)[:, None]

        x = (w(wa[:, 0, 0]) * xa + w(wa[:, 0, 1]) * ia + w(wb[:, 0, 0]) * xb
             + w(wb[:, 0, 1]) * ib + w(w0[:, 0]))
        integral = (w(wa[:, 1, 0]) * xa + w(wa[:, 1, 1]) * ia + w(wb[:, 1, 0]) * xb
                    + w(wb[:, 1, 1]) * ib + w(w0[:, 1]))
        return x, integral


def bridge_weights(model: CrossAssetModel, c: int, t_a: FloatArray, s: FloatArray,
                   t_b: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(W_a ``[n,2,2]``, W_b ``[n,2,2]``, w_0 ``[n,2]``) of E[Y(s)|Y_a, Y_b] = W_a Y_a + W_b Y_b
    + w_0 for the (x_c, I_c) pair."""
    h1, h2 = s - t_a, t_b - s
    m1, mean1, q1 = model.pair_moments(c, t_a, s)
    m2, _, _ = model.pair_moments(c, s, t_b)
    mh, meanh, qh = model.pair_moments(c, t_a, t_b)
    at_b = h2 <= 0.0
    at_a = h1 <= 0.0
    # W = Q(h1) M(h2)^T Q(h)^{-1}, guarded where s sits on a grid date.
    qh_safe = np.where((at_a | at_b)[:, None, None], np.eye(2)[None], qh)
    w = q1 @ np.transpose(m2, (0, 2, 1)) @ np.linalg.inv(qh_safe)
    w = np.where(at_b[:, None, None], np.eye(2)[None], np.where(at_a[:, None, None], 0.0, w))
    wa = m1 - w @ mh
    w0 = mean1 - np.einsum("nij,nj->ni", w, meanh)
    return wa, w, w0

