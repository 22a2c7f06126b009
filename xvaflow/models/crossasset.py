"""Cross-asset model in the base-currency risk-neutral measure, with exact Gaussian transitions.

Factors (one Brownian motion each, correlated by the repaired matrix rho):

- per currency c, Hull-White 1F: r_c = x_c + phi_c(t), dx_c = (-a_c x_c + mu_c) dt + sigma_c dW_c,
  x_c(0) = 0; mu_c = 0 for the base currency and the quanto drift
  mu_f = -rho(IR_f, FX_f) sigma_f sigma_Xf for a foreign one;
- per foreign currency f, lognormal FX X_f (base units per unit of f) with vol sigma_Xf:
  X_f(t) = X_f(0) N_d(t) / N_f(t) exp(Z_f(t) - sigma_Xf^2 t / 2), Z_f = sigma_Xf W_Xf;
- per equity e in currency c, GBM with dividend yield q_e:
  S_e(t) = S_e(0) exp(-q_e t) N_c(t) exp(Z_e(t) - sigma_e^2 t / 2), Z_e = sigma_e W_e (+ the
  quanto drift -rho(EQ_e, FX_c) sigma_e sigma_Xc when c is foreign);
- bank accounts N_c(t) = exp(I_c(t) + Phi_c(t)), I_c = int_0^t x_c, with the deterministic
  Phi_c(t) = -ln P_c(0, t) + Var[I_c(t)] / 2 fitting each initial curve exactly
  (Var[I_c(t)] = sigma^2/a^2 (t - 2 B(0,t) + (1 - e^{-2at})/(2a)));
- bonds P_c(t, T) = P_c(0,T)/P_c(0,t) exp(-B(t,T) (x_c + c_c(t)) - B(t,T)^2 V_c(t) / 2)
  (:mod:`xvaflow.models.hull_white`).

The state Y = [x (C), I (C), Z_fx (C-1), Z_eq (E)] follows the linear SDE dY = (A Y + b) dt +
G dW with constant coefficients, so its transition over any step is exactly Gaussian:
Y(t+h) = e^{Ah} Y(t) + m(h) + L(h) eps, with e^{Ah}, m and the covariance Q(h) = int_0^h e^{Au}
G rho G^T e^{A^T u} du from one matrix exponential (C. Van Loan, "Computing integrals involving
the matrix exponential", IEEE TAC 23, 1978). Discounted bonds of every currency, converted at
the simulated FX, and discounted equities are martingales by construction; the tests check it.

Reference for the measure changes: D. Brigo, F. Mercurio (2006), chapter 12 (quanto adjustments).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.linalg import expm

from xvaflow.core.backend import array_namespace
from xvaflow.core.dates import FloatArray
from xvaflow.market.curves import ZeroCurve
from xvaflow.market.market import Market, MissingMarketDataError
from xvaflow.models.calibration import CalibrationReport, hull_white_for
from xvaflow.models.correlation import assemble, is_valid, nearest_correlation
from xvaflow.models.hull_white import bond_b, forward_measure_shift, state_variance


@dataclass(frozen=True)
class Transition:
    """One exact step of length h: Y' = M Y + m + L eps (``[D, D]``, ``[D]``, ``[D, K]``)."""

    matrix: FloatArray
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
        fx_vol: ``[C]`` lognormal FX vols (0 for the base).
        equities: ``[E]`` equity names; eq_spot, eq_dividend, eq_vol ``[E]``; eq_currency ``[E]``
            index into ``currencies``.
        factor_names: ``[K]`` names of the Brownian factors (IR_c, FX_c, EQ_e).
        correlation: ``[K, K]`` the correlation used (repaired when the input was invalid).
        repaired: whether the input correlation had to be repaired.
        input_correlation: ``[K, K]`` as assembled from market.json.
        calibration: currency -> calibration report (None where market.json gives the
            Hull-White parameters).
    """

    base: str
    currencies: tuple[str, ...]
    mean_reversion: FloatArray
    volatility: FloatArray
    curves: tuple[ZeroCurve, ...]
    fx_spot: FloatArray
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
    _cache: dict[float, Transition] = field(default_factory=dict, compare=False, repr=False)

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
        return {"hull_white": hull_white, "factors": list(self.factor_names),
                "correlation_repaired": self.repaired, "correlation_max_change": change}

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
    def _generator(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(A [D, D], b [D], G [D, K]) of dY = (A Y + b) dt + G dW."""
        n, d = self.n_ccy, self.dim
        a_mat, b_vec, g_mat = np.zeros((d, d)), np.zeros(d), np.zeros((d, len(self.factor_names)))
        rho = self.correlation
        for c in range(n):
            a_mat[c, c] = -self.mean_reversion[c]
            a_mat[self.i_index(c), c] = 1.0
            g_mat[c, c] = self.volatility[c]
            if c > 0:
                g_mat[self.fx_index(c), self.fx_factor(c)] = self.fx_vol[c]
                # quanto drift of the foreign short rate under the base measure
                b_vec[c] = -rho[c, self.fx_factor(c)] * self.volatility[c] * self.fx_vol[c]
        for e in range(len(self.equities)):
            k, f = self.eq_index(e), self.eq_factor(e)
            g_mat[k, f] = self.eq_vol[e]
            c = int(self.eq_currency[e])
            if c > 0:  # quanto drift of an equity quoted in a foreign currency
                b_vec[k] = -rho[f, self.fx_factor(c)] * self.eq_vol[e] * self.fx_vol[c]
        return a_mat, b_vec, g_mat

    def transition(self, h: float) -> Transition:
        """Exact transition over a step of length ``h`` > 0 (cached by ``h``)."""
        key = round(float(h), 12)
        if key not in self._cache:
            self._cache[key] = self._transition(key)
        return self._cache[key]

    def _transition(self, h: float) -> Transition:
        a_mat, b_vec, g_mat = self._generator()
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
        cov = 0.5 * (q[:d, :d] + q[:d, :d].T)
        return Transition(matrix=phi[:d, :d], mean=phi[:d, d], loading=_psd_factor(cov))

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
        v = float(self.fx_vol[c])
        log = (np.log(self.fx_spot[c]) + self.log_bank(0, t, state) - self.log_bank(c, t, state)
               - 0.5 * v * v * t + state[:, self.fx_index(c)])
        return xp.exp(log)

    def equity(self, e: int, t: float, state: Any) -> Any:
        """S_e(t) in its own currency, ``[paths]``."""
        xp = array_namespace(state)
        c, v = int(self.eq_currency[e]), float(self.eq_vol[e])
        log = (np.log(self.eq_spot[e]) - float(self.eq_dividend[e]) * t
               + self.log_bank(c, t, state) - 0.5 * v * v * t + state[:, self.eq_index(e)])
        return xp.exp(log)


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
    fx_names, fx_signs, fx_vol = [], [], [0.0]
    for c in ccys[1:]:
        name, sign = _fx_factor(base, c, quoted)
        fx_names.append(name)
        fx_signs.append(sign)
        try:
            fx_vol.append(market.fx_vol(c + base))
        except MissingMarketDataError:
            raise MissingMarketDataError(
                f"market.json fx_vols needs a vol for {c}{base} (or {base}{c}) to simulate {c}"
            ) from None
    names = ([f"IR_{c}" for c in ccys] + fx_names + [f"EQ_{e}" for e in eq_names])
    signs = np.r_[np.ones(len(ccys)), fx_signs, np.ones(len(eq_names))]
    raw: FloatArray = assemble(names, market.correlation) * np.outer(signs, signs)
    repaired = not is_valid(raw)
    corr = nearest_correlation(raw) if repaired else raw
    specs = [market.equity(e) for e in eq_names]
    return CrossAssetModel(
        base=base,
        currencies=ccys,
        mean_reversion=np.array([p.mean_reversion for p in hw]),
        volatility=np.array([p.volatility for p in hw]),
        curves=tuple(market.curve(c) for c in ccys),
        fx_spot=np.array([market.fx_rate(c, base) for c in ccys]),
        fx_vol=np.array(fx_vol),
        equities=eq_names,
        eq_spot=np.array([s.spot for s in specs]),
        eq_dividend=np.array([s.dividend_yield for s in specs]),
        eq_vol=np.array([s.vol for s in specs]),
        eq_currency=np.array([ccys.index(s.currency) for s in specs], dtype=np.int64),
        factor_names=tuple(names),
        correlation=corr,
        repaired=repaired,
        input_correlation=raw,
        calibration={c: fitted[c][1] for c in ccys},
    )
