"""The XVA time integration (xvaflow.xva.integration) against direct numerical integrals."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.integrate import quad

from xvaflow.market.curves import HazardCurve
from xvaflow.xva.integration import (
    Measure,
    bachelier_positive,
    curvature,
    curvature_gradient,
    interval_weights,
)

CPTY = HazardCurve([1.0, 3.0, 5.0, 10.0], [0.01, 0.03, 0.02, 0.05])
OWN = HazardCurve([2.0, 7.0], [0.015, 0.008])


def _density(t: float) -> float:
    """0.6 h_C(t) S_C(t) S_B(t): a bilateral CVA density."""
    return float(0.6 * CPTY.hazard_rate(t) * CPTY.survival(t) * OWN.survival(t))


def test_measure_is_exact_on_piecewise_hazards() -> None:
    mu = Measure.build(0.6, CPTY, (CPTY, OWN))
    points = [0.0, 0.5, 1.0, 2.0, 2.5, 4.9, 7.0, 12.0, 40.0]
    breaks = [1.0, 2.0, 3.0, 5.0, 7.0, 10.0]
    for t in points:
        exact = quad(_density, 0.0, t, points=[b for b in breaks if b < t], epsabs=0.0,
                     epsrel=1e-13, limit=200)[0] if t > 0 else 0.0
        assert mu.cumulative(np.array([t]))[0] == pytest.approx(exact, rel=1e-11, abs=1e-15)
    for t in (0.3, 2.2, 6.0, 11.0):
        assert mu.density(np.array([t]))[0] == pytest.approx(_density(t), rel=1e-12)
    unilateral = Measure.build(0.6, CPTY, (CPTY,))
    t = np.array([0.7, 3.3, 20.0])
    np.testing.assert_allclose(unilateral.cumulative(t), 0.6 * (1.0 - CPTY.survival(t)),
                               rtol=1e-13)
    funding = Measure.build(0.01, None, (CPTY,))  # no hazard factor: s S_C dt
    assert funding.cumulative(np.array([4.0]))[0] == pytest.approx(
        quad(lambda u: 0.01 * float(CPTY.survival(u)), 0.0, 4.0, points=[1.0, 3.0])[0],
        rel=1e-11)


def test_interval_weights_integrate_linear_exposures_exactly() -> None:
    """alpha_k E_a + beta_k E*_b + paid_k E_b = int of the linear interpolation up to pbar
    plus E_b after it, for the intervals of a grid crossing hazard pillars."""
    mu = Measure.build(0.6, CPTY, (CPTY, OWN))
    times = np.array([0.25, 0.9, 1.3, 2.6, 4.0, 6.5])
    pay = np.array([0.25, 0.5, 1.3, 2.0, 3.9, 6.5])
    w = interval_weights(times, mu, pay)
    edges = np.r_[0.0, times]
    e_a, e_star, e_b = 3.0, 5.0, 1.5
    for k, (a, b) in enumerate(itertools.pairwise(edges)):
        c = pay[k]
        breaks = [x for x in (1.0, 2.0, 3.0, 5.0) if a < x < b]

        def lin(t: float, a: float = a, b: float = b) -> float:
            return e_a + (e_star - e_a) * (t - a) / (b - a)

        exact = quad(lambda t: lin(t) * _density(t), a, c, points=[x for x in breaks if x < c],
                     epsabs=0.0, epsrel=1e-12)[0] if c > a else 0.0
        exact += e_b * (quad(_density, c, b, points=[x for x in breaks if x > c], epsabs=0.0,
                             epsrel=1e-12)[0] if c < b else 0.0)
        got = w.left[k] * e_a + w.right[k] * e_star + w.paid[k] * e_b
        assert got == pytest.approx(exact, rel=1e-10), k


@pytest.mark.parametrize("mean", [0.0, 0.3, -0.4])
@pytest.mark.parametrize("step", [1 / 12, 0.25])
def test_curvature_makes_gaussian_exposures_exact(mean: float, step: float) -> None:
    """Deflated net exposure Y(t) ~ N(m0 + g t, s^2 t) (a Brownian exposure, e.g. an FX
    forward's): the linear rule on the exact EPE at the dates plus the curvature term equals
    int EPE dmu to 1e-9 relative (the linear rule alone: 5e-7 to 4e-4)."""
    mu = Measure.build(0.6, CPTY, (CPTY, OWN))
    times = np.arange(1, round(3.0 / step) + 1) * step
    drift, sd = 0.05, 0.2

    def moments(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return mean + drift * t, sd * sd * t

    epe = bachelier_positive(*moments(times))
    w = interval_weights(times, mu, times)
    start_epe = np.r_[max(mean, 0.0), epe[:-1]]
    linear = float(np.sum(w.left * start_epe + w.right * epe))
    start = (np.r_[mean, moments(times)[0][:-1]], np.r_[0.0, moments(times)[1][:-1]])
    total = linear + float(np.sum(curvature(times, mu, start, moments(times), times)))

    def integrand(t: float) -> float:
        m, v = moments(np.array([t]))
        return float(bachelier_positive(m, v)[0]) * _density(t)

    exact = sum(quad(integrand, a, b, epsabs=0.0, epsrel=1e-12, limit=200)[0]
                for a, b in zip(np.r_[0.0, times][:-1], times, strict=True))
    assert total == pytest.approx(exact, rel=1e-9)
    assert abs(linear / exact - 1.0) > 100.0 * abs(total / exact - 1.0)  # it matters


def test_bachelier_positive_matches_its_definition() -> None:
    for m, v in ((0.2, 0.09), (-0.5, 0.04), (0.0, 1.0)):
        exact = quad(lambda y, m=m, v=v: max(y, 0.0) * math.exp(-(y - m) ** 2 / (2 * v))
                     / math.sqrt(2 * math.pi * v), -20, 20, points=[0.0])[0]
        assert float(bachelier_positive(np.array(m), np.array(v))) == pytest.approx(exact,
                                                                                  rel=1e-10)
    assert float(bachelier_positive(np.array(0.3), np.array(0.0))) == 0.3
    assert float(bachelier_positive(np.array(-0.3), np.array(0.0))) == 0.0


def test_curvature_gradient_matches_central_differences() -> None:
    """Each of the four derivatives against (c(x + h) - c(x - h)) / 2h, to 1e-6 relative of
    the largest, on intervals with and without a payment inside and today's zero variance."""
    mu = Measure.build(0.6, CPTY, (CPTY, OWN))
    times = np.array([0.25, 0.5, 1.0, 2.0])
    pay_mean = np.array([0.25, 0.4, 1.0, 1.3])
    start = [np.array([0.1, -0.05, 0.2, 0.0]), np.array([0.0, 0.02, 0.05, 0.09])]
    end = [np.array([0.05, 0.1, -0.1, 0.3]), np.array([0.01, 0.04, 0.06, 0.2])]
    got = curvature_gradient(times, mu, (start[0], start[1]), (end[0], end[1]), pay_mean)
    for row, (side, which) in enumerate(itertools.product((start, end), (0, 1))):
        h = 1e-6
        up, down = [a.copy() for a in side], [a.copy() for a in side]
        up[which] += h
        down[which] -= h
        if side is start:
            up[1][0] = down[1][0] = 0.0  # today's variance is 0 (not bumped)
            c_up = curvature(times, mu, (up[0], up[1]), (end[0], end[1]), pay_mean)
            c_down = curvature(times, mu, (down[0], down[1]), (end[0], end[1]), pay_mean)
        else:
            c_up = curvature(times, mu, (start[0], start[1]), (up[0], up[1]), pay_mean)
            c_down = curvature(times, mu, (start[0], start[1]), (down[0], down[1]), pay_mean)
        numeric = (c_up - c_down) / (2 * h)
        if side is start and which == 1:
            numeric[0] = got[row][0]  # not defined at zero variance
        scale = np.abs(numeric).max()
        assert scale > 0.0, row
        np.testing.assert_allclose(got[row], numeric, rtol=0.0, atol=1e-6 * scale,
                                   err_msg=f"derivative {row}")
