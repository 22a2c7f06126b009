"""Collateralised exposure (variation margin with thresholds, MTA, independent amount and a
margin period of risk) against closed forms and the CSA rules, on a single FX forward.

The trade: the bank buys A = 10m EUR against K USD at T (2027-12-20), rates (near)
deterministic (Hull-White vol 1e-6), EURUSD lognormal with vol sigma = 9%. With
Y(u) = X(u) P_EUR(u,T) / N(u) (a martingale, lognormal with vol sigma) and P = P_USD(0,T):
V(u) / N(u) = A Y(u) - K P, and the bank account N(u) = 1 / P_USD(0,u) is deterministic.
All CSAs are in USD (the base currency), so collateral needs no FX conversion. The grid is
every 10 business days (weekends only: 14 calendar days) from as_of, so the 10-day margin
period of risk of each exposure date ends at the previous exposure date (checked) and the
collateral at t_k is the balance called on V(t_{k-1}) (t_0 = as_of: the call on today's value).

1. MPoR 0, threshold 0, MTA 0: the collateral is V(t) itself, no exposure at all.
2. MPoR 0 with thresholds TH_c (counterparty) and TH_o (bank), MTA 0: the collateral is
   max(V - TH_c, 0) - max(-V - TH_o, 0), so the exposure is min(max(V, 0), TH_c) path by path,
   and (Black formula, deterministic rates, L = K P + TH_c P_USD(0,t))
   EPE(t) = C(K P) - C(K P + TH_c P_USD(0,t)),  C(L) = A Y(0) N(d1) - L N(d2),
   d1,2 = (ln(A Y(0) / L) +- sigma^2 t / 2) / (sigma sqrt(t)).
3. MPoR 10 business days (delta = 14/365), threshold 0, MTA 0: the exposure is
   max(V(t) - V(t - delta), 0). Closed-form Gaussian approximation: dV ~ N(0, sigma_V^2 delta)
   with sigma_V = A X P_EUR(.,T) sigma, deflated and averaged:
   EPE_G = A Y(0) sigma sqrt(delta / (2 pi)) (the same at every date). Its error, from the
   lognormal (not normal) increment (relative ~sigma^2 delta / 24 ~ 1e-5) and the carry of V
   over the MPoR ((1 - g) V / 2 with g = P_USD(0,t) / P_USD(0,t-delta), relative ~1e-3), is
   measured here against the exact value (for deterministic rates: the conditional Black
   formula E_y[Black(A y, g A y + (1 - g) K P, sigma sqrt(delta))] over the lognormal
   y = Y(t - delta), by 96-point Gauss-Hermite quadrature, exact to ~1e-15) and added to the
   statistical tolerance. The Monte Carlo EPE must match the approximation within
   z s.e. + |EPE_G - exact| and the exact value within z s.e.
4. MPoR 10 with thresholds, MTA and an independent amount: path by path the collateral is the
   CSA rule applied to the simulated values, balance_k = target(V(t_k)) when
   |target - balance_{k-1}| >= MTA, else balance_{k-1}; C(t_{k+1}) = balance_k + IA; the
   exposure is max(V - C, 0) (tolerance 1e-9 x notional per path: the same numbers).

Statistical tolerances: 3 standard errors per comparison, raised to the Bonferroni bound
``z_tolerance(m)`` for m comparisons (false alarm below 1% per test); fixed seed.
"""

from __future__ import annotations

import datetime as _dt
import math
from pathlib import Path

import numpy as np
import pytest
import QuantLib as ql
from mc_portfolios import (
    MARKET,
    Deviations,
    NettingSet,
    PathRun,
    deterministic_rates,
    load,
    run_with_paths,
    z_tolerance,
)
from ql_reference import pyd, qd, ql_calendar
from scipy.stats import norm

from xvaflow.portfolio import Portfolio
from xvaflow.xva.engine import RunSettings, simulation_setup

A, K = 10e6, 10.95e6
MATURITY = "2027-12-20"
SIGMA = MARKET["fx_vols"]["EURUSD"]
MPOR = 10
N_DATES = 24
TH_CAP = 2.5e5  # counterparty threshold of the MPoR-0 capped netting set
ROUNDING = 1e5  # the rounding of NS_ROUND's transfers
PATH_CSA = {"threshold_cpty": 2e5, "threshold_own": 1e5, "mta": 1e5,
            "independent_amount": 5e4, "mpor_days": MPOR}
NETTING = {
    "NS_UNCOLL": None,
    "NS_FULL": {"threshold_cpty": 0, "threshold_own": 0, "mta": 0, "mpor_days": 0},
    "NS_CAP": {"threshold_cpty": TH_CAP, "threshold_own": 1e6, "mta": 0, "mpor_days": 0},
    "NS_MPOR": {"threshold_cpty": 0, "threshold_own": 0, "mta": 0, "mpor_days": MPOR},
    "NS_PATH": PATH_CSA,
    "NS_MONTHLY": {"threshold_cpty": 0, "threshold_own": 0, "mta": 0, "mpor_days": 0,
                   "call_frequency": "monthly"},
    "NS_ROUND": {"threshold_cpty": 0, "threshold_own": 0, "mta": 0, "mpor_days": 0,
                 "rounding": ROUNDING},
}


def exposure_grid() -> list[_dt.date]:
    """Every 10 business days from as_of (QuantLib's calendar arithmetic)."""
    cal = ql_calendar()
    d = qd(MARKET["as_of"])
    out = []
    for _ in range(N_DATES):
        d = cal.advance(d, MPOR, ql.Days)
        out.append(pyd(d))
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Portfolio, PathRun]:
    trades = [{"netting_set_id": ns, "product": "FXFWD", "maturity_date": MATURITY,
               "buy_currency": "EUR", "buy_amount": A, "sell_currency": "USD",
               "sell_amount": K} for ns in NETTING]
    netting = [NettingSet(ns, csa=csa) for ns, csa in NETTING.items()]
    portfolio = load(Path(tmp_path_factory.mktemp("csa")), trades, netting,
                     deterministic_rates(MARKET))
    grid = tuple(d.isoformat() for d in exposure_grid())
    settings = RunSettings(paths=32_768, seed=18, grid=grid, bilateral=False, antithetic=True)
    # The margin period of risk of each date ends on the previous exposure date.
    _, sim = simulation_setup(portfolio, settings)
    steps = sim.exposure_steps
    assert steps.size == N_DATES
    assert sim.lags[MPOR, "daily"][steps[0]] == -1  # as_of: today's call
    assert np.array_equal(sim.lags[MPOR, "daily"][steps[1:]], steps[:-1])
    with pytest.MonkeyPatch.context() as mp:
        out = run_with_paths(mp, portfolio, list(NETTING), settings)
    # every netting set holds the same trade on the same paths
    assert np.abs(out.value - out.value[:, :1]).max() <= 1e-9 * A
    return portfolio, out


def _forward_parts(portfolio: Portfolio) -> tuple[float, float, float]:
    """(A Y(0), K P, T)."""
    m = portfolio.market
    big_t = (_dt.date.fromisoformat(MATURITY) - m.as_of).days / 365.0
    return (A * m.fx_rate("EUR", "USD") * float(m.discount("EUR", big_t)),
            K * float(m.discount("USD", big_t)), big_t)


def _black(forward: np.ndarray | float, strike: np.ndarray | float, stdev: float) -> np.ndarray:
    d1 = (np.log(np.asarray(forward) / strike) + 0.5 * stdev * stdev) / stdev
    return np.asarray(forward * norm.cdf(d1) - strike * norm.cdf(d1 - stdev))


# ---------------------------------------------------------------------------------------------
# 1, 2. MPoR 0
# ---------------------------------------------------------------------------------------------
def test_full_collateral_without_mpor_leaves_no_exposure(run: tuple[Portfolio, PathRun]
                                                         ) -> None:
    """Threshold 0, MTA 0, MPoR 0: C(t) = V(t), so EPE = ENE = 0 (to 1e-9 x notional per
    path: V / X_USD * X_USD is V up to rounding)."""
    _, out = run
    j = out.result.netting_sets.index("NS_FULL")
    net = out.value[:, j] - out.collateral[:, j]
    print(f"NS_FULL: max |V - C| {np.abs(net).max():.4g}, EPE {out.result.profile.epe[:, j]}")
    assert np.abs(net).max() <= 1e-9 * A
    assert np.all(out.result.profile.epe[:, j] <= 1e-9 * A)
    assert np.all(out.result.profile.ene[:, j] <= 1e-9 * A)


def test_threshold_caps_exposure_without_mpor(run: tuple[Portfolio, PathRun]) -> None:
    """MPoR 0, thresholds (TH_c, TH_o), MTA 0: exposure = min(max(V, 0), TH_c) on every path
    (1e-9 x notional), and EPE(t) = C(K P) - C(K P + TH_c P_USD(0,t)) within z s.e."""
    portfolio, out = run
    res = out.result
    j = res.netting_sets.index("NS_CAP")
    v = out.value[:, j]
    expected = np.minimum(np.maximum(v, 0.0), TH_CAP)
    exposure = out.pos[:, j] * out.numeraire
    assert np.abs(exposure - expected).max() <= 1e-9 * A
    ay0, kp, _ = _forward_parts(portfolio)
    dev = Deviations("MPoR-0 threshold EPE", z_tolerance(N_DATES))
    _, se = out.epe()
    for k, t in enumerate(res.times):
        stdev = SIGMA * math.sqrt(t)
        p_t = float(portfolio.market.discount("USD", t))
        ref = float(_black(ay0, kp, stdev) - _black(ay0, kp + TH_CAP * p_t, stdev))
        dev.check(res.profile.epe[k, j], ref, se[k, j], f"t={t:.4f}")
    dev.verify()


# ---------------------------------------------------------------------------------------------
# 3. MPoR 10 business days: Gaussian approximation
# ---------------------------------------------------------------------------------------------
def exact_mpor_epe(portfolio: Portfolio, s: float, t: float) -> float:
    """E[(V(t) - V(s))^+ / N(t)] for deterministic rates (module docstring, section 3)."""
    ay0, kp, _ = _forward_parts(portfolio)
    p = portfolio.market.curve("USD")
    g = float(p.discount(t)) / float(p.discount(s))
    if s == 0.0:
        y = np.array([ay0])
        w = np.array([1.0])
    else:
        z, w = np.polynomial.hermite_e.hermegauss(96)
        w = w / math.sqrt(2.0 * math.pi)
        y = ay0 * np.exp(SIGMA * math.sqrt(s) * z - 0.5 * SIGMA * SIGMA * s)
    return float(w @ _black(y, g * y + (1.0 - g) * kp, SIGMA * math.sqrt(t - s)))


def test_mpor_epe_matches_gaussian_approximation(run: tuple[Portfolio, PathRun]) -> None:
    """Zero threshold and MTA, MPoR 10 business days: EPE(t) = A Y(0) sigma sqrt(delta/2pi)
    within z s.e. + its approximation error, and the exact conditional-Black value within
    z s.e., at all 24 dates (32,768 antithetic paths)."""
    portfolio, out = run
    res = out.result
    j = res.netting_sets.index("NS_MPOR")
    ay0, _, _ = _forward_parts(portfolio)
    _, se = out.epe()
    prev = np.r_[0.0, res.times[:-1]]
    dev_g = Deviations("MPoR EPE vs Gaussian approximation", z_tolerance(2 * N_DATES))
    dev_x = Deviations("MPoR EPE vs exact", dev_g.z)
    worst_approx = 0.0
    for k, (s, t) in enumerate(zip(prev, res.times, strict=True)):
        delta = t - s
        assert abs(delta * 365.0 - 14.0) < 1e-9  # 10 business days, weekends only
        gauss = ay0 * SIGMA * math.sqrt(delta / (2.0 * math.pi))
        exact = exact_mpor_epe(portfolio, s, t)
        approx_error = abs(gauss - exact)
        worst_approx = max(worst_approx, approx_error / exact)
        epe = res.profile.epe[k, j]
        dev_g.check(epe, gauss, se[k, j], f"t={t:.4f}", allowance=approx_error)
        dev_x.check(epe, exact, se[k, j], f"t={t:.4f}")
    print(f"Gaussian approximation error: worst {worst_approx:.2e} relative; MC s.e. "
          f"{np.max(se[:, j] / res.profile.epe[:, j]):.2e} relative")
    assert worst_approx < 5e-3  # the approximation is good to the stated order
    dev_g.verify()
    dev_x.verify()


# ---------------------------------------------------------------------------------------------
# 4. MPoR 10 with thresholds, MTA and independent amount: the CSA rules path by path
# ---------------------------------------------------------------------------------------------
def test_lagged_collateral_follows_the_csa_rules(run: tuple[Portfolio, PathRun]) -> None:
    """C(t_k) from the balance called at t_{k-1} (thresholds, MTA, IA), recomputed here from the
    simulated values; exposure max(V - C, 0); every rule is exercised on some path."""
    _, out = run
    res = out.result
    j = res.netting_sets.index("NS_PATH")
    th_c, th_o = PATH_CSA["threshold_cpty"], PATH_CSA["threshold_own"]
    mta, ia = PATH_CSA["mta"], PATH_CSA["independent_amount"]

    def call(v: np.ndarray, balance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        target = np.maximum(v - th_c, 0.0) - np.maximum(-v - th_o, 0.0)
        moved = np.abs(target - balance) >= mta
        return np.where(moved, target, balance), moved

    n = out.value.shape[2]
    balance, _ = call(np.full(n, res.npv[j]), np.zeros(n))  # today's call
    worst = 0.0
    kept = moved_count = 0
    for k in range(N_DATES):
        v = out.value[k, j]
        expected_c = balance + ia
        worst = max(worst, float(np.abs(out.collateral[k, j] - expected_c).max()))
        exposure = out.pos[k, j] * out.numeraire[k]
        worst = max(worst, float(np.abs(exposure - np.maximum(v - expected_c, 0.0)).max()))
        balance, moved = call(v, balance)
        target = np.maximum(v - th_c, 0.0) - np.maximum(-v - th_o, 0.0)
        kept += int(np.count_nonzero(~moved & (target != balance)))
        moved_count += int(np.count_nonzero(moved))
    print(f"CSA rules: worst |difference| {worst:.3g}; calls made {moved_count}, "
          f"calls below MTA {kept}")
    assert worst <= 1e-9 * A
    assert kept > 1000
    assert moved_count > 1000  # the MTA both holds and releases calls
    # the thresholds bind on both sides on some paths
    c = out.collateral[:, j] - ia
    assert np.count_nonzero(c > 0) > 1000
    assert np.count_nonzero(c < 0) > 1000


# ---------------------------------------------------------------------------------------------
# 5. Monthly calls, 6. rounding
# ---------------------------------------------------------------------------------------------
def test_monthly_calls_expose_the_move_since_the_last_call(run: tuple[Portfolio, PathRun]
                                                           ) -> None:
    """MPoR 0, monthly calls (as_of + n months, rolled back to a business day), zero
    thresholds and MTA: the collateral at t is V at the last call date s <= t, so EPE(t) is
    the conditional-Black value of E[(V(t) - V(s))^+ / N(t)] (section 3's formula with that s)
    within z s.e.; on a call date itself the exposure is 0."""
    portfolio, out = run
    res = out.result
    j = res.netting_sets.index("NS_MONTHLY")
    cal = ql_calendar()
    as_of = qd(MARKET["as_of"])
    calls = [cal.adjust(as_of + ql.Period(n, ql.Months), ql.Preceding) for n in range(30)]
    _, se = out.epe()
    dev = Deviations("monthly-call EPE vs exact", z_tolerance(N_DATES))
    zero = 0
    for k, t in enumerate(res.times):
        day = as_of + round(t * 365.0)
        last = max(c for c in calls if c <= day)
        s = (last - as_of) / 365.0
        if s == t:
            assert res.profile.epe[k, j] <= 1e-9 * A
            zero += 1
            continue
        dev.check(res.profile.epe[k, j], exact_mpor_epe(portfolio, s, t), se[k, j],
                  f"t={t:.4f}, last call {pyd(last)}")
    assert zero < N_DATES  # most exposure dates fall between monthly calls
    dev.verify()


def test_rounded_transfers(run: tuple[Portfolio, PathRun]) -> None:
    """MPoR 0, daily calls on the exposure dates, rounding R: each transfer is a multiple of
    R, rounded up when the balance grows in magnitude and down when it shrinks, recomputed
    here path by path from the simulated values (1e-9 x notional)."""
    _, out = run
    res = out.result
    j = res.netting_sets.index("NS_ROUND")

    def call(v: np.ndarray, balance: np.ndarray) -> np.ndarray:
        transfer = v - balance  # zero thresholds: the target is V
        units = np.abs(transfer) / ROUNDING
        away = np.abs(v) > np.abs(balance)
        steps = np.where(away, np.ceil(units - 1e-9), np.floor(units + 1e-9))
        return balance + np.sign(transfer) * steps * ROUNDING

    n = out.value.shape[2]
    balance = call(np.full(n, res.npv[j]), np.zeros(n))  # today's call
    worst = 0.0
    for k in range(N_DATES):
        balance = call(out.value[k, j], balance)
        worst = max(worst, float(np.abs(out.collateral[k, j] - balance).max()))
        assert np.allclose(np.round(balance / ROUNDING), balance / ROUNDING)
    print(f"rounding: worst |difference| {worst:.3g}")
    assert worst <= 1e-9 * A
    # both directions happen: over- and under-collateralised paths
    net = out.value[:, j] - out.collateral[:, j]
    assert np.count_nonzero(net > 1.0) > 1000
    assert np.count_nonzero(net < -1.0) > 1000
