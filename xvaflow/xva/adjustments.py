"""CVA, DVA, FCA and FBA from deflated exposures, with Monte Carlo standard errors.

With exposure dates 0 = t_0 < t_1 < ... < t_n, counterparty survival S_C, own survival S_B,
LGD = 1 - recovery, deflated exposures EPE(t_i) = E[max(V - C, 0)/N], ENE(t_i) = E[max(C - V,
0)/N] and funding spreads s_b (borrow) and s_l (lend):

    CVA = LGD_C sum_i EPE(t_i) (S_C(t_{i-1}) - S_C(t_i)) [S_B(t_{i-1}) when bilateral]
    DVA = LGD_B sum_i ENE(t_i) (S_B(t_{i-1}) - S_B(t_i)) [S_C(t_{i-1}) when bilateral]
    FCA = s_b sum_i EPE(t_i) S_C(t_{i-1}) S_B(t_{i-1}) (t_i - t_{i-1})
    FBA = s_l sum_i ENE(t_i) S_C(t_{i-1}) S_B(t_{i-1}) (t_i - t_{i-1})

(credit independent of exposure; ORE's post-processor uses the same right-point rule). Each is
a path functional X = sum_i w_i E_i(path); its standard error comes from batch means: the paths
are cut into B equal contiguous batches (antithetic pairs stay together), and
se = std(batch means) / sqrt(B). Batch sums add across partitions, which gives the standard
errors of portfolio totals without keeping per-path values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from xvaflow.core.backend import array_namespace, to_numpy
from xvaflow.core.dates import FloatArray
from xvaflow.exposure.profile import DateExposure
from xvaflow.market.market import CreditSpec, Funding

METRICS = ("cva", "dva", "fca", "fba")
TARGET_BATCHES = 100


@dataclass(frozen=True)
class XvaWeights:
    """``[dates, netting sets]`` weights multiplying deflated EPE (cva, fca) or ENE (dva, fba)."""

    cva: FloatArray
    dva: FloatArray | None
    fca: FloatArray | None
    fba: FloatArray | None


def xva_weights(times: FloatArray, counterparties: Sequence[CreditSpec], own: CreditSpec | None,
                funding: Funding | None, bilateral: bool) -> XvaWeights:
    """Weights of the formulas above for exposure ``times`` ``[n]`` and netting sets' credits."""
    t = np.r_[0.0, times]
    dt = np.diff(t)
    s_c = np.stack([c.curve.survival(t) for c in counterparties], axis=1)  # [n+1, ns]
    lgd_c = np.array([1.0 - c.recovery for c in counterparties])
    s_b = own.curve.survival(t)[:, None] if own is not None else np.ones((t.size, 1))
    own_on = bilateral and own is not None
    cva = lgd_c[None, :] * (s_c[:-1] - s_c[1:]) * (s_b[:-1] if own_on else 1.0)
    dva = None
    if own is not None:
        dva = ((1.0 - own.recovery) * (s_b[:-1] - s_b[1:])
               * (s_c[:-1] if bilateral else np.ones_like(s_c[:-1])))
    fca = fba = None
    if funding is not None:
        joint = s_c[:-1] * s_b[:-1] * dt[:, None]
        fca, fba = funding.borrow_spread * joint, funding.lend_spread * joint
    return XvaWeights(cva, dva, fca, fba)


def batch_layout(n_paths: int, antithetic: bool) -> tuple[int, int]:
    """(batches B, batch size m): about :data:`TARGET_BATCHES` batches of an even size when
    antithetic; paths beyond B m count in the means but not in the variance estimate."""
    unit = 2 if antithetic else 1
    units = n_paths // unit
    batches = max(1, min(TARGET_BATCHES, units))
    return batches, (units // batches) * unit


@dataclass
class XvaAccumulator:
    """Running sums of the four path functionals, per netting set.

    Attributes:
        by_date: metric -> ``[dates, ns]`` sum over all paths of the term of each exposure date
            (the term structure: w_i E_i of the interval (t_{i-1}, t_i]).
        batches: metric -> ``[B, ns]`` sums over each batch.
    """

    weights: XvaWeights
    n_paths: int
    n_batches: int
    batch_size: int
    by_date: dict[str, FloatArray]
    batches: dict[str, FloatArray]

    @classmethod
    def create(cls, weights: XvaWeights, n_paths: int, antithetic: bool) -> XvaAccumulator:
        b, m = batch_layout(n_paths, antithetic)
        n_dates, n_ns = weights.cva.shape
        active = [k for k in METRICS if getattr(weights, k) is not None]
        return cls(weights, n_paths, b, m, {k: np.zeros((n_dates, n_ns)) for k in active},
                   {k: np.zeros((b, n_ns)) for k in active})

    @property
    def total(self) -> dict[str, FloatArray]:
        """metric -> ``[ns]`` sum over all paths (of the terms of every date)."""
        return {k: v.sum(axis=0) for k, v in self.by_date.items()}

    def add(self, k: int, exposure: DateExposure, first_path: int = 0) -> None:
        """Add exposure date ``k`` (deflated positive and negative exposures) of the paths
        ``first_path ..``; batches are fixed ranges of global path indices, so any split of the
        paths into chunks gives the same batch sums."""
        xp = array_namespace(exposure.pos)
        n = exposure.pos.shape[1]
        ids = (first_path + np.arange(n)) // self.batch_size
        inside = np.flatnonzero(ids < self.n_batches)
        sums = {}
        if inside.size:
            starts = np.flatnonzero(np.r_[True, ids[inside][1:] != ids[inside][:-1]])
            batch_ids = ids[inside][starts]
        for side, values, total in (("pos", exposure.pos, exposure.pos_total),
                                    ("neg", exposure.neg, exposure.neg_total)):
            # Deflated path sums per batch, once per side; the metrics weight them per netting
            # set (the weights are deterministic, so sum_k w_k E_k is linear in the E_k).
            batch = None
            if inside.size:
                deflated = values[:, : inside.size] * exposure.deflator[None, : inside.size]
                batch = to_numpy(xp.add.reduceat(deflated, xp.asarray(starts), axis=1)).T
            sums[side] = (total, batch)
        for name in self.by_date:
            w = getattr(self.weights, name)[k]
            total, batch = sums["pos" if name in ("cva", "fca") else "neg"]
            self.by_date[name][k] += w * total
            if batch is not None:
                self.batches[name][batch_ids] += w[None, :] * batch

    def results(self) -> dict[str, tuple[FloatArray, FloatArray]]:
        """metric -> (mean ``[ns]``, standard error ``[ns]``)."""
        return {k: (total / self.n_paths, batch_stderr(self.batches[k], self.batch_size))
                for k, total in self.total.items()}


def batch_stderr(batch_sums: FloatArray, batch_size: int) -> FloatArray:
    """Standard error of the mean from batch sums ``[B, ...]`` (NaN when B < 2)."""
    b = batch_sums.shape[0]
    if b < 2:
        return np.full(batch_sums.shape[1:], np.nan)
    means = batch_sums / batch_size
    out: FloatArray = means.std(axis=0, ddof=1) / np.sqrt(b)
    return out
