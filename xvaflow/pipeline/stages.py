"""The pipeline's stages as pure functions of an object store and an event.

Every runtime calls these: the Lambda handlers (lambdas/<stage>/handler.py), the ECS worker
(containers/worker/main.py) and the local runner (xvaflow.pipeline.local). Only keys travel
between stages; data lives in the store under the run's prefix:

    inputs/<run_id>/...                    the portfolio as submitted (any prefix may be given)
    runs/<run_id>/inputs/...               the inputs workers read: market.json carries the
                                           Hull-White parameters calibrated once, here
    runs/<run_id>/spec.json                settings, partitions, netting-set metadata, model
    runs/<run_id>/manifest.json            the Map's items: [{"run_id", "partition"}, ...]
    runs/<run_id>/trades.json              t0 values of every trade
    runs/<run_id>/attributes.json          netting-set attributes for the desks' tables
    runs/<run_id>/results/part-<k>.json    partition k's result (+ part-<k>.npz arrays)
    runs/<run_id>/output/results.json, exposure.csv, diagnostics.json

Stages are idempotent: a rerun writes the same keys again. A worker writes its arrays before
its JSON, so a present JSON means a complete partition; aggregation refuses a run with any
partition missing, and writes nothing then.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from xvaflow.core.backend import BackendUnavailableError, get_namespace
from xvaflow.core.dates import parse_date
from xvaflow.core.errors import InputError, PipelineError, Problem, ProblemLog
from xvaflow.exposure.profile import ExposureProfile
from xvaflow.io.limits import HORIZON_YEARS
from xvaflow.io.market_json import MARKET_FILE
from xvaflow.io.portfolio import load_portfolio, run_config_from, simulation_problems
from xvaflow.models.crossasset import CrossAssetModel
from xvaflow.models.volatility import ForwardVariance
from xvaflow.optimise.diagnostics import desk_diagnostics, netting_set_attributes
from xvaflow.pipeline.aggregate import (
    aggregate,
    allocated_trades,
    netting_set_info,
    trades_table,
)
from xvaflow.pipeline.partition import partition_netting_sets
from xvaflow.pipeline.store import (
    MissingObjectError,
    ObjectStore,
    get_arrays,
    get_json,
    put_arrays,
    put_json,
)
from xvaflow.portfolio import Portfolio, RunConfig
from xvaflow.pricing.t0 import price_t0
from xvaflow.products.tables import EQ_FORWARD
from xvaflow.regulatory.capital import ba_cva_inputs, merge_capital, netting_set_capital
from xvaflow.report.html import REPORT_FILE, report_html
from xvaflow.report.results import json_bytes, trades_section
from xvaflow.report.tables import encode
from xvaflow.simulation.grid import GridError, TimeGrid
from xvaflow.xva.engine import (
    PartitionResult,
    RunSettings,
    horizon_short,
    resolved_grid,
    run_partition,
    simulation_setup,
)
from xvaflow.xva.kva import CapitalProfile
from xvaflow.xva.risk import input_buckets

PORTFOLIO_FILES = ("trades.csv", "trades.parquet", "netting_sets.csv", "counterparties.csv",
                   "csas.csv", "market.json", "run.json", "cva_hedges.csv")
_RUN_ID = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,79}\Z")  # \Z: "$" admits a final "\n"
GPU_BACKENDS = ("cupy",)


def run_prefix(run_id: str) -> str:
    if not _RUN_ID.match(run_id):
        raise PipelineError(f"run id {run_id!r} must be 1-80 letters, digits, '.', '_' or '-'")
    return f"runs/{run_id}/"


def _part_keys(run_id: str, k: int) -> tuple[str, str]:
    base = f"{run_prefix(run_id)}results/part-{k}"
    return f"{base}.json", f"{base}.npz"


def _download(store: ObjectStore, prefix: str, target: Path) -> None:
    found = False
    for name in PORTFOLIO_FILES:
        key = prefix + name
        if store.exists(key):
            (target / name).write_bytes(store.get_bytes(key))
            found = True
    if not found:
        raise PipelineError(f"no portfolio files under {prefix!r}")


def _load(store: ObjectStore, prefix: str) -> Portfolio:
    with tempfile.TemporaryDirectory(prefix="xvaflow-") as tmp:
        _download(store, prefix, Path(tmp))
        return load_portfolio(tmp)


def portfolio_config(portfolio: Portfolio, overrides: dict[str, Any], source: str) -> RunConfig:
    """run.json of the portfolio with ``overrides`` applied (``source`` names them in
    messages); every problem, and what simulating the portfolio needs, raised together.

    Raises:
        InputError: bad settings or missing market data for the simulation.
    """
    problems = ProblemLog()
    cfg = run_config_from(overrides, problems, source, base=portfolio.run)
    problems.problems.extend(simulation_problems(portfolio))
    if isinstance(cfg.grid, tuple):
        last = portfolio.market.as_of + _dt.timedelta(days=round(HORIZON_YEARS * 365.25))
        for item in cfg.grid:
            try:
                day = parse_date(item) if isinstance(item, str) else None
            except ValueError:
                continue  # the grid builder names it
            if day is not None and day > last:
                problems.add(source if "grid" in overrides else "run.json", None, "grid",
                             f"entry {item!r} is more than {HORIZON_YEARS} years after as_of "
                             f"{portfolio.market.as_of} (docs/conventions.md, \"Input "
                             "limits\")")
                break
    problems.raise_if_any()
    return cfg


def settings_for(portfolio: Portfolio, overrides: dict[str, Any], source: str) -> RunSettings:
    """The engine's settings for the portfolio (see :func:`portfolio_config`)."""
    return engine_settings(portfolio_config(portfolio, overrides, source))


def engine_settings(cfg: RunConfig) -> RunSettings:
    """The engine's part of a run configuration."""
    return RunSettings(paths=cfg.paths, seed=cfg.seed, grid=cfg.grid, bilateral=cfg.bilateral,
                       antithetic=cfg.antithetic, backend=cfg.backend, path_chunk=cfg.path_chunk,
                       stress=cfg.stress, sensitivities=cfg.sensitivities,
                       allocation=cfg.allocation, cost_of_capital=cfg.cost_of_capital)


def simulation_plan(portfolio: Portfolio, settings: RunSettings,
                    grid_source: tuple[str, str] = ("run.json", "grid")
                    ) -> tuple[CrossAssetModel, TimeGrid, list[str]]:
    """Model, grid, and the netting sets that outlive an explicit grid.

    Args:
        grid_source: (file, field) a grid problem names: run.json's ``grid`` by default, or
            where the grid was given instead (e.g. ``("command line", "--grid")``).

    Raises:
        InputError: a malformed grid.
    """
    try:
        model, grid = simulation_setup(portfolio, settings)
    except GridError as exc:
        raise InputError([Problem(grid_source[0], None, grid_source[1], str(exc))]) from None
    return model, grid, horizon_short(portfolio, grid)


CHUNK_ARRAYS = 16
"""Arrays of ``[rows, chunk]`` floats a chunk holds at once per netting set, option and state
variable (values, collateral, balances called at lag dates, the interval portfolio and the
temporaries of the valuation): the factor of :func:`memory_estimate`. Linear trades hold no
per-path arrays (they are summed per netting set). Checked against bench_bank (1,133 netting
sets, 3,000 options, 10,000 paths, 2 partitions): estimate 2.7 GiB per partition, measured
peak 4.6 GB for the two workers together (benchmarks/RESULTS.md)."""

ALLOCATION_ARRAYS = 8
"""Arrays of ``[trades, chunk]`` floats the trade allocation adds per trade of a partition (each
trade's values, at the lag date and of the interval portfolio, its move over the margin period
and the temporaries of the sums; :mod:`xvaflow.xva.allocation`)."""


def memory_estimate(portfolio: Portfolio, settings: RunSettings, grid: TimeGrid,
                    factors: int, partitions: int) -> int:
    """Bytes of the largest arrays one worker holds for one partition (a lower estimate: the
    model, tables and Python objects come on top).

    With P paths simulated in chunks of C, D exposure dates, and a partition of N netting sets
    and O options (swaptions, FX and equity options and forwards: the portfolio's split evenly
    over the partitions) with F model factors::

        8 bytes x (D x P                     the portfolio's exposure on every path (PFE)
                   + D x N x 0.05 P          the upper tails kept for PFE when chunked
                   + 16 x C x (N + O + 2 F)  the per-chunk arrays (:data:`CHUNK_ARRAYS`)
                   + 8 x C x T)              with the allocation, per trade of the partition
                                             (:data:`ALLOCATION_ARRAYS`)
    """
    c = portfolio.compiled
    n_ns = max(1, len(c.netting_set_ids))
    k = max(1, min(partitions, n_ns))
    options = len(c.swaptions) + len(c.fx_options) + len(c.equity)
    ns, trades = -(-n_ns // k), -(-options // k)
    paths = settings.paths
    chunk = min(settings.path_chunk or paths, paths)
    dates = int(grid.exposure_steps.size)
    tails = dates * ns * (paths - int(0.95 * (paths - 1))) if chunk < paths else 0
    allocated = ALLOCATION_ARRAYS * chunk * -(-len(c.trade_ids) // k) if settings.allocation \
        else 0
    return 8 * (dates * paths + tails + CHUNK_ARRAYS * chunk * (ns + trades + 2 * factors)
                + allocated)


WORKER_MEMORY_VARIABLES = {"cpu": "XVAFLOW_WORKER_MEMORY_MIB",
                           "gpu": "XVAFLOW_GPU_WORKER_MEMORY_MIB"}


def worker_memory(backend: str) -> int | None:
    """Bytes of memory a deployed worker task of ``backend`` has (the task definitions' limit,
    which the stack passes to the stage functions); None when not deployed (local runs check
    their own machine)."""
    kind = "gpu" if backend in GPU_BACKENDS else "cpu"
    text = os.environ.get(WORKER_MEMORY_VARIABLES[kind], "")
    return int(text) << 20 if text.isdigit() else None


def machine_memory() -> int | None:
    """Bytes of memory this process may use: the physical memory, or the cgroup's limit when
    lower (a container); None when unknown."""
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def memory_problem(portfolio: Portfolio, settings: RunSettings, grid: TimeGrid,
                   factors: int, partitions: int, workers: int,
                   available: int | None, where: str = "this machine") -> Problem | None:
    """A problem when ``workers`` partitions at once need more than ``available`` bytes
    (:func:`memory_estimate`) of ``where``, naming the figure and what to change; None when
    they fit."""
    if available is None:
        return None
    per = memory_estimate(portfolio, settings, grid, factors, partitions)
    at_once = max(1, min(workers, partitions, len(portfolio.compiled.netting_set_ids) or 1))
    need = per * at_once
    if need <= available:
        return None
    gib = 1 << 30
    return Problem("run settings", None, "paths", f"{settings.paths} paths on "
                   f"{int(grid.exposure_steps.size)} exposure dates need about "
                   f"{need / gib:,.1f} GiB ({at_once} partition(s) at once, "
                   f"{per / gib:,.1f} GiB each) but {where} has {available / gib:,.1f} "
                   "GiB: use fewer paths, a smaller path_chunk, more partitions or fewer "
                   "workers (docs/conventions.md, \"Input limits\")")


def horizon_warning(portfolio: Portfolio, grid: TimeGrid, short: list[str]) -> Problem | None:
    """The warning for netting sets that outlive the grid (None when none does)."""
    if not short:
        return None
    last = grid.dates[grid.exposure_steps[-1]]
    shown = ", ".join(short[:5]) + (" ..." if len(short) > 5 else "")
    end = float(portfolio.compiled.netting_set_end_times().max())
    latest = np.datetime64(portfolio.market.as_of, "D") + np.timedelta64(round(end * 365), "D")
    return Problem("run settings", None, "grid", f"the grid ends on {last} but {len(short)} "
                   f"netting set(s) have cash flows or exercises after it (latest {latest}): "
                   f"{shown}; their exposure after {last} is not counted (results.json "
                   "run.horizon_short lists them; the default grid 'auto' covers the portfolio)")


def plan_warnings(portfolio: Portfolio, model: CrossAssetModel, grid: TimeGrid,
                  short: list[str]) -> list[Problem]:
    """What the simulation plan warns about: netting sets outliving the grid, input vols the
    model cannot reproduce."""
    horizon = horizon_warning(portfolio, grid, short)
    return ([] if horizon is None else [horizon]) + vol_warnings(portfolio, model, grid)


VOL_GAP = 0.001
"""Largest |model implied vol - t0 vol| of an option valued on paths before the run warns."""


def vol_warnings(portfolio: Portfolio, model: CrossAssetModel, grid: TimeGrid) -> list[Problem]:
    """Warnings where the model cannot reproduce the input vols the book depends on: FX and
    equity vols out of the calibration's reach within the grid, and options whose model vol
    at expiry differs from their t0 vol by more than :data:`VOL_GAP` (FX crosses)."""
    c = portfolio.compiled
    end = float(grid.times[-1]) if len(grid) else 0.0
    # an FX rate matters to the end of the grid; an equity to its last trade's expiry
    horizons = {model.factor_names[model.fx_factor(model.currencies.index(ccy))]: end
                for ccy in c.currencies if ccy != model.base and ccy in model.currencies}
    for i, name in enumerate(c.equities):
        horizons[f"EQ_{name}"] = min(end, float(c.equity.expiry[c.equity.equity == i].max()))
    out = []
    for fit in model.vol_fits:
        horizon = horizons.get(fit.factor, 0.0)
        within = [k for k in fit.unreachable if k <= horizon]
        if within:
            key = (f"fx_vols.{fit.factor[3:]}" if fit.factor.startswith("FX_")
                   else f"equities.{fit.factor[3:]}.vol")
            errors = fit.errors[np.isin(fit.knots, within)]
            out.append(Problem(MARKET_FILE, None, key, f"beyond {within[0]:g}Y no vol "
                               "reproduces the input's total variance with these Hull-White "
                               "rates and correlations: the model takes the variance-"
                               "minimising vol there, and its implied vol misses the input by "
                               f"up to {errors.max() * 100:.2f} vol points (to {horizon:.1f}Y, "
                               "where the book depends on it)"))
    gaps = _option_vol_gaps(portfolio, model)
    if gaps:
        worst = max(gaps, key=lambda g: abs(g[1] - g[2]))
        out.append(Problem("trades.csv", None, None, f"{len(gaps)} FX/equity option(s) are "
                           f"valued on paths at a model vol more than {VOL_GAP * 100:g} vol "
                           f"points from their t0 vol (worst {worst[0]}: model "
                           f"{worst[1] * 100:.2f}% vs {worst[2] * 100:.2f}%); the model's cross "
                           "vols follow from the legs, their correlation and the rates, so "
                           "their exposure starts from the model's price"))
    return out


def _option_vol_gaps(portfolio: Portfolio, model: CrossAssetModel
                     ) -> list[tuple[str, float, float]]:
    """(trade id, model vol, t0 vol) of each FX or equity option whose model implied vol at
    expiry differs from its t0 vol by more than :data:`VOL_GAP`."""
    c, market = portfolio.compiled, portfolio.market
    out: list[tuple[str, float, float]] = []
    o = c.fx_options
    if len(o):
        index = np.array([model.currencies.index(x) for x in c.currencies], dtype=np.int64)
        var = ForwardVariance(model.fx_loading(index[o.buy_ccy], index[o.sell_ccy]),
                              model.knots, o.expiry, o.pay_time)
        t0 = np.array([market.fx_vol(c.currencies[b] + c.currencies[s], t)
                       for b, s, t in zip(o.buy_ccy, o.sell_ccy, o.expiry, strict=True)])
        out += _gaps(c.trade_ids, o.trade, var.total, o.expiry, t0)
    e = c.equity
    options = np.flatnonzero(e.kind != EQ_FORWARD)
    if options.size:
        eq = np.array([model.equities.index(c.equities[i]) for i in e.equity[options]])
        var = ForwardVariance(model.eq_loading(eq), model.knots, e.expiry[options],
                              e.expiry[options])
        t0 = np.array([market.equity(c.equities[i]).vol.vol(t)
                       for i, t in zip(e.equity[options], e.expiry[options], strict=True)])
        out += _gaps(c.trade_ids, e.trade[options], var.total, e.expiry[options], t0)
    return out


def _gaps(ids: tuple[str, ...], trade: np.ndarray, variance: np.ndarray, expiry: np.ndarray,
          t0: np.ndarray) -> list[tuple[str, float, float]]:
    live = expiry > 0.0
    model = np.sqrt(np.maximum(variance, 0.0) / np.where(live, expiry, 1.0))
    bad = np.flatnonzero(live & (np.abs(model - t0) > VOL_GAP))
    return [(ids[int(trade[i])], float(model[i]), float(t0[i])) for i in bad]


def settings_dict(settings: RunSettings) -> dict[str, Any]:
    out = dataclasses.asdict(settings)
    if isinstance(out["grid"], tuple):
        out["grid"] = list(out["grid"])
    return out


def settings_from_dict(d: dict[str, Any]) -> RunSettings:
    grid = d["grid"]
    return RunSettings(**{**d, "grid": tuple(grid) if isinstance(grid, list) else grid,
                          "sensitivities": tuple(d.get("sensitivities", ()))})


# ---------------------------------------------------------------------------------------------
# PartitionPortfolio
# ---------------------------------------------------------------------------------------------
def partition_stage(store: ObjectStore, event: dict[str, Any]) -> dict[str, Any]:
    """Validate the inputs, calibrate once, balance netting sets into partitions.

    Event: ``{"run_id", "input_prefix", "settings": {...run.json keys...}, "max_concurrency"}``
    (settings override the portfolio's run.json). Returns ``{"run_id", "manifest_key",
    "partitions", "max_concurrency", "compute"}`` (compute: ``cpu`` or ``gpu``).

    Raises:
        InputError: bad portfolio or settings (every problem, as for ``xvaflow validate``).
    """
    started, started_at = time.perf_counter(), time.time()
    run_id = str(event["run_id"])
    prefix = run_prefix(run_id)
    source = str(event.get("input_prefix", f"inputs/{run_id}/"))
    portfolio = _load(store, source)
    overrides = dict(event.get("settings") or {})
    cfg = portfolio_config(portfolio, overrides, "settings")
    settings = engine_settings(cfg)
    model, grid, short = simulation_plan(portfolio, settings, ("settings", "grid")
                                         if "grid" in overrides else ("run.json", "grid"))
    memory = memory_problem(portfolio, settings, grid, len(model.factor_names), cfg.partitions,
                            1, worker_memory(settings.backend), "a worker task")
    if memory is not None:  # each ECS task holds one partition
        raise InputError([memory])
    model_info = model.summary()
    # Workers read a copy of the inputs whose market.json carries every Hull-White model, so
    # that calibration runs once, here.
    market_doc = json.loads(store.get_bytes(source + "market.json"))
    market_doc["hull_white"] = {c: {"mean_reversion": v["mean_reversion"],
                                    "volatility": v["volatility"]}
                                for c, v in model_info["hull_white"].items()}
    for name in PORTFOLIO_FILES:
        if name != "market.json" and store.exists(source + name):
            store.put_bytes(f"{prefix}inputs/{name}", store.get_bytes(source + name))
    put_json(store, f"{prefix}inputs/market.json", market_doc)

    parts = [p for p in partition_netting_sets(portfolio.compiled, cfg.partitions, cfg.paths)
             if p]
    values = price_t0(portfolio.compiled, portfolio.market)
    put_json(store, f"{prefix}trades.json", trades_section(portfolio.compiled, values))
    put_json(store, f"{prefix}attributes.json", netting_set_attributes(portfolio, values))
    put_json(store, f"{prefix}spec.json", {
        "run_id": run_id, "settings": settings_dict(settings), "partitions": parts,
        "netting_sets": netting_set_info(portfolio),
        "credit_buckets": {c: input_buckets(portfolio, c) for c in portfolio.counterparties},
        "capital_inputs": ba_cva_inputs(portfolio),
        "header": {"as_of": portfolio.market.as_of.isoformat(),
                   "base_currency": portfolio.market.base_currency},
        "model": model_info, "steps": len(grid), "format": cfg.format,
        "grid": resolved_grid(portfolio, settings), "horizon_short": short,
        "warnings": [str(w) for w in (*portfolio.warnings,
                                      *plan_warnings(portfolio, model, grid, short))],
        "partition_seconds": round(time.perf_counter() - started, 3),
        "started_at": started_at,
    })
    manifest_key = f"{prefix}manifest.json"
    put_json(store, manifest_key, [{"run_id": run_id, "partition": k} for k in range(len(parts))])
    return {"run_id": run_id, "manifest_key": manifest_key, "partitions": len(parts),
            "max_concurrency": int(event.get("max_concurrency") or len(parts)),
            "compute": "gpu" if settings.backend in GPU_BACKENDS else "cpu"}


# ---------------------------------------------------------------------------------------------
# CalculatePartitionedXVA (one ECS task per partition)
# ---------------------------------------------------------------------------------------------
def worker_stage(store: ObjectStore, run_id: str, partition: int,
                 progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Run the engine on one partition and write its result (overwriting a previous attempt);
    ``progress(done, total)`` is called after each simulation step."""
    prefix = run_prefix(run_id)
    spec = get_json(store, f"{prefix}spec.json")
    if not 0 <= partition < len(spec["partitions"]):
        raise PipelineError(f"run {run_id} has no partition {partition}")
    portfolio = _load(store, f"{prefix}inputs/")
    settings, fallback = usable_backend(settings_from_dict(spec["settings"]))
    result = run_partition(portfolio, spec["partitions"][partition], settings,
                           progress=progress)
    capital = partition_capital(store, run_id, portfolio, spec["partitions"][partition])
    json_key, npz_key = _part_keys(run_id, partition)
    arrays, meta = partition_to_store(result)
    put_arrays(store, npz_key, arrays)
    put_json(store, json_key, {"run_id": run_id, "partition": partition, "arrays_key": npz_key,
                               "backend": settings.backend, "backend_fallback": fallback,
                               **meta, "capital": capital})
    return {"run_id": run_id, "partition": partition, "result_key": json_key,
            "backend_fallback": fallback}


def partition_capital(store: ObjectStore, run_id: str, portfolio: Portfolio,
                      netting_sets: list[str]) -> dict[str, Any]:
    """SA-CCR and BA-CVA terms of a partition's netting sets at t0
    (:func:`~xvaflow.regulatory.capital.netting_set_capital`), from the t0 values the
    partition stage stored (trades.json), so that every partition uses the same prices."""
    values = get_json(store, f"{run_prefix(run_id)}trades.json")
    npv_base = np.array([values[t]["npv_base"] for t in portfolio.compiled.trade_ids],
                        dtype=float)
    return netting_set_capital(portfolio, npv_base, netting_sets)


def usable_backend(settings: RunSettings) -> tuple[RunSettings, str | None]:
    """The settings with a backend this machine can run, and why it changed (or None).

    A GPU worker whose cupy cannot start (no device, driver mismatch) computes on numpy rather
    than failing the run: the numbers are the same to rounding, only slower, and aggregation
    reports the fallback in results.json.
    """
    try:
        get_namespace(settings.backend)
    except BackendUnavailableError as exc:
        return dataclasses.replace(settings, backend="numpy"), str(exc)
    return settings, None


def partition_to_store(r: PartitionResult) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Arrays and JSON metadata of a partition result (see :func:`partition_from_store`)."""
    p = r.profile
    arrays = {"epe": p.epe, "ene": p.ene, "basel_ee": p.basel_ee, "collateral": p.collateral,
              "epe_stderr": p.epe_stderr, "ene_stderr": p.ene_stderr,
              "pfe": p.pfe, "portfolio_exposure": p.portfolio_exposure, "npv": r.npv,
              "eepe": r.eepe, "times": r.times}
    for m, (total, batches) in r.xva.items():
        arrays[f"xva_{m}_total"], arrays[f"xva_{m}_batches"] = total, batches
    for m, by_date in r.xva_by_date.items():
        arrays[f"xva_{m}_by_date"] = by_date
    for m, per_trade in r.trade_xva.items():
        arrays[f"trade_{m}"] = per_trade
    if r.capital is not None and r.kva is not None:
        arrays.update(capital_ead=r.capital.ead, capital_ccr=r.capital.ccr,
                      capital_cva=r.capital.cva, kva=r.kva)
    if r.colva is not None:
        arrays["colva"] = r.colva
    meta = {"netting_sets": r.netting_sets, "dates": [str(d) for d in r.dates],
            "n_paths": r.n_paths, "batch_size": r.batch_size, "steps": r.steps,
            "functionals": list(r.xva), "metrics": sorted(r.xva_by_date),
            "timings": r.timings, "fallbacks": r.fallbacks, "trade_ids": r.trade_ids,
            "allocated": sorted(r.trade_xva)}
    return arrays, meta


def partition_from_store(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> PartitionResult:
    profile = ExposureProfile(int(meta["n_paths"]), arrays["epe"], arrays["ene"],
                              arrays["basel_ee"], arrays["collateral"], arrays["pfe"],
                              arrays["portfolio_exposure"])
    profile.ee = profile.epe - profile.ene
    profile.epe_stderr, profile.ene_stderr = arrays["epe_stderr"], arrays["ene_stderr"]
    return PartitionResult(
        netting_sets=list(meta["netting_sets"]),
        dates=np.array(meta["dates"], dtype="datetime64[D]"), times=arrays["times"],
        npv=arrays["npv"], profile=profile,
        xva={m: (arrays[f"xva_{m}_total"], arrays[f"xva_{m}_batches"])
             for m in meta["functionals"]},
        n_paths=int(meta["n_paths"]), batch_size=int(meta["batch_size"]), eepe=arrays["eepe"],
        steps=int(meta["steps"]),
        xva_by_date={m: arrays[f"xva_{m}_by_date"] for m in meta["metrics"]},
        timings=dict(meta["timings"]), fallbacks=dict(meta["fallbacks"]),
        capital=CapitalProfile(arrays["capital_ead"], arrays["capital_ccr"],
                               arrays["capital_cva"]) if "kva" in arrays else None,
        kva=arrays.get("kva"), colva=arrays.get("colva"), trade_ids=list(meta["trade_ids"]),
        trade_xva={m: arrays[f"trade_{m}"] for m in meta["allocated"]})


# ---------------------------------------------------------------------------------------------
# AggregateXVAResults
# ---------------------------------------------------------------------------------------------
def aggregate_stage(store: ObjectStore, event: dict[str, Any]) -> dict[str, Any]:
    """Check every partition is present exactly once, aggregate, write the outputs.

    Raises:
        PipelineError: partitions missing (named) or inconsistent; nothing is written.
    """
    run_id = str(event["run_id"])
    prefix = run_prefix(run_id)
    spec = get_json(store, f"{prefix}spec.json")
    parts, missing, fallbacks = [], [], {}
    capital_parts: list[dict[str, Any]] = []
    for k in range(len(spec["partitions"])):
        json_key, _ = _part_keys(run_id, k)
        try:
            meta = get_json(store, json_key)
            parts.append(partition_from_store(meta, get_arrays(store, meta["arrays_key"])))
        except MissingObjectError:
            missing.append(k)
            continue
        if "capital" not in meta:
            raise PipelineError(f"run {run_id}: partition {k}'s result has no capital section "
                                "(written by an older worker) - no results were published")
        capital_parts.append(meta["capital"])
        if meta.get("backend_fallback"):
            fallbacks[str(k)] = meta["backend_fallback"]
    if missing:
        raise PipelineError(f"run {run_id}: no result for partition(s) "
                            f"{', '.join(map(str, missing))} - no results were published")
    settings = spec["settings"]
    compute = max(p.timings.get("total", 0.0) for p in parts)
    run_info = {
        "run_id": run_id, "paths": settings["paths"], "seed": settings["seed"],
        "grid": spec["grid"], "grid_default": settings["grid"] == "auto",
        "horizon_short": spec["horizon_short"], "steps": spec["steps"],
        "exposure_dates": int(parts[0].times.size), "partitions": len(parts),
        "backend": settings["backend"], "antithetic": settings["antithetic"],
        "bilateral": settings["bilateral"], "format": spec["format"], "model": spec["model"],
        "stage_seconds": {"partition": spec["partition_seconds"],
                          "slowest_partition": round(compute, 3)},
        **({"backend_fallback": {"backend": "numpy", "partitions": fallbacks}}
           if fallbacks else {}),
        # from the start of partitioning to aggregation (clocks of two machines in AWS)
        "wall_seconds": round(time.time() - spec["started_at"], 3),
    }
    document, exposure, stress = aggregate(parts, spec["netting_sets"], spec["header"],
                                           run_info, spec["credit_buckets"])
    document["capital"] = merge_capital(capital_parts, list(spec["netting_sets"]),
                                        spec["capital_inputs"])
    document["trades"] = allocated_trades(get_json(store, f"{prefix}trades.json"), parts)
    fmt = spec["format"]
    for table in (exposure, trades_table(document["trades"], spec["netting_sets"]), stress):
        if table is not None:
            store.put_bytes(f"{prefix}output/{table.file(fmt)}", encode(table, fmt))
    results_key = f"{prefix}output/results.json"
    put_json(store, results_key, document)
    return {"run_id": run_id, "results_key": results_key,
            "exposure_key": f"{prefix}output/{exposure.file(fmt)}"}


# ---------------------------------------------------------------------------------------------
# RunXVAOptimization
# ---------------------------------------------------------------------------------------------
def optimise_stage(store: ObjectStore, event: dict[str, Any]) -> dict[str, Any]:
    """The desks' diagnostic tables (:mod:`xvaflow.optimise.diagnostics`) and report.html
    (:mod:`xvaflow.report.html`), the last of the run's outputs."""
    run_id = str(event["run_id"])
    prefix = run_prefix(run_id)
    results = get_json(store, str(event.get("results_key", f"{prefix}output/results.json")))
    diagnostics = desk_diagnostics(results, get_json(store, f"{prefix}attributes.json"))
    key = f"{prefix}output/diagnostics.json"
    put_json(store, key, diagnostics)
    exposure = f"exposure.{results['run']['format']}"
    files = {"results.json": json_bytes(results), "diagnostics.json": json_bytes(diagnostics),
             exposure: store.get_bytes(f"{prefix}output/{exposure}")}
    store.put_bytes(f"{prefix}output/{REPORT_FILE}", report_html(files))
    return {"run_id": run_id, "diagnostics_key": key}
