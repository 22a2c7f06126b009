"""Product registry: columns, row parser, compiler and SA-CCR attributes per product code.

Adding a product means adding one :class:`ProductSpec` here and its module; loaders, pricers and
the regulatory capital dispatch through this table, never through ``isinstance`` chains.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xvaflow.core.errors import ProblemLog
from xvaflow.core.fields import FieldReader
from xvaflow.market.market import Market
from xvaflow.products import equity, fx, swaps
from xvaflow.products.context import CompileContext
from xvaflow.products.records import Trade, TradeInfo
from xvaflow.products.saccr import SaccrPosition
from xvaflow.products.tables import (
    CompiledPortfolio,
    EquityTable,
    FxOptionTable,
    LinearFlows,
    SwaptionTable,
)

COMMON_COLUMNS = ("trade_id", "version", "netting_set_id", "product", "direction", "notional",
                  "currency", "start_date", "maturity_date")


@dataclass
class Tables:
    """The table parts one product family contributes."""

    linear: list[LinearFlows] = field(default_factory=list)
    swaption_flows: list[LinearFlows] = field(default_factory=list)
    fx_options: list[FxOptionTable] = field(default_factory=list)
    equity: list[EquityTable] = field(default_factory=list)
    swaptions: list[SwaptionTable] = field(default_factory=list)


Compiler = Callable[[Sequence[tuple[int, Any]], CompileContext, Tables], None]
SaccrAttributes = Callable[[Sequence[tuple[int, Any]], Market], list[SaccrPosition]]


@dataclass(frozen=True)
class ProductSpec:
    """How one product code is read and compiled.

    Attributes:
        product: code in trades.csv ``product``.
        columns: product-specific columns (besides :data:`COMMON_COLUMNS`).
        parse: row parser; returns None after recording problems.
        compile: appends the product's rows to a :class:`Tables`.
        needs_start: ``start_date`` is required (swaps); otherwise optional and unused.
        needs_notional: ``notional`` and ``currency`` are required.
        saccr: the SA-CCR risk positions of ``(trade index, trade)`` pairs
            (:class:`~xvaflow.products.saccr.SaccrPosition`; trades no longer alive at as_of
            give none).
    """

    product: str
    columns: tuple[str, ...]
    parse: Callable[[FieldReader, TradeInfo], Trade | None]
    compile: Compiler
    needs_start: bool
    needs_notional: bool
    saccr: SaccrAttributes


def _swap_compiler(items: Sequence[tuple[int, Any]], ctx: CompileContext, out: Tables) -> None:
    out.linear.append(swaps.compile_legs(items, ctx))


def _swaption_compiler(items: Sequence[tuple[int, Any]], ctx: CompileContext,
                       out: Tables) -> None:
    table, flows = swaps.compile_swaptions(items, ctx)
    out.swaptions.append(table)
    out.swaption_flows.append(flows)


def _fxfwd_compiler(items: Sequence[tuple[int, Any]], ctx: CompileContext, out: Tables) -> None:
    out.linear.append(fx.compile_fx_forwards(items, ctx))


def _fxopt_compiler(items: Sequence[tuple[int, Any]], ctx: CompileContext, out: Tables) -> None:
    out.fx_options.append(fx.compile_fx_options(items, ctx))


def _equity_compiler(items: Sequence[tuple[int, Any]], ctx: CompileContext, out: Tables) -> None:
    out.equity.append(equity.compile_equity(items, ctx))


PRODUCTS: dict[str, ProductSpec] = {
    spec.product: spec
    for spec in (
        ProductSpec("IRS", swaps.IRS_COLUMNS, swaps.parse_irs, _swap_compiler, True, True,
                    swaps.saccr_swaps),
        ProductSpec("CCS", swaps.CCS_COLUMNS, swaps.parse_ccs, _swap_compiler, True, True,
                    swaps.saccr_swaps),
        ProductSpec("SWAPTION", swaps.SWAPTION_COLUMNS, swaps.parse_swaption,
                    _swaption_compiler, True, True, swaps.saccr_swaptions),
        ProductSpec("FXFWD", fx.FX_COLUMNS, fx.parse_fxfwd, _fxfwd_compiler, False, False,
                    fx.saccr_fx_forwards),
        ProductSpec("FXOPT", fx.FXOPT_COLUMNS, fx.parse_fxopt, _fxopt_compiler, False, False,
                    fx.saccr_fx_options),
        ProductSpec("EQFWD", equity.EQ_COLUMNS, equity.parse_eqfwd, _equity_compiler, False,
                    False, equity.saccr_equity),
        ProductSpec("EQOPT", equity.EQ_COLUMNS, equity.parse_eqopt, _equity_compiler, False,
                    False, equity.saccr_equity),
    )
}

ALL_TRADE_COLUMNS: frozenset[str] = frozenset(COMMON_COLUMNS).union(
    *(s.columns for s in PRODUCTS.values())
)


def compile_portfolio(trades: Sequence[Trade], market: Market, log: ProblemLog,
                      trades_file: str = "trades.csv") -> CompiledPortfolio:
    """Compile trades into the array tables the pricers read.

    Args:
        trades: validated trade records (their currencies, indices and underlyings are known to
            ``market``).
        market: snapshot (as_of, calendars and index basis are read; curves are not).
        log: compilation problems (e.g. a seasoned floating leg without ``last_fixing``) are
            added here; the caller raises them together with any others.
        trades_file: file name the problems refer to (trades.csv or trades.parquet).
    """
    ctx = CompileContext(market=market, log=log, trades_file=trades_file)
    groups: dict[str, list[tuple[int, Any]]] = {}
    for i, t in enumerate(trades):
        groups.setdefault(t.info.product, []).append((i, t))
    out = Tables()
    for product, items in groups.items():
        PRODUCTS[product].compile(items, ctx, out)

    ns_ids: dict[str, int] = {}
    for t in trades:
        ns_ids.setdefault(t.info.netting_set_id, len(ns_ids))
    return CompiledPortfolio(
        trade_ids=tuple(t.info.trade_id for t in trades),
        products=tuple(t.info.product for t in trades),
        trade_currency=np.array([ctx.currency_index(t.info.currency) for t in trades],
                                dtype=np.int64),
        notional=np.array([t.info.notional for t in trades], dtype=np.float64),
        netting_set=np.array([ns_ids[t.info.netting_set_id] for t in trades], dtype=np.int64),
        netting_set_ids=tuple(ns_ids),
        currencies=tuple(ctx.currencies),
        equities=tuple(ctx.equities),
        linear=LinearFlows.concat(out.linear),
        swaption_flows=LinearFlows.concat(out.swaption_flows),
        fx_options=FxOptionTable.concat(out.fx_options),
        equity=EquityTable.concat(out.equity),
        swaptions=SwaptionTable.concat(out.swaptions),
    )


def saccr_positions(items: Sequence[tuple[int, Trade]], market: Market) -> list[SaccrPosition]:
    """The SA-CCR risk positions of ``(trade index, trade)`` pairs, each product family's
    :attr:`ProductSpec.saccr` applied to its trades (grouped by product, in first-use order)."""
    groups: dict[str, list[tuple[int, Any]]] = {}
    for i, t in items:
        groups.setdefault(t.info.product, []).append((i, t))
    out: list[SaccrPosition] = []
    for product, group in groups.items():
        out.extend(PRODUCTS[product].saccr(group, market))
    return out
