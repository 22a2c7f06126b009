"""Valuation at as_of of a compiled portfolio, one pricer per table.

- Linear rows: amount * P_c(T_pay) * P_c(T_s) / P_c(T_e) (ratio 1 for fixed rows).
- FX options (Garman-Kohlhagen with delayed payment): buy_amount * P_sell(T_pay) *
  Black(F, K, sigma, T_exp), F = S P_buy(T_pay) / P_sell(T_pay), in the sell currency.
- Equity forwards and options (Black-Scholes, continuous dividend yield q, paid at expiry):
  F = S exp(-q T) / P(T); forward = q (F - K) P(T), options = q P(T) Black(F, K, sigma, T).
- Swaptions: Hull-White 1F, exact (:mod:`xvaflow.pricing.swaption`).

Row values are converted to the base currency at spot and summed per trade; a trade's NPV in its
own currency is its base value divided by that currency's spot (crosses go through the base).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from xvaflow.market.market import Market
from xvaflow.pricing.formulas import black
from xvaflow.pricing.swaption import swaption_values_t0
from xvaflow.products.tables import EQ_CALL, EQ_FORWARD, CompiledPortfolio, FloatArray, IntArray


@dataclass(frozen=True)
class TradeValues:
    """t0 values per trade (``[trades]``, order of ``CompiledPortfolio.trade_ids``)."""

    npv: FloatArray
    npv_base: FloatArray


def _fx_to_base(compiled: CompiledPortfolio, market: Market) -> FloatArray:
    return np.array([market.fx_rate(c, market.base_currency) for c in compiled.currencies])


def _discount(compiled: CompiledPortfolio, market: Market, ccy: IntArray, t: FloatArray
              ) -> FloatArray:
    """P_ccy(t) row by row, one curve evaluation per currency."""
    out = np.empty(t.shape)
    for c in np.unique(ccy):
        mask = ccy == c
        out[mask] = market.discount(compiled.currencies[c], t[mask])
    return out


def linear_values(compiled: CompiledPortfolio, market: Market) -> tuple[IntArray, FloatArray]:
    """Linear rows: (trade index, value in base currency) per row."""
    f = compiled.linear
    value = (f.amount * _discount(compiled, market, f.currency, f.pay_time)
             * _discount(compiled, market, f.currency, f.fix_start)
             / _discount(compiled, market, f.currency, f.fix_end))
    return f.trade, value * _fx_to_base(compiled, market)[f.currency]


def fx_option_values(compiled: CompiledPortfolio, market: Market) -> tuple[IntArray, FloatArray]:
    """FX options: (trade index, value in base currency) per option."""
    o = compiled.fx_options
    ccys = compiled.currencies
    p_buy = _discount(compiled, market, o.buy_ccy, o.pay_time)
    p_sell = _discount(compiled, market, o.sell_ccy, o.pay_time)
    to_base = _fx_to_base(compiled, market)
    spot = to_base[o.buy_ccy] / to_base[o.sell_ccy]  # sell-currency units per buy unit
    vol = np.array([market.fx_vol(ccys[b] + ccys[s], t) for b, s, t in
                    zip(o.buy_ccy, o.sell_ccy, o.expiry, strict=True)])
    fwd = spot * p_buy / p_sell
    value = o.sign * o.buy_amount * p_sell * black(fwd, o.strike, vol * np.sqrt(o.expiry), True)
    return o.trade, value * to_base[o.sell_ccy]


def equity_values(compiled: CompiledPortfolio, market: Market) -> tuple[IntArray, FloatArray]:
    """Equity forwards and options: (trade index, value in base currency) per row."""
    e = compiled.equity
    specs = [market.equity(compiled.equities[i]) for i in e.equity]
    spot = np.array([s.spot for s in specs])
    q = np.array([s.dividend_yield for s in specs])
    vol = np.array([s.vol.vol(t) for s, t in zip(specs, e.expiry, strict=True)])
    p = _discount(compiled, market, e.currency, e.expiry)
    fwd = spot * np.exp(-q * e.expiry) / p
    option = black(fwd, e.strike, vol * np.sqrt(e.expiry), e.kind == EQ_CALL)
    payoff = np.where(e.kind == EQ_FORWARD, fwd - e.strike, option)
    value = e.sign * e.quantity * p * payoff
    return e.trade, value * _fx_to_base(compiled, market)[e.currency]


def swaption_values(compiled: CompiledPortfolio, market: Market) -> tuple[IntArray, FloatArray]:
    """Swaptions: (trade index, value in base currency) per swaption."""
    s = compiled.swaptions
    value = swaption_values_t0(s, compiled.swaption_flows, compiled.currencies, market)
    return s.trade, value * _fx_to_base(compiled, market)[s.currency]


TABLE_PRICERS: dict[str, Callable[[CompiledPortfolio, Market], tuple[IntArray, FloatArray]]] = {
    "linear": linear_values,
    "fx_options": fx_option_values,
    "equity": equity_values,
    "swaptions": swaption_values,
}


def price_t0(compiled: CompiledPortfolio, market: Market) -> TradeValues:
    """NPV of every trade at as_of, in its own currency and in the base currency."""
    npv_base = np.zeros(compiled.n_trades)
    for table, pricer in TABLE_PRICERS.items():
        if len(getattr(compiled, table)):
            trade, value = pricer(compiled, market)
            npv_base += np.bincount(trade, weights=value, minlength=compiled.n_trades)
    to_base = _fx_to_base(compiled, market)[compiled.trade_currency]
    return TradeValues(npv=npv_base / to_base, npv_base=npv_base)
