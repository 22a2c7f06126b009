"""Scaling of the Monte Carlo engine: wall time against paths, dates, netting sets and trades.

Usage::

    python benchmarks/scaling.py [--quick]

Each experiment varies one dimension of a portfolio cut from a generated bank book and times
:func:`xvaflow.xva.engine.run_partition` in this process (one worker, all netting sets in one
partition): simulation, valuation, collateral, exposure and XVA, without file I/O. The last
experiment adds linear trades (swaps) to a fixed set of netting sets: since a netting set's
swaps are valued together from a handful of exact evaluations per date (DESIGN.md, "Cash-flow
compilation"), their cost should barely grow. Prints a Markdown table and a JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import machine
from _portfolios import Row, pool, read_csv, write_portfolio
from threadpoolctl import threadpool_limits

from xvaflow.io.portfolio import load_portfolio
from xvaflow.xva.engine import RunSettings, run_partition


def _timed(directory: Path, paths: int, grid: str) -> tuple[float, int, int]:
    """(seconds, netting sets, trades) of one in-process run."""
    pf = load_portfolio(directory)
    ns = list(pf.compiled.netting_set_ids)
    with threadpool_limits(1, "blas"):
        tick = time.perf_counter()
        run_partition(pf, ns, RunSettings(paths=paths, grid=grid))
        return time.perf_counter() - tick, len(ns), pf.compiled.n_trades


def _book(work: Path, name: str, source: Path, trades: list[Row], cptys: list[Row],
          n_ns: int, per_ns: int) -> Path:
    chosen = {f"NS{i:04d}": trades[i * per_ns:(i + 1) * per_ns] for i in range(n_ns)}
    if any(len(v) < per_ns for v in chosen.values()):
        raise SystemExit(f"pool too small for {n_ns} x {per_ns}")
    ig = [c for c in cptys if c["rating"].startswith(("A", "BBB"))]
    out = work / name
    write_portfolio(out, source, chosen, {ns: ig[i % len(ig)] for i, ns in enumerate(chosen)})
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smaller sizes (a smoke test)")
    args = p.parse_args()
    q = args.quick
    work = Path(tempfile.mkdtemp(prefix="xvaflow-scaling-"))
    source = pool(work / "pool", trades=30000, seed=3)
    _, trades = read_csv(source / "trades.csv")
    _, cptys = read_csv(source / "counterparties.csv")
    mixed = [t for t in trades if t["product"] != "SWAPTION" or t["settlement"] == "cash"]
    swaps = [t for t in trades if t["product"] == "IRS"]
    rows: list[dict[str, object]] = []

    def record(experiment: str, value: object, directory: Path, paths: int, grid: str) -> None:
        seconds, n_ns, n_trades = _timed(directory, paths, grid)
        rows.append({"experiment": experiment, "value": value, "paths": paths, "grid": grid,
                     "netting_sets": n_ns, "trades": n_trades, "seconds": round(seconds, 2)})
        print(f"| {experiment} | {value} | {paths} | {grid} | {n_ns} | {n_trades} | "
              f"{seconds:.2f} |", flush=True)

    print("| experiment | value | paths | grid | netting sets | trades | seconds |")
    print("|---|---|---|---|---|---|---|")
    base = _book(work, "base", source, mixed, cptys, 50, 10)
    for paths in ((500, 1000) if q else (1000, 2000, 5000, 10000)):
        record("paths", paths, base, paths, "1M:10Y")
    for grid in (("3M:10Y",) if q else ("3M:10Y", "1M:10Y", "2W:10Y")):
        record("exposure grid", grid, base, 1000 if q else 2000, grid)
    for n_ns in ((10, 20) if q else (25, 50, 100, 200)):
        record("netting sets (10 trades each)", n_ns,
               _book(work, f"ns{n_ns}", source, mixed, cptys, n_ns, 10), 1000 if q else 2000,
               "1M:10Y")
    for per_ns in ((10, 50) if q else (10, 50, 250, 1000)):
        record("swaps per netting set (20 netting sets)", per_ns,
               _book(work, f"swaps{per_ns}", source, swaps, cptys, 20, per_ns),
               1000 if q else 2000, "1M:10Y")
    print(json.dumps({"benchmark": "scaling", "rows": rows, "machine": machine()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
