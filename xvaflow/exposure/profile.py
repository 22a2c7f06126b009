"""Exposure profiles, streamed one exposure date at a time.

With V the netting-set value, C the collateral held (both in base currency, undeflated) and N
the base-currency numeraire (N(0) = 1), at each exposure date t:

    EE(t)  = E[(V - C) / N]                 (expected net exposure, deflated)
    EPE(t) = E[max(V - C, 0) / N]           ENE(t) = E[max(C - V, 0) / N]
    PFE_q(t) = q-quantile of max(V - C, 0)  (undeflated; q = 95%, 97.5%, 99%)
    expected collateral = E[C / N]
    Basel EE(t) = E[max(V - C, 0)] (undeflated), EEE = running maximum of EE,
    EEPE = time average of EEE over the first year (or to the netting set's maturity).

Standard errors of EPE and ENE are those of a mean over independent paths (over antithetic
pairs' means when antithetic). Only ``[paths, netting sets]`` arrays exist at a time; the
per-path portfolio exposure (sum over netting sets, no netting across them) is kept per date
for the portfolio PFE.
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
    """One exposure date of one set of values ``[ns, paths]``.

    Attributes:
        pos, neg: undeflated max(V - C, 0) and max(C - V, 0).
        pos_deflated, neg_deflated: the same divided by the numeraire.
        pos_total, neg_total: ``[ns]`` sums over paths of the deflated exposures.
        net_total, net_squares: ``[ns]`` sums of (V - C)/N and its square (moments).
        pos_squares, neg_squares: ``[ns]`` sums of squares of the deflated exposures per
            independent unit (a path, or an antithetic pair's mean), for standard errors.
    """

    pos: Any
    neg: Any
    pos_deflated: Any
    neg_deflated: Any
    pos_total: FloatArray
    neg_total: FloatArray
    net_total: FloatArray
    net_squares: FloatArray
    pos_squares: FloatArray
    neg_squares: FloatArray


def date_exposure(value: Any, collateral: Any, numeraire: Any, antithetic: bool = False
                  ) -> DateExposure:
    """Exposures of values and collateral ``[ns, paths]`` (base currency) on paths with the
    numeraire ``[paths]``; with ``antithetic`` the paths come in pairs (2k, 2k + 1)."""
    xp = array_namespace(value)
    net = value - collateral
    pos = xp.maximum(net, 0.0)
    neg = pos - net
    deflator = 1.0 / numeraire
    net *= deflator[None, :]
    pos_d, neg_d = pos * deflator[None, :], neg * deflator[None, :]

    def squares(x: Any) -> FloatArray:  # row sums of squares without a temporary array
        return to_numpy(xp.einsum("ij,ij->i", x, x))

    def unit_squares(x: Any) -> FloatArray:
        return squares(0.5 * (x[:, 0::2] + x[:, 1::2]) if antithetic else x)

    return DateExposure(pos, neg, pos_d, neg_d, to_numpy(pos_d.sum(axis=1)),
                        to_numpy(neg_d.sum(axis=1)), to_numpy(net.sum(axis=1)), squares(net),
                        unit_squares(pos_d), unit_squares(neg_d))


@dataclass
class ExposureProfile:
    """Profiles ``[dates, netting sets]`` (pfe ``[dates, 3, netting sets]``), accumulated over
    exposure dates and over chunks of paths.

    Means are kept as sums until :meth:`finish`. With several path chunks, each (date, netting
    set) keeps its largest ``n - floor(0.95 (n - 1))`` exposures across chunks: exactly the order
    statistics the upper quantiles need, so chunked and unchunked runs agree to the last digit.
    ``net_var`` and the ``interval_*`` moments (of the interval portfolio, see
    :mod:`xvaflow.xva.integration`) feed the XVA integration's curvature term.
    """

    n_paths: int
    epe: FloatArray
    ene: FloatArray
    basel_ee: FloatArray
    collateral: FloatArray
    pfe: FloatArray
    portfolio_exposure: FloatArray  # [dates, paths]: sum over netting sets of max(V - C, 0)
    tails: FloatArray | None = None  # [dates, ns, tail] when chunked
    antithetic: bool = False
    quantiles: bool = True  # False: no PFE nor per-path portfolio exposure (means only)
    epe_stderr: FloatArray = field(init=False)
    ene_stderr: FloatArray = field(init=False)
    net_var: FloatArray = field(init=False)
    interval_mean: FloatArray = field(init=False)
    interval_var: FloatArray = field(init=False)
    ee: FloatArray = field(init=False)

    def __post_init__(self) -> None:
        for name in ("ee", "epe_stderr", "ene_stderr", "net_var", "interval_mean",
                     "interval_var"):
            setattr(self, name, np.zeros_like(self.epe))

    @classmethod
    def zeros(cls, n_dates: int, n_ns: int, n_paths: int, chunked: bool = False,
              antithetic: bool = False, quantiles: bool = True) -> ExposureProfile:
        """An empty profile; ``quantiles`` False keeps means and moments only (no PFE)."""
        z = np.zeros((n_dates, n_ns))
        tails = None
        if chunked and quantiles:
            tails = np.full((n_dates, n_ns, _tail_size(n_paths)), -np.inf)
        return cls(n_paths, z.copy(), z.copy(), z.copy(), z.copy(),
                   np.zeros((n_dates, len(QUANTILES), n_ns)),
                   np.zeros((n_dates, n_paths if quantiles else 0)), tails, antithetic,
                   quantiles)

    def add(self, k: int, value: Any, collateral: Any, numeraire: Any,
            interval: tuple[Any, Any] | None = None, first_path: int = 0
            ) -> tuple[DateExposure, DateExposure]:
        """Record exposure date ``k`` for the paths ``first_path ..`` of values and collateral
        ``[ns, paths]`` after the date's payments, and ``interval`` = (values, collateral) of
        the interval portfolio (None: the same); returns both exposures. Sums until
        :meth:`finish` turns them into means."""
        exposure = date_exposure(value, collateral, numeraire, self.antithetic)
        other = exposure if interval is None else date_exposure(*interval, numeraire,
                                                                 self.antithetic)
        self._record(k, exposure, collateral, numeraire, other, first_path)
        return exposure, other

    def _record(self, k: int, exposure: DateExposure, collateral: Any, numeraire: Any,
                interval: DateExposure, first_path: int) -> None:
        pos = exposure.pos
        self.epe[k] += exposure.pos_total
        self.ene[k] += exposure.neg_total
        self.epe_stderr[k] += exposure.pos_squares  # sums of squares until finish
        self.ene_stderr[k] += exposure.neg_squares
        self.net_var[k] += exposure.net_squares
        self.interval_mean[k] += interval.net_total
        self.interval_var[k] += interval.net_squares
        self.basel_ee[k] += to_numpy(pos.sum(axis=1))
        self.collateral[k] += to_numpy(collateral @ (1.0 / numeraire))
        if not self.quantiles:
            return
        if self.tails is None:
            self.pfe[k] = to_numpy(upper_quantiles(pos))
        else:
            both = np.concatenate([self.tails[k], to_numpy(pos)], axis=1)
            keep = self.tails.shape[2]
            self.tails[k] = np.partition(both, both.shape[1] - keep, axis=1)[:, -keep:]
        self.portfolio_exposure[k, first_path: first_path + pos.shape[1]] = to_numpy(
            pos.sum(axis=0))

    def finish(self) -> None:
        """Sums to means, variances and standard errors; quantiles from the kept tails when
        chunked."""
        n = self.n_paths
        for a in (self.epe, self.ene, self.basel_ee, self.collateral, self.interval_mean):
            a /= n
        self.ee = self.epe - self.ene
        self.net_var = np.maximum(self.net_var / n - self.ee**2, 0.0)
        self.interval_var = np.maximum(self.interval_var / n - self.interval_mean**2, 0.0)
        units = n // 2 if self.antithetic else n
        for sq, mean in ((self.epe_stderr, self.epe), (self.ene_stderr, self.ene)):
            var = np.maximum(sq / units - mean**2, 0.0) * units / max(units - 1, 1)
            sq[...] = np.sqrt(var / units) if units > 1 else np.nan
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
