"""Pricing kernels against independent numerical references (quadrature, parity, limits)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import integrate, optimize, stats

from xvaflow.models.gaussian import expected_positive_part
from xvaflow.models.hull_white import bond_b, forward_measure_shift, state_variance
from xvaflow.pricing.formulas import bachelier, black


def _quadrature(coef: np.ndarray, beta: np.ndarray, mean: float, var: float) -> float:
    """E[max(sum c exp(-b y), 0)], y ~ N(mean, var), by adaptive quadrature split at the roots."""
    sd = np.sqrt(var)

    def integrand(y: float) -> float:
        return max(value(y), 0.0) * float(stats.norm.pdf(y, mean, sd))

    def value(y: float) -> float:
        return float(np.sum(coef * np.exp(-beta * y)))

    # Split at the exact roots (brentq) so that every piece is smooth for quad.
    grid = mean + sd * np.linspace(-12, 12, 4001)
    signs = np.sign([value(y) for y in grid])
    kinks = [optimize.brentq(value, grid[i], grid[i + 1], xtol=1e-15)
             for i in np.flatnonzero(signs[1:] != signs[:-1])]
    edges = [mean - 12 * sd, *kinks, mean + 12 * sd]
    return sum(integrate.quad(integrand, a, b, epsabs=1e-14, epsrel=1e-12, limit=200)[0]
               for a, b in itertools.pairwise(edges))


@pytest.mark.parametrize("seed", range(6))
def test_positive_part_matches_quadrature_for_swap_like_sums(seed: int) -> None:
    # A payer swap's value at expiry: +1 at the start bond, -c_i on coupon bonds (monotone in y).
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 30))
    beta = np.sort(rng.uniform(0.0, 20.0, n))
    coef = -rng.uniform(0.01, 0.05, n)
    coef[-1] -= 1.0
    coef = np.r_[1.0 + rng.uniform(-0.1, 0.1), coef]
    beta = np.r_[0.0, beta]
    mean, var = rng.normal(0, 0.01), rng.uniform(1e-5, 5e-3)
    got = expected_positive_part(coef[None], beta[None], np.array([mean]), np.array([var]))[0]
    # quadrature converges to ~1e-12 absolute on these O(1) sums
    assert got == pytest.approx(_quadrature(coef, beta, mean, var), abs=1e-10)


def test_positive_part_handles_two_sign_changes() -> None:
    # V(y) = e^{-y} + e^{y} - 2.5 is positive on both tails and negative in the middle.
    coef = np.array([[1.0, 1.0, -2.5]])
    beta = np.array([[1.0, -1.0, 0.0]])
    mean, var = np.array([0.1]), np.array([0.8])
    got = expected_positive_part(coef, beta, mean, var)[0]
    assert got == pytest.approx(_quadrature(coef[0], beta[0], 0.1, 0.8), abs=1e-10)


def test_positive_part_without_root_is_expectation_or_zero() -> None:
    coef = np.array([[2.0, 0.5], [-1.0, -0.2]])
    beta = np.array([[0.3, 1.0], [0.1, 0.2]])
    mean, var = np.array([0.0, 0.0]), np.array([0.01, 0.01])
    got = expected_positive_part(coef, beta, mean, var)
    # Always positive: E[sum c e^{-b y}] = sum c e^{b^2 v / 2}; always negative: 0.
    assert got[0] == pytest.approx(np.sum(coef[0] * np.exp(0.5 * beta[0] ** 2 * 0.01)), rel=1e-14)
    assert got[1] == 0.0


@pytest.mark.parametrize("is_call", [True, False])
def test_black_matches_lognormal_quadrature(is_call: bool) -> None:
    f, k, s = 1.1, 1.05, 0.25
    w = 1.0 if is_call else -1.0
    ref = integrate.quad(lambda z: max(w * (f * np.exp(s * z - 0.5 * s * s) - k), 0.0)
                         * stats.norm.pdf(z), -12, 12, points=[np.log(k / f) / s + s / 2],
                         epsabs=1e-13)[0]
    assert float(black(np.array(f), np.array(k), np.array(s), is_call)) == pytest.approx(
        ref, abs=1e-11)


def test_black_put_call_parity_and_zero_vol() -> None:
    f, k, s = np.array([1.0, 2.0, 0.5]), np.array([1.1, 1.5, 0.5]), np.array([0.2, 0.0, 0.3])
    call, put = black(f, k, s, True), black(f, k, s, False)
    np.testing.assert_allclose(call - put, f - k, atol=1e-14)
    assert call[1] == pytest.approx(0.5)
    assert put[1] == 0.0


def test_bachelier_parity_and_atm() -> None:
    f, k, s = np.array([0.03, 0.03]), np.array([0.025, 0.03]), np.array([0.01, 0.01])
    call, put = bachelier(f, k, s, True), bachelier(f, k, s, False)
    np.testing.assert_allclose(call - put, f - k, atol=1e-16)
    assert call[1] == pytest.approx(0.01 / np.sqrt(2 * np.pi), rel=1e-14)  # ATM: s / sqrt(2 pi)


def test_hull_white_small_reversion_limit() -> None:
    t, big_t = np.array([1.0, 3.0]), np.array([5.0, 10.0])
    np.testing.assert_allclose(bond_b(1e-6, t, big_t), big_t - t, rtol=1e-5)
    np.testing.assert_allclose(bond_b(0.0, t, big_t), big_t - t)
    np.testing.assert_allclose(state_variance(1e-6, 0.01, t), 1e-4 * t, rtol=1e-5)
    np.testing.assert_allclose(forward_measure_shift(0.0, 0.01, t), 0.5e-4 * t**2)


def test_hull_white_variance_matches_integral() -> None:
    a, sigma, t = 0.05, 0.012, 7.0
    ref = integrate.quad(lambda u: sigma**2 * np.exp(-2 * a * (t - u)), 0, t)[0]
    assert float(state_variance(a, sigma, t)) == pytest.approx(ref, rel=1e-13)
