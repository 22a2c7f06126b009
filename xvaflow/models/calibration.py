"""Hull-White 1F calibration to the at-the-money swaption normal-volatility grid.

For every expiry E and swap tenor L quoted in market.json ``swaption_vols.<ccy>.normal_bp``, the
instrument is the ATM payer swaption on the OIS swap of the curve conventions (start at
as_of + E rolled, annual fixed ACT/360 against the compounded overnight index, maturity start +
L). Its market price is Bachelier's at the forward swap rate S:

    price_mkt = A sigma_N sqrt(E) / sqrt(2 pi),    A = sum_i tau_i P(0, T_i)  (annuity),

and the model price is the exact Hull-White price of :mod:`xvaflow.models.gaussian`. The mean
reversion a and volatility sigma minimise, by ``scipy.optimize.least_squares``, the differences
of the model's implied normal vols (price sqrt(2 pi) / (A sqrt(E))) and the quotes, in bp.
The fit error is reported (RMS and worst point).

Parameters given in market.json ``hull_white`` take precedence; calibration runs only for a
currency without them (CONTRACT.md: "Hull-White parameters may be given directly or calibrated
to swaption_vols").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from xvaflow.core.dates import FloatArray, add_tenor, year_fraction_365
from xvaflow.core.daycount import act_360
from xvaflow.core.schedule import backward_schedules
from xvaflow.market.market import HullWhiteParams, Market, MissingMarketDataError
from xvaflow.models.gaussian import expected_positive_part
from xvaflow.models.hull_white import padded_coefficients, state_variance
from xvaflow.products.tables import FIXED, SETTLE_PHYSICAL, LinearFlows, SwaptionTable

BOUNDS = ((-0.05, 1e-5), (0.5, 0.05))  # (a, sigma) lower and upper


@dataclass(frozen=True)
class CalibrationReport:
    """Result of one currency's calibration.

    Attributes:
        currency: the currency.
        params: the fitted (a, sigma).
        rms_bp, max_bp: root-mean-square and worst absolute implied-vol error, bp.
        points: (expiry, tenor, market bp, model bp) per instrument.
    """

    currency: str
    params: HullWhiteParams
    rms_bp: float
    max_bp: float
    points: tuple[tuple[str, str, float, float], ...]


@dataclass(frozen=True)
class _Instruments:
    expiry: FloatArray  # [n] years
    annuity: FloatArray  # [n]
    market_bp: FloatArray  # [n]
    flows: LinearFlows  # ATM underlying rows, trade = instrument index
    labels: tuple[tuple[str, str], ...]


def _instruments(market: Market, currency: str) -> _Instruments:
    """The quoted ATM swaptions. On a single curve the OIS underlying is worth
    P(T_0) - sum_i S tau_i P(T_i) - P(T_n): rows +1 at the start, -S tau_i at each annual fixed
    date (ACT/360, backward schedule, Modified Following) and -1 at the end."""
    grid = market.swaption_vols.get(currency)
    if grid is None:
        raise MissingMarketDataError(
            f"market.json has neither hull_white.{currency} nor swaption_vols.{currency}")
    curve = market.curve(currency)
    calendar = market.calendar(currency)
    base = np.datetime64(market.as_of, "D")
    quotes = [(e, length, grid.vols[i][j]) for i, e in enumerate(grid.expiries)
              for j, length in enumerate(grid.tenors) if grid.vols[i][j] is not None]
    if not quotes:
        raise MissingMarketDataError(f"market.json swaption_vols.{currency} has no quotes")
    starts = np.array([calendar.adjust(add_tenor(base, e)) for e, _, _ in quotes],
                      dtype="datetime64[D]")
    ends = np.array([add_tenor(s, length) for s, (_, length, _) in zip(starts, quotes,
                                                                      strict=True)],
                    dtype="datetime64[D]")
    periods = backward_schedules(starts, ends, 12, calendar)
    tau = act_360(periods.start, periods.end)
    pay = year_fraction_365(base, periods.end)
    n = len(quotes)
    annuity = np.bincount(periods.leg, weights=tau * curve.discount(pay),
                          minlength=n).astype(np.float64)
    t_start = year_fraction_365(base, starts)
    t_end = np.array([pay[periods.leg == i].max() for i in range(n)])
    strike = (curve.discount(t_start) - curve.discount(t_end)) / annuity
    trade = np.r_[np.arange(n), periods.leg, np.arange(n)]
    rows = trade.size
    flows = LinearFlows(trade=trade, currency=np.zeros(rows, dtype=np.int64),
                        kind=np.full(rows, FIXED, dtype=np.int64),
                        pay_time=np.r_[t_start, pay, t_end], fix_start=np.zeros(rows),
                        fix_end=np.zeros(rows),
                        amount=np.r_[np.ones(n), -strike[periods.leg] * tau, -np.ones(n)])
    return _Instruments(t_start, annuity, np.array([v for _, _, v in quotes]) * 1e4, flows,
                        tuple((str(e), str(length)) for e, length, _ in quotes))


def model_prices(instruments: _Instruments, params: HullWhiteParams, market: Market,
                 currency: str) -> FloatArray:
    """Hull-White prices of the ATM payer swaptions."""
    n = instruments.expiry.size
    table = SwaptionTable(trade=np.arange(n), currency=np.zeros(n, dtype=np.int64),
                          expiry=instruments.expiry,
                          settlement=np.full(n, SETTLE_PHYSICAL, dtype=np.int64),
                          sign=np.ones(n))
    curve = market.curve(currency)
    a, s = params.mean_reversion, params.volatility
    coef, beta, _ = padded_coefficients(table, instruments.flows, (currency,), [(a, s)] * n,
                                        [curve] * n)
    var = np.asarray(state_variance(a, s, instruments.expiry))
    out: FloatArray = curve.discount(instruments.expiry) * expected_positive_part(
        coef, beta, np.zeros(n), var)
    return out


def calibrate_hull_white(market: Market, currency: str) -> CalibrationReport:
    """Fit (a, sigma) to the ATM swaption normal vols of ``currency``.

    Raises:
        MissingMarketDataError: no swaption vols for the currency.
    """
    inst = _instruments(market, currency)
    scale = inst.annuity * np.sqrt(inst.expiry) / math.sqrt(2.0 * math.pi)

    def residuals(x: FloatArray) -> FloatArray:
        prices = model_prices(inst, HullWhiteParams(float(x[0]), float(x[1])), market, currency)
        out: FloatArray = prices / scale * 1e4 - inst.market_bp
        return out

    guess = np.array([0.03, float(np.median(inst.market_bp)) / 1e4])
    fit = least_squares(residuals, guess, bounds=BOUNDS, x_scale=[0.01, 0.001],
                        xtol=1e-12, ftol=1e-12)
    params = HullWhiteParams(float(fit.x[0]), float(fit.x[1]))
    err = residuals(fit.x)
    model_bp = inst.market_bp + err
    return CalibrationReport(
        currency, params, float(np.sqrt(np.mean(err**2))), float(np.max(np.abs(err))),
        tuple((e, t, float(m), float(mm)) for (e, t), m, mm in zip(
            inst.labels, inst.market_bp, model_bp, strict=True)))


def hull_white_for(market: Market, currency: str) -> tuple[HullWhiteParams,
                                                           CalibrationReport | None]:
    """The currency's Hull-White parameters: given in market.json, else calibrated (once per
    market snapshot, kept in ``market.memo``). The report is None for given parameters."""
    if currency in market.hull_white:
        return market.hull_white[currency], None
    key = ("hull_white", currency)
    if key not in market.memo:
        report = calibrate_hull_white(market, currency)
        market.memo[key] = (report.params, report)
    cached: tuple[HullWhiteParams, CalibrationReport | None] = market.memo[key]
    return cached
