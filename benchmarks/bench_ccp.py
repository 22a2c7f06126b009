"""Benchmark: CCP historical-VaR initial margin of a cleared swap book (the source's shape:
20,000 swaps x ~150 cash flows x 250 curves).

Usage::

    python benchmarks/bench_ccp.py [--swaps 20000] [--counterparties 1000] [--seed 42]
                                   [--monthly]

Generates a bank book with ``xvaflow generate`` (its history/ included) and keeps its
interest-rate swaps, about ``--swaps`` of them, every netting set cleared (a CSA with
``im_model = ccp_hvar``, 5-day holding period); then times :func:`xvaflow.margin.ccp.ccp_section`
(scenarios from history/, the P&L of every cash-flow row in every scenario, the weighted VaR per
netting set and member) apart from loading. Prints the figures and a JSON summary line.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import machine

from xvaflow.core.dates import parse_date
from xvaflow.core.errors import ProblemLog
from xvaflow.io.generate import PRODUCT_MIX, generate_portfolio
from xvaflow.io.portfolio import load_portfolio
from xvaflow.margin.ccp import ccp_section, cleared_netting_sets, load_ccp_histories
from xvaflow.pricing.t0 import price_t0


def cleared_book(directory: Path, swaps: int, counterparties: int, seed: int,
                 monthly: bool) -> None:
    """A generated book reduced to its swaps, every netting set under a ccp_hvar CSA (with
    ``monthly``, every leg pays monthly: about 150 cash flows a swap, the source's shape)."""
    irs_share = PRODUCT_MIX["IRS"] / sum(PRODUCT_MIX.values())
    generate_portfolio(directory, counterparties=counterparties,
                       trades=round(swaps / irs_share), seed=seed,
                       as_of=parse_date("2026-11-20"))
    with (directory / "trades.csv").open(newline="", encoding="utf-8") as fh:
        trades = list(csv.DictReader(fh))
    swaps_only = [t for t in trades if t["product"] == "IRS"]
    if monthly:
        for t in swaps_only:
            t["fixed_frequency"] = t["float_frequency"] = "monthly"
    _write(directory / "trades.csv", swaps_only)
    with (directory / "netting_sets.csv").open(newline="", encoding="utf-8") as fh:
        netting = list(csv.DictReader(fh))
    with (directory / "csas.csv").open(newline="", encoding="utf-8") as fh:
        columns = next(csv.reader(fh))
    csas = []
    for ns in netting:
        ns["csa_id"] = f"CCP-{ns['netting_set_id']}"
        csas.append({c: "" for c in columns} | {"csa_id": ns["csa_id"], "mpor_days": "5",
                                                 "currency": "USD", "im_model": "ccp_hvar"})
    _write(directory / "netting_sets.csv", netting)
    _write(directory / "csas.csv", csas)


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--swaps", type=int, default=20_000)
    p.add_argument("--counterparties", type=int, default=1000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--monthly", action="store_true",
                   help="monthly legs: ~150 cash flows per swap (the source's shape)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        book = Path(tmp)
        started = time.perf_counter()
        cleared_book(book, args.swaps, args.counterparties, args.seed, args.monthly)
        pf = load_portfolio(book)
        cleared = cleared_netting_sets(pf)
        log = ProblemLog()
        histories = load_ccp_histories(pf, log)
        log.raise_if_any()
        values = price_t0(pf.compiled, pf.market).npv_base
        prepared = time.perf_counter() - started
        started = time.perf_counter()
        section = ccp_section(pf, cleared, histories, values)
        seconds = time.perf_counter() - started
    rows = len(pf.compiled.linear)
    summary = {
        "swaps": pf.compiled.n_trades, "cash_flow_rows": rows,
        "rows_per_swap": round(rows / pf.compiled.n_trades, 1),
        "scenarios": section["scenarios"], "netting_sets": len(cleared),
        "members": len(section["members"]), "currencies": len(histories),
        "prepare_seconds": round(prepared, 2), "ccp_seconds": round(seconds, 2),
        "row_scenarios_per_second": round(rows * section["scenarios"] / seconds),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "machine": machine(),
    }
    print(f"{summary['swaps']} swaps, {rows} cash-flow rows ({summary['rows_per_swap']} per "
          f"swap), {summary['scenarios']} scenarios, {len(cleared)} netting sets: CCP margin "
          f"in {seconds:.2f} s ({summary['row_scenarios_per_second']:,} row-scenarios/s), "
          f"peak {summary['peak_rss_mb']} MB (generate + load + t0 prices {prepared:.1f} s)")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
