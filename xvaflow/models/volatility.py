"""FX and equity volatilities piecewise constant in time, calibrated under stochastic rates.

In the cross-asset model (:mod:`xvaflow.models.crossasset`) the forward F(t, T) of an FX rate
or an equity for delivery at T is lognormal under the T-forward measure, with a deterministic
loading on the Brownian factors:

    FX of b in units of s (values X_b, X_s in base currency):
        F = X_b P_b(t,T) / (X_s P_s(t,T)),
        l(u, T) = sigma_Xb(u) e_FXb - sigma_Xs(u) e_FXs - sigma_b B_b(u,T) e_IRb
                  + sigma_s B_s(u,T) e_IRs;
    equity e in currency c:
        F = S_e e^{-q (T-t)} / P_c(t,T),   l(u, T) = sigma_E(u) e_EQe + sigma_c B_c(u,T) e_IRc;

(sigma_X of the base currency is 0; B(u,T) = (1 - e^{-a (T-u)}) / a). The variance of ln F(T_e, T)
seen from t is

    v(t, T_e; T) = int_t^{T_e} l(u,T)' rho l(u,T) du,

so an option expiring at T_e on the forward for delivery at T is worth Black(F(t,T), K, v) times
the delivery bond, exactly, at every t on every path: a long option's deflated value is a
martingale. The integral is computed piece by piece (the vols are constant between knots, B
is smooth) with 8-point Gauss-Legendre, exact to rounding for the exponentials involved.

Calibration (:func:`calibrate`): the vol of each FX rate against the base currency and of each
equity is piecewise constant on fixed knots (:func:`vol_knots`: weekly to 12 weeks, monthly to
5Y, quarterly to 30Y, annually to 100Y, and every pillar of the input term structures), solved
knot by knot so that
the model's total variance v(0, k_i; k_i) equals the input's sigma(k_i)^2 k_i. On piece i the
variance is quadratic in sigma_i; where no sigma_i >= 0 reaches the input (the rates alone
already carry more variance, or a strongly negative rate/FX correlation needs an imaginary vol),
the variance-minimising sigma_i is taken and the knot is reported. The knots do not depend on
the portfolio, so adding a trade never changes the model.

An FX cross (neither currency the base) is not calibrated: its model vol follows from the two
legs' vols, their correlation and the rates, and differs from a quoted cross vol or from the
triangle rule the t0 pricer applies to the legs' implied vols; so does an equity or FX option
beyond a knot the calibration cannot reach. Such an option's exposure starts from the model's
price, not its t0 price; the run warns when they differ by more than 0.1 vol points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xvaflow.core.dates import FloatArray

GL_X, GL_W = np.polynomial.legendre.leggauss(8)
KNOT_HORIZON = 100.0
_SMALL_A = 1e-8


def vol_knots(pillars: FloatArray) -> FloatArray:
    """Knots (``[J]``, increasing, > 0): weekly to 12 weeks, monthly to 5Y, quarterly to 30Y,
    annual to 100Y, and the input pillars (those closer than a day to a schedule knot replace
    it). Between knots the model's implied vol departs from the input by at most 7e-5 in the
    first month and 3e-5 after (measured with 1.5% Hull-White vols and rate/FX correlations of
    0.3, tests/validation/test_model_consistent_options.py)."""
    schedule = np.r_[np.arange(7, 91, 7) / 365.0, np.arange(3, 61) / 12.0,
                     np.arange(5.25, 30.0 + 1e-9, 0.25), np.arange(31.0, KNOT_HORIZON + 1e-9, 1.0)]
    p = np.asarray(pillars, dtype=np.float64)
    p = p[(p > 0.0) & (p <= KNOT_HORIZON)]
    far = np.array([np.abs(p - k).min() > 1.0 / 365.0 if p.size else True for k in schedule],
                   dtype=bool)
    return np.unique(np.r_[schedule[far], p])


def bond_b(a: FloatArray, tau: FloatArray) -> FloatArray:
    """B = (1 - e^{-a tau}) / a elementwise (tau where a -> 0)."""
    a = np.asarray(a, dtype=np.float64)
    small = np.abs(a) < _SMALL_A
    safe = np.where(small, 1.0, a)
    return np.where(small, tau, -np.expm1(-safe * tau) / safe)


@dataclass(frozen=True)
class Loading:
    """Loadings of n forwards on their local factors: V vol factors then R rate factors.

    Attributes:
        vols: ``[n, V, J+1]`` signed vols per piece (piece j = [k_{j-1}, k_j), k_{-1} = 0,
            the last piece open-ended).
        rate_coef: ``[n, R]`` signed Hull-White sigmas of the rate factors.
        rate_a: ``[n, R]`` their mean reversions.
        corr: ``[n, V+R, V+R]`` correlations of the local factors.
    """

    vols: FloatArray
    rate_coef: FloatArray
    rate_a: FloatArray
    corr: FloatArray

    def variance_rate(self, piece: np.ndarray, u: FloatArray, big_t: FloatArray) -> FloatArray:
        """l(u, T)' rho l(u, T) for arrays ``[n, ...]`` of pieces, times u and deliveries T."""
        n, n_vol, _ = self.vols.shape
        shape = np.broadcast_shapes(piece.shape, u.shape, big_t.shape)
        rows = np.arange(n).reshape((n,) + (1,) * (len(shape) - 1))
        extra = (1,) * (len(shape) - 1)
        vec = [self.vols[:, v][rows, piece] * np.ones(shape) for v in range(n_vol)]
        vec += [self.rate_coef[:, r].reshape((n, *extra))
                * bond_b(self.rate_a[:, r].reshape((n, *extra)), big_t - u)
                for r in range(self.rate_coef.shape[1])]
        out = np.zeros(shape)
        for i, vi in enumerate(vec):
            for j, vj in enumerate(vec):
                out += self.corr[:, i, j].reshape((n, *extra)) * vi * vj
        return out


def _quad(loading: Loading, piece: np.ndarray, left: FloatArray, right: FloatArray,
          big_t: FloatArray) -> FloatArray:
    """int_left^right l(u, T)' rho l(u, T) du within one piece each, ``[n, m]`` (``piece``,
    ``left``, ``right`` ``[n, m]``, ``big_t`` ``[n]``)."""
    half = 0.5 * (right - left)
    u = (left + half)[..., None] + half[..., None] * GL_X  # [n, m, 8]
    q = loading.variance_rate(np.broadcast_to(piece[..., None], u.shape), u,
                              np.asarray(big_t, dtype=np.float64)[:, None, None])
    return np.asarray((q * GL_W).sum(axis=2) * half)


def piece_integrals(loading: Loading, knots: FloatArray, lo: FloatArray, hi: FloatArray,
                    big_t: FloatArray) -> FloatArray:
    """The integral over [lo, hi] of l(u, T)' rho l(u, T) du split by piece, ``[n, J+1]``
    (``lo``, ``hi``, ``big_t`` ``[n]``)."""
    edges = np.r_[0.0, knots, np.inf]
    lo = np.asarray(lo, dtype=np.float64)[:, None]
    hi = np.maximum(lo, np.asarray(hi, dtype=np.float64)[:, None])
    left = np.clip(edges[None, :-1], lo, hi)
    right = np.clip(edges[None, 1:], lo, hi)
    piece = np.broadcast_to(np.arange(edges.size - 1)[None, :], left.shape)
    return _quad(loading, piece, left, right, big_t)


def integrated_variance(loading: Loading, knots: FloatArray, lo: FloatArray, hi: FloatArray,
                        big_t: FloatArray) -> FloatArray:
    """v = int_lo^hi l(u, T)' rho l(u, T) du, ``[n]``."""
    return np.asarray(piece_integrals(loading, knots, lo, hi, big_t).sum(axis=1))


class ForwardVariance:
    """Remaining variance v(t, T_e; T) of n options' forwards along the simulation.

    ``cum[n, j]`` holds the variance accumulated up to the start of piece j, so a date costs
    one partial piece per option.
    """

    def __init__(self, loading: Loading, knots: FloatArray, expiry: FloatArray,
                 delivery: FloatArray) -> None:
        self.loading, self.knots = loading, np.asarray(knots, dtype=np.float64)
        self.expiry = np.asarray(expiry, dtype=np.float64)
        self.delivery = np.asarray(delivery, dtype=np.float64)
        n = self.expiry.size
        parts = piece_integrals(loading, self.knots, np.zeros(n), self.expiry, self.delivery)
        self.total = parts.sum(axis=1)
        self.cum = np.concatenate([np.zeros((n, 1)), np.cumsum(parts, axis=1)], axis=1)

    def remaining(self, t: float, rows: np.ndarray) -> FloatArray:
        """v(t, T_e; T) ``[rows]`` (0 at and after expiry)."""
        j = int(np.searchsorted(self.knots, t, side="right"))  # t lies in piece j
        start = 0.0 if j == 0 else float(self.knots[j - 1])
        ld = self.loading
        sub = Loading(ld.vols[rows], ld.rate_coef[rows], ld.rate_a[rows], ld.corr[rows])
        end = np.minimum(t, self.expiry[rows])
        left = np.minimum(start, end)
        partial = _quad(sub, np.full((rows.size, 1), j), left[:, None], end[:, None],
                        self.delivery[rows])[:, 0]
        done = np.where(self.expiry[rows] <= start, self.total[rows],
                        self.cum[rows, j] + partial)
        return np.asarray(np.maximum(self.total[rows] - done, 0.0))


@dataclass(frozen=True)
class VolFit:
    """Calibration of one FX rate or equity.

    Attributes:
        factor: the factor (``FX_EURUSD``, ``EQ_SPX``).
        vols: ``[J+1]`` the piecewise-constant vols.
        knots: ``[J]`` the knots it was solved on.
        unreachable: knot times where the input variance could not be reached.
        errors: ``[J]`` |model implied vol - input vol| at the knots (decimal).
    """

    factor: str
    vols: FloatArray
    knots: FloatArray
    unreachable: tuple[float, ...]
    errors: FloatArray

    @property
    def max_error(self) -> float:
        return float(self.errors.max()) if self.errors.size else 0.0


def calibrate(factor: str, loading: Loading, knots: FloatArray, target: FloatArray) -> VolFit:
    """Piecewise vols reproducing total variances ``target`` ``[J]`` at ``knots`` ``[J]``.

    ``loading`` holds one row whose first local factor is the vol factor (its vols are
    ignored); the forward at knot i is for delivery at k_i. Knot by knot:
    L_i s_i^2 + 2 beta_i s_i + known_i = target_i, with L_i the piece length, beta_i the
    integral over piece i of rho(vol, rates) times the rate loadings, and known_i the earlier
    pieces (delivery k_i) plus the rates' own variance on piece i.
    """
    j_count = knots.size
    edges = np.r_[0.0, knots]
    left = np.minimum(edges[None, :-1], knots[:, None])[None]  # [1, i, j]
    right = np.minimum(edges[None, 1:], knots[:, None])[None]
    half = 0.5 * (right - left)
    u = (left + half)[..., None] + half[..., None] * GL_X  # [1, i, j, 8]
    piece = np.broadcast_to(np.arange(j_count)[None, None, :, None], u.shape)
    big_t = knots[None, :, None, None]

    def integral(vol: float) -> FloatArray:
        ld = Loading(np.full((1, 1, j_count + 1), vol), loading.rate_coef, loading.rate_a,
                     loading.corr)
        out: FloatArray = ((ld.variance_rate(piece, u, big_t) * GL_W).sum(axis=-1)
                           * half)[0]
        return out

    gamma = integral(0.0)  # [i, j]: the rates' own variance on piece j, delivery k_i
    beta = 0.5 * (integral(1.0) - gamma - loading.corr[0, 0, 0] * 2.0 * half[0])
    length = np.diff(edges)
    vols = np.zeros(j_count + 1)
    unreachable: list[float] = []
    for i in range(j_count):
        known = float((length[:i] * vols[:i] ** 2 + 2.0 * vols[:i] * beta[i, :i]).sum()
                      + gamma[i, : i + 1].sum())
        qa, qb, qc = length[i], 2.0 * beta[i, i], known - float(target[i])
        disc = qb * qb - 4.0 * qa * qc
        root = (-qb + np.sqrt(disc)) / (2.0 * qa) if disc >= 0.0 else -np.inf
        if root >= 0.0:
            vols[i] = root
        else:  # out of reach: the vol that brings the variance closest
            vols[i] = max(0.0, -qb / (2.0 * qa))
            unreachable.append(float(knots[i]))
    vols[j_count] = vols[j_count - 1]
    rows = np.zeros(j_count, dtype=np.int64)
    fitted = Loading(np.broadcast_to(vols, (j_count, 1, j_count + 1)), loading.rate_coef[rows],
                     loading.rate_a[rows], loading.corr[rows])
    model = integrated_variance(fitted, knots, np.zeros(j_count), knots, knots)
    error = np.abs(np.sqrt(np.maximum(model, 0.0) / knots) - np.sqrt(target / knots))
    return VolFit(factor, vols, knots, tuple(unreachable), np.asarray(error))
