"""Time integration of exposure against default and funding measures (the XVA integrals).

Every XVA metric is an integral X = int_0^T E(t) dmu(t) of an expected deflated exposure E
(EPE or ENE) against a deterministic measure with density

    rho(t) = g(t) exp(-Lambda(t)),    g, Lambda' piecewise constant between hazard pillars,

e.g. CVA: g = LGD_C h_C, Lambda = H_C (+ H_B when bilateral); FCA: g = s_b, Lambda = H_C + H_B.
The cumulative measure M(t) = mu((0, t]) and its integral are then exact in closed form on
each piece: M(t) = M(tau_j) + g_j e^{-Lambda(tau_j)} (1 - e^{-lambda_j (t - tau_j)}) / lambda_j.

Exposure is simulated at dates 0 = t_0 < t_1 < ... < t_n only. On the interval (a, b] =
(t_{k-1}, t_k] the engine observes the exposure E_a of the portfolio left after a's payments,
the exposure E*_b at b of that same portfolio with the flows paid in (a, b] kept in their own
currency's bank account (the "interval portfolio", pre-payment value), and E_b after b's
payments. The flows of the interval are taken as paid at their |PV|-weighted mean time pbar
(b when they are paid at b or nothing is paid): until pbar the exposure is the interval
portfolio's, after it the post-payment one. The interval's term is

    X_k = int_a^pbar E*(t) dmu + E_b mu((pbar, b]) + curvature_k

with E*(t) interpolated linearly between E_a and E*_b (weights alpha_k = int_a^pbar (b-t)/(b-a)
dmu, beta_k = int_a^pbar (t-a)/(b-a) dmu) and a curvature correction from the Gaussian shape:
with m(t), v(t) the mean and variance of the deflated net exposure interpolated linearly
between the ends,

    curvature_k = int_a^pbar [B(m(t), v(t)) - linear interp. of B(m_a, v_a), B(m_b, v_b)] dmu,
    B(m, v) = E[max(Y, 0)], Y ~ N(m, v) = m Phi(m / sqrt v) + sqrt v phi(m / sqrt v),

which is exact for an exposure that is a Gaussian with linear variance (an FX forward, a swap
between payments) and removes the bias of the linear rule where v starts at 0 (E ~ sqrt t).
The linear part is a path functional (it carries the batch standard error); the curvature part
is a deterministic function of the estimated moments. Quadrature: Gauss-Legendre in
s = sqrt((t - a) / (b - a)) on the first interval (where E ~ sqrt t), in t elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from xvaflow.core.dates import FloatArray
from xvaflow.market.curves import HazardCurve

GL_NODES = 16
_GL_X, _GL_W = np.polynomial.legendre.leggauss(GL_NODES)
_UNIT_X, _UNIT_W = 0.5 * (_GL_X + 1.0), 0.5 * _GL_W  # Gauss-Legendre on (0, 1)


@dataclass(frozen=True)
class Measure:
    """A measure with density g(t) exp(-Lambda(t)) on (0, inf), g and Lambda' constant on each
    piece (tau_j, tau_{j+1}] (the last piece extends to infinity).

    Attributes:
        starts: ``[J]`` piece starts tau_j (tau_0 = 0).
        g: ``[J]`` density factor on each piece.
        rate: ``[J]`` lambda_j = Lambda' on each piece (>= 0).
        log_start: ``[J]`` Lambda(tau_j).
        cum_start: ``[J]`` M(tau_j).
        area_start: ``[J]`` int_0^{tau_j} M(u) du.
    """

    starts: FloatArray
    g: FloatArray
    rate: FloatArray
    log_start: FloatArray
    cum_start: FloatArray
    area_start: FloatArray

    @classmethod
    def build(cls, scale: float, density: HazardCurve | None,
              survival: tuple[HazardCurve, ...]) -> Measure:
        """dmu = scale h(t) prod_i S_i(t) dt with h the hazard of ``density`` (1 if None) and
        S_i the survival of each curve in ``survival``."""
        curves = (*survival, *(() if density is None else (density,)))
        pillars = np.unique(np.concatenate([np.zeros(1), *(c.times[:-1] for c in curves)]))
        starts = pillars
        mid = np.r_[0.5 * (starts[1:] + starts[:-1]), starts[-1] + 1.0]
        g = scale * (np.ones_like(mid) if density is None else density.hazard_rate(mid))
        rate = sum((c.hazard_rate(mid) for c in survival), np.zeros_like(mid))
        log_start = sum((c.cumulative_hazard(starts) for c in survival), np.zeros_like(starts))
        widths = np.diff(starts)
        pieces = g[:-1] * np.exp(-log_start[:-1]) * _expint(rate[:-1], widths)
        cum = np.r_[0.0, np.cumsum(pieces)]
        area = cum[:-1] * widths + g[:-1] * np.exp(-log_start[:-1]) * _expint2(rate[:-1],
                                                                              widths)
        return cls(starts, g, rate, log_start, cum, np.r_[0.0, np.cumsum(area)])

    def _piece(self, t: FloatArray) -> np.ndarray:
        return np.clip(np.searchsorted(self.starts, t, side="right") - 1, 0, None)

    def cumulative(self, t: FloatArray) -> FloatArray:
        """M(t) = mu((0, t])."""
        t = np.asarray(t, dtype=float)
        j = self._piece(t)
        out: FloatArray = self.cum_start[j] + self.g[j] * np.exp(-self.log_start[j]) * _expint(
            self.rate[j], t - self.starts[j])
        return out

    def area(self, t: FloatArray) -> FloatArray:
        """int_0^t M(u) du (exact)."""
        t = np.asarray(t, dtype=float)
        j = self._piece(t)
        d = t - self.starts[j]
        out: FloatArray = (self.area_start[j] + self.cum_start[j] * d + self.g[j]
                           * np.exp(-self.log_start[j]) * _expint2(self.rate[j], d))
        return out

    def density(self, t: FloatArray) -> FloatArray:
        """rho(t)."""
        t = np.asarray(t, dtype=float)
        j = self._piece(t)
        out: FloatArray = self.g[j] * np.exp(-self.log_start[j] - self.rate[j]
                                             * (t - self.starts[j]))
        return out


def _expint(rate: FloatArray, width: FloatArray) -> FloatArray:
    """int_0^w e^{-lambda u} du = -expm1(-lambda w) / lambda (w when lambda = 0)."""
    rate, width = np.asarray(rate, dtype=float), np.asarray(width, dtype=float)
    small = rate * width < 1e-12
    safe = np.where(small, 1.0, rate)
    out: FloatArray = np.where(small, width, -np.expm1(-safe * width) / safe)
    return out


def _expint2(rate: FloatArray, width: FloatArray) -> FloatArray:
    """int_0^w int_0^x e^{-lambda u} du dx = (lambda w + expm1(-lambda w)) / lambda^2 (a series
    where lambda w is small: w^2/2 - lambda w^3/6 + lambda^2 w^4/24)."""
    rate, width = np.asarray(rate, dtype=float), np.asarray(width, dtype=float)
    x = rate * width
    small = x < 1e-3
    safe = np.where(small, 1.0, rate)
    out: FloatArray = np.where(small, width * width * (0.5 - x / 6.0 + x * x / 24.0),
                               (safe * width + np.expm1(-safe * width)) / (safe * safe))
    return out


@dataclass(frozen=True)
class IntervalWeights:
    """Weights of the linear rule on the intervals (t_{k-1}, t_k], ``[n]`` per netting set.

    Attributes:
        left: alpha_k, weight of E_{k-1} (post-payment; E_0 the exposure today).
        right: beta_k, weight of E*_k (the interval portfolio at t_k).
        paid: mu((pbar_k, t_k]), weight of E_k (post-payment at t_k).
    """

    left: FloatArray
    right: FloatArray
    paid: FloatArray


def interval_weights(times: FloatArray, measure: Measure, pay_mean: FloatArray
                     ) -> IntervalWeights:
    """Linear-rule weights for exposure ``times`` ``[n]`` and the intervals' mean payment
    times ``pay_mean`` ``[n]`` (t_k where nothing is paid in the interval).

    With c = pbar_k: alpha_k = int_a^c (b-t)/(b-a) dmu, beta_k = int_a^c (t-a)/(b-a) dmu,
    exact by parts, int_a^c (t - a) dM = (c - a) M(c) - int_a^c M(t) dt, and
    paid_k = M(b) - M(c).
    """
    edges = np.r_[0.0, times]
    a, b = edges[:-1], edges[1:]
    c = np.clip(pay_mean, a, b)
    integral_m = measure.area(c) - measure.area(a)
    m_a, m_c = measure.cumulative(a), measure.cumulative(c)
    beta = ((c - a) * m_c - integral_m) / (b - a)
    alpha = (m_c - m_a) - beta
    return IntervalWeights(alpha, beta, measure.cumulative(b) - m_c)


def bachelier_positive(mean: FloatArray, var: FloatArray) -> FloatArray:
    """E[max(Y, 0)] for Y ~ N(mean, var) (max(mean, 0) where var = 0)."""
    sd = np.sqrt(np.maximum(var, 0.0))
    safe = np.where(sd > 0.0, sd, 1.0)
    z = mean / safe
    out: FloatArray = np.where(sd > 0.0, mean * ndtr(z) + sd * np.exp(-0.5 * z * z)
                               / np.sqrt(2.0 * np.pi), np.maximum(mean, 0.0))
    return out


def _curvature_nodes(times: FloatArray, measure: Measure, pay_mean: FloatArray
                     ) -> tuple[FloatArray, FloatArray]:
    """(nodes u ``[n, GL_NODES]`` in (0, u_c], weights ``[n, GL_NODES]``: rho(t) du (b - a))
    of each interval's curvature quadrature."""
    edges = np.r_[0.0, times]
    a, b = edges[:-1], edges[1:]
    width = b - a
    # Nodes in u = (t - a)/(b - a) on (0, u_c]; the first interval in s = sqrt(u) (E ~ sqrt t
    # near 0).
    u_c = (np.clip(pay_mean, a, b) - a) / width
    first = np.zeros(times.size, dtype=bool)
    first[:1] = True
    root = np.sqrt(u_c)[:, None] * _UNIT_X[None, :]
    u = np.where(first[:, None], root**2, u_c[:, None] * _UNIT_X[None, :])
    du = np.where(first[:, None], 2.0 * root * np.sqrt(u_c)[:, None] * _UNIT_W[None, :],
                  u_c[:, None] * _UNIT_W[None, :])
    t = a[:, None] + width[:, None] * u
    return u, measure.density(t) * du * width[:, None]


def curvature(times: FloatArray, measure: Measure, start: tuple[FloatArray, FloatArray],
              end: tuple[FloatArray, FloatArray], pay_mean: FloatArray) -> FloatArray:
    """``[n]`` curvature corrections of the positive part on (t_{k-1}, pbar_k] (see the
    module docstring).

    Args:
        times: ``[n]`` exposure times.
        measure: the metric's measure.
        start: (mean, variance) ``[n]`` of the deflated net exposure at each interval's start
            (post-payment; today's value and 0 for the first).
        end: (mean, variance) ``[n]`` at each interval's end (interval portfolio).
        pay_mean: ``[n]`` the intervals' mean payment times pbar_k.
    """
    u, weight = _curvature_nodes(times, measure, pay_mean)
    (m0, v0), (m1, v1) = start, end
    mean = m0[:, None] + (m1 - m0)[:, None] * u
    var = v0[:, None] + (v1 - v0)[:, None] * u
    ends = (bachelier_positive(m0, v0), bachelier_positive(m1, v1))
    shape = bachelier_positive(mean, var) - (ends[0][:, None] + (ends[1] - ends[0])[:, None] * u)
    out: FloatArray = (shape * weight).sum(axis=1)
    return out


def _bachelier_gradient(mean: FloatArray, var: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(dB/dmean, dB/dvar) of :func:`bachelier_positive`: Phi(z) and phi(z) / (2 sd); where
    var = 0, 1{mean > 0} and 0 (the variance derivative is unbounded only at mean = 0)."""
    sd = np.sqrt(np.maximum(var, 0.0))
    safe = np.where(sd > 0.0, sd, 1.0)
    z = mean / safe
    d_mean = np.where(sd > 0.0, ndtr(z), (mean > 0.0).astype(float))
    d_var = np.where(sd > 0.0, np.exp(-0.5 * z * z) / (np.sqrt(2.0 * np.pi) * 2.0 * safe), 0.0)
    return d_mean, d_var


def curvature_gradient(times: FloatArray, measure: Measure,
                       start: tuple[FloatArray, FloatArray], end: tuple[FloatArray, FloatArray],
                       pay_mean: FloatArray) -> FloatArray:
    """``[4, n]`` derivatives of :func:`curvature` in (start mean, start variance, end mean,
    end variance) of each interval (the trade allocation's Euler terms)."""
    u, weight = _curvature_nodes(times, measure, pay_mean)
    (m0, v0), (m1, v1) = start, end
    dm, dv = _bachelier_gradient(m0[:, None] + (m1 - m0)[:, None] * u,
                                 v0[:, None] + (v1 - v0)[:, None] * u)
    (dm0, dv0), (dm1, dv1) = _bachelier_gradient(m0, v0), _bachelier_gradient(m1, v1)
    out: FloatArray = np.stack([((dm - dm0[:, None]) * (1.0 - u) * weight).sum(axis=1),
                                ((dv - dv0[:, None]) * (1.0 - u) * weight).sum(axis=1),
                                ((dm - dm1[:, None]) * u * weight).sum(axis=1),
                                ((dv - dv1[:, None]) * u * weight).sum(axis=1)])
    return out
