"""Aggregation of partition results into results.json and the exposure, trades and stress tables
(written by :mod:`xvaflow.report.tables`; CONTRACT.md, "Outputs").

Aggregation refuses partial results: every netting set with trades must come from exactly one
partition, every partition must share the exposure dates and path count. Totals add netting
sets (no netting across them); their standard errors come from the summed batch sums. The
``PORTFOLIO`` profile adds the netting sets' profiles; its PFE is the quantile of the per-path
sum of the netting sets' positive exposures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from xvaflow.core.errors import PipelineError
from xvaflow.exposure.profile import QUANTILES, upper_quantiles
from xvaflow.portfolio import Portfolio
from xvaflow.report.results import SCHEMA_VERSION
from xvaflow.report.tables import (
    EXPOSURE_COLUMNS,
    STRESS_COLUMNS,
    TRADE_COLUMNS,
    Table,
    rows_of,
)
from xvaflow.xva.adjustments import METRICS, batch_stderr
from xvaflow.xva.engine import PartitionResult
from xvaflow.xva.risk import is_stress, sensitivities_section, split_variant, stress_rows

PORTFOLIO = "PORTFOLIO"


def _num(x: Any) -> float | None:
    v = float(x)
    return v if math.isfinite(v) else None


def check_complete(parts: Sequence[PartitionResult], expected: Sequence[str]) -> None:
    """Raise PipelineError unless every expected netting set appears exactly once."""
    seen: dict[str, int] = {}
    problems = []
    for k, part in enumerate(parts):
        for ns in part.netting_sets:
            if ns in seen:
                problems.append(f"netting set {ns} is in partitions {seen[ns]} and {k}")
            seen[ns] = k
    missing = [ns for ns in expected if ns not in seen]
    if missing:
        shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
        problems.append(f"{len(missing)} netting sets have no result: {shown}")
    extra = sorted(set(seen) - set(expected))
    if extra:
        problems.append(f"unexpected netting sets in the results: {', '.join(extra[:10])}")
    if parts:
        ref = parts[0]
        for k, part in enumerate(parts[1:], start=1):
            if part.n_paths != ref.n_paths or not np.array_equal(part.times, ref.times):
                problems.append(f"partition {k} was simulated on other paths or dates")
            if part.netting_sets and ref.netting_sets and part.xva.keys() != ref.xva.keys():
                problems.append(f"partition {k} computed other XVA figures than partition 0")
    if problems:
        raise PipelineError("; ".join(problems) + " - no results were published")


def netting_set_info(portfolio: Portfolio) -> dict[str, dict[str, str | None]]:
    """Netting set id -> counterparty and CSA ids, for the netting sets that hold trades, in
    portfolio order (what aggregation needs of the portfolio)."""
    return {ns: {"counterparty_id": portfolio.netting_sets[ns].counterparty_id,
                 "csa_id": portfolio.netting_sets[ns].csa_id}
            for ns in portfolio.compiled.netting_set_ids}


def aggregate(parts: Sequence[PartitionResult], netting_sets: dict[str, dict[str, str | None]],
              header: dict[str, Any], run_info: dict[str, Any],
              credit_buckets: dict[str, list[str]] | None = None
              ) -> tuple[dict[str, Any], Table, Table | None]:
    """(results.json document without the trades section, the exposure table, the stress
    table or None when no stress was run).

    Args:
        parts: every partition's result.
        netting_sets: :func:`netting_set_info` of the portfolio (the expected netting sets).
        header: ``as_of`` and ``base_currency``.
        run_info: the ``run`` section.
        credit_buckets: counterparty -> the CS01 buckets of its credit input (for
            ``sensitivities``; :func:`xvaflow.xva.risk.input_buckets`).

    Raises:
        PipelineError: a netting set is missing or duplicated, or partitions disagree.
    """
    expected = list(netting_sets)
    check_complete(parts, expected)
    parts = [p for p in parts if p.netting_sets]
    ref = parts[0]
    n = ref.n_paths
    netting: dict[str, Any] = {}
    totals: dict[str, Any] = {}
    metric_batches: dict[str, np.ndarray] = {}
    for m in METRICS:
        available = [m in p.xva for p in parts]
        if not all(available):
            totals[m], totals[f"{m}_stderr"] = None, None
            continue
        total = sum(float(p.xva[m][0].sum()) for p in parts) / n
        batches = sum(p.xva[m][1].sum(axis=1) for p in parts)
        metric_batches[m] = batches
        totals[m] = total
        totals[f"{m}_stderr"] = _num(batch_stderr(batches[:, None], ref.batch_size)[0])
    totals["fva"] = (totals["fca"] - totals["fba"]
                     if totals.get("fca") is not None and totals.get("fba") is not None else None)
    if "fca" in metric_batches and "fba" in metric_batches:
        totals["fva_stderr"] = _num(batch_stderr(
            (metric_batches["fca"] - metric_batches["fba"])[:, None], ref.batch_size)[0])
    totals["mva"] = None
    totals["kva"] = (sum(float(p.kva.sum()) for p in parts if p.kva is not None)
                     if all(p.kva is not None for p in parts) else None)
    totals["colva"] = (sum(float(p.colva.sum()) for p in parts if p.colva is not None)
                       if all(p.colva is not None for p in parts) else None)

    for p in parts:
        stats = {m: (p.xva[m][0] / n, batch_stderr(p.xva[m][1], p.batch_size)) for m in p.xva}
        peak = p.profile.pfe[:, QUANTILES.index(0.975), :].max(axis=0)
        for j, ns in enumerate(p.netting_sets):
            entry: dict[str, Any] = dict(netting_sets[ns])
            for m in METRICS:
                if m in stats:
                    entry[m] = _num(stats[m][0][j])
                    entry[f"{m}_stderr"] = _num(stats[m][1][j])
                else:
                    entry[m] = entry[f"{m}_stderr"] = None
            entry.update(npv=_num(p.npv[j]), eepe=_num(p.eepe[j]),
                         peak_pfe_975=_num(peak[j]), mva=None,
                         kva=None if p.kva is None else _num(p.kva[j]),
                         colva=None if p.colva is None else _num(p.colva[j]))
            netting[ns] = entry
    document = {
        "schema_version": SCHEMA_VERSION,
        "as_of": header["as_of"],
        "base_currency": header["base_currency"],
        "run": run_info,
        "totals": totals,
        "netting_sets": {ns: netting[ns] for ns in expected},
    }
    stress, sensitivities, rows = _risk(parts, netting_sets, credit_buckets or {})
    document["stress"], document["sensitivities"] = stress, sensitivities
    return document, exposure_table(parts, expected), stress_table(rows) if rows else None


def _risk(parts: Sequence[PartitionResult], netting_sets: dict[str, dict[str, str | None]],
          credit_buckets: dict[str, list[str]]
          ) -> tuple[dict[str, Any] | None, dict[str, Any] | None, list[dict[str, Any]]]:
    """(results.json ``stress``, ``sensitivities``, stress.csv rows) from the partitions'
    variant functionals (:mod:`xvaflow.xva.risk`), merged in portfolio order."""
    order = [ns for ns in netting_sets if any(ns in p.netting_sets for p in parts)]
    where = {ns: (p, j) for p in parts for j, ns in enumerate(p.netting_sets)}
    ref = parts[0]
    merged = {}
    for name in ref.xva:
        cols = [(where[ns][0].xva[name], where[ns][1]) for ns in order]
        merged[name] = (np.array([t[j] for (t, _), j in cols]),
                        np.stack([b[:, j] for (_, b), j in cols], axis=1))
    rows = stress_rows(merged, order, ref.n_paths, ref.batch_size, PORTFOLIO)
    stress = None
    if rows:
        scenarios: dict[str, dict[str, Any]] = {}
        for r in rows:
            if r["netting_set_id"] == PORTFOLIO:
                scenarios.setdefault(r["scenario"], {})[r["metric"]] = {
                    k: _num(r[k]) for k in ("base", "stressed", "change", "change_stderr")}
        fallbacks = {s: sorted({c for p in parts for c in p.fallbacks.get(s, [])})
                     for s in sorted({s for p in parts for s in p.fallbacks})}
        stress = {"scenarios": scenarios, "hazard_shift_fallbacks": fallbacks}
    sensitivities = None
    if any(not is_stress(s) for s in (split_variant(k)[1] for k in merged) if s is not None):
        counterparty = {ns: str(netting_sets[ns]["counterparty_id"]) for ns in order}
        sensitivities = sensitivities_section(merged, order, counterparty, credit_buckets,
                                              ref.n_paths, ref.batch_size)
    return stress, sensitivities, rows


def allocated_trades(trades: dict[str, dict[str, Any]], parts: Sequence[PartitionResult]
                     ) -> dict[str, dict[str, Any]]:
    """results.json ``trades``: the t0 section with each trade's allocated ``cva``, ``dva``,
    ``fca``, ``fba`` (:mod:`xvaflow.xva.allocation`; null when the run did not allocate or
    the metric is not computed)."""
    share: dict[str, dict[str, float | None]] = {}
    for p in parts:
        for m, per_trade in p.trade_xva.items():
            for tid, v in zip(p.trade_ids, per_trade, strict=True):
                share.setdefault(tid, {})[m] = _num(v / p.n_paths)
    return {tid: {**entry, **{m: share.get(tid, {}).get(m) for m in METRICS}}
            for tid, entry in trades.items()}


def trades_table(trades: dict[str, dict[str, Any]],
                 netting_sets: dict[str, dict[str, str | None]]) -> Table:
    """trades.csv: one row per trade (file order) with its netting set, counterparty, product,
    t0 value (trade currency and base) and allocated XVA (empty when not allocated)."""
    return Table("trades", TRADE_COLUMNS, [
        (tid, t["netting_set_id"], str(netting_sets[t["netting_set_id"]]["counterparty_id"]),
         t["product"], t["currency"], *(t.get(k) for k in ("npv", "npv_base", *METRICS)))
        for tid, t in trades.items()])


def stress_table(rows: Sequence[dict[str, Any]]) -> Table:
    """stress.csv: one row per scenario, netting set (then PORTFOLIO) and metric."""
    return Table("stress", STRESS_COLUMNS, rows_of(rows, STRESS_COLUMNS))


def exposure_table(parts: Sequence[PartitionResult], order: Sequence[str]) -> Table:
    """exposure.csv: one row per netting set and exposure date, then the PORTFOLIO rows.

    Besides CONTRACT.md's columns: ``basel_ee`` (undeflated EPE, the EEPE input) and the XVA
    term structure ``<metric>_contribution``, the term of the interval (t_{i-1}, t_i] in each
    metric (they sum over dates to the netting set's value in results.json; empty when the
    metric is not computed), and ``epe_stderr``/``ene_stderr``, the Monte Carlo standard errors
    of EPE and ENE (empty on PORTFOLIO rows: covariances across netting sets are not kept).
    """
    rows: list[tuple[Any, ...]] = []
    ref = parts[0]
    n = ref.n_paths
    where = {ns: (p, j) for p in parts for j, ns in enumerate(p.netting_sets)}
    for ns in order:
        p, j = where[ns]
        prof = p.profile
        cap = p.capital
        for k, (d, t) in enumerate(zip(p.dates, p.times, strict=True)):
            terms = [float(p.xva_by_date[m][k, j] / n) if m in p.xva_by_date else None
                     for m in METRICS]
            rows.append((ns, str(d), float(t), *map(float, (
                prof.ee[k, j], prof.epe[k, j], prof.ene[k, j], *prof.pfe[k, :, j],
                prof.collateral[k, j], prof.basel_ee[k, j])), *terms,
                float(prof.epe_stderr[k, j]), float(prof.ene_stderr[k, j]),
                *((None, None, None) if cap is None else
                  map(float, (cap.ead[k, j], cap.ccr[k, j], cap.cva[k, j])))))
    total_path = sum(p.profile.portfolio_exposure for p in parts)
    pfe = upper_quantiles(np.asarray(total_path))  # quantiles over paths: [3, dates]
    for k, (d, t) in enumerate(zip(ref.dates, ref.times, strict=True)):
        sums = [sum(float(getattr(p.profile, f)[k].sum()) for p in parts)
                for f in ("ee", "epe", "ene", "collateral", "basel_ee")]
        terms = [sum(float(p.xva_by_date[m][k].sum()) for p in parts) / n
                 if all(m in p.xva_by_date for p in parts) else None for m in METRICS]
        capital = [sum(float(getattr(p.capital, f)[k].sum()) for p in parts)
                   if all(p.capital is not None for p in parts) else None
                   for f in ("ead", "ccr", "cva")]
        rows.append((PORTFOLIO, str(d), float(t), sums[0], sums[1], sums[2],
                     *map(float, pfe[:, k]), sums[3], sums[4], *terms, None, None, *capital))
    return Table("exposure", EXPOSURE_COLUMNS, rows)
