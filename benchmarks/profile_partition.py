"""Where a partition's time goes: cProfile of the engine on the generated bank book.

Usage::

    python benchmarks/profile_partition.py [--paths 2000] [--counterparties 1000]
                                           [--trades 20000] [--grid auto] [--top 25]

Generates the bank portfolio (as bench_bank.py does), then runs
:func:`xvaflow.xva.engine.run_partition` on all its netting sets in this process with one BLAS
thread under cProfile, and prints the wall time and the functions with the most own time.
Running it at two path counts separates the path-independent cost from the cost per path.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import tempfile
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from xvaflow.core.dates import parse_date
from xvaflow.io.generate import generate_portfolio
from xvaflow.io.portfolio import load_portfolio
from xvaflow.xva.engine import RunSettings, run_partition


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--counterparties", type=int, default=1000)
    p.add_argument("--trades", type=int, default=20000)
    p.add_argument("--paths", type=int, default=2000)
    p.add_argument("--grid", default="auto")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--top", type=int, default=25)
    args = p.parse_args()

    with tempfile.TemporaryDirectory(prefix="xvaflow-profile-") as work:
        generate_portfolio(Path(work), counterparties=args.counterparties, trades=args.trades,
                           seed=args.seed, as_of=parse_date("2026-11-20"))
        portfolio = load_portfolio(work)
    settings = RunSettings(paths=args.paths, seed=args.seed, grid=args.grid)
    profile = cProfile.Profile()
    with threadpool_limits(limits=1, user_api="blas"):
        tick = time.perf_counter()
        profile.enable()
        result = run_partition(portfolio, list(portfolio.compiled.netting_set_ids), settings)
        profile.disable()
        wall = time.perf_counter() - tick
    text = io.StringIO()
    pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(args.top)
    print(text.getvalue())
    print(json.dumps({"benchmark": "profile_partition", "paths": args.paths,
                      "netting_sets": len(result.netting_sets), "wall_s": round(wall, 2),
                      "timings": {k: round(v, 2) for k, v in result.timings.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
