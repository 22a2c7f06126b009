"""A portfolio's CRIF: the t0 sensitivities ISDA SIMM asks for, of every trade, by bump and
reprice (:func:`xvaflow.pricing.t0.price_t0` on bumped copies of the market).

ISDA SIMM Methodology, section C ("Definition of sensitivity"); every amount is the change of
the trade's value (bank's side) in USD:

- **Risk_IRCurve** (per currency and SIMM tenor 2w ... 30y, at as_of + tenor): +1bp on the
  currency's zero curve shaped as a hat, 1bp at the tenor falling linearly to 0 at the
  neighbouring tenors (flat before 2w and after 30y). The hats add up to a parallel shift,
  so a trade's twelve figures sum to its parallel PV01 (to second order). Our market has one
  curve per currency for discounting and projection (term indices add a constant basis), so
  a trade's delta in a currency is one figure, labelled with the sub-curve of the trade's
  floating index in that currency (``OIS`` for overnight indices and for legs without one,
  ``Libor3m`` for a 3-month term index, ...).
- **Risk_FX** (per currency other than USD): value of the currency against USD +1%.
- **Risk_Equity** (per equity): spot +1%; the bucket is market.json ``simm_bucket``
  (``Residual`` without it, with a warning).
- **Risk_IRVol, Risk_FXVol, Risk_EquityVol**: vega x implied vol = dV/d(ln sigma), by a
  central difference of +-1% relative on every vol of the factor (FX pair, equity; for
  interest rates the swaption vol grid when Hull-White is calibrated to it, else the
  Hull-White sigma, whose implied normal vols it scales in proportion). Each option's figure is
  split between the two SIMM tenors around its expiry, linearly in time.

Curvature needs no rows: SIMM derives it from the vega rows. Amounts are written in the base
currency (Amount, AmountCurrency) and in USD (AmountUSD).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from xvaflow.core.dates import add_tenor, parse_tenor, year_fraction_365
from xvaflow.core.errors import Problem
from xvaflow.margin.crif import TENORS, CrifRecord
from xvaflow.margin.simm import SimmParameters, load_parameters, simm
from xvaflow.market.conventions import INDICES
from xvaflow.market.curves import ZeroCurve
from xvaflow.market.market import EquitySpec, Market, SwaptionVolGrid, VolCurve
from xvaflow.portfolio import Portfolio
from xvaflow.pricing.t0 import price_t0
from xvaflow.products.records import (
    EquityTrade,
    FloatLeg,
    FxOptionTrade,
    SwaptionTrade,
    SwapTrade,
    Trade,
)
from xvaflow.products.tables import CompiledPortfolio

BP = 1e-4
VOL_REL = 0.01  # relative vol bump of the central difference
NOISE = 1e-6  # amounts (base currency) below this are the rounding of two prices, not risk
SUB_CURVES = {1: "Libor1m", 3: "Libor3m", 6: "Libor6m", 12: "Libor12m"}


@dataclass(frozen=True)
class PortfolioCrif:
    """Every trade's SIMM sensitivities, and what the user should know about them."""

    records: tuple[CrifRecord, ...]
    warnings: tuple[Problem, ...]


def vertex_years(as_of: _dt.date) -> np.ndarray:
    """The SIMM tenors (2w ... 30y) as model times: as_of + tenor in calendar arithmetic (as
    market.json pillars), ACT/365F, so that every vertex falls on a date."""
    return np.array([float(year_fraction_365(as_of, add_tenor(as_of, parse_tenor(t))))
                     for t in TENORS])


def hat(times: np.ndarray, k: int, t: np.ndarray) -> np.ndarray:
    """The k-th tenor's hat at times ``t``: 1 at ``times[k]``, linear to 0 at its neighbours,
    flat outside the first and last tenor (so the hats sum to 1 everywhere)."""
    unit = np.zeros(times.size)
    unit[k] = 1.0
    out: np.ndarray = np.interp(t, times, unit)  # flat beyond the ends
    return out


def bucket_curve(curve: ZeroCurve, times: np.ndarray, k: int, size: float) -> ZeroCurve:
    """``curve`` + ``size`` x the k-th hat, exactly: both are linear between the union of their
    knots, so the bumped curve has every knot of both."""
    knots = np.union1d(curve.times, times)
    return ZeroCurve(knots, curve.zero_rate(knots) + size * hat(times, k, knots), curve.name)


@dataclass(frozen=True)
class _Row:
    """One sensitivity of trade ``trade`` (index), in the base currency."""

    trade: int
    risk_type: str
    qualifier: str
    amount: float
    bucket: str = ""
    label1: str = ""
    label2: str = ""


class _Bumper:
    """Reprices the portfolio on bumped markets: the change of every trade's base value.

    Only the trades a bump can move are repriced (the rest change by exactly 0): those whose
    tables refer to the bumped currency or equity (a curve, an FX rate: a trade's base value
    converts its currencies at spot; every trade for the base currency's FX rate)."""

    def __init__(self, portfolio: Book) -> None:
        self.market = portfolio.market
        self.compiled = c = portfolio.compiled
        self.base = price_t0(c, self.market).npv_base
        self.currency = np.zeros((c.n_trades, len(c.currencies)), dtype=bool)
        self.currency[np.arange(c.n_trades), c.trade_currency] = True
        for table, column in ((c.linear, "currency"), (c.swaption_flows, "currency"),
                              (c.swaptions, "currency"), (c.fx_options, "buy_ccy"),
                              (c.fx_options, "sell_ccy"), (c.equity, "currency")):
            self.currency[table.trade, getattr(table, column)] = True
        self.equity = np.zeros((c.n_trades, len(c.equities)), dtype=bool)
        self.equity[c.equity.trade, c.equity.equity] = True
        # mask -> (the trades' tables, their values today priced by those tables: the same
        # summation order as a bumped reprice, so untouched values change by exactly 0)
        self.subsets: dict[bytes, tuple[CompiledPortfolio, np.ndarray]] = {}

    def holding(self, ccy: str | None = None, equity: str | None = None) -> np.ndarray:
        """``[trades]`` mask of the trades that refer to ``ccy`` (every trade for the base
        currency) or to ``equity``."""
        if equity is not None:
            return np.asarray(self.equity[:, self.compiled.equities.index(equity)])
        if ccy == self.market.base_currency:
            return np.ones(self.compiled.n_trades, dtype=bool)
        return np.asarray(self.currency[:, self.compiled.currencies.index(str(ccy))])

    def change(self, bumped: Market, moved: np.ndarray) -> np.ndarray:
        """The trades ``moved`` (mask) repriced on ``bumped``, minus today's; 0 elsewhere."""
        out = np.zeros(self.base.size)
        if moved.any():
            key = np.packbits(moved).tobytes()
            if key not in self.subsets:
                sub = self.compiled.subset(moved)
                self.subsets[key] = (sub, price_t0(sub, self.market).npv_base)
            sub, today = self.subsets[key]
            out[moved] = price_t0(sub, bumped).npv_base - today
        return out

    def vega(self, bump: Callable[[Market, float], Market], moved: np.ndarray) -> np.ndarray:
        """dV/d(ln sigma) of every trade: a central difference of the relative vol bump."""
        up = self.change(bump(self.market, 1.0 + VOL_REL), moved)
        down = self.change(bump(self.market, 1.0 - VOL_REL), moved)
        out: np.ndarray = (up - down) / (2.0 * VOL_REL)
        return out


@dataclass(frozen=True)
class Book:
    """Trades, their compiled tables and the market: what the CRIF needs of a portfolio."""

    trades: Sequence[Trade]
    compiled: CompiledPortfolio
    market: Market


def portfolio_crif(portfolio: Portfolio | Book, parameters: SimmParameters | None = None
                   ) -> PortfolioCrif:
    """The CRIF of every trade of ``portfolio`` (rows below :data:`NOISE` left out), in trade order
    within each risk type. The market must have a USD spot (:func:`usd_problem`)."""
    portfolio = Book(portfolio.trades, portfolio.compiled, portfolio.market)
    p = parameters or load_parameters()
    bumper = _Bumper(portfolio)
    market = portfolio.market
    years = vertex_years(market.as_of)
    rows = [*_ir_delta(portfolio, bumper, p, years), *_fx_delta(portfolio, bumper)]
    warnings = []
    for name in portfolio.compiled.equities:
        if market.equity(name).simm_bucket is None:
            warnings.append(Problem("market.json", None, f"equities.{name}.simm_bucket",
                                    "not given: its SIMM equity risk is in the Residual "
                                    "bucket (the most conservative risk weight)"))
        rows += _equity(portfolio, bumper, name, years)
    rows += _fx_vega(portfolio, bumper, years) + _ir_vega(portfolio, bumper, years)
    usd = market.fx_rate(market.base_currency, "USD")
    records = []
    for r in rows:
        trade = portfolio.trades[r.trade]
        records.append(CrifRecord(
            "Equity" if isinstance(trade, EquityTrade) else "RatesFX", r.risk_type, r.qualifier,
            r.bucket, r.label1, r.label2, r.amount * usd, r.amount, market.base_currency,
            trade.info.trade_id, trade.info.netting_set_id))
    return PortfolioCrif(tuple(records), tuple(warnings))


def _moved(amounts: np.ndarray) -> list[tuple[int, float]]:
    """(trade, amount) of the trades that moved by more than repricing's rounding noise."""
    return [(int(i), float(amounts[i])) for i in np.flatnonzero(np.abs(amounts) > NOISE)]


def _ir_delta(portfolio: Book, bumper: _Bumper, p: SimmParameters,
              years: np.ndarray) -> list[_Row]:
    market = portfolio.market
    rows = []
    for ccy in portfolio.compiled.currencies:
        curve = market.curve(ccy)
        labels = [_sub_curve(t, ccy) for t in portfolio.trades]
        held = np.asarray(bumper.currency[:, portfolio.compiled.currencies.index(ccy)])
        for k, tenor in enumerate(TENORS):
            bumped = dataclasses.replace(market, curves={
                **market.curves, ccy: bucket_curve(curve, years, k, BP)})
            rows += [_Row(i, "Risk_IRCurve", ccy, v, p.ir_bucket(ccy), tenor, labels[i])
                     for i, v in _moved(bumper.change(bumped, held))]
    return rows


def _fx_delta(portfolio: Book, bumper: _Bumper) -> list[_Row]:
    return [_Row(i, "Risk_FX", ccy, v) for ccy in portfolio.compiled.currencies if ccy != "USD"
            for i, v in _moved(bumper.change(_fx_up(portfolio.market, ccy),
                                             bumper.holding(ccy=ccy)))]


def _equity(portfolio: Book, bumper: _Bumper, name: str, years: np.ndarray
            ) -> list[_Row]:
    market = portfolio.market
    spec = market.equity(name)
    bucket = spec.simm_bucket or "Residual"

    def with_spec(m: Market, new: EquitySpec) -> Market:
        return dataclasses.replace(m, equities={**m.equities, name: new})

    def vol_scaled(m: Market, scale: float) -> Market:
        return with_spec(m, dataclasses.replace(spec, vol=_scaled(spec.vol, scale)))

    up = with_spec(market, dataclasses.replace(spec, spot=spec.spot * 1.01))
    held = bumper.holding(equity=name)
    rows = [_Row(i, "Risk_Equity", name, v, bucket) for i, v in _moved(bumper.change(up, held))]
    return rows + _vega_rows(portfolio, bumper, years, "Risk_EquityVol", name, bucket,
                             vol_scaled, held)


def _fx_vega(portfolio: Book, bumper: _Bumper, years: np.ndarray) -> list[_Row]:
    quoted = portfolio.market.fx_vols
    pairs = sorted({pair if pair in quoted or pair[3:] + pair[:3] not in quoted
                    else pair[3:] + pair[:3]  # one risk factor per pair, as market.json quotes it
                    for pair in (t.buy_currency + t.sell_currency for t in portfolio.trades
                                 if isinstance(t, FxOptionTrade))})
    options = np.zeros(portfolio.compiled.n_trades, dtype=bool)
    options[portfolio.compiled.fx_options.trade] = True
    return [row for pair in pairs for row in _vega_rows(
        portfolio, bumper, years, "Risk_FXVol", pair, "",
        functools.partial(_fx_vols_scaled, pair=pair), options)]


def _ir_vega(portfolio: Book, bumper: _Bumper, years: np.ndarray) -> list[_Row]:
    s = portfolio.compiled.swaptions
    rows = []
    for c in sorted(set(s.currency.tolist())):
        ccy = portfolio.compiled.currencies[c]
        swaptions = np.zeros(portfolio.compiled.n_trades, dtype=bool)
        swaptions[s.trade[s.currency == c]] = True
        rows += _vega_rows(portfolio, bumper, years, "Risk_IRVol", ccy, "",
                           functools.partial(_ir_vols_scaled, ccy=ccy), swaptions)
    return rows


def _vega_rows(portfolio: Book, bumper: _Bumper, years: np.ndarray, risk_type: str,
               qualifier: str, bucket: str, bump: Callable[[Market, float], Market],
               moved: np.ndarray) -> list[_Row]:
    """Each option's vega x vol under ``bump``, split over the SIMM tenors around its expiry."""
    return [_Row(i, risk_type, qualifier, share, bucket, label)
            for i, v in _moved(bumper.vega(bump, moved))
            for label, share in _split(years, _expiry(portfolio.trades[i], portfolio.market), v)]


def usd_problem(market: Market) -> Problem | None:
    """SIMM's amounts are in USD: a market without a USD spot cannot give them."""
    if "USD" in market.fx_to_base:
        return None
    return Problem("market.json", None, "fx_spots", "SIMM needs amounts in USD: give the USD "
                   "spot against the base currency")


def _sub_curve(trade: object, ccy: str) -> str:
    """The SIMM sub-curve of a trade's delta in ``ccy``: its term index's, else OIS."""
    swap = trade.underlying if isinstance(trade, SwaptionTrade) else trade
    if isinstance(swap, SwapTrade):
        for leg in swap.legs:
            if isinstance(leg, FloatLeg) and leg.currency == ccy:
                spec = INDICES[leg.index]
                if not spec.overnight and spec.tenor_months in SUB_CURVES:
                    return SUB_CURVES[spec.tenor_months]
    return "OIS"


def _fx_up(market: Market, ccy: str) -> Market:
    """``ccy`` worth 1% more against USD, every other currency's USD value unchanged."""
    if ccy != market.base_currency:
        rates = {**market.fx_to_base, ccy: market.fx_to_base[ccy] * 1.01}
    else:  # the base itself: every other currency is worth 1% less in base
        rates = {c: v if c == ccy else v / 1.01 for c, v in market.fx_to_base.items()}
    return dataclasses.replace(market, fx_to_base=rates)


def _scaled(vol: VolCurve, scale: float) -> VolCurve:
    return VolCurve(vol.times, tuple(v * scale for v in vol.vols))


def _fx_vols_scaled(market: Market, scale: float, pair: str) -> Market:
    """Every vol of the FX pair (as quoted in market.json, either way round) x ``scale``."""
    both = (pair, pair[3:] + pair[:3])
    return dataclasses.replace(market, fx_vols={
        k: _scaled(v, scale) if k in both else v for k, v in market.fx_vols.items()})


def _ir_vols_scaled(market: Market, scale: float, ccy: str) -> Market:
    """The currency's swaption vols x ``scale``: its Hull-White sigma when given, else the
    normal vol grid it is calibrated to (the copy calibrates again)."""
    if ccy in market.hull_white:
        hw = market.hull_white[ccy]
        return dataclasses.replace(market, hull_white={
            **market.hull_white, ccy: dataclasses.replace(hw, volatility=hw.volatility * scale)})
    grid = market.swaption_vols[ccy]
    vols = tuple(tuple(None if v is None else v * scale for v in row) for row in grid.vols)
    return dataclasses.replace(market, swaption_vols={
        **market.swaption_vols, ccy: SwaptionVolGrid(grid.expiries, grid.tenors, vols)})


def _expiry(trade: object, market: Market) -> float:
    expiry = trade.expiry  # type: ignore[attr-defined]  # options only
    return float((expiry - market.as_of).days) / 365.0


def _split(years: np.ndarray, t: float, amount: float) -> list[tuple[str, float]]:
    """``amount`` at expiry ``t`` onto the SIMM tenors around it, linearly in time."""
    k = int(np.searchsorted(years, t, side="right")) - 1
    if k < 0 or k >= years.size - 1:
        return [(TENORS[0 if k < 0 else -1], amount)]
    w = float((years[k + 1] - t) / (years[k + 1] - years[k]))
    return [(TENORS[k], amount * w), (TENORS[k + 1], amount * (1.0 - w))]


def margin_section(records: Sequence[CrifRecord], usd_per_base: float, source: str,
                   parameters: SimmParameters | None = None, mpor_days: int = 10
                   ) -> dict[str, Any]:
    """results.json ``initial_margin``: SIMM per portfolio of the CRIF (PortfolioID: the netting
    set for our own CRIF; ``ALL`` for rows without one), both ways: ``received`` is SIMM of the
    sensitivities as they are (what the bank calls from the counterparty), ``posted`` SIMM of
    their negation (what the counterparty calls). Amounts in the base currency, the breakdown
    (call side) in USD, SIMM's calculation currency."""
    p = parameters or load_parameters()
    groups: dict[str, list[CrifRecord]] = {}
    for r in records:
        groups.setdefault(r.portfolio_id or "ALL", []).append(r)
    portfolios = {}
    for pid, rows in groups.items():
        received = simm(rows, p, mpor_days=mpor_days)
        posted = simm([dataclasses.replace(r, amount_usd=-r.amount_usd) for r in rows], p,
                      mpor_days=mpor_days)
        portfolios[pid] = {"received": received.total / usd_per_base,
                           "posted": posted.total / usd_per_base,
                           "received_usd": received.total, "posted_usd": posted.total,
                           "breakdown_usd": dict(received.margins)}
    return {"model": p.name, "mpor_days": mpor_days, "calculation_currency": "USD",
            "source": source, "usd_per_base": usd_per_base,
            "totals": {side: sum(v[side] for v in portfolios.values())
                       for side in ("received", "posted")},
            "netting_sets": portfolios}
