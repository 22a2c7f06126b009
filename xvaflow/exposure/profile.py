"""Exposure profiles, streamed one exposure date at a time.

With V the netting-set value, C the collateral held (both in base currency, undeflated) and N
the base-currency numeraire (N(0) = 1), at each exposure date t:

    EE(t)  = E[(V - C) / N]                 (expected net exposure, deflated)
    EPE(t) = E[max(V - C, 0) / N]           ENE(t) = E[max(C - V, 0) / N]
    PFE_q(t) = q-quantile of max(V - C, 0)  (undeflated; q = 95%, 97.5%, 99%)
    expected collateral = E[C / N]
    Basel EE(t) = E[max(V - C, 0)] (undeflated), EEE = running maximum of EE,
    EEPE = time average of EEE over the first year (or to the netting set's maturity).

Only ``[paths, netting sets]`` arrays exist at a time; the per-path portfolio exposure
(sum over netting sets, no netting across them) is kept per date for the portfolio PFE.
Quantiles use linear interpolation between order statistics (numpy's default).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xvaflow.core.backend import array_namespace, to_numpy
from xvaflow.core.dates import FloatArray

QUANTILES = (0.95, 0.975, 0.99)


def upper_quantiles(x: Any, qs: tuple[float, ...] = QUANTILES) -> Any:
    """Quantiles (linear interpolation) along the last axis for q >= 0.5, ``[len(qs), rows]``.

    One partition at the lowest order statistic needed, then a sort of the top tail only.
    """
    xp = array_namespace(x)
    n = x.shape[-1]
    k0 = n - _tail_size(n, qs)
    tail = xp.sort(xp.partition(x, k0, axis=-1)[..., k0:], axis=-1)
    return _from_sorted_tail(tail, n, qs)


def _tail_size(n: int, qs: tuple[float, ...] = QUANTILES) -> int:
    """Number of largest order statistics the upper quantiles of n values need."""
    return n - int(np.floor(min(qs) * (n - 1)))


def _from_sorted_tail(tail: Any, n: int, qs: tuple[float, ...] = QUANTILES) -> Any:
    """Quantiles ``[len(qs), ...]`` from the sorted top order statistics ``[..., tail]`` of n."""
    xp = array_namespace(tail)
    k0 = n - tail.shape[-1]
    out = []
    for q in qs:
        p = q * (n - 1)
        lo = int(np.floor(p))
        hi = min(lo + 1, n - 1)
        w = p - lo
        out.append((1.0 - w) * tail[..., lo - k0] + w * tail[..., hi - k0])
    return xp.stack(out)


@dataclass(frozen=True)
class DateExposure:
    """One exposure date: undeflated max(V - C, 0) and max(C - V, 0) ``[ns, paths]``, the
    deflator 1/N ``[paths]`` and the deflated sums over paths ``[ns]``."""

    pos: Any
    neg: Any
    deflator: Any
    pos_total: FloatArray
    neg_total: FloatArray


@dataclass
class ExposureProfile:
    """Profiles ``[dates, netting sets]`` (pfe ``[dates, 3, netting sets]``), accumulated over
    exposure dates and over chunks of paths.

    Means are kept as sums until :meth:`finish`. With several path chunks, each (date, netting
    set) keeps its largest ``n - floor(0.95 (n - 1))`` exposures across chunks: exactly the order
    statistics the upper quantiles need, so chunked and unchunked runs agree to the last digit.
    """

    n_paths: int
    epe: FloatArray
    ene: FloatArray
    basel_ee: FloatArray
    collateral: FloatArray
    pfe: FloatArray
    portfolio_exposure: FloatArray  # [dates, paths]: sum over netting sets of max(V - C, 0)
    tails: FloatArray | None = None  # [dates, ns, tail] when chunked
    ee: FloatArray = field(init=False)

    def __post_init__(self) -> None:
        self.ee = np.zeros_like(self.epe)

    @classmethod
    def zeros(cls, n_dates: int, n_ns: int, n_paths: int, chunked: bool = False
              ) -> ExposureProfile:
        z = np.zeros((n_dates, n_ns))
        tails = None
        if chunked:
            tails = np.full((n_dates, n_ns, _tail_size(n_paths)), -np.inf)
        return cls(n_paths, z.copy(), z.copy(), z.copy(), z.copy(),
                   np.zeros((n_dates, len(QUANTILES), n_ns)), np.zeros((n_dates, n_paths)),
                   tails)

    def add(self, k: int, value: Any, collateral: Any, numeraire: Any, first_path: int = 0
            ) -> DateExposure:
        """Record exposure date ``k`` for the paths ``first_path ..`` of ``[ns, paths]`` values
        and collateral (sums; :meth:`finish` turns them into means)."""
        xp = array_namespace(value)
        net = value - collateral
        pos = xp.maximum(net, 0.0)
        neg = pos - net
        deflator = 1.0 / numeraire
        pos_total, neg_total = pos @ deflator, neg @ deflator  # sums of deflated exposures
        self.epe[k] += to_numpy(pos_total)
        self.ene[k] += to_numpy(neg_total)
        self.basel_ee[k] += to_numpy(pos.sum(axis=1))
        self.collateral[k] += to_numpy(collateral @ deflator)
        if self.tails is None:
            self.pfe[k] = to_numpy(upper_quantiles(pos))
        else:
            both = np.concatenate([self.tails[k], to_numpy(pos)], axis=1)
            keep = self.tails.shape[2]
            self.tails[k] = np.partition(both, both.shape[1] - keep, axis=1)[:, -keep:]
        self.portfolio_exposure[k, first_path: first_path + value.shape[1]] = to_numpy(
            pos.sum(axis=0))
        return DateExposure(pos, neg, deflator, to_numpy(pos_total), to_numpy(neg_total))

    def finish(self) -> None:
        """Sums to means; quantiles from the kept tails when chunked."""
        n = self.n_paths
        for a in (self.epe, self.ene, self.basel_ee, self.collateral):
            a /= n
        self.ee = self.epe - self.ene
        if self.tails is not None:
            self.pfe = np.moveaxis(_from_sorted_tail(np.sort(self.tails, axis=2), n), 0, 1)


def eepe(times: FloatArray, basel_ee: FloatArray, window: FloatArray) -> FloatArray:
    """Basel effective EPE per netting set from ``basel_ee`` ``[dates, ns]`` at ``times``.

    EEPE = (1 / T_w) int_0^{T_w} EEE(t) dt, EEE the running maximum of EE (non-decreasing
    effective EE), with EEE(t) on (t_{k-1}, t_k] taken at t_k; T_w = ``window`` ``[ns]``: one
    year, or the netting set's maturity when every contract matures within a year (Basel
    CRE53.15-16). A window shorter than the first date uses the first date's EEE.
    """
    eee = np.maximum.accumulate(basel_ee, axis=0)
    edges = np.r_[0.0, times]
    # length of each interval (t_{k-1}, t_k] inside (0, T_w], per netting set: [dates, ns]
    inside = (np.minimum(edges[1:, None], window[None, :])
              - np.minimum(edges[:-1, None], window[None, :]))
    inside = np.maximum(inside, 0.0)
    total = inside.sum(axis=0)
    out: FloatArray = np.where(total > 0.0, (eee * inside).sum(axis=0) / np.where(
        total > 0.0, total, 1.0), eee[0] if eee.shape[0] else 0.0)
    return out
