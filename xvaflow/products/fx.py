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
from xvaflow.products.context import CompileContext
from xvaflow.products.records import FxForwardTrade, FxOptionTrade, TradeInfo
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
