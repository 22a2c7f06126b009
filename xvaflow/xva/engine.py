"""The Monte Carlo XVA engine for one partition of netting sets.

simulation -> pricing -> collateral -> exposure -> XVA, streamed one grid date at a time:

1. the model simulates every factor of the market and the exposure dates span the whole
   portfolio; the grid adds the partition's own option dates and margin-call dates. The
   random numbers are keyed by path and calendar day, so every partition sees exactly the
   same paths on the dates they share, whatever the partition count;
2. at every grid date the state advances (:class:`~xvaflow.simulation.scenario.Scenario`) and
   path-dependent memory is updated (coupons fixing, options exercising);
3. at a lag date, collateralised netting sets are valued and their margin call is made;
4. at an exposure date, every netting set is valued, the collateral called at its lag date is
   applied, and profiles and XVA path sums are accumulated (:mod:`xvaflow.exposure.profile`,
   :mod:`xvaflow.xva.adjustments`), for the portfolio after the date's payments and for the
   interval portfolio, which still holds the flows paid since the previous exposure date
   (:mod:`xvaflow.xva.integration` integrates the two between dates);
5. after the last chunk, today's exposure and the curvature terms (from the moments of all
   paths) complete the XVA integrals.

Memory stays O(paths x netting sets); the [dates x paths x netting sets] cube never exists.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xvaflow.core.backend import get_namespace
from xvaflow.core.dates import DateArray, FloatArray, add_tenor, parse_tenor
from xvaflow.exposure.collateral import CsaArrays, held_collateral, margin_call
from xvaflow.exposure.profile import ExposureProfile, eepe
from xvaflow.market.market import CreditSpec, Market
from xvaflow.models.crossasset import CrossAssetModel, build_model, market_factors
from xvaflow.portfolio import Portfolio
from xvaflow.pricing.scenario import ScenarioValuer
from xvaflow.pricing.t0 import price_t0
from xvaflow.products.tables import SETTLE_CASH, CompiledPortfolio
from xvaflow.regulatory.bacva import risk_weight
from xvaflow.simulation.grid import (
    AUTO,
    TimeGrid,
    build_grid,
    default_grid_spec,
    exposure_dates,
)
from xvaflow.simulation.scenario import Scenario, Step
from xvaflow.xva.adjustments import (
    METRICS,
    Functional,
    XvaAccumulator,
    xva_functionals,
    xva_weights,
)
from xvaflow.xva.allocation import TradeAllocation, trades_as_netting_sets
from xvaflow.xva.bumps import bumped_market, market_bumps, read_market_document, vol_bumps
from xvaflow.xva.colva import colva
from xvaflow.xva.kva import COST_OF_CAPITAL, YEAR, CapitalProfile, capital_profile, kva
from xvaflow.xva.risk import CoverageScenario, risk_functionals, shifted_credit, variant

WITHOUT = "without"  # the book of a what-if's base (run_partition's ``without``)


@dataclass(frozen=True)
class RunSettings:
    """What a run simulates (run.json / command line)."""

    paths: int = 10_000
    seed: int = 42
    grid: str | tuple[str | float, ...] = "auto"
    bilateral: bool = True
    antithetic: bool = False
    backend: str = "numpy"
    path_chunk: int | None = None
    stress: bool = False
    sensitivities: tuple[str, ...] = ()  # of xvaflow.portfolio.SENSITIVITY_KINDS
    allocation: bool = False  # each trade's share of its netting set's XVA
    cost_of_capital: float = COST_OF_CAPITAL  # the KVA's hurdle on capital (per year)


@dataclass
class PartitionResult:
    """Everything aggregation needs from one partition (plain numpy, picklable).

    Attributes:
        netting_sets: ``[ns]`` ids, the column order of every array.
        dates, times: ``[E]`` exposure dates and times.
        npv: ``[ns]`` t0 value in base currency.
        profile: exposure profiles.
        xva: functional -> (total ``[ns]`` over paths, batch sums ``[B, ns]``): the metrics
            (``cva``, ...) and, when asked for, their stress and sensitivity variants
            (``cva|credit+100bp``, ``cva|cs01:5Y:+``, ..., see :mod:`xvaflow.xva.risk`).
        xva_by_date: metric -> ``[E, ns]`` path sums of each exposure date's term (the term
            structure; sums over dates to the total), the metrics only.
        n_paths, batch_size: for means and standard errors.
        eepe: ``[ns]`` Basel effective EPE.
        timings: stage -> seconds.
        fallbacks: credit scenario -> counterparties whose shifted spreads could not be
            bootstrapped (they took the parallel hazard shift).
        capital: capital profiles (:mod:`xvaflow.xva.kva`) ``[dates, ns]`` each.
        kva: ``[ns]`` KVA.
        colva: ``[ns]`` COLVA (:mod:`xvaflow.xva.colva`), signed.
        trade_ids: ``[T]`` the partition's trades (portfolio order).
        trade_xva: metric -> ``[T]`` each trade's share of its netting set's path sum
            (:mod:`xvaflow.xva.allocation`; empty unless ``RunSettings.allocation``).
    """

    netting_sets: list[str]
    dates: DateArray
    times: FloatArray
    npv: FloatArray
    profile: ExposureProfile
    xva: dict[str, tuple[FloatArray, FloatArray]]
    n_paths: int
    batch_size: int
    eepe: FloatArray
    steps: int
    xva_by_date: dict[str, FloatArray]
    timings: dict[str, float] = field(default_factory=dict)
    fallbacks: dict[str, list[str]] = field(default_factory=dict)
    capital: CapitalProfile | None = None
    kva: FloatArray | None = None
    colva: FloatArray | None = None
    trade_ids: list[str] = field(default_factory=list)
    trade_xva: dict[str, FloatArray] = field(default_factory=dict)


def simulation_setup(portfolio: Portfolio, settings: RunSettings,
                     netting_sets: Sequence[str] | None = None
                     ) -> tuple[CrossAssetModel, TimeGrid]:
    """Model and grid for valuing ``netting_sets`` (default: all) of the portfolio.

    The model simulates every factor of the market and the exposure dates span the whole
    portfolio, whatever ``netting_sets`` holds; the other dates of the grid (option expiries
    and settlements, margin-call dates) are only those of ``netting_sets``. The paths on a
    date do not depend on the other dates simulated (:mod:`xvaflow.simulation.scenario`), so
    a netting set's figures are the same in any partition.
    """
    c = portfolio.compiled
    own = c if netting_sets is None else _subset(c, netting_sets)
    everyone = [ns.csa_id for ns in portfolio.netting_sets.values()]
    mine = everyone if netting_sets is None else [portfolio.netting_sets[n].csa_id
                                                  for n in netting_sets]
    csas = [portfolio.csas[i] for i in sorted({i for i in everyone if i is not None})]
    # Every factor the market can simulate, not only the book's: the paths must not depend
    # on what the book holds (common random numbers across what-if runs).
    ccys, equities = market_factors(portfolio.market)
    model = build_model(portfolio.market, [*ccys, *c.currencies, *(a.currency for a in csas)],
                        [*equities, *c.equities])
    exposure = exposure_dates(settings.grid, portfolio.market.as_of, portfolio_end(portfolio))
    # Exercise, settlement and payoff dates of options: on the grid, so that a path's
    # decision and payment use its own state on that date.
    product_times = np.r_[own.swaptions.expiry, own.fx_options.expiry, own.fx_options.pay_time,
                          own.equity.expiry]
    terms = {(portfolio.csas[i].mpor_days, portfolio.csas[i].call_frequency)
             for i in mine if i is not None}
    grid = build_grid(portfolio.market.as_of, exposure, product_times, terms,
                      portfolio.market.calendar(portfolio.market.base_currency))
    return model, grid


def _subset(compiled: CompiledPortfolio, netting_sets: Sequence[str]) -> CompiledPortfolio:
    """The compiled trades of ``netting_sets``."""
    wanted = set(netting_sets)
    return compiled.subset(np.array([compiled.netting_set_ids[i] in wanted
                                     for i in compiled.netting_set], dtype=bool))


def portfolio_end(portfolio: Portfolio) -> float:
    """Time of the portfolio's last cash flow, settlement or exercise (0 when none)."""
    ends = portfolio.compiled.trade_end_times()
    return float(ends.max()) if ends.size else 0.0


def resolved_grid(portfolio: Portfolio, settings: RunSettings) -> str | list[str | float]:
    """The grid as run: ``"auto"`` expanded to its segments, anything else as given."""
    grid = settings.grid
    if isinstance(grid, str) and grid.strip().lower() == AUTO:
        return default_grid_spec(portfolio.market.as_of, portfolio_end(portfolio))
    return grid if isinstance(grid, str) else list(grid)


def horizon_short(portfolio: Portfolio, grid: TimeGrid) -> list[str]:
    """Netting sets with a cash flow, settlement or exercise after the last exposure date
    (their exposure beyond it is not counted), in portfolio order."""
    last = float(grid.times[grid.exposure_steps[-1]])
    compiled = portfolio.compiled
    ends = compiled.netting_set_end_times()
    return [ns for ns, end in zip(compiled.netting_set_ids, ends, strict=True)
            if end > last + 0.5 / 365.0]


def _csa_arrays(portfolio: Portfolio, netting_sets: Sequence[str], model: CrossAssetModel
                ) -> CsaArrays:
    cols, ccy, th_c, th_o, mta, ia, mpor, frequency, rounding = ([] for _ in range(9))
    for j, ns_id in enumerate(netting_sets):
        csa_id = portfolio.netting_sets[ns_id].csa_id
        if csa_id is None:
            continue
        csa = portfolio.csas[csa_id]
        cols.append(j)
        ccy.append(model.currencies.index(csa.currency))
        th_c.append(np.inf if csa.csa_type == "one_way_own" else csa.threshold_cpty)
        th_o.append(np.inf if csa.csa_type == "one_way_cpty" else csa.threshold_own)
        mta.append(csa.mta)
        ia.append(csa.independent_amount)
        mpor.append(csa.mpor_days)
        frequency.append(csa.call_frequency)
        rounding.append(csa.rounding)
    return CsaArrays(np.array(cols, dtype=np.int64), np.array(ccy, dtype=np.int64),
                     np.array(th_c, dtype=float), np.array(th_o, dtype=float),
                     np.array(mta, dtype=float), np.array(ia, dtype=float),
                     np.array(mpor, dtype=np.int64), tuple(frequency),
                     np.array(rounding, dtype=float))


@dataclass
class _Book:
    """A valuation of the partition's netting sets on the shared paths: the base market, or a
    bumped one with the same dynamics (:mod:`xvaflow.xva.bumps`), with its observers.

    Attributes:
        name: None for the base market, else the bump's scenario name.
        model: the base model on this book's market (same states, its curves and spots).
        market: the book's market.
        npv: ``[ns]`` t0 values in base currency on this market.
        profile, acc: exposure profile and XVA accumulator (the base book's carries the
            stress and CS01 functionals; a bumped book's the metrics and means only).
        coverage: collateral coverage scenarios (base book only): the same values with the
            collateral scaled, each with its own profile (means only) and accumulator.
        trade_npv: ``[T]`` t0 values of the trades in base currency on this market.
        compiled: the trades it values (the partition's, or fewer: :data:`WITHOUT`).
        allocation: the trade allocation's sums (base book, when asked for).
    """

    name: str | None
    model: CrossAssetModel
    market: Market
    npv: FloatArray
    profile: ExposureProfile
    acc: XvaAccumulator
    coverage: list[tuple[CoverageScenario, ExposureProfile, XvaAccumulator]]
    trade_npv: FloatArray
    compiled: CompiledPortfolio
    allocation: TradeAllocation | None = None


@dataclass
class _Partition:
    """What every chunk of paths of one partition shares."""

    model: CrossAssetModel
    grid: TimeGrid
    ns_ids: list[str]
    csa: CsaArrays
    settings: RunSettings
    # lag grid index -> [(exposure index k whose collateral it calls, CSA rows)]
    lag_calls: dict[int, list[tuple[int, np.ndarray]]]
    books: list[_Book]
    trades: CompiledPortfolio | None  # every trade its own netting set, for the allocation


def run_partition(portfolio: Portfolio, netting_sets: Sequence[str], settings: RunSettings,
                  progress: Callable[[int, int], None] | None = None,
                  without: Sequence[str] = ()) -> PartitionResult:
    """Simulate the paths and compute exposures and XVA for the given netting sets.

    Paths are processed in chunks of ``settings.path_chunk`` (all at once by default); every
    chunk reproduces its own slice of the same paths, so the results do not depend on it.
    With ``settings.sensitivities`` (kinds ``credit``, ``ir``, ``fx``, ``eq``) CS01 are extra
    functionals and every market bump of :mod:`xvaflow.xva.bumps` of the other kinds is one
    more book valued on the same states (one valuation pass each).

    Args:
        portfolio: the validated portfolio (all of it: the model and grid use every trade).
        netting_sets: the partition's netting set ids.
        settings: paths, seed, grid, ...
        progress: called with (done, total) grid steps after each step of each chunk.
        without: trade ids: one more book on the same paths values the netting sets without
            them (a what-if's base); its metrics are the variants ``<metric>|without``.
    """
    started = time.perf_counter()
    model, grid = simulation_setup(portfolio, settings, netting_sets)
    compiled = _subset(portfolio.compiled, netting_sets)
    ns_ids = list(netting_sets)
    csa = _csa_arrays(portfolio, ns_ids, model)
    exposure_times = grid.times[grid.exposure_steps]
    chunk = min(settings.path_chunk or settings.paths, settings.paths)
    if settings.antithetic:  # antithetic pairs stay in one chunk
        chunk = max(2, chunk - chunk % 2)
    chunked = chunk < settings.paths

    def profile(quantiles: bool = True) -> ExposureProfile:
        return ExposureProfile.zeros(exposure_times.size, len(ns_ids), settings.paths,
                                     chunked=chunked, antithetic=settings.antithetic,
                                     quantiles=quantiles)

    def book(name: str | None, market: Market, credit: dict[str, CreditSpec],
             extra: Sequence[Functional] = (), coverage: Sequence[CoverageScenario] = (),
             compiled: CompiledPortfolio = compiled) -> _Book:
        trade_npv = price_t0(compiled, market).npv_base
        base = xva_functionals([credit[portfolio.netting_sets[n].counterparty_id]
                                for n in ns_ids], market.own_credit, market.funding,
                               settings.bilateral)
        pay_mean = interval_pay_times(compiled, market, ns_ids, exposure_times, trade_npv)
        col = {n: i for i, n in enumerate(ns_ids)}
        npv = np.bincount([col[compiled.netting_set_ids[i]] for i in compiled.netting_set],
                          weights=trade_npv, minlength=len(ns_ids)).astype(float)
        weights = xva_weights(exposure_times, [*base, *extra], pay_mean)
        base_weights = weights.only([f.name for f in base])
        return _Book(name, model if market is portfolio.market else model.on_market(market),
                     market, npv, profile(quantiles=name is None),
                     XvaAccumulator.create(weights, settings.paths, settings.antithetic),
                     [(c, profile(quantiles=False), XvaAccumulator.create(
                         base_weights, settings.paths, settings.antithetic)) for c in coverage],
                     trade_npv, compiled)

    risk = risk_functionals(portfolio, ns_ids, settings.bilateral, settings.stress,
                            "credit" in settings.sensitivities)
    books = [book(None, portfolio.market, portfolio.credit, risk.functionals, risk.coverage)]
    if without:
        books.append(book(WITHOUT, portfolio.market, portfolio.credit, compiled=compiled.subset(
            ~np.isin(np.array(compiled.trade_ids, dtype=object), list(without)))))
    if settings.allocation:
        margined = np.zeros(len(ns_ids), dtype=bool)
        margined[csa.column] = True
        col = {n: i for i, n in enumerate(ns_ids)}
        books[0].allocation = TradeAllocation.create(
            exposure_times.size, np.array([col[compiled.netting_set_ids[i]]
                                           for i in compiled.netting_set], dtype=np.int64),
            margined)
    kinds = set(settings.sensitivities) - {"credit", "vega"}
    if kinds:
        for bump in market_bumps(read_market_document(portfolio), model.currencies,
                                 model.equities, kinds):
            market = bumped_market(bump)
            credit, _ = shifted_credit(dataclasses.replace(portfolio, market=market),
                                       sorted(portfolio.credit), 0.0)
            books.append(book(bump.name, market, credit))
    lag_calls: dict[int, list[tuple[int, np.ndarray]]] = {}
    for (mpor, frequency), lags in grid.lags.items():
        rows = np.flatnonzero((csa.mpor_days == mpor)
                              & (np.array(csa.frequency, dtype=object) == frequency))
        for k, step in enumerate(grid.exposure_steps):
            lag_calls.setdefault(int(lags[step]), []).append((k, rows))
    part = _Partition(model, grid, ns_ids, csa, settings, lag_calls, books,
                      trades_as_netting_sets(compiled) if settings.allocation else None)
    timings = {"setup": time.perf_counter() - started, "valuation": 0.0}
    chunks = range(0, settings.paths, chunk)
    for i, first in enumerate(chunks):
        def report(step: int, steps: int, i: int = i) -> None:
            if progress is not None:
                progress(i * steps + step, len(chunks) * steps)

        timings["valuation"] += _run_chunk(part, first, min(chunk, settings.paths - first),
                                           report)
    xva: dict[str, tuple[FloatArray, FloatArray]] = {}
    for b in books:
        collateral = _today_collateral(b.npv, csa, b.model)
        for scenario, prof, acc in [(None, b.profile, b.acc), *b.coverage]:
            factor = 1.0 if scenario is None else scenario.factor
            prof.finish()
            acc.add_today(b.npv, factor * collateral)
            acc.add_curvature(exposure_times, prof, b.npv - factor * collateral)
            suffix = scenario.name if scenario is not None else b.name
            xva.update({name if suffix is None else variant(name, suffix):
                        (total, acc.batches[name]) for name, total in acc.total.items()})
    if "vega" in settings.sensitivities:
        xva.update(_vega_variants(portfolio, ns_ids, compiled, settings, model, xva))
    base_book = books[0]
    trade_xva: dict[str, FloatArray] = {}
    if base_book.allocation is not None:
        trade_xva = base_book.allocation.allocate(
            base_book.acc, base_book.profile, exposure_times,
            (base_book.trade_npv, base_book.npv, _today_collateral(base_book.npv, csa,
                                                                   base_book.model)))
    ends = dict(zip(compiled.netting_set_ids, compiled.netting_set_end_times(), strict=True))
    end = np.array([ends[n] for n in ns_ids])  # [ns] each netting set's last event
    capital, kva_ns = _capital(portfolio, ns_ids, end, exposure_times, base_book.profile,
                               settings.cost_of_capital)
    timings["total"] = time.perf_counter() - started
    return PartitionResult(
        netting_sets=ns_ids, dates=grid.dates[grid.exposure_steps], times=exposure_times,
        npv=base_book.npv, profile=base_book.profile, xva=xva,
        n_paths=settings.paths, batch_size=base_book.acc.batch_size,
        eepe=eepe(exposure_times, base_book.profile.basel_ee,
                  _eepe_window(portfolio, end)), steps=len(grid),
        xva_by_date={m: base_book.acc.by_date[m] for m in METRICS
                     if m in base_book.acc.by_date},
        timings=timings, fallbacks=risk.fallbacks, capital=capital, kva=kva_ns,
        colva=_colva(portfolio, ns_ids, exposure_times, base_book.profile),
        trade_ids=list(compiled.trade_ids),
        trade_xva=trade_xva)


def _capital(portfolio: Portfolio, ns_ids: list[str], end: FloatArray, times: FloatArray,
             profile: ExposureProfile, cost_of_capital: float
             ) -> tuple[CapitalProfile, FloatArray]:
    """Capital profiles and KVA of the netting sets ending at ``end`` ``[ns]``
    (:mod:`xvaflow.xva.kva`)."""
    market = portfolio.market
    cpty = [portfolio.counterparties[portfolio.netting_sets[n].counterparty_id] for n in ns_ids]
    specs = [portfolio.credit[c.counterparty_id] for c in cpty]
    capital = capital_profile(
        times, profile.basel_ee, profile.epe, end,
        np.array([1.0 - float(s.curve.survival(YEAR)) for s in specs]),
        np.array([1.0 - s.recovery for s in specs]),
        np.array([risk_weight(c.sector, c.rating) for c in cpty]))
    return capital, kva(times, capital.total, market.discount(market.base_currency, times),
                        _survival(portfolio, ns_ids, times), cost_of_capital)


def _survival(portfolio: Portfolio, ns_ids: list[str], times: FloatArray) -> FloatArray:
    """``[dates, ns]`` S_C(t) S_B(t): each netting set's counterparty's survival times the
    bank's (1 without ``own_credit``)."""
    survival: FloatArray = np.stack([
        portfolio.credit[portfolio.netting_sets[n].counterparty_id].curve.survival(times)
        for n in ns_ids], axis=1)
    if portfolio.market.own_credit is not None:
        survival = survival * portfolio.market.own_credit.curve.survival(times)[:, None]
    return survival


def _colva(portfolio: Portfolio, ns_ids: list[str], times: FloatArray,
           profile: ExposureProfile) -> FloatArray:
    """``[ns]`` COLVA (:mod:`xvaflow.xva.colva`) from the CSAs' collateral spreads."""
    spread = np.array([portfolio.csas[c].collateral_spread_bp / 1e4
                       if (c := portfolio.netting_sets[n].csa_id) is not None else 0.0
                       for n in ns_ids])
    return colva(times, profile.collateral, spread, _survival(portfolio, ns_ids, times))


def _vega_variants(portfolio: Portfolio, ns_ids: list[str], compiled: CompiledPortfolio,
                   settings: RunSettings, model: CrossAssetModel,
                   xva: dict[str, tuple[FloatArray, FloatArray]]
                   ) -> dict[str, tuple[FloatArray, FloatArray]]:
    """The metrics under each vol bump (:func:`~xvaflow.xva.bumps.vol_bumps`), as variants.

    A vol bump changes the dynamics, so the netting sets are simulated again on the bumped
    market with the same random numbers. A netting set none of whose trades and collateral
    depend on the bumped factor (another currency's rates or FX, an equity it does not hold)
    keeps its base figures without a rerun: each factor's law involves only its own
    currency's rates and FX, so the paths it uses do not move. The choice is made per netting
    set, so the figures do not depend on the partitioning.
    """
    base = portfolio.market.base_currency
    held: list[set[str]] = []
    for ns in ns_ids:
        currencies, equities = _subset(compiled, [ns]).held_factors()
        csa_id = portfolio.netting_sets[ns].csa_id
        held.append({*currencies, base, *(f"EQ:{e}" for e in equities),
                     *(portfolio.market.equities[e].currency for e in equities),
                     *((portfolio.csas[csa_id].currency,) if csa_id is not None else ())})
    plain = dataclasses.replace(settings, stress=False, sensitivities=(), allocation=False)
    out: dict[str, tuple[FloatArray, FloatArray]] = {}
    for bump in vol_bumps(read_market_document(portfolio), model.currencies, model.equities):
        key = bump.key[0]
        factors = ({key} if bump.kind == "ir_vega" else {f"EQ:{key}"}
                   if bump.kind == "eq_vega" else {key[:3], key[3:]} - {base})
        cols = [j for j, h in enumerate(held) if factors & h]
        figures = {m: (xva[m][0].copy(), xva[m][1].copy()) for m in METRICS if m in xva}
        if cols:
            rerun = run_partition(dataclasses.replace(portfolio, market=bumped_market(bump)),
                                  [ns_ids[j] for j in cols], plain).xva
            for m, (total, batches) in figures.items():
                total[cols], batches[:, cols] = rerun[m]
        out.update({variant(m, bump.name): v for m, v in figures.items()})
    return out


class _BookRun:
    """One book on one chunk of paths: its valuer and its collateral state."""

    def __init__(self, part: _Partition, book: _Book, scenario: Scenario) -> None:
        self.book, self.csa = book, part.csa
        self.xp = xp = get_namespace(part.settings.backend)
        self.valuer = ScenarioValuer(book.compiled, book.model, scenario, part.ns_ids,
                                     book.market)
        n_paths, csa = scenario.n_paths, part.csa
        # the allocation's valuer: each trade alone; its values at the lag dates
        self.trades = None if book.allocation is None or part.trades is None else \
            ScenarioValuer(part.trades, book.model, scenario, part.trades.netting_set_ids,
                           book.market)
        self.t0_trades: Any = None if self.trades is None else \
            xp.asarray(book.trade_npv)[:, None] + xp.zeros((book.trade_npv.size, n_paths))
        self.pending_trades: dict[int, Any] = {}  # exposure index -> V_i at its lag date
        # exposure index -> [(trades, their interval values at a lag date after the previous
        # exposure date)]: the lag values of the interval portfolio
        self.interval_trades: dict[int, list[tuple[np.ndarray, Any]]] = {}
        # Today's balance: the call on today's value (the netting set is margined at as_of).
        t0_value = xp.asarray(book.npv[csa.column] / book.model.fx_spot[csa.currency])[:, None]
        self.balance = margin_call(t0_value + xp.zeros((len(csa), n_paths)),
                                   xp.zeros((len(csa), n_paths)), csa)
        self.t0_balance = self.balance.copy()
        self.pending: dict[int, Any] = {}  # exposure index -> balance called at its lag date
        # exposure index -> [(CSA rows, balance)] called on the interval portfolio (a lag date
        # after the previous exposure date, with flows paid since)
        self.interval_calls: dict[int, list[tuple[np.ndarray, Any]]] = {}

    @property
    def valuers(self) -> list[ScenarioValuer]:
        """The valuers that follow the paths (the book's, and each trade's for allocation)."""
        return [self.valuer] if self.trades is None else [self.valuer, self.trades]

    def _trades_at_lag(self, step: Step, target: int, rows: np.ndarray, interval: bool
                       ) -> None:
        """For the allocation: the values at this lag date of the trades of the netting sets
        whose collateral for exposure date ``target`` is called now (CSA ``rows``), and with
        ``interval`` those of the interval portfolio (flows paid since the previous date)."""
        alloc = self.book.allocation
        if self.trades is None or alloc is None:
            return
        called = np.isin(alloc.ns_of_trade, self.csa.column[rows])
        lag = self.pending_trades.setdefault(target, self.t0_trades.copy())
        trade_values = self.trades.netting_set_values(step.t, step.state, called)
        lag[called] = trade_values[called]
        if interval:
            self.interval_trades.setdefault(target, []).append((called, (
                self.trades.interval_values(trade_values, step.t, step.state))))

    def _allocate(self, step: Step, k: int, values: Any, collateral: Any, numeraire: Any,
                  interval: tuple[Any, Any] | None) -> None:
        """For the allocation: each trade's value on exposure date ``k`` (and its interval
        portfolio's) against its netting set's exposure (:mod:`xvaflow.xva.allocation`)."""
        alloc = self.book.allocation
        if self.trades is None or alloc is None:
            return
        trade_values = self.trades.netting_set_values(step.t, step.state)
        lag = self.pending_trades.pop(k, self.t0_trades)
        alloc.add(k, trade_values, lag, values, collateral, numeraire, interval=interval is None)
        if interval is not None:
            lag = lag.copy()
            for called, star in self.interval_trades.pop(k, []):
                lag[called] = star[called]
            alloc.add(k, self.trades.interval_values(trade_values, step.t, step.state), lag,
                      *interval, numeraire, post=False)
        self.trades.reset_cash()

    def _fx_all(self, step: Step) -> Any:
        """Base value of one unit of each currency, ``[C, paths]``."""
        model = self.book.model
        return self.xp.stack([model.fx(c, step.t, step.state) for c in range(model.n_ccy)])

    def value(self, step: Step, index: int, calls: list[tuple[int, np.ndarray]],
              is_exposure: bool, k: int, exposure_index: np.ndarray, first: int) -> None:
        """Margin calls due at this grid date (grid ``index``) and, on exposure date ``k``, the
        exposures (``exposure_index[j]``: grid index of exposure date j - 1, -1 for j = 0)."""
        csa, valuer, model, xp = self.csa, self.valuer, self.book.model, self.xp
        subset = None
        if not is_exposure:  # a lag date: only the netting sets called now need values
            subset = np.zeros(self.book.npv.size, dtype=bool)
            for _, rows in calls:
                subset[csa.column[rows]] = True
        values = valuer.netting_set_values(step.t, step.state, subset)
        numeraire = model.numeraire(step.t, step.state)
        for target, rows in calls:
            if rows.size:
                self._trades_at_lag(step, target, rows,
                                    valuer.cash_paid and index > exposure_index[target])
                fx_csa = self._fx_all(step)[csa.currency[rows]]
                prior = self.balance[rows]
                new = margin_call(values[csa.column[rows]] / fx_csa, prior, csa, rows)
                self.balance[rows] = new
                self.pending.setdefault(target, self.t0_balance.copy())[rows] = new
                if valuer.cash_paid and index > exposure_index[target]:
                    star = valuer.interval_values(values, step.t, step.state)[csa.column[rows]]
                    self.interval_calls.setdefault(target, []).append(
                        (rows, margin_call(star / fx_csa, prior, csa, rows)))
        if not is_exposure:
            return
        collateral = xp.zeros_like(values)
        interval = None
        star_calls = self.interval_calls.pop(k, [])
        if len(csa):
            # A lag date on or before as_of means the call made on today's value.
            called = self.pending.pop(k, self.t0_balance)
            fx_now = self._fx_all(step)[csa.currency]
            collateral[csa.column] = held_collateral(called, csa) * fx_now
        if valuer.cash_paid or star_calls:
            interval_collateral = collateral
            if star_calls:
                called = called.copy()
                for rows, new in star_calls:
                    called[rows] = new
                interval_collateral = collateral.copy()
                interval_collateral[csa.column] = held_collateral(called, csa) * fx_now
            interval = (valuer.interval_values(values, step.t, step.state), interval_collateral)
        book = self.book
        self._allocate(step, k, values, collateral, numeraire, interval)
        exposure, interval_exposure = book.profile.add(k, values, collateral, numeraire,
                                                       interval, first)
        book.acc.add(k, exposure, interval_exposure, first)
        for cover, cover_profile, cover_acc in book.coverage:
            scaled = None if interval is None else (interval[0], cover.factor * interval[1])
            cover_acc.add(k, *cover_profile.add(k, values, cover.factor * collateral,
                                                numeraire, scaled, first), first)
        valuer.reset_cash()


def _run_chunk(part: _Partition, first: int, n_paths: int,
               progress: Callable[[int, int], None]) -> float:
    """Simulate paths first .. first + n_paths - 1 through the grid and value every book on
    them; returns the valuation time."""
    settings, grid = part.settings, part.grid
    scenario = Scenario(part.model, grid.times, n_paths, settings.seed, first_path=first,
                        antithetic=settings.antithetic, backend=settings.backend)
    runs = [_BookRun(part, book, scenario) for book in part.books]
    exposure_index = np.r_[-1, grid.exposure_steps]  # grid index of exposure date k - 1 at k
    k = 0
    value_time = 0.0
    valuers = [v for run in runs for v in run.valuers]
    for step in scenario.steps():
        for valuer in valuers:
            valuer.advance(step.t, step.state)
        # the fixings no valuer needs any more (all value the same trades)
        scenario.forget(min(v.history_needed(step.t) for v in valuers))
        index = step.index - 1  # grid index = step number - 1
        calls = part.lag_calls.get(index, [])
        is_exposure = bool(grid.exposure[index])
        if calls or is_exposure:
            tick = time.perf_counter()
            for run in runs:
                run.value(step, index, calls, is_exposure, k, exposure_index, first)
            value_time += time.perf_counter() - tick
            k += int(is_exposure)
        progress(step.index, len(grid))
    return value_time


def _eepe_window(portfolio: Portfolio, end: FloatArray) -> FloatArray:
    """``[ns]`` Basel's EEPE window: one year (the calendar date as_of + 1Y), or the netting
    set's maturity ``end`` ``[ns]`` when it is earlier."""
    as_of = np.datetime64(portfolio.market.as_of, "D")
    one_year = float((add_tenor(as_of, parse_tenor("1Y")) - as_of).astype(np.int64)) / 365.0
    out: FloatArray = np.minimum(one_year, end)
    return out


def _today_collateral(npv: FloatArray, csa: CsaArrays, model: CrossAssetModel) -> FloatArray:
    """``[ns]`` collateral held today (base currency): the call on today's value."""
    out = np.zeros(npv.size)
    if len(csa):
        value = (npv[csa.column] / model.fx_spot[csa.currency])[:, None]
        balance = margin_call(value, np.zeros_like(value), csa)
        out[csa.column] = held_collateral(balance, csa)[:, 0] * model.fx_spot[csa.currency]
    return out


def interval_pay_times(compiled: CompiledPortfolio, market: Market, ns_ids: Sequence[str],
                       times: FloatArray, trade_npv: FloatArray) -> FloatArray:
    """``[dates, ns]`` |PV|-weighted mean time of the flows each netting set pays in each
    interval (t_{k-1}, t_k] (t_k where it pays none): linear flows weighted by |amount| x
    discount factor x FX spot, option payoffs (at expiry or settlement) by |t0 value|."""
    col = {n: i for i, n in enumerate(ns_ids)}
    ns_of_trade = np.array([col[compiled.netting_set_ids[i]] for i in compiled.netting_set],
                           dtype=np.int64)
    to_base = np.array([market.fx_to_base[c] for c in compiled.currencies])
    trade, pay, weight = [], [], []
    for f in (compiled.linear, compiled.swaption_flows):
        if len(f):
            df = np.empty(len(f))
            for c in np.unique(f.currency):
                rows = f.currency == c
                df[rows] = market.discount(compiled.currencies[c], f.pay_time[rows])
            trade.append(f.trade)
            pay.append(f.pay_time)
            weight.append(np.abs(f.amount) * df * to_base[f.currency])
    sw = compiled.swaptions
    cash = sw.settlement == SETTLE_CASH
    for tr, when in ((sw.trade[cash], sw.expiry[cash]),
                     (compiled.fx_options.trade, compiled.fx_options.pay_time),
                     (compiled.equity.trade, compiled.equity.expiry)):
        trade.append(tr)
        pay.append(when)
        weight.append(np.abs(trade_npv[tr]))
    out = np.repeat(times[:, None], len(ns_ids), axis=1)
    if not trade:
        return out
    tr, p, w = np.concatenate(trade), np.concatenate(pay), np.concatenate(weight)
    k = np.searchsorted(times, p, side="left")
    inside = (p > 0.0) & (k < times.size) & (w > 0.0)
    tr, p, w, k = tr[inside], p[inside], w[inside], k[inside]
    cells = (k, ns_of_trade[tr])
    total, moment = np.zeros(out.shape), np.zeros(out.shape)
    np.add.at(total, cells, w)
    np.add.at(moment, cells, w * p)
    return np.where(total > 0.0, moment / np.where(total > 0.0, total, 1.0), out)
