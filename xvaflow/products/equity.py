"""Equity forwards and European equity options on an index of market.json ``equities``.

Columns (CONTRACT.md): ``underlying, quantity, strike, option_type, expiry_date`` and
``direction`` long / short. Both fix and pay at ``expiry_date`` (for EQFWD it may be empty and
then equals ``maturity_date``), in the underlying's currency; ``option_type`` is call / put for
EQOPT and empty for EQFWD. A given ``currency`` must equal the underlying's (no quanto).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from xvaflow.core.dates import year_fraction_365
from xvaflow.core.fields import FieldReader
from xvaflow.market.market import Market
from xvaflow.products.context import CompileContext
from xvaflow.products.records import EquityTrade, TradeInfo
from xvaflow.products.saccr import EQ, OptionTerms, SaccrPosition
from xvaflow.products.tables import EQ_CALL, EQ_FORWARD, EQ_PUT, EquityTable

EQ_COLUMNS = ("underlying", "quantity", "strike", "option_type", "expiry_date")


def _parse(r: FieldReader, info: TradeInfo, option: bool) -> EquityTrade | None:
    direction = r.choice("direction", ("long", "short"), what="direction")
    underlying = r.text("underlying")
    quantity = r.number("quantity", positive=True)
    strike = r.number("strike", positive=True)
    if option:
        option_type = r.choice("option_type", ("call", "put"), what="option type")
        expiry = r.date("expiry_date")
    else:
        r.forbid(["option_type"], "for EQFWD")
        option_type = None
        expiry = r.date("expiry_date", required=False) or info.maturity
    if expiry is not None and expiry > info.maturity:
        r.problem("expiry_date", f"{expiry} is after maturity_date {info.maturity}")
        return None
    if (direction is None or underlying is None or quantity is None or strike is None
            or expiry is None or (option and not option_type)):
        return None
    info = dataclasses.replace(info, notional=info.notional or quantity * strike)
    return EquityTrade(info, underlying, quantity, strike, option_type, expiry,
                       1 if direction == "long" else -1)


def parse_eqfwd(r: FieldReader, info: TradeInfo) -> EquityTrade | None:
    """An EQFWD row."""
    return _parse(r, info, option=False)


def parse_eqopt(r: FieldReader, info: TradeInfo) -> EquityTrade | None:
    """An EQOPT row."""
    return _parse(r, info, option=True)


def compile_equity(items: Sequence[tuple[int, EquityTrade]], ctx: CompileContext) -> EquityTable:
    """One row per trade whose expiry is after as_of; an expired option is a problem."""
    live = []
    for i, e in items:
        if e.expiry > ctx.as_of:
            live.append((i, e))
        elif e.option_type is not None:
            ctx.log.add(ctx.trades_file, e.info.row, "expiry_date",
                        f"{e.expiry} is on or before as_of {ctx.as_of}: the option has expired",
                        e.info.trade_id)
    kinds = {None: EQ_FORWARD, "call": EQ_CALL, "put": EQ_PUT}
    return EquityTable(
        trade=np.array([i for i, _ in live], dtype=np.int64),
        equity=np.array([ctx.equity_index(e.underlying) for _, e in live], dtype=np.int64),
        currency=np.array([ctx.currency_index(ctx.market.equity(e.underlying).currency)
                           for _, e in live], dtype=np.int64),
        kind=np.array([kinds[e.option_type] for _, e in live], dtype=np.int64),
        quantity=np.array([e.quantity for _, e in live], dtype=np.float64),
        strike=np.array([e.strike for _, e in live], dtype=np.float64),
        expiry=year_fraction_365(ctx.as_of, np.array([e.expiry for _, e in live],
                                                     dtype="datetime64[D]")),
        sign=np.array([float(e.sign) for _, e in live]),
    )


# ---------------------------------------------------------------------------------------------
# SA-CCR attributes (CRE52; docs/conventions.md "Regulatory capital")
# ---------------------------------------------------------------------------------------------
def saccr_equity(items: Sequence[tuple[int, EquityTrade]], market: Market
                 ) -> list[SaccrPosition]:
    """One equity position per forward or option whose expiry is after as_of.

    Hedging set entry: the underlying; notional quantity x spot converted at spot FX; forwards
    +1 long / -1 short; options: P = S exp(-q T) / P(T) the forward, K the strike, T = M = the
    expiry, +1 bought.
    """
    as_of, base = market.as_of, market.base_currency
    out: list[SaccrPosition] = []
    for i, e in items:
        if e.expiry <= as_of:
            continue
        spec = market.equity(e.underlying)
        t = (e.expiry - as_of).days / 365.0
        notional = e.quantity * spec.spot * market.fx_rate(spec.currency, base)
        option = None
        if e.option_type is not None:
            forward = spec.spot * np.exp(-spec.dividend_yield * t) / market.discount(
                spec.currency, t)
            option = OptionTerms(e.option_type == "call", float(forward), e.strike, t)
        out.append(SaccrPosition(i, EQ, e.underlying, notional, float(e.sign), 0.0, t, t,
                                 option))
    return out
