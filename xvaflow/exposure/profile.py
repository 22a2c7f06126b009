"""Exposure profiles, streamed one exposure date at a time.

With V the netting-set value, C the collateral held (both in base currency, undeflated) and N
the base-currency numeraire (N(0) = 1), at each exposure date t:

    EE(t)  = E[(V - C) / N]                 (expected net exposure, deflated)
    EPE(t) = E[max(V - C, 0) / N]           ENE(t) = E[max(C - V, 0) / N]
    PFE_q(t) = q-quantile of max(V - C, 0)  (undeflated; q = 95%, 97.5%, 99%)
    expected collateral = E[C / N]
    Basel EE(t) = E[max(V - C, 0)] (undeflated), EEE = running maximum of EE,
    EEPE = time average of EEE over the first year (or to the last date before it).

Only ``[paths, netting sets]`` arrays exist at a time; the per-path portfolio exposure
(sum over netting sets, no netting across them) is kept per date for the portfolio PFE.
Quantiles use linear interpolation between order statistics (numpy's default).
"""

from __future__ import annotations

from dataclasses import dataclass
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
    pos = [q * (n - 1) for q in qs]
    k0 = int(np.floor(min(pos)))
    tail = xp.sort(xp.partition(x, k0, axis=-1)[..., k0:], axis=-1)
    out = []
    for p in pos:
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
    """Accumulated profiles, ``[dates, netting sets]`` (pfe ``[dates, 3, netting sets]``)."""

    ee: FloatArray
    epe: FloatArray
    ene: FloatArray
    basel_ee: FloatArray
    collateral: FloatArray
    pfe: FloatArray
    portfolio_exposure: FloatArray  # [dates, paths]: sum over netting sets of max(V - C, 0)

    @classmethod
    def zeros(cls, n_dates: int, n_ns: int, n_paths: int) -> ExposureProfile:
        z = np.zeros((n_dates, n_ns))
        return cls(z.copy(), z.copy(), z.copy(), z.copy(), z.copy(),
                   np.zeros((n_dates, len(QUANTILES), n_ns)), np.zeros((n_dates, n_paths)))

    def add(self, k: int, value: Any, collateral: Any, numeraire: Any) -> DateExposure:
        """Record exposure date ``k`` from ``[ns, paths]`` values and collateral."""
        xp = array_namespace(value)
        net = value - collateral
        pos = xp.maximum(net, 0.0)
        neg = pos - net
        deflator = 1.0 / numeraire
        n = value.shape[1]
        pos_total, neg_total = pos @ deflator, neg @ deflator  # sums of deflated exposures
        self.epe[k] = to_numpy(pos_total) / n
        self.ene[k] = to_numpy(neg_total) / n
        self.ee[k] = self.epe[k] - self.ene[k]
        self.basel_ee[k] = to_numpy(pos.mean(axis=1))
        self.collateral[k] = to_numpy(collateral @ deflator) / n
        self.pfe[k] = to_numpy(upper_quantiles(pos))
        self.portfolio_exposure[k] = to_numpy(pos.sum(axis=0))
        return DateExposure(pos, neg, deflator, to_numpy(pos_total), to_numpy(neg_total))


def eepe(times: FloatArray, basel_ee: FloatArray) -> FloatArray:
    """Basel effective EPE per netting set from ``basel_ee`` ``[dates, ns]`` at ``times``.

    EEPE = sum_k EEE(t_k) dt_k / sum_k dt_k over exposure dates up to one year (Basel III
    CRE53.15: time-weighted average of the non-decreasing effective EE over the first year).
    """
    eee = np.maximum.accumulate(basel_ee, axis=0)
    dt = np.diff(np.r_[0.0, times])
    within = times <= 1.0 + 1e-9
    if not within.any():
        within = np.zeros(times.size, dtype=bool)
        within[0] = True
    w = dt[within]
    out: FloatArray = (eee[within] * w[:, None]).sum(axis=0) / w.sum()
    return out
