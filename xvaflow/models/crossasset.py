"""Cross-asset model in the base-currency risk-neutral measure, with exact Gaussian transitions.

Factors (one Brownian motion each, correlated by the repaired matrix rho):

- per currency c, Hull-White 1F: r_c = x_c + phi_c(t), dx_c = (-a_c x_c + mu_c) dt + sigma_c dW_c,
  x_c(0) = 0; mu_c = 0 for the base currency and the quanto drift
  mu_f = -rho(IR_f, FX_f) sigma_f sigma_Xf for a foreign one;
- per foreign currency f, lognormal FX X_f (base units per unit of f) with vol sigma_Xf(t):
  X_f(t) = X_f(0) N_d(t) / N_f(t) exp(Z_f(t) - int_0^t sigma_Xf^2 / 2), dZ_f = sigma_Xf dW_Xf;
- per equity e in currency c, GBM with dividend yield q_e:
  S_e(t) = S_e(0) exp(-q_e t) N_c(t) exp(Z_e(t) - int_0^t sigma_e^2 / 2), dZ_e = sigma_e dW_e
  (+ the quanto drift -rho(EQ_e, FX_c) sigma_e sigma_Xc dt when c is foreign);
- the FX and equity vols are piecewise constant between fixed knots, calibrated so that the
  model reproduces the input implied vols under the stochastic rates
  (:mod:`xvaflow.models.volatility`);
- bank accounts N_c(t) = exp(I_c(t) + Phi_c(t)), I_c = int_0^t x_c, with the deterministic
  Phi_c(t) = -ln P_c(0, t) + Var[I_c(t)] / 2 fitting each initial curve exactly
  (Var[I_c(t)] = sigma^2/a^2 (t - 2 B(0,t) + (1 - e^{-2at})/(2a)));
- bonds P_c(t, T) = P_c(0,T)/P_c(0,t) exp(-B(t,T) (x_c + c_c(t)) - B(t,T)^2 V_c(t) / 2)
  (:mod:`xvaflow.models.hull_white`).

The state Y = [x (C), I (C), Z_fx (C-1), Z_eq (E)] follows the linear SDE dY = (A Y + b) dt +
G dW with coefficients constant between knots, so its transition over any interval is exactly
Gaussian: over a piece of length h, Y(t+h) = e^{Ah} Y(t) + m(h) + L(h) eps, with e^{Ah}, m and
the covariance Q(h) = int_0^h e^{Au} G rho G^T e^{A^T u} du from one matrix exponential
(C. Van Loan, "Computing integrals involving the matrix exponential", IEEE TAC 23, 1978), and
pieces compose (M = M2 M1, m = M2 m1 + m2, Q = M2 Q1 M2^T + Q2). Discounted bonds of every
currency, converted at the simulated FX, and discounted equities are martingales by
construction; the tests check it.

Reference for the measure changes: D. Brigo, F. Mercurio (2006), chapter 12 (quanto adjustments).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.linalg import expm

from xvaflow.core.backend import array_namespace
from xvaflow.core.dates import FloatArray
from xvaflow.market.curves import ZeroCurve
from xvaflow.market.market import Market, MissingMarketDataError, VolCurve
from xvaflow.models.calibration import CalibrationReport, hull_white_for
from xvaflow.models.correlation import assemble, is_valid, nearest_correlation
from xvaflow.models.hull_white import bond_b, forward_measure_shift, state_variance
from xvaflow.models.volatility import Loading, VolFit, calibrate, vol_knots


@dataclass(frozen=True)
class Transition:
    """The exact step from t1 to t2: Y(t2) = M Y(t1) + m + L eps (``[D, D]``, ``[D]``,
    ``[D, D]``), covariance Q = L L^T (``[D, D]``)."""

    matrix: FloatArray
    mean: FloatArray
    covariance: FloatArray
    loading: FloatArray


@dataclass(frozen=True)
class Bridge:
    """Y(s) = A Y(a) + B Y(b) + c + L eps: the exact draw of the state between two known
    states (``[D, D]``, ``[D, D]``, ``[D]``, ``[D, D]``), see :meth:`CrossAssetModel.bridge`."""

    from_a: FloatArray
    from_b: FloatArray
    mean: FloatArray
    loading: FloatArray


@dataclass(frozen=True)
class CrossAssetModel:
    """The model's parameters and state layout.

    Attributes:
        base: base currency.
        currencies: ``[C]`` simulated currencies, base first.
        mean_reversion, volatility: ``[C]`` Hull-White a_c, sigma_c.
        curves: ``[C]`` initial OIS curves.
        fx_spot: ``[C]`` value of one unit in base currency today (1 for the base).
        knots: ``[J]`` times where the FX and equity vols may change; piece j is
            [knots[j-1], knots[j]) (knots[-1] = 0), the last piece open-ended.
        fx_vol: ``[C, J+1]`` lognormal FX vols per piece (0 for the base).
        equities: ``[E]`` equity names; eq_spot, eq_dividend ``[E]``, eq_vol ``[E, J+1]``;
            eq_currency ``[E]`` index into ``currencies``.
        factor_names: ``[K]`` names of the Brownian factors (IR_c, FX_c, EQ_e).
        correlation: ``[K, K]`` the correlation used (repaired when the input was invalid).
        repaired: whether the input correlation had to be repaired.
        input_correlation: ``[K, K]`` as assembled from market.json.
        calibration: currency -> calibration report (None where market.json gives the
            Hull-White parameters).
        vol_fits: the FX and equity vol calibrations.
    """

    base: str
    currencies: tuple[str, ...]
    mean_reversion: FloatArray
    volatility: FloatArray
    curves: tuple[ZeroCurve, ...]
    fx_spot: FloatArray
    knots: FloatArray
    fx_vol: FloatArray
    equities: tuple[str, ...]
    eq_spot: FloatArray
    eq_dividend: FloatArray
    eq_vol: FloatArray
    eq_currency: np.ndarray
    factor_names: tuple[str, ...]
    correlation: FloatArray
    repaired: bool
    input_correlation: FloatArray
    calibration: dict[str, CalibrationReport | None] = field(default_factory=dict)
    vol_fits: tuple[VolFit, ...] = ()
    _cache: dict[tuple[float, ...], Any] = field(default_factory=dict, compare=False,
                                                 repr=False)

    def summary(self) -> dict[str, Any]:
        """The parameters for reports: Hull-White per currency (given or calibrated, with the fit
        error), factor names, and whether the correlation matrix was repaired (largest change)."""
        hull_white: dict[str, Any] = {}
        for c, a, s in zip(self.currencies, self.mean_reversion, self.volatility, strict=True):
            report = self.calibration.get(c)
            entry: dict[str, Any] = {"mean_reversion": float(a), "volatility": float(s),
                                     "source": "market.json" if report is None else "calibrated"}
            if report is not None:
                entry.update(fit_rms_bp=report.rms_bp, fit_max_bp=report.max_bp,
                             instruments=len(report.points))
            hull_white[c] = entry
        change = float(np.abs(self.correlation - self.input_correlation).max())
        vols = {f.factor: {"pieces": int(np.count_nonzero(np.diff(f.vols)) + 1),
                           "fit_max_vol_error": f.max_error,
                           "unreachable_knots": len(f.unreachable)} for f in self.vol_fits}
        return {"hull_white": hull_white, "factors": list(self.factor_names),
                "correlation_repaired": self.repaired, "correlation_max_change": change,
                "fx_equity_vols": vols}

    # -- layout ---------------------------------------------------------------------------
    @property
    def n_ccy(self) -> int:
        return len(self.currencies)

    @property
    def dim(self) -> int:
        """D = 3C - 1 + E."""
        return 3 * self.n_ccy - 1 + len(self.equities)

    def x_index(self, c: int) -> int:
        return c

    def i_index(self, c: int) -> int:
        return self.n_ccy + c

    def fx_index(self, c: int) -> int:
        """State index of Z_fx of foreign currency c (c >= 1)."""
        return 2 * self.n_ccy + c - 1

    def eq_index(self, e: int) -> int:
        return 3 * self.n_ccy - 1 + e

    def fx_factor(self, c: int) -> int:
        """Factor (Brownian) index of the FX of foreign currency c (c >= 1)."""
        return self.n_ccy + c - 1

    def eq_factor(self, e: int) -> int:
        return 2 * self.n_ccy - 1 + e

    # -- dynamics -------------------------------------------------------------------------
    def piece(self, t: Any) -> Any:
        """Index of the vol piece holding each time ``t`` (right-continuous)."""
        return np.searchsorted(self.knots, t, side="right")

    def _edges(self, t1: float, t2: float) -> list[tuple[int, float, float]]:
        """The pieces (index, start, end) covering [t1, t2]."""
        j1, j2 = int(self.piece(t1)), int(self.piece(t2))
        bounds = [t1, *[float(k) for k in self.knots[j1:j2]], t2]
        return [(j1 + i, a, b) for i, (a, b) in enumerate(itertools.pairwise(bounds)) if b > a]

    def _generator(self, j: int) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(A [D, D], b [D], G [D, K]) of dY = (A Y + b) dt + G dW on vol piece j."""
        n, d = self.n_ccy, self.dim
        a_mat, b_vec, g_mat = np.zeros((d, d)), np.zeros(d), np.zeros((d, len(self.factor_names)))
        rho = self.correlation
        for c in range(n):
            a_mat[c, c] = -self.mean_reversion[c]
            a_mat[self.i_index(c), c] = 1.0
            g_mat[c, c] = self.volatility[c]
            if c > 0:
                g_mat[self.fx_index(c), self.fx_factor(c)] = self.fx_vol[c, j]
                # quanto drift of the foreign short rate under the base measure
                b_vec[c] = -rho[c, self.fx_factor(c)] * self.volatility[c] * self.fx_vol[c, j]
        for e in range(len(self.equities)):
            k, f = self.eq_index(e), self.eq_factor(e)
            g_mat[k, f] = self.eq_vol[e, j]
            c = int(self.eq_currency[e])
            if c > 0:  # quanto drift of an equity quoted in a foreign currency
                b_vec[k] = -rho[f, self.fx_factor(c)] * self.eq_vol[e, j] * self.fx_vol[c, j]
        return a_mat, b_vec, g_mat

    def transition(self, t1: float, t2: float) -> Transition:
        """Exact transition from t1 to t2 > t1 (cached by the pair)."""
        key = (round(float(t1), 12), round(float(t2), 12))
        if key not in self._cache:
            d = self.dim
            mat, mean, cov = np.eye(d), np.zeros(d), np.zeros((d, d))
            for j, a, b in self._edges(*key):
                pm, pmean, pcov = self._piece_moments(j, b - a)
                mat, mean, cov = pm @ mat, pm @ mean + pmean, pm @ cov @ pm.T + pcov
            cov = 0.5 * (cov + cov.T)
            self._cache[key] = Transition(matrix=mat, mean=mean, covariance=cov,
                                          loading=_psd_factor(cov))
        out: Transition = self._cache[key]
        return out

    def on_market(self, market: Market) -> CrossAssetModel:
        """The same dynamics (Hull-White parameters, FX and equity vols, correlations) on
        ``market``'s curves and spots: a bumped market valued on the same simulated states.

        The state (x_c, I_c, the FX and equity drivers) does not depend on the initial curves
        or spots, which enter only the deterministic parts of bonds, bank accounts, FX rates
        and equity prices; the transitions (cached) are shared.
        """
        base = self.base
        return dataclasses.replace(
            self, curves=tuple(market.curve(c) for c in self.currencies),
            fx_spot=np.array([market.fx_rate(c, base) for c in self.currencies]),
            eq_spot=np.array([market.equity(e).spot for e in self.equities]),
            eq_dividend=np.array([market.equity(e).dividend_yield for e in self.equities]),
            _cache=self._cache)

    def bridge(self, a: float, s: float, b: float) -> Bridge:
        """The exact law of Y(s) given Y(a) and Y(b), a < s < b (cached by the triple).

        With (M1, m1, Q1) the transition a -> s and (M2, m2, Q2) the transition s -> b,
        Y(s) | Y(a), Y(b) ~ N(M1 Y(a) + m1 + W (Y(b) - M2 M1 Y(a) - M2 m1 - m2), Q1 - W M2 Q1),
        W = Q1 M2^T (M2 Q1 M2^T + Q2)^+ (the Gaussian conditional law; the model is Markov, so
        conditioning on the two neighbours is conditioning on everything drawn before). The
        pseudo-inverse keeps singular covariances (a zero vol, deterministic rates) well defined:
        the law is then exact on the support.
        """
        key = (round(float(a), 12), round(float(s), 12), round(float(b), 12))
        if key not in self._cache:
            first, second = self.transition(a, s), self.transition(s, b)
            m1, q1, m2 = first.matrix, first.covariance, second.matrix
            q_ab = m2 @ q1 @ m2.T + second.covariance  # Cov(Y(b) | Y(a))
            gain = q1 @ m2.T @ pseudo_inverse(0.5 * (q_ab + q_ab.T))
            cov = q1 - gain @ m2 @ q1
            self._cache[key] = Bridge(from_a=m1 - gain @ m2 @ m1, from_b=gain,
                                      mean=first.mean - gain @ (m2 @ first.mean + second.mean),
                                      loading=_psd_factor(0.5 * (cov + cov.T)))
        out: Bridge = self._cache[key]
        return out

    def _piece_moments(self, j: int, h: float) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(M, m, Q) over a step of length h inside vol piece j (Van Loan)."""
        a_mat, b_vec, g_mat = self._generator(j)
        d = self.dim
        # Augment with a constant state so the drift rides along: Y~ = [Y, 1].
        at = np.zeros((d + 1, d + 1))
        at[:d, :d], at[:d, d] = a_mat, b_vec
        sig = np.zeros((d + 1, d + 1))
        sig[:d, :d] = g_mat @ self.correlation @ g_mat.T
        block = np.zeros((2 * (d + 1), 2 * (d + 1)))
        block[: d + 1, : d + 1] = -at
        block[: d + 1, d + 1:] = sig
        block[d + 1:, d + 1:] = at.T
        e = expm(block * h)
        phi = e[d + 1:, d + 1:].T  # e^{A~ h}
        q = phi @ e[: d + 1, d + 1:]  # Van Loan: Q = F22^T F12
        return phi[:d, :d], phi[:d, d], 0.5 * (q[:d, :d] + q[:d, :d].T)

    def quanto_drift(self, c: int) -> FloatArray:
        """``[J+1]`` drift mu_c per piece of x_c under the base measure (0 for the base)."""
        if c == 0:
            return np.zeros(self.knots.size + 1)
        rho = self.correlation[c, self.fx_factor(c)]
        return np.asarray(-rho * self.volatility[c] * self.fx_vol[c])

    def pair_moments(self, c: int, t1: FloatArray, t2: FloatArray
                     ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Transition of (x_c, I_c) from t1 to t2 >= t1 (``[n]`` each): M ``[n,2,2]``,
        m ``[n,2]``, Q ``[n,2,2]``.

        x(t2) = e^{-ah} x + ..., I(t2) = I + B(h) x + ...; covariances V(h), sigma^2 B(h)^2 / 2,
        Var[I(h)] (h = t2 - t1); the means integrate the piecewise quanto drift mu(u):
        int mu(u) e^{-a (t2-u)} du and int mu(u) B(u, t2) du, piece by piece.
        """
        a, sigma = float(self.mean_reversion[c]), float(self.volatility[c])
        t1, t2 = np.asarray(t1, dtype=np.float64), np.asarray(t2, dtype=np.float64)
        h = t2 - t1
        bh = bond_b(a, 0.0, h)
        n = h.size
        m_mat = np.zeros((n, 2, 2))
        m_mat[:, 0, 0] = np.exp(-a * h)
        m_mat[:, 1, 0] = bh
        m_mat[:, 1, 1] = 1.0
        mean = np.zeros((n, 2))
        mu = self.quanto_drift(c)
        if np.any(mu != 0.0):
            edges = np.r_[0.0, self.knots, np.inf]
            lo = np.clip(edges[None, :-1], t1[:, None], t2[:, None])  # [n, J+1]
            hi = np.clip(edges[None, 1:], t1[:, None], t2[:, None])
            b_lo, b_hi = bond_b(a, lo, t2[:, None]), bond_b(a, hi, t2[:, None])
            mean[:, 0] = (mu * (b_lo - b_hi)).sum(axis=1)
            g_lo, g_hi = _b_integral(a, t2[:, None] - lo), _b_integral(a, t2[:, None] - hi)
            mean[:, 1] = (mu * (g_lo - g_hi)).sum(axis=1)
        q = np.zeros((n, 2, 2))
        q[:, 0, 0] = state_variance(a, sigma, h)
        q[:, 0, 1] = q[:, 1, 0] = forward_measure_shift(a, sigma, h)  # Cov(x(h), I(h))
        q[:, 1, 1] = self.integral_variance(c, h)
        return m_mat, mean, q

    def x_mean(self, c: int, t: float) -> float:
        """E[x_c(t)] under the base measure (0 for the base currency)."""
        return float(self.pair_moments(c, np.zeros(1), np.array([t]))[1][0, 0])

    def vol_variance(self, vols: FloatArray, t: Any) -> Any:
        """int_0^t sigma(u)^2 du for piecewise vols ``[J+1]`` at times ``t``."""
        edges = np.r_[0.0, self.knots]
        tt = np.asarray(t, dtype=np.float64)
        seg = np.clip(tt[..., None], edges[:-1], edges[1:]) - edges[:-1]
        out = (seg * vols[:-1] ** 2).sum(axis=-1) + np.maximum(tt - edges[-1], 0.0) * vols[-1] ** 2
        return out if np.ndim(out) else float(out)

    # -- forward loadings (options) -------------------------------------------------------
    def fx_loading(self, buy: np.ndarray, sell: np.ndarray) -> Loading:
        """Loadings of the forwards X_b P_b / (X_s P_s) for model currencies ``buy``,
        ``sell`` ``[n]``: vols (+sigma_Xb, -sigma_Xs), rates (-sigma_b, +sigma_s)."""
        buy, sell = np.asarray(buy, dtype=np.int64), np.asarray(sell, dtype=np.int64)
        vols = np.stack([self.fx_vol[buy], -self.fx_vol[sell]], axis=1)
        coef = np.stack([-self.volatility[buy], self.volatility[sell]], axis=1)
        a = np.stack([self.mean_reversion[buy], self.mean_reversion[sell]], axis=1)
        # the base has no FX factor: its (zero) vol takes any factor; its correlations are 0
        fx_b = np.where(buy > 0, self.n_ccy + buy - 1, -1)
        fx_s = np.where(sell > 0, self.n_ccy + sell - 1, -1)
        factors = np.stack([fx_b, fx_s, buy, sell], axis=1)
        return Loading(vols, coef, a, self._local_correlation(factors))

    def eq_loading(self, equity: np.ndarray) -> Loading:
        """Loadings of the forwards S_e e^{-q tau} / P_c for model equities ``equity`` ``[n]``."""
        e = np.asarray(equity, dtype=np.int64)
        c = self.eq_currency[e]
        factors = np.stack([2 * self.n_ccy - 1 + e, c], axis=1)
        return Loading(self.eq_vol[e][:, None, :], self.volatility[c][:, None],
                       self.mean_reversion[c][:, None], self._local_correlation(factors))

    def _local_correlation(self, factors: np.ndarray) -> FloatArray:
        """``[n, k, k]`` correlations of factor indices ``[n, k]`` (-1: no factor)."""
        safe = np.maximum(factors, 0)
        corr = self.correlation[safe[:, :, None], safe[:, None, :]]
        missing = (factors < 0)[:, :, None] | (factors < 0)[:, None, :]
        out: FloatArray = np.where(missing, 0.0, corr)
        return out

    # -- deterministic parts --------------------------------------------------------------
    def integral_variance(self, c: int, t: Any) -> Any:
        """Var[I_c(t)] = sigma^2/a^2 (t - 2 B(0,t) + (1 - e^{-2at})/(2a)) (sigma^2 t^3/3, a->0)."""
        a, s = float(self.mean_reversion[c]), float(self.volatility[c])
        xp = array_namespace(t)
        tt = xp.asarray(t, dtype=xp.float64)
        if abs(a) < 1e-8:
            return s * s * tt**3 / 3.0
        return s * s / (a * a) * (tt - 2.0 * bond_b(a, 0.0, tt) + bond_b(2.0 * a, 0.0, tt))

    def log_bank_drift(self, c: int, t: Any) -> Any:
        """Phi_c(t) = -ln P_c(0, t) + Var[I_c(t)] / 2."""
        xp = array_namespace(t)
        tt = xp.asarray(t, dtype=xp.float64)
        return tt * self.curves[c].zero_rate(tt) + 0.5 * self.integral_variance(c, tt)

    def numeraire(self, t: float, state: Any) -> Any:
        """N_d(t) = exp(I_base(t) + Phi_base(t)), ``[paths]`` from ``state`` ``[paths, D]``."""
        xp = array_namespace(state)
        return xp.exp(state[:, self.i_index(0)] + float(self.log_bank_drift(0, t)))

    def log_bank(self, c: int, t: float, state: Any) -> Any:
        """ln N_c(t) ``[paths]``."""
        return state[:, self.i_index(c)] + float(self.log_bank_drift(c, t))

    def bond_factors(self, c: int, t: float, maturities: Any) -> tuple[Any, Any]:
        """(log K, B) with ln P_c(t, T) = log K - B (x_c + c_c(t)), for ``[m]`` maturities."""
        a, s = float(self.mean_reversion[c]), float(self.volatility[c])
        b = bond_b(a, t, maturities)
        curve = self.curves[c]
        log_k = (np.log(curve.discount(maturities)) - np.log(curve.discount(t))
                 - 0.5 * b * b * float(state_variance(a, s, t)))
        return log_k, b

    def shifted_state(self, c: int, t: float, state: Any) -> Any:
        """y_c = x_c(t) + c_c(t), the variable bond prices are log-linear in."""
        a, s = float(self.mean_reversion[c]), float(self.volatility[c])
        return state[:, self.x_index(c)] + float(forward_measure_shift(a, s, t))

    def discount_bonds(self, c: int, t: float, maturities: Any, state: Any) -> Any:
        """P_c(t, T) ``[paths, m]`` for maturities ``[m]`` >= t."""
        xp = array_namespace(state)
        log_k, b = self.bond_factors(c, t, np.asarray(maturities, dtype=np.float64))
        y = self.shifted_state(c, t, state)
        return xp.exp(xp.asarray(log_k)[None, :] - xp.asarray(b)[None, :] * y[:, None])

    def fx(self, c: int, t: float, state: Any) -> Any:
        """X_c(t), base units per unit of currency c, ``[paths]`` (ones for the base)."""
        xp = array_namespace(state)
        if c == 0:
            return xp.ones(state.shape[0])
        w = float(self.vol_variance(self.fx_vol[c], t))
        log = (np.log(self.fx_spot[c]) + self.log_bank(0, t, state) - self.log_bank(c, t, state)
               - 0.5 * w + state[:, self.fx_index(c)])
        return xp.exp(log)

    def equity(self, e: int, t: float, state: Any) -> Any:
        """S_e(t) in its own currency, ``[paths]``."""
        xp = array_namespace(state)
        c, w = int(self.eq_currency[e]), float(self.vol_variance(self.eq_vol[e], t))
        log = (np.log(self.eq_spot[e]) - float(self.eq_dividend[e]) * t
               + self.log_bank(c, t, state) - 0.5 * w + state[:, self.eq_index(e)])
        return xp.exp(log)


def _b_integral(a: float, tau: Any) -> Any:
    """int_0^tau B(a; 0, s) ds = (tau - B(tau)) / a (tau^2 / 2 as a -> 0)."""
    if abs(a) < 1e-8:
        return 0.5 * tau * tau
    return (tau - bond_b(a, 0.0, tau)) / a


def pseudo_inverse(q: FloatArray) -> FloatArray:
    """Moore-Penrose inverse of covariances ``[..., D, D]`` (a stack is inverted at once),
    taken on the correlation scale so that factors of very different sizes (a rate integral
    over days beside an FX log) are treated alike; factors with zero variance get zero rows
    and columns."""
    q = np.asarray(q, dtype=np.float64)
    sd = np.sqrt(np.maximum(np.diagonal(q, axis1=-2, axis2=-1), 0.0))
    scale = np.where(sd > 0.0, sd, 1.0)
    outer = scale[..., :, None] * scale[..., None, :]
    inv = np.linalg.pinv(q / outer, rcond=1e-12, hermitian=True) / outer
    zero = sd == 0.0
    out: FloatArray = np.where(zero[..., :, None] | zero[..., None, :], 0.0, inv)
    return out


def _psd_factor(cov: FloatArray) -> FloatArray:
    """L with L L^T = cov: Cholesky, or a symmetric square root when cov is singular."""
    try:
        return np.asarray(np.linalg.cholesky(cov), dtype=np.float64)
    except np.linalg.LinAlgError:
        w, v = np.linalg.eigh(cov)
        root: FloatArray = v * np.sqrt(np.maximum(w, 0.0))
        return root


def _fx_factor(base: str, ccy: str, quoted: tuple[str, ...]) -> tuple[str, float]:
    """Name of the FX factor of ``ccy`` and the sign turning it into 'value of ccy in base'."""
    if ccy + base in quoted:
        return f"FX_{ccy}{base}", 1.0
    if base + ccy in quoted:
        return f"FX_{base}{ccy}", -1.0
    return f"FX_{ccy}{base}", 1.0


def market_factors(market: Market) -> tuple[list[str], list[str]]:
    """(currencies, equities) of every factor the market can simulate: a currency with a curve,
    Hull-White parameters (given, or calibrated from swaption vols) and, unless it is the
    base, an FX spot and vol against the base; an equity whose currency is simulated.

    The engine simulates all of them, not only the ones a book uses, so that the paths of a
    netting set do not change when another netting set gains a trade in a new currency or
    equity (the model's dimension and correlation factor stay the same).
    """
    base = market.base_currency
    ccys = []
    for c in sorted(market.curves):
        if c != base and c + base not in market.fx_vols and base + c not in market.fx_vols:
            continue
        try:
            market.fx_rate(c, base)
            hull_white_for(market, c)
        except MissingMarketDataError:
            continue
        ccys.append(c)
    equities = [e for e in sorted(market.equities) if market.equity(e).currency in ccys]
    return ccys, equities


def build_model(market: Market, currencies: Sequence[str], equities: Sequence[str]
                ) -> CrossAssetModel:
    """Model for the given currencies (the base is always added first) and equities.

    Raises:
        MissingMarketDataError: a Hull-White parameter set, FX vol or equity is missing.
    """
    base = market.base_currency
    ccys = (base, *sorted(set(currencies) - {base}))
    eq_names = tuple(sorted(set(equities)))
    for e in eq_names:
        ccys = ccys if market.equity(e).currency in ccys else (*ccys, market.equity(e).currency)
    fitted = {c: hull_white_for(market, c) for c in ccys}
    hw = [fitted[c][0] for c in ccys]
    quoted = tuple(sorted(market.fx_vols))
    fx_names, fx_signs, fx_curves = [], [], []
    for c in ccys[1:]:
        name, sign = _fx_factor(base, c, quoted)
        fx_names.append(name)
        fx_signs.append(sign)
        curve = market.fx_vols.get(c + base, market.fx_vols.get(base + c))
        if curve is None:
            raise MissingMarketDataError(
                f"market.json fx_vols needs a vol for {c}{base} (or {base}{c}) to simulate {c}")
        fx_curves.append(curve)
    names = ([f"IR_{c}" for c in ccys] + fx_names + [f"EQ_{e}" for e in eq_names])
    signs = np.r_[np.ones(len(ccys)), fx_signs, np.ones(len(eq_names))]
    raw: FloatArray = assemble(names, market.correlation) * np.outer(signs, signs)
    repaired = not is_valid(raw)
    corr = nearest_correlation(raw) if repaired else raw
    specs = [market.equity(e) for e in eq_names]
    # Knots from every vol term structure in market.json, not only the book's: adding a trade
    # must not change the model.
    pillars = np.r_[[t for v in market.fx_vols.values() for t in v.times],
                    [t for q in market.equities.values() for t in q.vol.times]]
    knots = vol_knots(pillars)
    model = CrossAssetModel(
        base=base,
        currencies=ccys,
        mean_reversion=np.array([p.mean_reversion for p in hw]),
        volatility=np.array([p.volatility for p in hw]),
        curves=tuple(market.curve(c) for c in ccys),
        fx_spot=np.array([market.fx_rate(c, base) for c in ccys]),
        knots=knots,
        fx_vol=np.zeros((len(ccys), knots.size + 1)),
        equities=eq_names,
        eq_spot=np.array([s.spot for s in specs]),
        eq_dividend=np.array([s.dividend_yield for s in specs]),
        eq_vol=np.zeros((len(eq_names), knots.size + 1)),
        eq_currency=np.array([ccys.index(s.currency) for s in specs], dtype=np.int64),
        factor_names=tuple(names),
        correlation=corr,
        repaired=repaired,
        input_correlation=raw,
        calibration={c: fitted[c][1] for c in ccys},
    )
    return _calibrated(model, fx_curves, [s.vol for s in specs])


def _calibrated(model: CrossAssetModel, fx_curves: Sequence[VolCurve],
                eq_curves: Sequence[VolCurve]) -> CrossAssetModel:
    """The model with FX and equity vols fitted to the input implied vols at every knot
    (:func:`~xvaflow.models.volatility.calibrate`), equal neighbouring pieces merged."""
    knots = model.knots
    fx_vol, eq_vol = np.zeros_like(model.fx_vol), np.zeros_like(model.eq_vol)
    fits: list[VolFit] = []
    for c, curve in enumerate(fx_curves, start=1):
        ld = model.fx_loading(np.array([c]), np.array([0]))
        keep = [0, 2, 3]  # drop the base's (absent) FX factor
        ld = Loading(ld.vols[:, :1], ld.rate_coef, ld.rate_a, ld.corr[:, keep][:, :, keep])
        fit = calibrate(model.factor_names[model.fx_factor(c)], ld, knots,
                        np.asarray(curve.total_variance(knots)))
        fx_vol[c], fits = fit.vols, [*fits, fit]
    for e, curve in enumerate(eq_curves):
        fit = calibrate(f"EQ_{model.equities[e]}", model.eq_loading(np.array([e])), knots,
                        np.asarray(curve.total_variance(knots)))
        eq_vol[e], fits = fit.vols, [*fits, fit]
    vols = np.concatenate([fx_vol, eq_vol])
    change = np.abs(np.diff(vols, axis=1)) > 1e-12 * np.maximum(np.abs(vols[:, 1:]), 1e-300)
    cut = np.flatnonzero(change.any(axis=0))  # knot j separates pieces j and j + 1
    pieces = np.r_[cut, vols.shape[1] - 1]  # a representative column per merged piece
    return dataclasses.replace(model, knots=knots[cut], fx_vol=fx_vol[:, pieces],
                               eq_vol=eq_vol[:, pieces], vol_fits=tuple(fits), _cache={})
