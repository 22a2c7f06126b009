"""CVA, DVA, FCA and FBA from deflated exposures, with Monte Carlo standard errors.

With counterparty survival S_C (hazard h_C), own survival S_B (h_B), LGD = 1 - recovery,
deflated exposures EPE(t) = E[max(V - C, 0)/N], ENE(t) = E[max(C - V, 0)/N] and funding
spreads s_b (borrow) and s_l (lend), credit independent of exposure:

    CVA = int_0^T EPE(t) LGD_C h_C(t) S_C(t) [S_B(t) when bilateral] dt
    DVA = int_0^T ENE(t) LGD_B h_B(t) S_B(t) [S_C(t) when bilateral] dt
    FCA = int_0^T EPE(t) s_b S_C(t) S_B(t) dt,   FBA = int_0^T ENE(t) s_l S_C(t) S_B(t) dt

integrated between exposure dates as :mod:`xvaflow.xva.integration` states (the exposure of the
interval portfolio, flows paid at their mean payment time, a Gaussian-shape curvature term).
ORE's post-processor uses the right-point rule instead, EPE(t_i) (S(t_{i-1}) - S(t_i)), and the
borrowing-curve ratio for FCA (docs/conventions.md gives the differences).

Each metric's linear part is a path functional X = sum_i (w_i E_i + w*_i E*_i); its standard
error comes from batch means: the paths are cut into B equal contiguous batches (antithetic
pairs stay together), and se = std(batch means) / sqrt(B). Batch sums add across partitions,
which gives the standard errors of portfolio totals without keeping per-path values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xvaflow.core.backend import array_namespace, to_numpy
from xvaflow.core.dates import FloatArray
from xvaflow.exposure.profile import DateExposure, ExposureProfile
from xvaflow.market.market import CreditSpec, Funding
from xvaflow.xva.integration import Measure, curvature, interval_weights

METRICS = ("cva", "dva", "fca", "fba")
POSITIVE = ("cva", "fca")  # metrics of EPE; the others integrate ENE
TARGET_BATCHES = 100


@dataclass(frozen=True)
class Functional:
    """One XVA path functional X = int E(t) dmu_j(t) per netting set j (data, not code).

    The four metrics are functionals; so is every stress scenario and sensitivity bump that
    only changes the measures (credit and funding: independent of exposure), which therefore
    costs one more weighted sum per date on the same paths, not another simulation.

    Attributes:
        name: key of the results (``cva`` for the metric itself; ``cva|<scenario>`` for a
            variant, see :mod:`xvaflow.xva.risk`).
        metric: the metric it is a variant of (one of :data:`METRICS`): EPE for ``cva`` and
            ``fca``, ENE for ``dva`` and ``fba``.
        measures: ``[ns]`` the measure each netting set's exposure is integrated against.
    """

    name: str
    metric: str
    measures: tuple[Measure, ...]

    @property
    def positive(self) -> bool:
        """Whether the integrand is EPE (else ENE)."""
        return self.metric in POSITIVE


def xva_functionals(counterparties: Sequence[CreditSpec], own: CreditSpec | None,
                    funding: Funding | None, bilateral: bool, suffix: str = ""
                    ) -> list[Functional]:
    """The metrics' functionals for netting sets with the given counterparty credit (metrics
    that cannot be computed, e.g. DVA without own credit, are absent); ``suffix`` is appended
    to each name (``|<scenario>`` for a variant).

    CVA: LGD_C h_C S_C [S_B]; DVA: LGD_B h_B S_B [S_C]; FCA: s_b S_C S_B; FBA: s_l S_C S_B
    (S_B only when own credit is given; the bracketed factors only when ``bilateral``).
    """
    out: dict[str, list[Measure]] = {"cva": [], "dva": [], "fca": [], "fba": []}
    b = own.curve if own is not None else None
    for c in counterparties:
        out["cva"].append(Measure.build(1.0 - c.recovery, c.curve, (c.curve,) + (
            (b,) if bilateral and b is not None else ())))
        if own is not None and b is not None:
            out["dva"].append(Measure.build(1.0 - own.recovery, b,
                                            (b,) + ((c.curve,) if bilateral else ())))
        if funding is not None:
            joint = (c.curve,) + ((b,) if b is not None else ())
            out["fca"].append(Measure.build(funding.borrow_spread, None, joint))
            out["fba"].append(Measure.build(funding.lend_spread, None, joint))
    return [Functional(m + suffix, m, tuple(v)) for m, v in out.items() if v]


@dataclass(frozen=True)
class XvaWeights:
    """Per functional name, ``[dates, netting sets]`` weights of the linear rule (see
    :class:`~xvaflow.xva.integration.IntervalWeights`), the functionals and the intervals'
    mean payment times ``[dates, netting sets]``."""

    left: dict[str, FloatArray]
    right: dict[str, FloatArray]
    paid: dict[str, FloatArray]
    functionals: dict[str, Functional]
    pay_mean: FloatArray

    def only(self, names: Sequence[str]) -> XvaWeights:
        """The weights of the functionals ``names`` alone."""
        return XvaWeights({n: self.left[n] for n in names}, {n: self.right[n] for n in names},
                          {n: self.paid[n] for n in names},
                          {n: self.functionals[n] for n in names}, self.pay_mean)


def xva_weights(times: FloatArray, functionals: Sequence[Functional], pay_mean: FloatArray
                ) -> XvaWeights:
    """Weights for exposure ``times`` ``[n]`` and the intervals' mean payment times
    ``pay_mean`` ``[n, ns]``."""
    left, right, paid = {}, {}, {}
    for f in functionals:
        w = [interval_weights(times, mu, pay_mean[:, j]) for j, mu in enumerate(f.measures)]
        left[f.name] = np.stack([x.left for x in w], axis=1)
        right[f.name] = np.stack([x.right for x in w], axis=1)
        paid[f.name] = np.stack([x.paid for x in w], axis=1)
    return XvaWeights(left, right, paid, {f.name: f for f in functionals}, pay_mean)


def batch_layout(n_paths: int, antithetic: bool) -> tuple[int, int]:
    """(batches B, batch size m): about :data:`TARGET_BATCHES` batches of an even size when
    antithetic; paths beyond B m count in the means but not in the variance estimate."""
    unit = 2 if antithetic else 1
    units = n_paths // unit
    batches = max(1, min(TARGET_BATCHES, units))
    return batches, (units // batches) * unit


@dataclass
class XvaAccumulator:
    """Running sums of the metrics' path functionals, per netting set.

    Attributes:
        by_date: metric -> ``[dates, ns]`` sum over all paths of the term of each interval
            (t_{i-1}, t_i] (the term structure).
        batches: metric -> ``[B, ns]`` sums over each batch.
        by_exposure: metric -> (``[dates, ns]``, ``[dates, ns]``) the linear part's terms by
            the exposure they weigh: each date's exposure after payments (times its weights in
            both intervals it bounds) and its interval portfolio's.
        today: metric -> ``[ns]`` today's exposure term, path sum (:meth:`add_today`).
        curvature: metric -> ``[dates, ns]`` the curvature terms, path sums
            (:meth:`add_curvature`).
    """

    weights: XvaWeights
    n_paths: int
    n_batches: int
    batch_size: int
    by_date: dict[str, FloatArray]
    batches: dict[str, FloatArray]
    by_exposure: dict[str, tuple[FloatArray, FloatArray]]
    today: dict[str, FloatArray] = field(default_factory=dict)
    curvature: dict[str, FloatArray] = field(default_factory=dict)

    @classmethod
    def create(cls, weights: XvaWeights, n_paths: int, antithetic: bool) -> XvaAccumulator:
        b, m = batch_layout(n_paths, antithetic)
        shape = next(iter(weights.left.values())).shape
        return cls(weights, n_paths, b, m, {k: np.zeros(shape) for k in weights.left},
                   {k: np.zeros((b, shape[1])) for k in weights.left},
                   {k: (np.zeros(shape), np.zeros(shape)) for k in weights.left})

    @property
    def total(self) -> dict[str, FloatArray]:
        """metric -> ``[ns]`` sum over all paths (of the terms of every date)."""
        return {k: v.sum(axis=0) for k, v in self.by_date.items()}

    def _add_constant(self, name: str, terms: FloatArray) -> None:
        """Add to a metric terms ``[dates, ns]`` common to every path (today's exposure, the
        curvature correction): they move every batch mean alike."""
        self.by_date[name] += self.n_paths * terms
        self.batches[name] += self.batch_size * terms.sum(axis=0)[None, :]

    def add(self, k: int, exposure: DateExposure, interval: DateExposure,
            first_path: int = 0) -> None:
        """Add exposure date ``k`` of the paths ``first_path ..``: the exposure after the date's
        payments (the next interval's start, and this interval after its payments) and the
        interval portfolio's. Batches are fixed ranges of global path indices, so any split of
        the paths into chunks gives the same batch sums."""
        xp = array_namespace(exposure.pos)
        n = exposure.pos.shape[1]
        ids = (first_path + np.arange(n)) // self.batch_size
        inside = np.flatnonzero(ids < self.n_batches)
        if inside.size:
            starts = np.flatnonzero(np.r_[True, ids[inside][1:] != ids[inside][:-1]])
            batch_ids = ids[inside][starts]

        def batch(values: Any) -> Any:
            return to_numpy(xp.add.reduceat(values[:, : inside.size], xp.asarray(starts),
                                            axis=1)).T

        sums: dict[tuple[str, bool], tuple[FloatArray, Any]] = {}
        for positive in (True, False):
            for which, e in (("post", exposure), ("interval", interval)):
                values = e.pos_deflated if positive else e.neg_deflated
                total = e.pos_total if positive else e.neg_total
                key = (which, positive)
                if which == "interval" and interval is exposure:
                    sums[key] = sums[("post", positive)]
                else:
                    sums[key] = (total, batch(values) if inside.size else None)
        w = self.weights
        last = k + 1 == self.by_date[next(iter(self.by_date))].shape[0]
        for name in self.by_date:
            positive = w.functionals[name].positive
            post, post_b = sums[("post", positive)]
            star, star_b = sums[("interval", positive)]
            paid, right = w.paid[name][k], w.right[name][k]
            nxt = np.zeros_like(paid) if last else w.left[name][k + 1]
            self.by_date[name][k] += paid * post + right * star
            if not last:
                self.by_date[name][k + 1] += nxt * post
            self.by_exposure[name][0][k] += (paid + nxt) * post
            self.by_exposure[name][1][k] += right * star
            if post_b is not None:
                self.batches[name][batch_ids] += ((paid + nxt)[None, :] * post_b
                                                  + right[None, :] * star_b)

    def add_today(self, value: FloatArray, collateral: FloatArray) -> None:
        """The first interval's start: today's exposure, the same on every path."""
        net = value - collateral
        for name in self.by_date:
            terms = np.zeros_like(self.by_date[name])
            terms[0] = self.weights.left[name][0] * np.maximum(
                net if self.weights.functionals[name].positive else -net, 0.0)
            self.today[name] = self.n_paths * terms[0]
            self._add_constant(name, terms)

    def add_curvature(self, times: FloatArray, profile: ExposureProfile, today: FloatArray
                      ) -> None:
        """Add every interval's curvature term from the finished profile's moments (today's
        net exposure ``today`` ``[ns]`` starts the first interval with zero variance)."""
        start_mean = np.vstack([today[None, :], profile.ee[:-1]])
        start_var = np.vstack([np.zeros_like(today)[None, :], profile.net_var[:-1]])
        for name, f in self.weights.functionals.items():
            sign = 1.0 if f.positive else -1.0
            terms = np.stack([curvature(
                times, mu, (sign * start_mean[:, j], start_var[:, j]),
                (sign * profile.interval_mean[:, j], profile.interval_var[:, j]),
                self.weights.pay_mean[:, j])
                for j, mu in enumerate(f.measures)], axis=1)
            self.curvature[name] = self.n_paths * terms
            self._add_constant(name, terms)


def batch_stderr(batch_sums: FloatArray, batch_size: int) -> FloatArray:
    """Standard error of the mean from batch sums ``[B, ...]`` (NaN when B < 2)."""
    b = batch_sums.shape[0]
    if b < 2:
        return np.full(batch_sums.shape[1:], np.nan)
    means = batch_sums / batch_size
    out: FloatArray = means.std(axis=0, ddof=1) / np.sqrt(b)
    return out
