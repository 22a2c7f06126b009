"""Trade allocation: each trade's share of its netting set's CVA, DVA, FCA and FBA.

On a path at an exposure date t, a netting set holds trades worth V_i(t) (V = sum_i V_i) and
collateral C(t), called at the lag date t - MPoR on the value then (C = 0 without a CSA). Let
phi = 1 for a netting set with a CSA (its collateral follows V(t - MPoR)) and 0 without, and

    D_i = V_i(t) - phi V_i(t - MPoR)        (the trade's move over the margin period)
    R   = C(t) - phi V(t - MPoR)            (what thresholds, MTA and IA leave of the call)

so that V - C = sum_i D_i - R exactly. The positive exposure (V - C)^+ = (V - C) 1{V > C} is
allocated as

    EPE_i(t) = E[D_i 1{V > C} / N] - pi_i E[R 1{V > C} / N],
    pi_i = |U_i| / sum_j |U_j|,    U_i = E[V_i(t) 1{V > C} / N]

(the residual collateral pro rata to the trades' own values where the netting set is exposed;
equal shares when every U_j is 0), which sums exactly to EPE(t) = E[(V - C)^+ / N]; ENE likewise
with 1{V < C} and the sign turned. Without a CSA this is the Euler allocation
E[V_i 1{V > 0} / N] (Pykhtin and Rosen, "Pricing counterparty risk at the trade level and CVA
allocations", Journal of Credit Risk 6(4), 2010): the derivative of EPE in the trade's size.
With a CSA of zero thresholds, MTA and IA it is again the Euler derivative (R = 0, the
collateral moving with each trade's own value at the lag date).

A metric X of the netting set integrates its exposure against a measure (CVA: LGD h S dt, ...;
:mod:`xvaflow.xva.adjustments`) in three parts, each allocated by its own derivative in the
trades' sizes:

- the linear terms of each exposure date, after the date's payments and of the interval
  portfolio (:attr:`XvaAccumulator.by_exposure`): shared by the date's EPE_i / EPE (ENE for
  DVA and FBA), computed alike on the interval portfolio with each trade's own cash;
- today's term: the same rule on today's values (collateral called on today's value);
- each interval's curvature term c(m_a, v_a, m_b, v_b), a function of the mean and variance of
  the deflated net exposure X = (V - C) / N at the interval's ends: the gradient of c
  (:func:`~xvaflow.xva.integration.curvature_gradient`) times dm = E[D_i / N] and
  dv = 2 (E[X D_i / N] - m E[D_i / N]). c is homogeneous of degree one in the trades' sizes
  (m scales, v scales squared), so these terms add up to c when R = 0; what they leave (R's
  part) is shared pro rata to |U_i| at the interval's end.

The trades' figures therefore sum exactly to the netting set's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from xvaflow.core.backend import array_namespace, to_numpy
from xvaflow.core.dates import FloatArray, IntArray
from xvaflow.exposure.profile import ExposureProfile
from xvaflow.pricing.scenario import scatter_rows
from xvaflow.products.tables import CompiledPortfolio
from xvaflow.xva.adjustments import METRICS, XvaAccumulator
from xvaflow.xva.integration import curvature_gradient


def trades_as_netting_sets(compiled: CompiledPortfolio) -> CompiledPortfolio:
    """``compiled`` with every trade its own netting set (named by its trade id): a valuer on
    it values each trade on its own, with the machinery that values netting sets."""
    n = len(compiled.trade_ids)
    return dataclasses.replace(compiled, netting_set=np.arange(n, dtype=np.int64),
                               netting_set_ids=tuple(compiled.trade_ids))


@dataclass
class _Sums:
    """Path sums of one exposure's allocation terms (side True: V > C, False: V < C), with
    X = (V - C) / N the deflated net exposure.

    Attributes:
        moved: side -> ``[dates, T]`` sums of D_i 1{side} / N.
        own: side -> ``[dates, T]`` sums of V_i 1{side} / N.
        residual: side -> ``[dates, ns]`` sums of R 1{side} / N.
        mean: ``[dates, T]`` sums of D_i / N (the derivative of E[X] in the trade's size).
        cross: ``[dates, T]`` sums of X D_i / N (for the derivative of Var[X]).
    """

    moved: dict[bool, FloatArray]
    own: dict[bool, FloatArray]
    residual: dict[bool, FloatArray]
    mean: FloatArray
    cross: FloatArray

    @classmethod
    def zeros(cls, n_dates: int, n_trades: int, n_ns: int) -> _Sums:
        def pair(n: int) -> dict[bool, FloatArray]:
            return {s: np.zeros((n_dates, n)) for s in (True, False)}

        return cls(pair(n_trades), pair(n_trades), pair(n_ns), np.zeros((n_dates, n_trades)),
                   np.zeros((n_dates, n_trades)))


@dataclass
class TradeAllocation:
    """Path sums of one partition's allocation terms, per exposure date and trade, for the
    exposure after each date's payments (``post``) and for the interval portfolio, which still
    holds the flows paid since the previous exposure date (``interval``).

    Attributes:
        ns_of_trade: ``[T]`` the column of each trade's netting set.
        margined: ``[T]`` whether its netting set has a CSA (phi = 1).
        post, interval: the sums of the two exposures.
    """

    ns_of_trade: IntArray
    margined: np.ndarray
    post: _Sums
    interval: _Sums

    @classmethod
    def create(cls, n_dates: int, ns_of_trade: IntArray, margined_ns: np.ndarray
               ) -> TradeAllocation:
        """Empty sums for ``n_dates`` exposure dates; ``margined_ns`` ``[ns]``: has a CSA."""
        shape = (n_dates, ns_of_trade.size, margined_ns.size)
        return cls(ns_of_trade, margined_ns[ns_of_trade], _Sums.zeros(*shape),
                   _Sums.zeros(*shape))

    def add(self, k: int, trade_values: Any, lag_values: Any, values: Any, collateral: Any,
            numeraire: Any, post: bool = True, interval: bool = True) -> None:
        """Add exposure date ``k`` of a chunk of paths to the sums of the exposure after the
        date's payments (``post``) and/or of the interval portfolio (``interval``).

        Args:
            trade_values: ``[T, paths]`` V_i(t), base currency.
            lag_values: ``[T, paths]`` V_i at the netting set's lag date (rows of trades
                without a CSA are ignored).
            values, collateral: ``[ns, paths]`` V(t) and C(t) of the netting sets.
            numeraire: ``[paths]`` N(t).
        """
        xp = array_namespace(values)
        rows = self.ns_of_trade
        idx = np.flatnonzero(self.margined)
        deflator = 1.0 / numeraire[None, :]
        moved = trade_values.copy()
        moved[idx] -= lag_values[idx]
        moved *= deflator
        residual = collateral - scatter_rows(xp, lag_values[idx], rows[idx], values.shape[0])
        residual *= deflator
        net = (values - collateral) * deflator
        own = trade_values * deflator
        mean, cross = to_numpy(moved.sum(axis=1)), to_numpy((moved * net[rows]).sum(axis=1))
        by_side = {}
        for side in (True, False):
            inside = (net > 0.0) if side else (net < 0.0)
            w = inside[rows]
            by_side[side] = (to_numpy((moved * w).sum(axis=1)), to_numpy((own * w).sum(axis=1)),
                             to_numpy((residual * inside).sum(axis=1)))
        for sums, on in ((self.post, post), (self.interval, interval)):
            if on:
                sums.mean[k] += mean
                sums.cross[k] += cross
                for side, terms in by_side.items():
                    for acc, term in zip((sums.moved, sums.own, sums.residual), terms,
                                         strict=True):
                        acc[side][k] += term

    def _by_ns(self, a: FloatArray, n_ns: int) -> FloatArray:
        """``[..., T]`` -> each trade's netting set's sum ``[..., T]``."""
        out = np.zeros((*a.shape[:-1], n_ns))
        np.add.at(out.T, self.ns_of_trade, a.T)
        return out[..., self.ns_of_trade]

    def _pro_rata(self, weights: FloatArray, n_ns: int) -> FloatArray:
        """``[..., T]`` |weights| over their netting set's sum (equal shares where all 0)."""
        w = np.abs(weights)
        total = self._by_ns(w, n_ns)
        count = np.bincount(self.ns_of_trade, minlength=n_ns).astype(float)[self.ns_of_trade]
        out: FloatArray = np.where(total > 0.0, w / np.where(total > 0.0, total, 1.0),
                                   1.0 / count)
        return out

    def _shares(self, sums: _Sums, side: bool, n_ns: int) -> FloatArray:
        """``[dates, T]`` each trade's share of its netting set's EPE (``side`` True) or ENE
        on each date (0 where that exposure is 0)."""
        pi = self._pro_rata(sums.own[side], n_ns)
        exposure = sums.moved[side] - pi * sums.residual[side][:, self.ns_of_trade]
        total = self._by_ns(exposure, n_ns)
        out: FloatArray = np.where(total != 0.0, exposure / np.where(total != 0.0, total, 1.0),
                                   0.0)
        return out

    def allocate(self, acc: XvaAccumulator, profile: ExposureProfile, times: FloatArray,
                 today: tuple[FloatArray, FloatArray, FloatArray]) -> dict[str, FloatArray]:
        """metric (of METRICS) -> ``[T]`` each trade's share of its netting set's path sum.

        Args:
            acc: the base book's finished accumulator (today's and curvature terms added).
            profile: its finished exposure profile (the curvature terms' moments).
            times: ``[dates]`` exposure times.
            today: (``[T]`` trade values, ``[ns]`` netting-set values, ``[ns]`` collateral)
                at t0, base currency.
        """
        rows, n = self.ns_of_trade, acc.n_paths
        trade_npv, npv, collateral = today
        n_ns = npv.size
        phi = self.margined.astype(float)
        # today: D_i = V_i (1 - phi), R = C - phi V, the residual pro rata to |V_i|
        net0 = (npv - collateral)[rows]
        moved0 = trade_npv * (1.0 - phi)
        phi_ns = np.zeros(n_ns)
        phi_ns[rows] = phi
        alloc0 = moved0 - self._pro_rata(trade_npv, n_ns) * (collateral - phi_ns * npv)[rows]
        share0 = np.where(net0 != 0.0, alloc0 / np.where(net0 != 0.0, net0, 1.0), 0.0)
        # the moments' derivatives in each trade's size: start (post, previous date; today's
        # deterministic value at the first) and end (interval portfolio) of each interval
        d_mean0 = np.vstack([moved0[None, :], self.post.mean[:-1] / n])
        d_var0 = np.vstack([np.zeros((1, rows.size)), 2.0 * (
            self.post.cross[:-1] / n - profile.ee[:-1][:, rows] * self.post.mean[:-1] / n)])
        d_mean1 = self.interval.mean / n
        d_var1 = 2.0 * (self.interval.cross / n
                        - profile.interval_mean[:, rows] * self.interval.mean / n)
        start_mean = np.vstack([(npv - collateral)[None, :], profile.ee[:-1]])
        start_var = np.vstack([np.zeros((1, n_ns)), profile.net_var[:-1]])
        out = {}
        for m in (m for m in METRICS if m in acc.curvature):  # not the stress/CS01 variants
            f = acc.weights.functionals[m]
            side, sign = f.positive, (1.0 if f.positive else -1.0)
            linear = np.zeros(rows.size)
            for sums, terms in zip((self.post, self.interval), acc.by_exposure[m], strict=True):
                linear += (terms[:, rows] * self._shares(sums, side, n_ns)).sum(axis=0)
            grad = np.stack([curvature_gradient(
                times, mu, (sign * start_mean[:, j], start_var[:, j]),
                (sign * profile.interval_mean[:, j], profile.interval_var[:, j]),
                acc.weights.pay_mean[:, j]) for j, mu in enumerate(f.measures)], axis=2)
            euler = (grad[0][:, rows] * sign * d_mean0 + grad[1][:, rows] * d_var0
                     + grad[2][:, rows] * sign * d_mean1 + grad[3][:, rows] * d_var1)
            # what the Euler terms leave of the curvature (thresholds, MTA, IA: R != 0)
            residual = acc.curvature[m][:, rows] / n - self._by_ns(euler, n_ns)
            pi = self._pro_rata(self.interval.own[side], n_ns)
            curv = n * (euler + pi * residual).sum(axis=0)
            out[m] = linear + acc.today[m][rows] * share0 + curv
        return out
