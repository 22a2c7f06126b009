"""Splitting netting sets into balanced partitions.

The cost of a netting set is estimated from what the scenario pricer does with it: linear rows
(node evaluations), term coupons and options (work per path), swaption rows (node evaluations).
Netting sets are assigned largest first to the currently lightest partition (LPT scheduling,
within 4/3 of the optimum makespan; R. Graham, SIAM J. Appl. Math. 17, 1969). The assignment is
deterministic: ties break on netting set order.
"""

from __future__ import annotations

import heapq

import numpy as np

from xvaflow.core.dates import FloatArray
from xvaflow.products.tables import TERM, CompiledPortfolio

# Relative costs: a row costs one node evaluation per step; per-path work costs more.
ROW_COST, PATH_ROW_COST, OPTION_COST, NETTING_SET_COST = 1.0, 20.0, 50.0, 100.0


def netting_set_costs(compiled: CompiledPortfolio) -> FloatArray:
    """``[netting sets]`` estimated cost, in the order of ``compiled.netting_set_ids``."""
    n = len(compiled.netting_set_ids)
    ns = compiled.netting_set
    cost = np.full(n, NETTING_SET_COST)
    lin = compiled.linear
    weight = np.where(lin.kind == TERM, PATH_ROW_COST, ROW_COST)
    cost += np.bincount(ns[lin.trade], weights=weight, minlength=n)
    cost += np.bincount(ns[compiled.swaption_flows.trade], minlength=n) * ROW_COST
    for table in (compiled.fx_options, compiled.equity, compiled.swaptions):
        cost += np.bincount(ns[table.trade], minlength=n) * OPTION_COST
    return cost


def partition_netting_sets(compiled: CompiledPortfolio, k: int) -> list[list[str]]:
    """``k`` lists of netting set ids (some may be empty when k exceeds the netting sets)."""
    costs = netting_set_costs(compiled)
    heap = [(0.0, j) for j in range(k)]
    parts: list[list[str]] = [[] for _ in range(k)]
    for i in sorted(range(costs.size), key=lambda i: (-costs[i], i)):
        load, j = heapq.heappop(heap)
        parts[j].append(compiled.netting_set_ids[i])
        heapq.heappush(heap, (load + float(costs[i]), j))
    return parts
