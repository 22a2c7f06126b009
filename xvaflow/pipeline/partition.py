"""Splitting netting sets into balanced partitions.

The cost of a netting set is an estimate of the work per simulation date, in nanoseconds on
the reference machine (measured with cProfile on the benchmark portfolios, rounded):

- per linear row, ~300 (its exact values at the interpolation points; independent of paths);
- per path: ~100 for the netting set itself (basis product, exposure, collateral), ~15 per term
  coupon in progress, ~50 per FX option or equity forward or option (closed form per path),
  ~20 per swaption (interpolation), plus ~200,000 per swaption for its interpolation points.

Options and per-path work dominate at many paths, linear rows at few: the estimate takes the
path count. Netting sets are assigned largest first to the currently lightest partition (LPT
scheduling, within 4/3 of the optimum makespan; R. Graham, SIAM J. Appl. Math. 17, 1969);
the assignment is deterministic, ties break on netting set order.
"""

from __future__ import annotations

import heapq

import numpy as np

from xvaflow.core.dates import FloatArray
from xvaflow.products.tables import TERM, CompiledPortfolio

ROW_NS = 300.0
NETTING_SET_PATH_NS = 100.0
TERM_ROW_PATH_NS = 15.0
OPTION_PATH_NS = 50.0
SWAPTION_PATH_NS, SWAPTION_NS = 20.0, 200_000.0


def netting_set_costs(compiled: CompiledPortfolio, paths: int) -> FloatArray:
    """``[netting sets]`` estimated cost per date (ns), order of ``compiled.netting_set_ids``."""
    n = len(compiled.netting_set_ids)
    ns = compiled.netting_set

    def count(trades: np.ndarray, weights: np.ndarray | None = None) -> FloatArray:
        return np.bincount(ns[trades], weights=weights, minlength=n).astype(np.float64)

    lin = compiled.linear
    cost = np.full(n, NETTING_SET_PATH_NS * paths)
    cost += count(lin.trade) * ROW_NS + count(compiled.swaption_flows.trade) * ROW_NS
    # A term leg has one coupon in progress at a time: roughly 1 in 20 of its rows.
    cost += count(lin.trade, (lin.kind == TERM) / 20.0) * TERM_ROW_PATH_NS * paths
    cost += (count(compiled.fx_options.trade) + count(compiled.equity.trade)) * (
        OPTION_PATH_NS * paths)
    cost += count(compiled.swaptions.trade) * (SWAPTION_PATH_NS * paths + SWAPTION_NS)
    return cost


def partition_netting_sets(compiled: CompiledPortfolio, k: int, paths: int) -> list[list[str]]:
    """``k`` lists of netting set ids (some may be empty when k exceeds the netting sets)."""
    costs = netting_set_costs(compiled, paths)
    heap = [(0.0, j) for j in range(k)]
    parts: list[list[str]] = [[] for _ in range(k)]
    for i in sorted(range(costs.size), key=lambda i: (-costs[i], i)):
        load, j = heapq.heappop(heap)
        parts[j].append(compiled.netting_set_ids[i])
        heapq.heappush(heap, (load + float(costs[i]), j))
    return parts
