"""Local, in-process run of the whole computation: partition -> workers -> aggregate -> outputs.

Partitions of netting sets are computed by a pool of worker processes (``fork``: children
inherit the loaded portfolio instead of reloading or unpickling it); every partition simulates
the same paths, so results do not depend on the partition count. Outputs are written only when
every partition succeeded (results.json and exposure.csv are replaced atomically).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from xvaflow.core.errors import InputError, Problem, ProblemLog
from xvaflow.io.portfolio import Portfolio, load_portfolio, run_config_from, simulation_problems
from xvaflow.io.records import RunConfig
from xvaflow.pipeline.aggregate import aggregate, netting_set_info
from xvaflow.pipeline.partition import partition_netting_sets
from xvaflow.pricing.t0 import price_t0
from xvaflow.report.results import trades_section, write_json_atomic, write_text_atomic
from xvaflow.simulation.grid import GridError
from xvaflow.xva.engine import PartitionResult, RunSettings, run_partition, simulation_setup

_PORTFOLIO: Portfolio | None = None  # set in the parent before forking workers


@dataclass(frozen=True)
class RunSummary:
    """What a run did, for the command line."""

    out: Path
    document: dict[str, Any]


def settings_from(cfg: RunConfig) -> RunSettings:
    return RunSettings(paths=cfg.paths, seed=cfg.seed, grid=cfg.grid, bilateral=cfg.bilateral,
                       antithetic=cfg.antithetic, backend=cfg.backend,
                       path_chunk=cfg.path_chunk)


def log_model(summary: dict[str, Any], log: Callable[[str], None]) -> None:
    """Log calibrations and a correlation repair from :meth:`CrossAssetModel.summary`."""
    for c, hw in summary["hull_white"].items():
        if hw["source"] == "calibrated":
            log(f"  Hull-White {c} calibrated to {hw['instruments']} swaption vols: "
                f"a={hw['mean_reversion']:.4f} sigma={hw['volatility']:.5f}, fit error RMS "
                f"{hw['fit_rms_bp']:.2f}bp, worst {hw['fit_max_bp']:.2f}bp")
    if summary["correlation_repaired"]:
        log("  correlation matrix of market.json is not positive definite: repaired to the "
            f"nearest valid one (largest change {summary['correlation_max_change']:.4f})")


def _work(netting_sets: list[str], settings: RunSettings) -> PartitionResult:
    if _PORTFOLIO is None:  # pragma: no cover - only reachable if the pool was not forked
        raise RuntimeError("worker started without a portfolio")
    # One BLAS thread per worker: workers already use every core, and oversubscribed BLAS
    # threads slowed the 1,000-counterparty benchmark from 122 s to 175 s.
    with threadpool_limits(limits=1, user_api="blas"):
        return run_partition(_PORTFOLIO, netting_sets, settings)


def run_local(path: str | Path, out: str | Path, overrides: dict[str, Any] | None = None,
              workers: int | None = None,
              log: Callable[[str], None] = lambda s: print(s, file=sys.stderr)) -> RunSummary:
    """Run the whole computation on one machine and write results.json and exposure.csv.

    Args:
        path: portfolio directory.
        out: output directory.
        overrides: run settings overriding run.json (paths, seed, grid, partitions, backend,
            antithetic, bilateral).
        workers: worker processes (default: min(partitions, CPU count); 1 runs in-process).
        log: where progress lines go.

    Raises:
        InputError: bad portfolio or settings.
        PipelineError: a partition failed; nothing is written.
    """
    global _PORTFOLIO
    started = time.perf_counter()
    portfolio = load_portfolio(path)
    problems = ProblemLog()
    cfg = run_config_from(overrides or {}, problems, "command line", base=portfolio.run)
    problems.problems.extend(simulation_problems(portfolio))
    problems.raise_if_any()
    settings = settings_from(cfg)
    try:
        model, _ = simulation_setup(portfolio, settings)
    except GridError as exc:
        raise InputError([Problem("run.json", None, "grid", str(exc))]) from None
    loaded = time.perf_counter() - started
    model_info = model.summary()
    parts = [p for p in partition_netting_sets(portfolio.compiled, cfg.partitions, cfg.paths)
             if p]
    n_workers = max(1, min(workers or os.cpu_count() or 1, len(parts)))
    if settings.backend == "cupy":
        n_workers = 1  # one GPU; CUDA contexts do not survive fork
    log(f"xvaflow run: {portfolio.compiled.n_trades} trades, "
        f"{len(portfolio.compiled.netting_set_ids)} netting sets, {cfg.paths} paths, grid "
        f"{cfg.grid}, {len(parts)} partitions on {n_workers} workers ({cfg.backend}); "
        f"inputs loaded in {loaded:.1f}s")
    log_model(model_info, log)

    results: list[PartitionResult] = []
    compute_start = time.perf_counter()
    _PORTFOLIO = portfolio
    try:
        if n_workers == 1:
            for k, ns in enumerate(parts):
                results.append(run_partition(portfolio, ns, settings))
                log(f"  partition {k + 1}/{len(parts)} done: {len(ns)} netting sets in "
                    f"{results[-1].timings['total']:.1f}s")
        else:
            ctx = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx) as pool:
                futures = {pool.submit(_work, ns, settings): k for k, ns in enumerate(parts)}
                for done, fut in enumerate(as_completed(futures), start=1):
                    results.append(fut.result())
                    log(f"  partition {futures[fut] + 1}/{len(parts)} done "
                        f"({done}/{len(parts)}): {len(results[-1].netting_sets)} netting sets "
                        f"in {results[-1].timings['total']:.1f}s")
    finally:
        _PORTFOLIO = None
    compute = time.perf_counter() - compute_start

    run_info = {
        "paths": cfg.paths, "seed": cfg.seed, "grid": cfg.grid, "steps": results[0].steps,
        "exposure_dates": int(results[0].times.size), "partitions": len(parts),
        "workers": n_workers, "backend": cfg.backend, "antithetic": cfg.antithetic,
        "bilateral": cfg.bilateral, "model": model_info,
        "stage_seconds": {"load": round(loaded, 3), "compute": round(compute, 3)},
    }
    document, exposure = aggregate(
        results, netting_set_info(portfolio), {"as_of": portfolio.market.as_of.isoformat(),
                                               "base_currency": portfolio.market.base_currency},
        run_info)
    document["trades"] = trades_section(portfolio.compiled,
                                        price_t0(portfolio.compiled, portfolio.market))
    wall = time.perf_counter() - started
    document["run"]["wall_seconds"] = round(wall, 3)
    out_dir = Path(out)
    write_text_atomic(out_dir / "exposure.csv", exposure)
    write_json_atomic(out_dir / "results.json", document)
    log(f"  done in {wall:.1f}s (load {loaded:.1f}s, compute {compute:.1f}s)")
    return RunSummary(out_dir, document)
