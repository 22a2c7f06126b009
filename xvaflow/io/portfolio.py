"""Loading and complete validation of a portfolio directory (CONTRACT.md, "Portfolio directory").

:func:`load_portfolio` reads every file, checks every row and every cross-reference, compiles the
trades (which finds seasoned legs without fixings, expired options, ...) and raises one
:class:`~xvaflow.core.errors.InputError` listing every problem, or returns a
:class:`~xvaflow.portfolio.Portfolio` (the domain record, defined in :mod:`xvaflow.portfolio`)
ready for pricing. Nothing is computed from a portfolio with problems.

Trade versions: rows sharing a ``trade_id`` keep the highest ``version`` (an empty version counts
as 0); two rows with the same id and version are an error.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import importlib.util
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from xvaflow.core.dates import parse_tenor
from xvaflow.core.errors import Problem, ProblemLog
from xvaflow.core.fields import FieldReader
from xvaflow.io.columns import CDS_COLUMNS, CDS_TENORS
from xvaflow.io.files import RUN_LIMIT, input_kind
from xvaflow.io.hedges import HEDGES, load_cva_hedges
from xvaflow.io.limits import (
    AMOUNT_MAX,
    EQUITY_SPOT_MAX,
    FIXING_RANGE,
    GRID_DATES_MAX,
    HORIZON_YEARS,
    MPOR_MAX_DAYS,
    PARTITIONS_MAX,
    PATH_CHUNK_MIN,
    PATHS_MAX,
    QUANTITY_MAX,
    SEED_MAX,
)
from xvaflow.io.market_json import MARKET_FILE, load_market, read_json
from xvaflow.io.tables import read_csv, read_parquet
from xvaflow.market.bootstrap import BootstrapError, bootstrap_each
from xvaflow.market.conventions import CURRENCIES, INDICES
from xvaflow.market.curves import HazardCurve
from xvaflow.market.market import CreditSpec, Market, MissingMarketDataError
from xvaflow.portfolio import (
    CALL_FREQUENCIES,
    CSA_TYPES,
    IM_MODELS,
    OUTPUT_FORMATS,
    SENSITIVITY_KINDS,
    Counterparty,
    Csa,
    NettingSet,
    Portfolio,
    RunConfig,
)
from xvaflow.products.records import (
    EquityTrade,
    FloatLeg,
    FxForwardTrade,
    FxOptionTrade,
    SwaptionTrade,
    SwapTrade,
    Trade,
    TradeInfo,
)
from xvaflow.products.registry import (
    ALL_TRADE_COLUMNS,
    COMMON_COLUMNS,
    PRODUCTS,
    compile_portfolio,
)

TRADES, TRADES_PARQUET, NETTING, CPTY, CSAS, RUN = (
    "trades.csv", "trades.parquet", "netting_sets.csv", "counterparties.csv", "csas.csv",
    "run.json")
TRADE_REQUIRED = ("trade_id", "netting_set_id", "product", "maturity_date")
NETTING_COLUMNS = ("netting_set_id", "counterparty_id", "csa_id")
CPTY_COLUMNS = ("counterparty_id", "name", "recovery", "rating", "sector", "hazard_rate",
                *CDS_COLUMNS)
CSA_COLUMNS = ("csa_id", "threshold_cpty", "threshold_own", "mta", "independent_amount",
               "mpor_days", "currency", "im_model", "csa_type", "collateral_balance",
               "call_frequency", "rounding", "collateral_spread_bp")
PORTFOLIO_ROW = "PORTFOLIO"  # exposure.csv's portfolio-level rows use this netting-set id

_TRADE_LIMITS: dict[str, tuple[float | None, float | None]] = {
    "notional": (None, AMOUNT_MAX), "notional_2": (None, AMOUNT_MAX),
    "buy_amount": (None, AMOUNT_MAX), "sell_amount": (None, AMOUNT_MAX),
    "quantity": (None, QUANTITY_MAX), "strike": (None, EQUITY_SPOT_MAX),
    "last_fixing": FIXING_RANGE, "last_fixing_2": FIXING_RANGE,
}


def load_portfolio(path: str | Path) -> Portfolio:
    """Read, validate and compile a portfolio directory.

    Raises:
        InputError: every problem found, each naming file, row and field.
    """
    root = Path(path)
    log = ProblemLog()
    if not root.is_dir():
        log.add(str(root), None, None, "is not a directory")
        log.raise_if_any()

    market = _required(root, MARKET_FILE, log, lambda p: load_market(p, log))
    counterparties = _required(root, CPTY, log, lambda p: _counterparties(p, log)) or {}
    csas = _csas(root / CSAS, log) if (root / CSAS).exists() else {}
    netting_sets = _required(root, NETTING, log,
                             lambda p: _netting_sets(p, log, counterparties, csas)) or {}
    trades_path = _trades_path(root, log)
    trades = _trades(trades_path, log, netting_sets)
    _check_cleared(trades, netting_sets, csas, log, trades_path.name)
    run = _run_config(root / RUN, log) if (root / RUN).exists() else RunConfig()

    hedges = (load_cva_hedges(root / HEDGES, log, counterparties, market)
              if (root / HEDGES).exists() else None)

    compiled = None
    credit: dict[str, CreditSpec] = {}
    if market is not None:
        trades = _check_market_usage(trades, csas, market, log, trades_path.name)
        credit = _credit_curves(counterparties, market, log)
        compiled = compile_portfolio(trades, market, log, trades_path.name)
    log.raise_if_any()
    if market is None or compiled is None:  # unreachable: a missing market is a problem
        raise AssertionError("portfolio loaded without market")
    return Portfolio(root, tuple(trades), netting_sets, counterparties, csas, market, credit,
                     compiled, run, tuple(log.warnings), hedges)


def with_new_trades(portfolio: Portfolio, path: str | Path) -> Portfolio:
    """``portfolio`` with the trades of ``path`` added (a pre-deal what-if).

    The file has trades.csv's columns (CSV, or Parquet when it ends in ``.parquet``) and is
    checked like trades.csv, its problems naming its own rows; its trade ids must not be in
    the portfolio (a new trade is not a new version of a booked one) and its netting sets must.

    Raises:
        InputError: every problem found.
    """
    p = Path(path)
    log = ProblemLog()
    if (why := input_kind(p)) is not None:  # never opened: a FIFO would block
        log.add(p.name, None, None, why)
        log.raise_if_any()
    new = _trades(p, log, portfolio.netting_sets)
    _check_cleared(new, portfolio.netting_sets, portfolio.csas, log, p.name)
    booked = {t.info.trade_id for t in portfolio.trades}
    for t in new:
        if t.info.trade_id in booked:
            log.add(p.name, t.info.row, "trade_id", f"{t.info.trade_id!r} is already in the "
                    "portfolio (a new trade needs a new id)", t.info.trade_id)
    if not new and not log.problems:
        log.add(p.name, None, None, "holds no trade")
    log.raise_if_any()
    new = _check_market_usage(new, portfolio.csas, portfolio.market, log, p.name)
    trades = (*portfolio.trades, *new)
    compiled = compile_portfolio(list(trades), portfolio.market, log, p.name)
    log.raise_if_any()
    return dataclasses.replace(portfolio, trades=trades, compiled=compiled,
                               warnings=(*portfolio.warnings, *log.warnings))


def _required(root: Path, name: str, log: ProblemLog, read: Callable[[Path], Any]) -> Any:
    path = root / name
    if not path.exists():
        log.add(name, None, None, "required file is missing")
        return None
    return read(path)


def _unique(rows: Iterable[tuple[int, str | None]], file: str, field: str,
            log: ProblemLog) -> None:
    first: dict[str, int] = {}
    for row, key in rows:
        if key is None:
            continue
        if key in first:
            log.add(file, row, field, f"duplicate id {key!r} (first on row {first[key]})", key)
        else:
            first[key] = row


# ---------------------------------------------------------------------------------------------
# counterparties.csv, csas.csv, netting_sets.csv
# ---------------------------------------------------------------------------------------------
def _counterparties(path: Path, log: ProblemLog) -> dict[str, Counterparty]:
    rows = read_csv(path, log, ("counterparty_id", "recovery"), CPTY_COLUMNS)
    out: dict[str, Counterparty] = {}
    if rows is None:
        return out
    _unique(((r, v.get("counterparty_id")) for r, v in rows), CPTY, "counterparty_id", log)
    for row, values in rows:
        r = FieldReader(values, log, CPTY, row, key=(values.get("counterparty_id") or None))
        cid = r.text("counterparty_id")
        recovery = r.number("recovery", lower=0.0, upper=0.99)
        hazard = r.number("hazard_rate", required=False, lower=0.0, upper=5.0)
        cds = [(CDS_TENORS[c], s / 1e4) for c in CDS_COLUMNS
               if (s := r.number(c, required=False, positive=True, upper=1e5)) is not None]
        if hazard is not None and cds:
            r.problem("hazard_rate", "give either hazard_rate or CDS spreads, not both")
        elif hazard is None and not cds and r.ok:
            r.problem("hazard_rate", "give hazard_rate or at least one CDS spread "
                      f"({', '.join(CDS_COLUMNS)})")
        if r.ok and cid is not None and recovery is not None and cid not in out:
            out[cid] = Counterparty(cid, r.raw("name") or cid, recovery, r.raw("rating") or "NR",
                                    r.raw("sector") or "", hazard, tuple(cds), row)
    return out


SPREAD_BP_MAX = 1000.0  # a collateral rate 10% over the overnight rate is a typing error


def _csas(path: Path, log: ProblemLog) -> dict[str, Csa]:
    rows = read_csv(path, log, ("csa_id", "currency"), CSA_COLUMNS)
    out: dict[str, Csa] = {}
    if rows is None:
        return out
    _unique(((r, v.get("csa_id")) for r, v in rows), CSAS, "csa_id", log)
    for row, values in rows:
        r = FieldReader(values, log, CSAS, row, key=(values.get("csa_id") or None))
        cid = r.text("csa_id")
        th_c = r.number("threshold_cpty", required=False, non_negative=True, upper=AMOUNT_MAX)
        th_o = r.number("threshold_own", required=False, non_negative=True, upper=AMOUNT_MAX)
        mta = r.number("mta", required=False, non_negative=True, upper=AMOUNT_MAX)
        ia = r.number("independent_amount", required=False, lower=-AMOUNT_MAX,
                      upper=AMOUNT_MAX)
        mpor = r.integer("mpor_days", required=False, minimum=0, maximum=MPOR_MAX_DAYS)
        ccy = r.choice("currency", CURRENCIES, what="currency", case_sensitive=True)
        im = r.choice("im_model", IM_MODELS, required=False, what="initial margin model")
        kind = r.choice("csa_type", CSA_TYPES, required=False, what="CSA type")
        balance = r.number("collateral_balance", required=False, lower=-AMOUNT_MAX,
                           upper=AMOUNT_MAX)
        frequency = r.choice("call_frequency", CALL_FREQUENCIES, required=False,
                             what="margin call frequency")
        rounding = r.number("rounding", required=False, non_negative=True, upper=AMOUNT_MAX)
        spread = r.number("collateral_spread_bp", required=False, lower=-SPREAD_BP_MAX,
                          upper=SPREAD_BP_MAX)
        if r.ok and cid is not None and ccy is not None and cid not in out:
            out[cid] = Csa(cid, th_c or 0.0, th_o or 0.0, mta or 0.0, ia or 0.0,
                           10 if mpor is None else mpor, ccy, im or "none", row,
                           kind or "two_way", balance or 0.0, frequency or "daily",
                           rounding or 0.0, spread or 0.0)
    for model in ("simm", "ccp_hvar"):
        ids = [c for c, csa in out.items() if csa.im_model == model]
        if ids:  # said once, not per row: large books have hundreds of such CSAs
            shown = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
            log.warn(CSAS, None, "im_model", f"{len(ids)} CSA(s) with im_model {model} "
                     f"({shown}): `xvaflow margin` computes their initial margin, but it is "
                     "not modelled in the exposure yet: their exposure and XVA count variation "
                     "margin only, and MVA is null")
    return out


def _check_cleared(trades: list[Trade], netting_sets: dict[str, NettingSet],
                   csas: dict[str, Csa], log: ProblemLog, trades_file: str = TRADES) -> None:
    """A netting set under a ccp_hvar CSA holds interest-rate swaps only (the CCP margin
    model reprices swaps' cash flows on historical curves)."""
    for t in trades:
        ns = netting_sets.get(t.info.netting_set_id)
        csa = csas.get(ns.csa_id) if ns is not None and ns.csa_id else None
        if csa is not None and csa.im_model == "ccp_hvar" and t.info.product != "IRS":
            log.add(trades_file, t.info.row, "product", f"{t.info.product} in netting set "
                    f"{t.info.netting_set_id}, whose CSA {csa.csa_id} has im_model ccp_hvar: "
                    "CCP historical-VaR margin covers interest-rate swaps (IRS) only",
                    t.info.trade_id)


def _netting_sets(path: Path, log: ProblemLog, counterparties: dict[str, Counterparty],
                  csas: dict[str, Csa]) -> dict[str, NettingSet]:
    rows = read_csv(path, log, ("netting_set_id", "counterparty_id"), NETTING_COLUMNS)
    out: dict[str, NettingSet] = {}
    if rows is None:
        return out
    if csas and rows and "csa_id" not in rows[0][1]:
        log.warn(NETTING, 1, "csa_id", f"column is missing although {CSAS} has {len(csas)} "
                 "CSA(s): no netting set is collateralised, the CSAs are unused")
    _unique(((r, v.get("netting_set_id")) for r, v in rows), NETTING, "netting_set_id", log)
    cpty_ok = not any(p.file == CPTY for p in log.problems)
    csa_ok = not any(p.file == CSAS for p in log.problems)
    for row, values in rows:
        r = FieldReader(values, log, NETTING, row, key=(values.get("netting_set_id") or None))
        nid = r.text("netting_set_id")
        cid = r.text("counterparty_id")
        csa = r.text("csa_id", required=False)
        if nid == PORTFOLIO_ROW:
            r.problem("netting_set_id", f"{PORTFOLIO_ROW!r} is reserved: exposure.csv's "
                      "portfolio-level rows carry this id")
        # Dangling references are only reported when the referenced file itself read cleanly,
        # so that one bad counterparty row does not echo through every netting set.
        if cid is not None and cpty_ok and cid not in counterparties:
            r.problem("counterparty_id", f"{cid!r} is not in {CPTY}")
        if csa is not None and csa_ok and csa not in csas:
            where = CSAS if csas else f"{CSAS} (no such file or it is empty)"
            r.problem("csa_id", f"{csa!r} is not in {where}")
        if r.ok and nid is not None and cid is not None and nid not in out:
            out[nid] = NettingSet(nid, cid, csa, row)
    return out


# ---------------------------------------------------------------------------------------------
# trades
# ---------------------------------------------------------------------------------------------
def _trades_path(root: Path, log: ProblemLog) -> Path:
    """trades.csv, or trades.parquet when there is no CSV (beside a CSV it is ignored)."""
    csv_path, pq_path = root / TRADES, root / TRADES_PARQUET
    if csv_path.exists() and pq_path.exists():
        log.warn(TRADES_PARQUET, None, None, f"ignored: {TRADES} is read instead")
    return pq_path if pq_path.exists() and not csv_path.exists() else csv_path


def _trades(path: Path, log: ProblemLog, netting_sets: dict[str, NettingSet]) -> list[Trade]:
    name = path.name
    if not path.exists():
        log.add(TRADES, None, None, "required file is missing (trades.csv or trades.parquet)")
        return []
    if path.suffix == ".parquet":
        rows = read_parquet(path, log, TRADE_REQUIRED, ALL_TRADE_COLUMNS)
    else:
        rows = read_csv(path, log, TRADE_REQUIRED, ALL_TRADE_COLUMNS)
    if rows is None:
        return []
    if not rows:
        log.add(name, None, None, "holds no trades (a header but no rows): nothing to compute")
        return []
    # Netting set references are checked only when netting_sets.csv read cleanly.
    netting_ok = not any(p.file == NETTING for p in log.problems)
    parsed: list[tuple[int, int, Trade]] = []  # (row, version, trade)
    unused: dict[tuple[str, str], list[int]] = defaultdict(list)  # (product, column) -> rows
    for row, values in rows:
        trade = _parse_trade(row, values, log, name, netting_sets if netting_ok else None)
        if trade is not None:
            parsed.append((row, trade.info.version, trade))
            spec = PRODUCTS[trade.info.product]
            for col, text in values.items():
                if (text and text.strip() and col in ALL_TRADE_COLUMNS
                        and col not in COMMON_COLUMNS and col not in spec.columns):
                    unused[(trade.info.product, col)].append(row)
    for (product, col), where in unused.items():  # once per column: books can be large
        shown = ", ".join(map(str, where[:5])) + (" ..." if len(where) > 5 else "")
        log.warn(name, where[0], col, f"is not used by {product} and is ignored "
                 f"({len(where)} row(s): {shown})")
    return _latest_versions(parsed, log, name)


def _parse_trade(row: int, values: dict[str, str | None], log: ProblemLog, name: str,
                 netting_sets: dict[str, NettingSet] | None) -> Trade | None:
    r = FieldReader(values, log, name, row, key=(values.get("trade_id") or "").strip() or None)
    trade_id = r.text("trade_id")
    version = r.integer("version", required=False, minimum=0)
    netting_set = r.text("netting_set_id")
    if netting_set is not None and netting_sets is not None and netting_set not in netting_sets:
        r.problem("netting_set_id", f"{netting_set!r} is not in {NETTING}")
    product = r.choice("product", PRODUCTS, what="product", case_sensitive=True)
    maturity = r.date("maturity_date")
    if product is None:
        return None
    spec = PRODUCTS[product]
    flagged = _check_limits(r, values)
    problems_before = len(log.problems)
    start = r.date("start_date", required=spec.needs_start)
    currency = r.choice("currency", CURRENCIES, required=spec.needs_notional, what="currency",
                        case_sensitive=True)
    notional = r.number("notional", required=spec.needs_notional, positive=True)
    if start is not None and maturity is not None and maturity <= start:
        r.problem("maturity_date", f"{maturity} is not after start_date {start}")
    if not r.ok or trade_id is None or netting_set is None or maturity is None:
        # Still parse the product columns so that every problem of the row is reported; a
        # missing or unreadable date becomes one that no date check of the product fails on.
        far = _dt.date.max
        dummy = TradeInfo("", 0, "", product, row, currency or "", notional or 0.0,
                          start or far, maturity or far)
        spec.parse(r, dummy)
        _drop_echoes(log, problems_before, flagged)
        return None
    info = TradeInfo(trade_id, version or 0, netting_set, product, row, currency or "",
                     notional or 0.0, start or maturity, maturity)
    trade = spec.parse(r, info)
    _drop_echoes(log, problems_before, flagged)
    return trade if r.ok else None


def _check_limits(r: FieldReader, values: dict[str, str | None]) -> set[str]:
    """Bounds of :data:`_TRADE_LIMITS` on the numbers of a trade row; returns the fields found
    out of bounds (the product parser's own, looser, complaint about them is dropped)."""
    flagged = set()
    for field, (lower, upper) in _TRADE_LIMITS.items():
        text = (values.get(field) or "").strip()
        try:
            v = float(text)
        except ValueError:
            continue  # empty or not a number: the product parser says so
        if v != v:
            continue
        if upper is not None and v > upper:
            r.problem(field, f"{text} is above the limit of {upper:g} (docs/conventions.md, "
                      "\"Input limits\")")
            flagged.add(field)
        elif lower is not None and v < lower:
            r.problem(field, f"{text} is below the limit of {lower:g} (docs/conventions.md, "
                      "\"Input limits\")")
            flagged.add(field)
    return flagged


def _drop_echoes(log: ProblemLog, start: int, fields: set[str]) -> None:
    """Remove problems recorded since ``start`` about ``fields`` (already reported)."""
    if fields:
        log.problems[start:] = [p for p in log.problems[start:] if p.field not in fields]


def _latest_versions(parsed: list[tuple[int, int, Trade]], log: ProblemLog,
                     name: str) -> list[Trade]:
    by_id: dict[str, list[tuple[int, int, Trade]]] = defaultdict(list)
    for item in parsed:
        by_id[item[2].info.trade_id].append(item)
    keep: set[int] = set()
    for tid, items in by_id.items():
        best = max(v for _, v, _ in items)
        top = [row for row, v, _ in items if v == best]
        for row in top[1:]:
            log.add(name, row, "version", f"duplicate of row {top[0]} (same trade_id and "
                    f"version {best})", tid)
        for row, v, _ in items:
            if v != best:
                log.warn(name, row, "version", f"version {v} superseded by version {best} on "
                         f"row {top[0]}", tid)
        keep.add(top[0])
    return [t for row, _, t in parsed if row in keep]


# ---------------------------------------------------------------------------------------------
# cross-checks against the market
# ---------------------------------------------------------------------------------------------
def _trade_currencies(t: Trade) -> list[tuple[str, str]]:
    """(field, currency) pairs a trade uses, for curve and FX checks."""
    if isinstance(t, SwapTrade):  # both legs of an IRS are in ``currency``
        return [("currency", t.legs[0].currency)] + (
            [("currency_2", t.legs[1].currency)] if t.exchange_notionals else [])
    if isinstance(t, SwaptionTrade):
        return [("currency", t.info.currency)]
    if isinstance(t, FxForwardTrade | FxOptionTrade):
        return [("buy_currency", t.buy_currency), ("sell_currency", t.sell_currency)]
    return [("currency", t.info.currency)] if t.info.currency else []


def _check_market_usage(trades: list[Trade], csas: dict[str, Csa], market: Market,
                        log: ProblemLog, trades_file: str = TRADES) -> list[Trade]:
    """Every currency in use needs a curve and an FX spot; every product its market data.

    Returns the trades with equity trade currencies filled in from their underlyings.
    """
    out: list[Trade] = []
    for t in trades:
        problems_before = len(log.problems)

        def bad(field: str, message: str, t: Trade = t) -> None:
            log.add(trades_file, t.info.row, field, message, t.info.trade_id)

        if isinstance(t, EquityTrade):
            spec = market.equities.get(t.underlying)
            if spec is None:
                known = ", ".join(sorted(market.equities)) or "none"
                bad("underlying", f"unknown underlying {t.underlying!r} (market.json equities: "
                    f"{known})")
                continue
            if t.info.currency and t.info.currency != spec.currency:
                bad("currency", f"{t.info.currency} differs from the currency of "
                    f"{t.underlying} ({spec.currency}); quanto options are not supported")
                continue
            t = dataclasses.replace(t, info=dataclasses.replace(t.info, currency=spec.currency))
        horizon = _horizon_problem(t, market.as_of)
        if horizon is not None:
            bad(*horizon)
            continue
        if t.info.maturity <= market.as_of:
            log.warn(trades_file, t.info.row, "maturity_date", f"{t.info.maturity} is on or "
                     f"before as_of {market.as_of}: the trade has no flows left and is worth 0",
                     t.info.trade_id)
        for field, ccy in _trade_currencies(t):
            if ccy not in market.curves:
                bad(field, f"no curve for {ccy} in market.json curves")
            elif ccy not in market.fx_to_base:
                bad(field, f"no FX spot linking {ccy} to the base currency "
                    f"{market.base_currency} in market.json fx_spots")
        if isinstance(t, SwaptionTrade) and not _has_rates_model(market, t.info.currency):
            bad("currency", f"swaptions in {t.info.currency} need market.json hull_white."
                f"{t.info.currency} (mean_reversion, volatility) or swaption_vols."
                f"{t.info.currency} to calibrate them")
        if isinstance(t, FxOptionTrade) and len(log.problems) == problems_before:
            try:
                market.fx_vol(t.buy_currency + t.sell_currency, 1.0)
            except MissingMarketDataError as exc:
                bad("buy_currency", str(exc))
        for leg in _float_legs(t):
            spec_i = INDICES[leg.index]
            if not spec_i.overnight and leg.index not in market.index_basis:
                log.warn(trades_file, t.info.row, "float_index", f"no index_basis for "
                         f"{leg.index} in market.json; using 0", t.info.trade_id)
        if len(log.problems) == problems_before:
            out.append(t)
    for csa in csas.values():
        if csa.currency not in market.curves:
            log.add(CSAS, csa.row, "currency", f"no curve for {csa.currency} in market.json "
                    "curves", csa.csa_id)
    return out


def _horizon_problem(t: Trade, as_of: _dt.date) -> tuple[str, str] | None:
    """(field, message) when a date of the trade is more than :data:`HORIZON_YEARS` from
    as_of."""
    first = as_of.replace(year=as_of.year - HORIZON_YEARS, day=min(as_of.day, 28))
    last = as_of.replace(year=as_of.year + HORIZON_YEARS, day=min(as_of.day, 28))
    dates = [("start_date", t.info.start), ("maturity_date", t.info.maturity)]
    expiry = getattr(t, "expiry", None)
    if isinstance(expiry, _dt.date):
        dates.append(("expiry_date", expiry))
    for field, d in dates:
        if not first <= d <= last:
            return field, (f"{d} is more than {HORIZON_YEARS} years from as_of {as_of} "
                           "(docs/conventions.md, \"Input limits\")")
    return None


def _has_rates_model(market: Market, currency: str) -> bool:
    return currency in market.hull_white or currency in market.swaption_vols


def simulation_problems(pf: Portfolio) -> list[Problem]:
    """What ``xvaflow run`` needs beyond pricing: a Hull-White model (parameters or swaption
    vols to calibrate) for every simulated currency, an FX vol against the base currency for
    every foreign one. One problem per missing item, naming the market.json field."""
    market = pf.market
    base = market.base_currency
    used_csas = {ns.csa_id for ns in pf.netting_sets.values() if ns.csa_id is not None}
    currencies = {base, *pf.compiled.currencies,
                  *(pf.csas[c].currency for c in used_csas if c in pf.csas),
                  *(market.equity(e).currency for e in pf.compiled.equities)}
    out = []
    for c in sorted(currencies):
        if not _has_rates_model(market, c):
            out.append(Problem(MARKET_FILE, None, f"hull_white.{c}",
                               f"simulating {c} needs Hull-White parameters (mean_reversion, "
                               f"volatility) or swaption_vols.{c} to calibrate them"))
        if c != base:
            try:
                market.fx_vol(c + base, 1.0)
            except MissingMarketDataError:
                out.append(Problem(MARKET_FILE, None, f"fx_vols.{c}{base}",
                                   f"simulating {c} needs the FX vol of {c}{base} (or {base}{c})"))
    return out


def _float_legs(t: Trade) -> list[FloatLeg]:
    if isinstance(t, SwapTrade):
        return [leg for leg in t.legs if isinstance(leg, FloatLeg)]
    if isinstance(t, SwaptionTrade):
        return _float_legs(t.underlying)
    return []


def _credit_curves(counterparties: dict[str, Counterparty], market: Market,
                   log: ProblemLog) -> dict[str, CreditSpec]:
    """Hazard curves: flat ones directly, CDS ones bootstrapped in groups sharing tenors.

    A name whose spreads cannot be bootstrapped is reported on its failing CDS column and left
    out; the others of its group are bootstrapped again without it.
    """
    out: dict[str, CreditSpec] = {}
    groups: dict[tuple[Any, ...], list[Counterparty]] = defaultdict(list)
    for c in counterparties.values():
        if c.hazard_rate is not None:
            out[c.counterparty_id] = CreditSpec(HazardCurve.flat(c.hazard_rate,
                                                                 c.counterparty_id), c.recovery)
        else:
            groups[tuple(t for t, _ in c.cds_spreads)].append(c)
    base = market.base_currency
    if base not in market.curves:
        return out
    column = {tenor: col for col, tenor in CDS_TENORS.items()}
    for tenors, members in groups.items():
        results = bootstrap_each(market.as_of, list(tenors),
                                 np.array([[s for _, s in c.cds_spreads] for c in members]),
                                 np.array([c.recovery for c in members]), market.curve(base),
                                 market.calendar(base), [c.counterparty_id for c in members])
        for c, result in zip(members, results, strict=True):
            if isinstance(result, BootstrapError):
                field = column.get(result.tenor, "cds_*") if result.tenor else "cds_*"
                log.add(CPTY, c.row, field, str(result), c.counterparty_id)
            else:
                out[c.counterparty_id] = CreditSpec(result, c.recovery)
    return out


# ---------------------------------------------------------------------------------------------
# run.json
# ---------------------------------------------------------------------------------------------
def _run_config(path: Path, log: ProblemLog) -> RunConfig:
    ok, raw = read_json(path, log, RUN_LIMIT)
    if not ok:
        return RunConfig()
    if not isinstance(raw, dict):
        log.add(RUN, None, None, "must be a JSON object")
        return RunConfig()
    return run_config_from(raw, log, RUN)


_INTEGER_SETTINGS = {"paths": (1, PATHS_MAX), "seed": (0, SEED_MAX),
                     "partitions": (1, PARTITIONS_MAX), "path_chunk": (1, PATHS_MAX)}


def _grid_problem(grid: str | tuple[Any, ...]) -> str | None:
    """Why a grid setting is beyond :data:`HORIZON_YEARS` or :data:`GRID_DATES_MAX` dates
    (None when it is not; a malformed one is left to the grid builder's own message).
    Checked before the grid is built, which would otherwise step through it date by date."""
    if isinstance(grid, tuple):
        if len(grid) > GRID_DATES_MAX:
            return f"lists {len(grid)} dates; at most {GRID_DATES_MAX} are allowed"
        for item in grid:
            if isinstance(item, float | int) and not (abs(item) <= HORIZON_YEARS):
                return (f"entry {_short(item)} is beyond {HORIZON_YEARS} years "
                        "(docs/conventions.md, \"Input limits\")")
        return None
    if grid == "auto":
        return None
    count = 0.0
    for segment in grid.split(","):
        parts = segment.strip().split(":")
        if len(parts) != 2:
            return None
        try:
            step, horizon = parse_tenor(parts[0].strip()), parse_tenor(parts[1].strip())
        except ValueError:
            return None
        if horizon.approx_years > HORIZON_YEARS:
            return (f"segment {segment.strip()!r} reaches beyond {HORIZON_YEARS} years "
                    "(docs/conventions.md, \"Input limits\")")
        count += horizon.approx_years / step.approx_years
    if count > GRID_DATES_MAX:
        return (f"{grid!r} has about {count:,.0f} dates; at most {GRID_DATES_MAX:,} are "
                "allowed (docs/conventions.md, \"Input limits\")")
    return None


def _short(value: Any) -> str:
    """``repr`` of a setting's value, cut to 60 characters (a run.json value may be huge)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"an integer of {value.bit_length()} bits"  # str() of a huge int is refused
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _sensitivity_kinds(value: Any) -> tuple[str, ...] | None:
    """run.json ``sensitivities``: true (every kind), false (none) or a list of kinds (or a
    comma-separated string, as on the command line); None when invalid."""
    if isinstance(value, bool):
        return SENSITIVITY_KINDS if value else ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(v, str) for v in items):
        return None
    kinds = tuple(v.strip() for v in items if v.strip())
    if not set(kinds) <= set(SENSITIVITY_KINDS):
        return None
    return tuple(k for k in SENSITIVITY_KINDS if k in kinds)


def run_config_from(raw: dict[str, Any], log: ProblemLog, file: str,
                    base: RunConfig | None = None) -> RunConfig:
    """Apply run.json-style settings (or command-line overrides) on top of ``base``."""
    cfg = base or RunConfig()
    fields = {f.name: f for f in dataclasses.fields(RunConfig)}
    updates: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in fields:
            log.warn(file, None, key, "unknown setting, ignored")
            continue
        if key in _INTEGER_SETTINGS:
            minimum, maximum = _INTEGER_SETTINGS[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                log.add(file, None, key, f"must be an integer >= {minimum}, got "
                        f"{_short(value)}")
                continue
            if value > maximum:
                log.add(file, None, key, f"must be an integer >= {minimum} and at most "
                        f"{maximum} (docs/conventions.md, \"Input limits\"), got "
                        f"{_short(value)}")
                continue
        elif key == "sensitivities":
            value = _sensitivity_kinds(value)
            if value is None:
                log.add(file, None, key, f"must be true, false or a list of "
                        f"{', '.join(SENSITIVITY_KINDS)}, got {_short(raw[key])}")
                continue
        elif key == "cost_of_capital":
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not 0.0 <= value <= 1.0:
                log.add(file, None, key, f"must be a number in [0, 1] (a yearly rate, e.g. "
                        f"0.1), got {_short(value)}")
                continue
            value = float(value)
        elif key in ("bilateral", "antithetic", "stress", "allocation"):
            if not isinstance(value, bool):
                log.add(file, None, key, f"must be true or false, got {value!r}")
                continue
        elif key == "format":
            if value not in OUTPUT_FORMATS:
                log.add(file, None, key, f"must be one of {', '.join(OUTPUT_FORMATS)}, got "
                        f"{_short(value)}")
                continue
            if value == "parquet" and importlib.util.find_spec("pyarrow") is None:
                log.add(file, None, key, "parquet needs pyarrow: pip install "
                        "'xvaflow[parquet]' (or use csv)")
                continue
        elif key == "backend":
            if value not in ("numpy", "cupy"):
                log.add(file, None, key, f"must be 'numpy' or 'cupy', got {value!r}")
                continue
        elif key == "grid":
            if isinstance(value, list):
                if not value or not all(isinstance(v, str | int | float)
                                        and not isinstance(v, bool) for v in value):
                    log.add(file, None, key, "must be a non-empty list of dates or year "
                            "fractions")
                    continue
                value = tuple(value)
            elif not isinstance(value, str):
                log.add(file, None, key, "must be 'auto', '<step>:<horizon>' segments (e.g. "
                        "'1M:2Y,3M:10Y') or a list")
                continue
            else:
                value = "auto" if value.strip().lower() == "auto" else value.strip()
            if (why := _grid_problem(value)) is not None:
                log.add(file, None, key, why)
                continue
        updates[key] = value
    out = dataclasses.replace(cfg, **updates)
    if (out.path_chunk is not None and out.path_chunk < min(PATH_CHUNK_MIN, out.paths)
            and ("path_chunk" in updates or "paths" in updates)):
        log.add(file, None, "path_chunk", f"must be at least {PATH_CHUNK_MIN} paths (or cover "
                f"every path), got {out.path_chunk}: each chunk runs the whole grid, so tiny "
                "chunks make a run take hours (docs/conventions.md, \"Input limits\")")
        return cfg
    if out.antithetic and out.paths % 2 and ("paths" in updates or "antithetic" in updates):
        log.add(file, None, "paths", f"must be even with antithetic variates (paths come in "
                f"pairs), got {out.paths}")
        return cfg
    return out

