"""FX forwards and European FX options.

Columns (CONTRACT.md): ``buy_currency, buy_amount, sell_currency, sell_amount`` (the bank buys
``buy_currency``), ``maturity_date`` = settlement; FXOPT adds ``expiry_date`` and ``direction``
long / short. ``notional``/``currency`` may be empty: the NPV is then reported in the sell
currency with the sell amount as notional; a given ``currency`` must be one of the two.

An FX forward compiles to two fixed flow rows (+buy_amount in the buy currency, -sell_amount in
the sell currency, at settlement). An option compiles to a row of
:class:`~xvaflow.products.tables.FxOptionTable` with strike K = sell_amount / buy_amount.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from xvaflow.core.dates import year_fraction_365
from xvaflow.core.fields import FieldReader
from xvaflow.market.conventions import CURRENCIES
from xvaflow.market.market import Market
from xvaflow.products.context import CompileContext
from xvaflow.products.records import FxForwardTrade, FxOptionTrade, TradeInfo
from xvaflow.products.saccr import (
    FX,
    OptionTerms,
    SaccrPosition,
    fx_position_notional,
    fx_underlying,
)
from xvaflow.products.tables import FIXED, FxOptionTable, LinearFlows

FX_COLUMNS = ("buy_currency", "buy_amount", "sell_currency", "sell_amount")
FXOPT_COLUMNS = (*FX_COLUMNS, "expiry_date")


def _exchange(r: FieldReader, info: TradeInfo) -> tuple[TradeInfo, str, float, str, float] | None:
    buy = r.choice("buy_currency", CURRENCIES, what="currency", case_sensitive=True)
    buy_amount = r.number("buy_amount", positive=True)
    sell = r.choice("sell_currency", CURRENCIES, what="currency", case_sensitive=True)
    sell_amount = r.number("sell_amount", positive=True)
    if buy is not None and buy == sell:
        r.problem("sell_currency", f"equals buy_currency {buy}")
        return None
    if buy is None or buy_amount is None or sell is None or sell_amount is None:
        return None
    currency = info.currency or sell
    if currency not in (buy, sell):
        r.problem("currency", f"{currency} is neither the buy ({buy}) nor the sell ({sell}) "
                  "currency")
        return None
    notional = info.notional or (buy_amount if currency == buy else sell_amount)
    info = dataclasses.replace(info, currency=currency, notional=notional)
    return info, buy, buy_amount, sell, sell_amount


def parse_fxfwd(r: FieldReader, info: TradeInfo) -> FxForwardTrade | None:
    """An FXFWD row; ``direction`` must be empty (the bank buys ``buy_currency``)."""
    r.forbid(["direction"], "for FXFWD (the bank buys buy_currency)")
    got = _exchange(r, info)
    return None if got is None else FxForwardTrade(*got)


def parse_fxopt(r: FieldReader, info: TradeInfo) -> FxOptionTrade | None:
    """An FXOPT row: European option to exchange sell_amount for buy_amount at expiry."""
    direction = r.choice("direction", ("long", "short"), what="direction")
    expiry = r.date("expiry_date")
    got = _exchange(r, info)
    if expiry is not None and expiry > info.maturity:
        r.problem("expiry_date", f"{expiry} is after the settlement date (maturity_date) "
                  f"{info.maturity}")
        return None
    if got is None or direction is None or expiry is None:
        return None
    return FxOptionTrade(*got, expiry, 1 if direction == "long" else -1)


def compile_fx_forwards(items: Sequence[tuple[int, FxForwardTrade]],
                        ctx: CompileContext) -> LinearFlows:
    """Two fixed rows per forward still to settle (settled forwards have no flows)."""
    live = [(i, f) for i, f in items if f.info.maturity > ctx.as_of]
    n = len(live)
    pay = year_fraction_365(ctx.as_of, np.array([f.info.maturity for _, f in live],
                                                dtype="datetime64[D]"))
    trade = np.array([i for i, _ in live], dtype=np.int64)
    return LinearFlows(
        trade=np.r_[trade, trade],
        currency=np.array([ctx.currency_index(f.buy_currency) for _, f in live]
                          + [ctx.currency_index(f.sell_currency) for _, f in live],
                          dtype=np.int64),
        kind=np.full(2 * n, FIXED, dtype=np.int64),
        pay_time=np.r_[pay, pay],
        fix_start=np.zeros(2 * n),
        fix_end=np.zeros(2 * n),
        amount=np.array([f.buy_amount for _, f in live] + [-f.sell_amount for _, f in live],
                        dtype=np.float64),
    )


def compile_fx_options(items: Sequence[tuple[int, FxOptionTrade]],
                       ctx: CompileContext) -> FxOptionTable:
    """One row per option; an option whose expiry is not after as_of is a problem."""
    for _, o in items:
        if o.expiry <= ctx.as_of:
            ctx.log.add(ctx.trades_file, o.info.row, "expiry_date",
                        f"{o.expiry} is on or before as_of {ctx.as_of}: book an exercised "
                        "option as the FX forward it delivered", o.info.trade_id)
    live = [(i, o) for i, o in items if o.expiry > ctx.as_of]

    def dates(get: object) -> np.ndarray:
        return year_fraction_365(ctx.as_of, np.array([get(o) for _, o in live],  # type: ignore
                                                     dtype="datetime64[D]"))

    return FxOptionTable(
        trade=np.array([i for i, _ in live], dtype=np.int64),
        buy_ccy=np.array([ctx.currency_index(o.buy_currency) for _, o in live], dtype=np.int64),
        sell_ccy=np.array([ctx.currency_index(o.sell_currency) for _, o in live],
                          dtype=np.int64),
        buy_amount=np.array([o.buy_amount for _, o in live], dtype=np.float64),
        strike=np.array([o.sell_amount / o.buy_amount for _, o in live], dtype=np.float64),
        expiry=dates(lambda o: o.expiry),
        pay_time=dates(lambda o: o.info.maturity),
        sign=np.array([float(o.sign) for _, o in live]),
    )


# ---------------------------------------------------------------------------------------------
# SA-CCR attributes (CRE52; docs/conventions.md "Regulatory capital")
# ---------------------------------------------------------------------------------------------
def saccr_fx_forwards(items: Sequence[tuple[int, FxForwardTrade]], market: Market
                      ) -> list[SaccrPosition]:
    """One FX position per forward still to settle: the pair's hedging set, the non-base leg at
    spot (a cross: the larger leg), +1 when the bank receives the underlying currency (the
    non-base one; of a cross, the alphabetically first); M = E = settlement."""
    as_of, base = market.as_of, market.base_currency
    out: list[SaccrPosition] = []
    for i, f in items:
        if f.info.maturity <= as_of:
            continue
        under, other = fx_underlying(f.buy_currency, f.sell_currency, base)
        m = (f.info.maturity - as_of).days / 365.0
        notional = fx_position_notional(market, {f.buy_currency: f.buy_amount,
                                                 f.sell_currency: f.sell_amount})
        out.append(SaccrPosition(i, FX, under + other, notional,
                                 1.0 if f.buy_currency == under else -1.0, 0.0, m, m))
    return out


def saccr_fx_options(items: Sequence[tuple[int, FxOptionTrade]], market: Market
                     ) -> list[SaccrPosition]:
    """One FX option position per option.

    The underlying is the non-base currency (of a cross, the alphabetically first) in units of
    the other: buying it is a call, buying the other a put. P is its forward to settlement
    (``maturity_date``), K the strike in the same units, T the expiry, M the settlement date;
    the notional as for forwards; +1 bought (``long``).
    """
    as_of, base = market.as_of, market.base_currency
    out: list[SaccrPosition] = []
    for i, o in items:
        if o.expiry <= as_of:
            continue
        under, other = fx_underlying(o.buy_currency, o.sell_currency, base)
        call = o.buy_currency == under
        under_amount = o.buy_amount if call else o.sell_amount
        strike = (o.sell_amount if call else o.buy_amount) / under_amount
        m = (o.info.maturity - as_of).days / 365.0
        t = (o.expiry - as_of).days / 365.0
        forward = float(market.fx_forward(under + other, m))
        notional = fx_position_notional(market, {o.buy_currency: o.buy_amount,
                                                 o.sell_currency: o.sell_amount})
        out.append(SaccrPosition(i, FX, under + other, notional, float(o.sign), 0.0, m, m,
                                 OptionTerms(call, forward, strike, t)))
    return out
