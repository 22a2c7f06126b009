"""Benchmark: generate a synthetic bank portfolio, load it and price it at t0.

Usage::

    python benchmarks/price_portfolio.py [--counterparties 1000] [--trades 20000] [--seed 42]
                                         [--repeat 3] [--keep DIR] [--no-tracemalloc] [--check]

Phases, each timed with ``time.perf_counter``:

1. ``generate``: :func:`xvaflow.io.generate.generate_portfolio` into a temporary directory (or
   ``--keep DIR``), one run.
2. ``load``: :func:`xvaflow.io.portfolio.load_portfolio` — read, validate every row and
   cross-reference, bootstrap curves and credit curves, compile the trades. First run and best of
   ``--repeat``.
3. ``price``: :func:`xvaflow.pricing.t0.price_t0` on the compiled portfolio. First call and best
   of ``--repeat``.

Memory: the peak resident set size of the process (``ru_maxrss``) after each phase, and, unless
``--no-tracemalloc``, the peak of traced Python/numpy allocations during one extra load + price
(tracemalloc slows that pass down, so it is not timed).

Targets (the 2-core reference machine): generate < 30 s, load < 10 s, price < 1 s,
peak RSS < 2 GB. ``--check`` exits with status 1 when one is missed. The last line printed is a
one-line JSON summary.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from xvaflow.io.generate import generate_portfolio
from xvaflow.io.portfolio import load_portfolio
from xvaflow.pricing.t0 import price_t0

T = TypeVar("T")
AS_OF = dt.date(2026, 11, 20)
TARGETS = {"generate_s": 30.0, "load_s": 10.0, "price_s": 1.0, "peak_rss_mb": 2048.0}


def _peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _timed(fn: Callable[[], T]) -> tuple[float, T]:
    gc.collect()
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _best(fn: Callable[[], T], repeat: int) -> tuple[float, float, T]:
    """(first time, best time, last result) over ``repeat`` runs."""
    times: list[float] = []
    result: T | None = None
    for _ in range(max(repeat, 1)):
        t, result = _timed(fn)
        times.append(t)
    assert result is not None
    return times[0], min(times), result


def run(counterparties: int, trades: int, seed: int, repeat: int, folder: Path,
        trace: bool) -> dict[str, Any]:
    """Run the three phases on ``folder`` and return the measurements."""
    gen_s, summary = _timed(lambda: generate_portfolio(
        folder, counterparties=counterparties, trades=trades, seed=seed, as_of=AS_OF))
    rss_gen = _peak_rss_mb()
    load_first, load_best, pf = _best(lambda: load_portfolio(folder), repeat)
    rss_load = _peak_rss_mb()
    price_first, price_best, values = _best(lambda: price_t0(pf.compiled, pf.market), repeat)
    rss_price = _peak_rss_mb()
    if not np.all(np.isfinite(values.npv)):
        raise SystemExit("pricing returned non-finite values")

    traced_mb: float | None = None
    if trace:
        del pf, values
        gc.collect()
        tracemalloc.start()
        pf2 = load_portfolio(folder)
        price_t0(pf2.compiled, pf2.market)
        traced_mb = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()

    size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
    return {
        "counterparties": counterparties,
        "trades": trades,
        "seed": seed,
        "portfolio": summary,
        "files_mb": round(size / 2**20, 2),
        "generate_s": round(gen_s, 3),
        "load_first_s": round(load_first, 3),
        "load_s": round(load_best, 3),
        "price_first_s": round(price_first, 4),
        "price_s": round(price_best, 4),
        "load_trades_per_s": round(trades / load_best),
        "price_trades_per_s": round(trades / price_best),
        "rss_after_generate_mb": round(rss_gen, 1),
        "rss_after_load_mb": round(rss_load, 1),
        "peak_rss_mb": round(rss_price, 1),
        "tracemalloc_peak_load_price_mb": None if traced_mb is None else round(traced_mb, 1),
        "repeat": repeat,
        "machine": {"nproc": os.cpu_count(), "cpu": _cpu_model(),
                    "python": platform.python_version(), "numpy": np.__version__,
                    "platform": platform.platform()},
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d"),
    }


def _table(r: dict[str, Any]) -> str:
    rows = [
        ("generate", f"{r['generate_s']:.2f} s", f"< {TARGETS['generate_s']:.0f} s",
         r["generate_s"] < TARGETS["generate_s"]),
        ("load+validate+compile (best)", f"{r['load_s']:.2f} s "
         f"(first {r['load_first_s']:.2f} s)", f"< {TARGETS['load_s']:.0f} s",
         r["load_s"] < TARGETS["load_s"]),
        ("t0 pricing (best)", f"{r['price_s']:.3f} s (first {r['price_first_s']:.3f} s)",
         f"< {TARGETS['price_s']:.0f} s", r["price_s"] < TARGETS["price_s"]),
        ("peak RSS", f"{r['peak_rss_mb']:.0f} MB", f"< {TARGETS['peak_rss_mb']:.0f} MB",
         r["peak_rss_mb"] < TARGETS["peak_rss_mb"]),
    ]
    lines = [f"{'phase':<30} {'measured':<34} {'target':<10} ok", "-" * 80]
    lines += [f"{a:<30} {b:<34} {c:<10} {'yes' if ok else 'NO'}" for a, b, c, ok in rows]
    lines.append("-" * 80)
    lines.append(f"throughput: load {r['load_trades_per_s']:,} trades/s, "
                 f"pricing {r['price_trades_per_s']:,} trades/s")
    lines.append(f"RSS after generate {r['rss_after_generate_mb']:.0f} MB, after load "
                 f"{r['rss_after_load_mb']:.0f} MB; tracemalloc peak (load + price) "
                 f"{r['tracemalloc_peak_load_price_mb']} MB")
    m = r["machine"]
    lines.append(f"machine: {m['nproc']} cores, {m['cpu']}, Python {m['python']}, "
                 f"numpy {m['numpy']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--counterparties", type=int, default=1000)
    p.add_argument("--trades", type=int, default=20000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--repeat", type=int, default=3, help="runs of load and pricing (best)")
    p.add_argument("--keep", type=Path, help="write the portfolio here and keep it")
    p.add_argument("--no-tracemalloc", dest="trace", action="store_false",
                   help="skip the extra traced load + price pass")
    p.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = p.parse_args(argv)

    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        result = run(args.counterparties, args.trades, args.seed, args.repeat, args.keep,
                     args.trace)
    else:
        with tempfile.TemporaryDirectory(prefix="xvaflow-bench-") as tmp:
            result = run(args.counterparties, args.trades, args.seed, args.repeat, Path(tmp),
                         args.trace)
    print(f"portfolio: {result['portfolio']} ({result['files_mb']} MB)")
    print(_table(result))
    missed = [k for k, limit in TARGETS.items() if result[k] >= limit]
    result["targets_missed"] = missed
    print(json.dumps(result, separators=(",", ":")))
    return 1 if (args.check and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
