"""Exposure profiles and CVA of single trades against closed forms and QuantLib.

Every run goes through the whole engine: portfolio files (CONTRACT.md) -> ``load_portfolio`` ->
``run_partition``. EPE(t) = E[max(V(t), 0) / N(t)] is the engine's deflated profile
(``profile.epe``); its standard error comes from the same paths (``mc_portfolios.run_with_paths``
records each path's deflated exposure; antithetic pairs are averaged before the variance).

1. Swaps (overnight index, fixed and floating legs on the index day count, same annual
   schedule, no spread: the floating leg telescopes to N (P(t, t_k) - P(t, T_n))). On a reset
   date t_k the value of the remaining swap is the payoff of a European swaption on it expiring
   at t_k, so EPE(t_k) is that swaption's price today. Reference: QuantLib's
   ``JamshidianSwaptionEngine`` with ``ql.HullWhite(a, sigma)`` (the market's parameters) on a
   QuantLib copy of our curve (exact: whole-day pillars); QuantLib generates the schedules.
2. FX forwards with (near) deterministic rates (Hull-White vol 1e-6 in every currency): the bank
   receives A units of b and pays K units of s at T. With Y_c(t) = X_c(t) P_c(t,T) / N(t) (X the
   value of one unit in USD, N the USD bank account), V(t) / N(t) = A Y_b(t) - K Y_s(t). Each
   Y_c is a martingale with Y_c(0) = X_c(0) P_c(0,T); with deterministic rates it is lognormal
   with the FX vol of c against USD (0 for USD), and ln(Y_b/Y_s) has variance
   v^2 = (s_b^2 + s_s^2 - 2 rho s_b s_s) t. So (Margrabe; Garman-Kohlhagen when s = USD, where
   Y_USD = P_USD(0,T) and A Y_b(0) / (K Y_s(0)) = A F / K with the outright forward F):
       EPE(t) = A Y_b(0) N(d1) - K Y_s(0) N(d2),    ENE(t) = K Y_s(0) N(-d2) - A Y_b(0) N(-d1),
       d1,2 = (ln(A Y_b(0) / (K Y_s(0))) +- v^2 / 2) / v,
   i.e. for b = EUR, s = USD: EPE(t) = P_USD(0,T) [A F N(d1) - K N(d2)], v = sigma sqrt(t).
   The neglected rate randomness (sigma_r = 1e-6, and the quanto drift it carries) moves these
   by less than 1e-6 relative, against Monte Carlo standard errors of ~5e-3.
3. CVA = int_0^T EPE(t) LGD h e^{-h t} dt with the counterparty's flat hazard rate,
   unilateral (``bilateral`` false: no own-survival factor even though own_credit is given);
   bilateral adds S_B(t) and DVA = int ENE(t) LGD_B h_B S_B(t) S_C(t) dt. For the FX forwards
   (analytic EPE at every t) the reported CVA must equal the continuous integral within 1% + 3
   reported standard errors on a coarse grid; for the swaps, the terms of each interval are
   checked against the integration rule on the recorded exposures, and the annual-grid CVA
   against a monthly-grid run.
4. Swaptions in the scenario pricer: E[V(t) / N(t)] = V(0) before expiry (physical and cash;
   and for the physical one after expiry, before the underlying's first payment); after
   expiry the physical swaption is, path by path, the exercised underlying swap
   1{V_swap(T_ex) > 0} V_swap(t) (the swap booked as an IRS in another netting set on the same
   paths); the cash-settled one has no value and no exposure at and after expiry.

Tolerances: 3 standard errors per comparison (the issue's figure), raised to the Bonferroni
bound ``z_tolerance(m)`` for a test making m comparisons (false alarm below 1% per test);
fixed seeds, tolerances set before the outcome was seen.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import QuantLib as ql
from mc_portfolios import (
    AS_OF,
    MARKET,
    Deviations,
    NettingSet,
    PathRun,
    deterministic_rates,
    load,
    mean_and_stderr,
    run_with_paths,
    z_tolerance,
)
from ql_reference import (
    MF,
    handle,
    ql_calendar,
    ql_schedule,
    ql_zero_curve,
    set_evaluation_date,
    unique_name,
)
from scipy.integrate import quad
from scipy.stats import norm

from xvaflow.market.curves import HazardCurve
from xvaflow.portfolio import Portfolio
from xvaflow.xva.adjustments import batch_stderr
from xvaflow.xva.engine import RunSettings, run_partition
from xvaflow.xva.integration import Measure, curvature

OWN_CREDIT = {"hazard_rate": 0.01, "recovery": 0.35}
LGD = 1.0 - NettingSet("any").recovery  # the counterparties' recovery (0.4)

# ---------------------------------------------------------------------------------------------
# 1. swaps against QuantLib swaptions
# ---------------------------------------------------------------------------------------------
SWAP_START, SWAP_END = "2026-11-24", "2031-11-24"
SWAPS = {  # netting set -> (direction, fixed rate, notional, hazard rate)
    "NS_PAY": ("payer", 0.0360, 100e6, 0.02),
    "NS_REC": ("receiver", 0.0340, 60e6, 0.035),
}


def _swap_row(ns: str, direction: str, rate: float, notional: float, start: str = SWAP_START,
              end: str = SWAP_END) -> dict[str, object]:
    return {"netting_set_id": ns, "product": "IRS", "direction": direction,
            "notional": notional, "currency": "USD", "start_date": start,
            "maturity_date": end, "fixed_rate": rate, "fixed_frequency": "annual",
            "fixed_daycount": "ACT/360", "float_index": "USD-SOFR",
            "float_frequency": "annual", "float_spread": 0, "float_daycount": "ACT/360"}


def _reset_dates() -> list[_dt.date]:
    """Adjusted start and reset dates of the swaps, as QuantLib's schedule has them."""
    schedule = ql_schedule(SWAP_START, SWAP_END, 12, ql_calendar())
    return [_dt.date(d.year(), d.month(), d.dayOfMonth()) for d in list(schedule)[:-1]]


def ql_swaption_prices(portfolio: Portfolio, expiries: list[_dt.date]) -> dict[str, list[float]]:
    """Per netting set: QuantLib's Jamshidian price of the swaption expiring at each reset date
    on the swap remaining from it (physical, long)."""
    today = set_evaluation_date(AS_OF)
    curve = handle(ql_zero_curve(portfolio.market.curve("USD"), AS_OF))
    hw = MARKET["hull_white"]["USD"]
    model = ql.HullWhite(curve, hw["mean_reversion"], hw["volatility"])
    engine = ql.JamshidianSwaptionEngine(model, curve)
    cal = ql_calendar()
    index = ql.OvernightIndex(unique_name("SOFR"), 0, ql.USDCurrency(), cal, ql.Actual360(),
                              curve)
    full = list(ql_schedule(SWAP_START, SWAP_END, 12, cal))
    out: dict[str, list[float]] = {}
    for ns, (direction, rate, notional, _) in SWAPS.items():
        kind = ql.Swap.Payer if direction == "payer" else ql.Swap.Receiver
        prices = []
        for d in expiries:
            expiry = ql.Date(d.day, d.month, d.year)
            assert expiry > today
            schedule = ql_schedule(d, SWAP_END, 12, cal)
            assert list(schedule) == full[full.index(expiry):]  # the remaining swap
            swap = ql.OvernightIndexedSwap(kind, [notional], schedule, rate, ql.Actual360(),
                                           [notional], schedule, index, 0.0, 0, MF, cal)
            option = ql.Swaption(swap, ql.EuropeanExercise(expiry))
            option.setPricingEngine(engine)
            prices.append(float(option.NPV()))
        out[ns] = prices
    return out


@pytest.fixture(scope="module")
def swap_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Portfolio, PathRun]:
    trades = [_swap_row(ns, d, r, n) for ns, (d, r, n, _) in SWAPS.items()]
    netting = [NettingSet(ns, hazard_rate=h) for ns, (_, _, _, h) in SWAPS.items()]
    doc = dict(MARKET, own_credit=OWN_CREDIT)
    portfolio = load(tmp_path_factory.mktemp("swaps"), trades, netting, doc)
    grid = tuple(d.isoformat() for d in _reset_dates())
    settings = RunSettings(paths=65_536, seed=7, grid=grid, bilateral=False, antithetic=True)
    with pytest.MonkeyPatch.context() as mp:
        run = run_with_paths(mp, portfolio, list(SWAPS), settings)
    return portfolio, run


def test_swap_epe_equals_quantlib_swaption_prices(swap_run: tuple[Portfolio, PathRun]) -> None:
    """EPE(t_k) of a payer and a receiver swap on every reset date = QuantLib's Jamshidian
    price of the swaption expiring at t_k on the remaining swap (65,536 antithetic paths)."""
    portfolio, run = swap_run
    resets = _reset_dates()
    assert [str(d) for d in run.result.dates] == [d.isoformat() for d in resets]
    epe, se = run.epe()
    # the spy saw the engine's numbers (summed in another order)
    assert np.allclose(epe, run.result.profile.epe, rtol=1e-13, atol=0.0)
    # exposure.csv's epe_stderr: the standard error of the same mean (antithetic pairs)
    np.testing.assert_allclose(run.result.profile.epe_stderr, se, rtol=1e-7)
    reference = ql_swaption_prices(portfolio, resets)
    dev = Deviations("swap EPE vs QuantLib swaptions", z_tolerance(len(SWAPS) * len(resets)))
    for j, ns in enumerate(run.result.netting_sets):
        for k, d in enumerate(resets):
            assert reference[ns][k] > 1e-4 * SWAPS[ns][2]  # not trivially zero
            dev.check(run.result.profile.epe[k, j], reference[ns][k], se[k, j], f"{ns} {d}")
    dev.verify()


def _flat_measure_weights(times: np.ndarray, hazard: float, pay_mean: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(alpha, beta, paid) of the linear rule for dmu = LGD h e^{-h t} dt (integration.py's
    definitions), by scipy's adaptive quadrature (independent of the engine's closed forms)."""
    edges = np.r_[0.0, times]

    def rho(t: float) -> float:
        return LGD * hazard * math.exp(-hazard * t)

    alpha, beta, paid = (np.zeros(times.size) for _ in range(3))
    for k, (a, b) in enumerate(itertools.pairwise(edges)):
        c = min(max(pay_mean[k], a), b)
        alpha[k] = quad(lambda t, a=a, b=b: (b - t) / (b - a) * rho(t), a, c, epsabs=0.0)[0]
        beta[k] = quad(lambda t, a=a, b=b: (t - a) / (b - a) * rho(t), a, c, epsabs=0.0)[0]
        paid[k] = quad(rho, c, b, epsabs=0.0)[0] if c < b else 0.0
    return alpha, beta, paid


def test_swap_cva_term_structure(swap_run: tuple[Portfolio, PathRun]) -> None:
    """The CVA term structure (exposure.csv's cva_contribution): the term of interval
    (t_{k-1}, t_k] is alpha_k E_{k-1} + beta_k E*_k + mu((pbar_k, t_k]) E_k + curvature_k
    (xvaflow.xva.integration) with E the recorded post-payment EPE, E* the interval
    portfolio's and weights by independent quadrature (to 1e-9 of the CVA); the terms sum to
    the CVA. The swaps pay on the reset dates, so E*_k carries the coupon paid at t_k."""
    _, run = swap_run
    result = run.result
    n = result.n_paths
    times = result.times
    terms = result.xva_by_date["cva"] / n  # [dates, ns]
    epe = run.pos.mean(axis=2)
    interval = run.interval_pos.mean(axis=2)
    assert np.all(interval[1:] != epe[1:])  # a coupon is paid at every reset but the first
    net = (run.value - run.collateral) / run.numeraire[:, None, :]
    inet = net + (run.interval_pos - run.interval_neg) - (run.pos - run.neg)
    for j, ns in enumerate(result.netting_sets):
        h = SWAPS[ns][3]
        alpha, beta, paid = _flat_measure_weights(times, h, times)  # paid at t_k
        assert np.all(paid == 0.0)
        start = np.r_[max(result.npv[j], 0.0), epe[:-1, j]]
        measure = Measure.build(LGD, HazardCurve.flat(h), (HazardCurve.flat(h),))
        curv = curvature(times, measure, (np.r_[result.npv[j], net[:-1, j].mean(axis=1)],
                                          np.r_[0.0, net[:-1, j].var(axis=1)]),
                         (inet[:, j].mean(axis=1), inet[:, j].var(axis=1)), times)
        expected = alpha * start + beta * interval[:, j] + curv
        np.testing.assert_allclose(terms[:, j], expected, rtol=0.0,
                                   atol=1e-9 * terms[:, j].sum())
        np.testing.assert_allclose(terms[:, j].sum(), result.xva["cva"][0][j] / n, rtol=1e-12)
        assert np.abs(curv).sum() < 0.05 * terms[:, j].sum()  # a correction, not the bulk


def test_swap_cva_converges_in_the_grid(swap_run: tuple[Portfolio, PathRun]) -> None:
    """The swaps' CVA on their annual reset dates equals the CVA over the same span on a
    monthly grid (with the reset dates) within 2.5% + 3 standard errors of the difference.

    Both runs use the same seed and 16,384 paths: the random numbers are keyed by calendar
    day, so the two grids share their paths (the EPE on the reset dates is the same number)
    and the difference is the integration rule's error on annual steps (-2.0%,
    docs/conventions.md) plus the little noise of the dates the monthly grid adds; its
    standard error comes from the per-batch differences."""
    portfolio, _ = swap_run
    resets = _reset_dates()
    monthly = {_dt.date(y, m, 24) for y in range(2026, 2031) for m in range(1, 13)}
    grid = sorted({d for d in monthly if _dt.date.fromisoformat(AS_OF) < d < resets[-1]}
                  | set(resets[1:]))
    runs = [run_partition(portfolio, list(SWAPS), RunSettings(
        paths=16_384, seed=7, grid=tuple(d.isoformat() for d in dates), bilateral=False,
        antithetic=True)) for dates in (resets[1:], grid)]
    coarse, fine = runs
    on_resets = np.isin(fine.dates, coarse.dates)
    assert on_resets.sum() == coarse.dates.size
    assert np.array_equal(coarse.profile.epe, fine.profile.epe[on_resets])  # common paths
    for j, ns in enumerate(coarse.netting_sets):
        a = coarse.xva["cva"][0][j] / coarse.n_paths
        b = fine.xva["cva"][0][j] / fine.n_paths
        diff = coarse.xva["cva"][1][:, j:j + 1] - fine.xva["cva"][1][:, j:j + 1]
        se = float(batch_stderr(diff, coarse.batch_size)[0])
        print(f"{ns}: annual {a:.1f}, monthly {b:.1f} ({(a / b - 1) * 100:+.2f}%, "
              f"{abs(a - b) / se:.2f} s.e. of the difference)")
        assert abs(a - b) <= 0.025 * abs(b) + 3.0 * se, ns


# ---------------------------------------------------------------------------------------------
# 2. FX forwards with deterministic rates
# ---------------------------------------------------------------------------------------------
FX_MATURITY = "2028-11-20"
FX_TRADES = {  # netting set -> (buy ccy, buy amount, sell ccy, sell amount, hazard rate)
    "NS_BUY_EUR": ("EUR", 10e6, "USD", 11.1e6, 0.02),
    "NS_SELL_EUR": ("USD", 11.3e6, "EUR", 10e6, 0.03),
    "NS_EURGBP": ("EUR", 10e6, "GBP", 8.4e6, 0.05),
}
FX_GRID = (0.1, 0.5, 1.0, 1.5, 1.99, 2.5)  # the last is after maturity


def _fx_row(ns: str, buy: str, buy_amount: float, sell: str, sell_amount: float
            ) -> dict[str, object]:
    return {"netting_set_id": ns, "product": "FXFWD", "maturity_date": FX_MATURITY,
            "buy_currency": buy, "buy_amount": buy_amount, "sell_currency": sell,
            "sell_amount": sell_amount}


def fx_profiles(portfolio: Portfolio, times: np.ndarray) -> dict[str, tuple[np.ndarray,
                                                                            np.ndarray]]:
    """Per netting set: (EPE, ENE) ``[dates]`` of section 2 of the module docstring."""
    m = portfolio.market
    big_t = (_dt.date.fromisoformat(FX_MATURITY) - m.as_of).days / 365.0
    vols = {c: (0.0 if c == "USD" else MARKET["fx_vols"][f"{c}USD"]) for c in ("USD", "EUR",
                                                                             "GBP")}
    rho = MARKET["correlations"]["FX_EURUSD:FX_GBPUSD"]
    out = {}
    for ns, (b, a, s, k, _) in FX_TRADES.items():
        yb = a * m.fx_rate(b, "USD") * float(m.discount(b, big_t))
        ys = k * m.fx_rate(s, "USD") * float(m.discount(s, big_t))
        var_rate = vols[b] ** 2 + vols[s] ** 2 - 2.0 * (rho if {b, s} == {"EUR", "GBP"}
                                                         else 0.0) * vols[b] * vols[s]
        epe, ene = np.zeros(times.size), np.zeros(times.size)
        for i, t in enumerate(times):
            if t >= big_t:  # settled: nothing left
                continue
            v = math.sqrt(var_rate * t)
            d1 = (math.log(yb / ys) + 0.5 * v * v) / v
            d2 = d1 - v
            epe[i] = yb * norm.cdf(d1) - ys * norm.cdf(d2)
            ene[i] = ys * norm.cdf(-d2) - yb * norm.cdf(-d1)
        out[ns] = (epe, ene)
    return out


def _fx_portfolio(root: Path) -> Portfolio:
    trades = [_fx_row(ns, *spec[:4]) for ns, spec in FX_TRADES.items()]
    netting = [NettingSet(ns, hazard_rate=spec[4]) for ns, spec in FX_TRADES.items()]
    doc = deterministic_rates(dict(MARKET, own_credit=OWN_CREDIT))
    return load(root, trades, netting, doc)


@pytest.fixture(scope="module")
def fx_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Portfolio, PathRun, PathRun]:
    """The FX portfolio run unilateral and bilateral (same seed: same paths)."""
    portfolio = _fx_portfolio(tmp_path_factory.mktemp("fx"))
    runs = []
    for bilateral in (False, True):
        settings = RunSettings(paths=65_536, seed=11, grid=FX_GRID, bilateral=bilateral,
                               antithetic=True)
        with pytest.MonkeyPatch.context() as mp:
            runs.append(run_with_paths(mp, portfolio, list(FX_TRADES), settings))
    return portfolio, runs[0], runs[1]


def test_fx_forward_epe_ene_equal_garman_kohlhagen(
        fx_runs: tuple[Portfolio, PathRun, PathRun]) -> None:
    """EPE and ENE of EURUSD forwards (bank buys, bank sells EUR) and of a EURGBP forward
    (cross through USD: Margrabe with the cross vol) at every date, 65,536 antithetic paths;
    zero after settlement."""
    portfolio, run, _ = fx_runs
    res = run.result
    ref = fx_profiles(portfolio, res.times)
    epe, se_pos = run.epe()
    ene, se_neg = mean_and_stderr(run.neg, antithetic=True)
    live = res.times < 2.0
    dev = Deviations("FX forward EPE/ENE", z_tolerance(2 * len(FX_TRADES) * int(live.sum())))
    for j, ns in enumerate(res.netting_sets):
        ref_epe, ref_ene = ref[ns]
        for k in np.flatnonzero(live):
            dev.check(res.profile.epe[k, j], ref_epe[k], se_pos[k, j], f"{ns} EPE t={res.times[k]}")
            dev.check(res.profile.ene[k, j], ref_ene[k], se_neg[k, j], f"{ns} ENE t={res.times[k]}")
        assert np.all(res.profile.epe[~live, j] == 0.0)
        assert np.all(res.profile.ene[~live, j] == 0.0)
    dev.verify()
    assert np.allclose(epe, res.profile.epe, rtol=1e-13, atol=0.0)
    assert np.allclose(ene, res.profile.ene, rtol=1e-13, atol=0.0)


def test_fx_forward_cva_dva_equal_continuous_integrals(
        fx_runs: tuple[Portfolio, PathRun, PathRun]) -> None:
    """CVA (unilateral and bilateral) and DVA (bilateral) = the continuous integrals of the
    analytic EPE/ENE against the default densities, int EPE(t) LGD h_C S_C(t) [S_B(t)] dt,
    within 1% + 3 reported s.e. on the coarse grid FX_GRID (intervals up to 6 months, the
    forward paid inside the last one)."""
    portfolio, uni, bi = fx_runs
    big_t = (_dt.date.fromisoformat(FX_MATURITY) - portfolio.market.as_of).days / 365.0
    # Gauss-Legendre in s = sqrt(t / T) (EPE ~ sqrt t near 0): 400 nodes, exact to 1e-10
    x, w = np.polynomial.legendre.leggauss(400)
    s_nodes = 0.5 * (x + 1.0)
    t_nodes, dt = big_t * s_nodes**2, big_t * s_nodes * w  # dt = 2 T s ds, ds = w / 2
    ref = fx_profiles(portfolio, t_nodes)
    h_own, lgd_own = OWN_CREDIT["hazard_rate"], 1.0 - OWN_CREDIT["recovery"]
    dev = Deviations("FX forward CVA/DVA", 3.0)
    for run, bilateral in ((uni, False), (bi, True)):
        res = run.result
        for metric in ("cva", "dva") if bilateral else ("cva",):
            total, batches = res.xva[metric]
            stderr = batch_stderr(batches, res.batch_size)
            for j, ns in enumerate(res.netting_sets):
                h = FX_TRADES[ns][4]
                epe, ene = ref[ns]
                joint = np.exp(-(h + (h_own if bilateral else 0.0)) * t_nodes)
                if metric == "cva":
                    exact = float(np.sum(epe * LGD * h * joint * dt))
                else:
                    exact = float(np.sum(ene * lgd_own * h_own * np.exp(
                        -(h + h_own) * t_nodes) * dt))
                estimate = total[j] / res.n_paths
                print(f"{metric} {ns} bilateral={bilateral}: {estimate:.2f} vs {exact:.2f} "
                      f"({(estimate / exact - 1) * 100:+.3f}%)")
                dev.check(estimate, exact, stderr[j] + 0.01 * exact / 3.0,
                          f"{metric} {ns} bilateral={bilateral}")
    dev.verify()
    # same paths: the bilateral CVA is the unilateral one re-weighted, path by path
    assert np.array_equal(uni.result.profile.epe, bi.result.profile.epe)


# ---------------------------------------------------------------------------------------------
# 4. swaptions in the scenario pricer
# ---------------------------------------------------------------------------------------------
SWO_EXPIRY = "2027-11-22"
SWO_GRID = ("2027-02-19", "2027-08-20", "2027-11-19", SWO_EXPIRY, "2027-11-23", "2028-06-01",
            "2029-11-20", "2031-06-02")


@pytest.fixture(scope="module")
def swaption_run(tmp_path_factory: pytest.TempPathFactory) -> PathRun:
    underlying = _swap_row("NS_UND", "payer", 0.0355, 50e6, "2027-11-24", "2032-11-24")
    phys = dict(underlying, netting_set_id="NS_PHYS", product="SWAPTION", direction="long",
                direction_underlying="payer", expiry_date=SWO_EXPIRY, settlement="physical")
    cash = dict(_swap_row("NS_CASH", "receiver", 0.0345, 40e6, "2027-11-24", "2032-11-24"),
                product="SWAPTION", direction="long", direction_underlying="receiver",
                expiry_date=SWO_EXPIRY, settlement="cash")
    portfolio = load(tmp_path_factory.mktemp("swaptions"), [underlying, phys, cash],
                     [NettingSet("NS_UND"), NettingSet("NS_PHYS"), NettingSet("NS_CASH")],
                     MARKET)
    settings = RunSettings(paths=8192, seed=13, grid=SWO_GRID, bilateral=False,
                           antithetic=True)
    with pytest.MonkeyPatch.context() as mp:
        return run_with_paths(mp, portfolio, ["NS_UND", "NS_PHYS", "NS_CASH"], settings)


def test_scenario_swaption_values_are_martingales(swaption_run: PathRun) -> None:
    """E[V(t)/N(t)] = V(0) (the t0 Jamshidian price) for the physical and the cash swaption at
    every date before expiry, and for the physical one at expiry and after it until the
    underlying's first payment (2028-11-24); the booked underlying swap too."""
    res = swaption_run.result
    value = swaption_run.pos - swaption_run.neg  # V/N per path [dates, ns, paths]
    mean, se = mean_and_stderr(value, antithetic=True)
    dates = [str(d) for d in res.dates]
    first_payment = "2028-11-24"
    rows = []
    for j, ns in enumerate(res.netting_sets):
        last = SWO_EXPIRY if ns == "NS_CASH" else first_payment
        for k, d in enumerate(dates):
            if d < last:
                rows.append((j, k, ns, d))
    dev = Deviations("swaption martingale", z_tolerance(len(rows)))
    for j, k, ns, d in rows:
        dev.check(mean[k, j], res.npv[j], se[k, j], f"{ns} {d}")
    dev.verify()
    assert np.allclose(mean, res.profile.ee, rtol=1e-12, atol=1e-9)


def test_physical_swaption_after_expiry_is_the_exercised_swap(swaption_run: PathRun) -> None:
    """Path by path: at expiry the long physical payer swaption is worth max(V_swap, 0); after
    it, 1{V_swap(T_ex) > 0} V_swap(t) (exercise where the underlying is in the money). So its
    exposure profile after expiry is the exercised swap's. The cash swaption has nothing at and
    after expiry. Tolerance 1e-9 x notional per path (both values come from the same
    Chebyshev-fitted bond sums; measured 0)."""
    res = swaption_run.result
    value = swaption_run.pos - swaption_run.neg
    und, phys, cash = (res.netting_sets.index(n) for n in ("NS_UND", "NS_PHYS", "NS_CASH"))
    dates = [str(d) for d in res.dates]
    k_ex = dates.index(SWO_EXPIRY)
    exercised = value[k_ex, und] > 0.0
    assert 0.2 < exercised.mean() < 0.8  # both outcomes well represented
    tol = 1e-9 * 50e6
    worst = 0.0
    for k in range(k_ex, len(dates)):
        expected = np.where(exercised, value[k, und], 0.0)
        worst = max(worst, float(np.max(np.abs(value[k, phys] - expected))))
        epe = np.maximum(expected, 0.0).mean()
        assert abs(res.profile.epe[k, phys] - epe) <= tol, dates[k]
        assert np.all(value[k, cash] == 0.0), dates[k]
        assert res.profile.epe[k, cash] == 0.0
    print(f"physical swaption vs exercised swap: worst {worst:.3g} per path")
    assert worst <= tol
    assert np.all(res.profile.epe[:k_ex, cash] > 1e-3 * 40e6)  # alive before expiry
