"""A validated portfolio: trades, counterparties, netting sets, CSAs, hedges and its market."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from xvaflow.core.errors import Problem
from xvaflow.market.market import CreditSpec, Market
from xvaflow.portfolio.records import Counterparty, Csa, CvaHedge, NettingSet, RunConfig
from xvaflow.products.records import Trade
from xvaflow.products.tables import CompiledPortfolio


@dataclass(frozen=True)
class Portfolio:
    """A validated portfolio with its market, compiled and ready to price.

    Attributes:
        path: the directory it was read from.
        trades: trade records (latest versions), in file order.
        netting_sets, counterparties, csas: records by id.
        market: the market snapshot.
        credit: counterparty id -> credit curve and recovery.
        compiled: the trades as array tables (same order as ``trades``).
        run: run settings from run.json (defaults where absent).
        warnings: non-fatal remarks (ignored columns, superseded versions, ...).
        cva_hedges: eligible CVA hedges of cva_hedges.csv, or None when the file is absent
            (then the full BA-CVA is not computed).
    """

    path: Path
    trades: tuple[Trade, ...]
    netting_sets: dict[str, NettingSet]
    counterparties: dict[str, Counterparty]
    csas: dict[str, Csa]
    market: Market
    credit: dict[str, CreditSpec]
    compiled: CompiledPortfolio
    run: RunConfig
    warnings: tuple[Problem, ...]
    cva_hedges: tuple[CvaHedge, ...] | None = None
