"""Scenario generation: the model state on every path at every grid date, keyed by calendar day.

The state on a path at day d (ACT/365F time t = d / 365, d a whole number of days after as_of)
is a deterministic function of (seed, path index, d) alone, never of the other grid dates, so
that adding a trade, a CSA, an expiry or a margin period to one netting set leaves every other
netting set's paths bit-identical (common random numbers across what-if runs):

Skeleton
    Nodes every :data:`SKELETON_DAYS` days (0, 16, 32, ...) are simulated sequentially with the
    model's exact transition Y(t_j) = M Y(t_{j-1}) + m + L eps_j
    (:meth:`~xvaflow.models.crossasset.CrossAssetModel.transition`), eps_j the normals of the
    node's *day* (:mod:`xvaflow.simulation.rng`), up to the first node on or after the last grid
    date.
Dyadic Gaussian bridge
    A day d strictly between skeleton nodes lo < d < hi is reached by halving [lo, hi]: the
    midpoint day s is drawn from its exact law given both ends (the Levy construction; the
    process is Gaussian and Markov, so conditioning on the two neighbours is conditioning on
    everything drawn so far),

        Y(s) | Y(a), Y(b) ~ N(M1 Y(a) + m1 + W (Y(b) - M2 M1 Y(a) - M2 m1 - m2), Q1 - W M2 Q1),
        W = Q1 M2^T (M2 Q1 M2^T + Q2)^+,

    (M1, m1, Q1) = transition(a, s), (M2, m2, Q2) = transition(s, b)
    (:meth:`~xvaflow.models.crossasset.CrossAssetModel.bridge`), with the normals of day s;
    then the half holding d is halved again until d is a node (at most log2(16) = 4 draws; the
    nodes of the current skeleton interval are cached, so dates sharing ancestors draw them
    once). Every node has fixed dyadic parents, so its value is the same whichever dates
    asked for it.

All coefficients are computed on the host with numpy and applied on the backend's arrays; the
normals are generated on the host for every backend, so cupy and numpy runs simulate the same
paths. Antithetic pairs stay exact: every node is affine in the normals. Since the skeleton and
the bridge are exact, the joint law of the states at any set of days is the model's.

Fixings: the history of each currency's short-rate state x_c and its integral I_c is kept at
the skeleton nodes (``[paths, C]`` per node, from the earliest fixing still to come, see
:meth:`Scenario.forget`); (x_c, I_c) at a fixing date s is its conditional expectation given
the two bracketing skeleton nodes t_a <= s <= t_b (at most 16 days apart), the Gaussian bridge
of the pair's own linear dynamics:

    E[Y(s) | Y(t_a), Y(t_b)] = M(h1) Y_a + m(h1) + W (Y_b - M(h) Y_a - m(h)),
    W = Q(h1) M(h2)^T Q(h)^{-1},   h1 = s - t_a, h2 = t_b - s, h = t_b - t_a,

with M, m, Q the pair's transition matrix, mean and covariance
(:meth:`~xvaflow.models.crossasset.CrossAssetModel.pair_moments`): exact at skeleton nodes,
in between it replaces the unobserved path by its mean, and it does not depend on the grid.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from xvaflow.core.backend import get_namespace
from xvaflow.core.dates import FloatArray
from xvaflow.models.crossasset import CrossAssetModel, pseudo_inverse
from xvaflow.simulation.rng import path_normals

SKELETON_DAYS = 16
"""Spacing of the sequentially simulated skeleton (a power of two, so that dyadic halving
reaches every whole day). 16 rather than 32: the fixings interpolate between skeleton nodes,
and 16 days keeps them closer than the monthly grid did; the cost is measured in
benchmarks/RESULTS.md."""

DAYS_PER_YEAR = 365.0


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


def whole_days(times: FloatArray) -> np.ndarray:
    """Days after as_of ``[S]`` of ACT/365F ``times``, which must be whole days.

    Raises:
        ValueError: a time is not d / 365 for a whole d >= 1, or the times do not increase.
    """
    t = np.asarray(times, dtype=np.float64)
    days = np.rint(t * DAYS_PER_YEAR)
    bad = np.flatnonzero((np.abs(t * DAYS_PER_YEAR - days) > 1e-6) | (days < 1))
    if bad.size:
        raise ValueError(f"scenario times must be whole days after as_of (days / 365): "
                         f"{t[bad[0]]!r} is not")
    if np.any(np.diff(days) <= 0):
        raise ValueError("scenario times must increase")
    return days.astype(np.int64)


class Scenario:
    """Paths of the cross-asset model on a grid of whole days.

    Args:
        model: the model.
        times: ``[S]`` increasing grid times (> 0), whole days / 365.
        n_paths: number of paths.
        seed: random seed (see :mod:`xvaflow.simulation.rng`).
        first_path: index of the first path (path chunks of one run share the seed).
        antithetic: pair paths with opposite draws.
        backend: ``"numpy"`` or ``"cupy"``.

    Attributes:
        node_times: ``[K + 1]`` times of the skeleton nodes (0, 16/365, ...), up to the first
            node on or after the last grid date.
    """

    def __init__(self, model: CrossAssetModel, times: FloatArray, n_paths: int, seed: int,
                 first_path: int = 0, antithetic: bool = False, backend: str = "numpy") -> None:
        self.model = model
        self.times = np.asarray(times, dtype=np.float64)
        self.days = whole_days(self.times)
        self.n_paths = n_paths
        self.seed = seed
        self.first_path = first_path
        self.antithetic = antithetic
        self.xp = get_namespace(backend)
        n_nodes = int(-(-int(self.days.max(initial=1)) // SKELETON_DAYS))
        self.node_times: FloatArray = np.arange(n_nodes + 1, dtype=np.float64) * (
            SKELETON_DAYS / DAYS_PER_YEAR)
        zero = self.xp.zeros((n_paths, model.n_ccy))
        # skeleton node -> (x_c, I_c) ``[paths, C]``; nodes no fixing can need are forgotten
        self._hist: dict[int, tuple[Any, Any]] = {0: (zero, zero)}
        self.filled = 0  # the last skeleton node simulated

    def _normals(self, day: int) -> Any:
        return self.xp.asarray(path_normals(self.seed, self.first_path, self.n_paths, day,
                                            self.model.dim, self.antithetic))

    def _skeleton_step(self, state: Any, day: int) -> Any:
        """The skeleton node at ``day`` from the one SKELETON_DAYS before (exact transition)."""
        xp = self.xp
        tr = self.model.transition((day - SKELETON_DAYS) / DAYS_PER_YEAR, day / DAYS_PER_YEAR)
        return (state @ xp.asarray(tr.matrix.T) + xp.asarray(tr.mean)
                + self._normals(day) @ xp.asarray(tr.loading.T))

    def _bridge_node(self, lo: int, day: int, hi: int, y_lo: Any, y_hi: Any) -> Any:
        """The node at ``day`` drawn given the nodes at ``lo`` and ``hi`` (its dyadic parents)."""
        xp = self.xp
        br = self.model.bridge(lo / DAYS_PER_YEAR, day / DAYS_PER_YEAR, hi / DAYS_PER_YEAR)
        return (y_lo @ xp.asarray(br.from_a.T) + y_hi @ xp.asarray(br.from_b.T)
                + xp.asarray(br.mean) + self._normals(day) @ xp.asarray(br.loading.T))

    def steps(self) -> Iterator[Step]:
        """Advance through the grid, yielding the state at each date."""
        xp, c = self.xp, self.model.n_ccy
        lo = hi = 0
        nodes: dict[int, Any] = {0: xp.zeros((self.n_paths, self.model.dim))}
        for i, (t, day) in enumerate(zip(self.times, self.days.tolist(), strict=True), start=1):
            while day > hi:  # next skeleton interval: only its two ends stay cached
                y_hi = self._skeleton_step(nodes[hi], hi + SKELETON_DAYS)
                lo, hi = hi, hi + SKELETON_DAYS
                nodes = {lo: nodes[lo], hi: y_hi}
                self.filled += 1
                self._hist[self.filled] = (y_hi[:, :c], y_hi[:, c: 2 * c])
            a, b = lo, hi
            while day not in nodes:  # halve [a, b] towards day (a < day < b)
                mid = (a + b) // 2
                if mid not in nodes:
                    nodes[mid] = self._bridge_node(a, mid, b, nodes[a], nodes[b])
                a, b = (a, mid) if day <= mid else (mid, b)
            yield Step(i, float(t), nodes[day])

    def forget(self, before: float) -> None:
        """Drop the history no :meth:`pair_at` of a time >= ``before`` can need (the skeleton
        nodes whose successor is on or before it): the history then spans the fixings still
        to come, not the whole horizon."""
        last = int(np.searchsorted(self.node_times, before - 1e-12, side="left")) - 2
        for j in [j for j in self._hist if j <= last and j < self.filled]:
            del self._hist[j]

    def pair_at(self, c: int, s: FloatArray) -> tuple[Any, Any]:
        """(x_c(s), I_c(s)) ``[n, paths]`` for times ``s`` ``[n]`` with 0 <= s <= the last
        skeleton node simulated so far (any date up to the current step).

        Exact at skeleton nodes, Gaussian-bridge mean between them (see module docstring).

        Raises:
            ValueError: a time is beyond the simulated skeleton, or before the history kept.
        """
        xp = self.xp
        nodes = self.node_times[: self.filled + 1]
        s = np.asarray(s, dtype=np.float64)
        if s.size == 0:
            empty = xp.zeros((0, self.n_paths))
            return empty, empty
        if float(s.max()) > nodes[-1] + 1e-12:
            raise ValueError(f"pair_at({float(s.max())!r}) is beyond the simulated skeleton "
                             f"({nodes[-1]!r})")
        b = np.clip(np.searchsorted(nodes, s - 1e-12, side="left"), 1, max(nodes.size - 1, 1))
        a = b - 1
        if nodes.size == 1:  # nothing simulated yet: s = 0
            a = b = np.zeros(s.size, dtype=np.int64)
        missing = sorted({int(j) for j in a} - set(self._hist))
        if missing:
            raise ValueError(f"pair_at({float(s.min())!r}): the history before "
                             f"{nodes[missing[-1] + 1]!r} was forgotten")
        wa, wb, w0 = bridge_weights(self.model, c, nodes[a], s, nodes[b])

        def hist(js: np.ndarray, which: int) -> Any:
            return xp.stack([self._hist[j][which][:, c] for j in js.tolist()])  # [n, paths]

        xa, ia, xb, ib = hist(a, 0), hist(a, 1), hist(b, 0), hist(b, 1)

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
    at_b = h2 <= 1e-12
    at_a = h1 <= 1e-12
    # W = Q(h1) M(h2)^T Q(h)^+, guarded where s sits on a node; the pseudo-inverse keeps a
    # deterministic rate (zero vol: Q = 0) well defined (W = 0, the mean path).
    qh_safe = np.where((at_a | at_b)[:, None, None], np.eye(2)[None], qh)
    inv = pseudo_inverse(qh_safe) if qh_safe.size else qh_safe
    w = q1 @ np.transpose(m2, (0, 2, 1)) @ inv
    w = np.where(at_b[:, None, None], np.eye(2)[None], np.where(at_a[:, None, None], 0.0, w))
    wa = m1 - w @ mh
    w0 = mean1 - np.einsum("nij,nj->ni", w, meanh)
    return wa, w, w0
