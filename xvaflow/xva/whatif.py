"""Pre-deal what-if: the incremental XVA of new trades on their netting sets.

The increment of a metric X on a netting set is X(book + new trades) - X(book), both computed
on the same paths: the random numbers are keyed by seed, path and calendar day
(:mod:`xvaflow.simulation.scenario`) and the model simulates every factor of the market, so the
new trades' option expiries and margin dates change nothing of the existing trades' paths, and
both runs use the same exposure dates (the grid resolved on the book with the new trades, e.g.
``auto`` reaching the later of the two ends). The increment's standard error is that of the
difference (batch means of the per-batch differences), not the portfolio's. Only the netting
sets the new trades touch are valued, with and without the new trades, as two books on one
simulation (:func:`~xvaflow.xva.engine.run_partition`'s ``without``); the others cannot
change (netting sets do not net).

The SA-CCR EAD of the touched netting sets (t0, no simulation) is reported beside.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from xvaflow.core.dates import FloatArray
from xvaflow.portfolio import Portfolio
from xvaflow.pricing.t0 import price_t0
from xvaflow.regulatory.capital import netting_set_capital
from xvaflow.xva.adjustments import METRICS, batch_stderr
from xvaflow.xva.engine import WITHOUT, RunSettings, resolved_grid, run_partition
from xvaflow.xva.risk import variant


def touched_netting_sets(book: Portfolio, combined: Portfolio) -> list[str]:
    """The netting sets of the trades ``combined`` adds to ``book``, in portfolio order."""
    booked = {t.info.trade_id for t in book.trades}
    new = {t.info.netting_set_id for t in combined.trades if t.info.trade_id not in booked}
    return [ns for ns in combined.compiled.netting_set_ids if ns in new]


def incremental_xva(book: Portfolio, combined: Portfolio, settings: RunSettings
                    ) -> dict[str, Any]:
    """The ``whatif`` section: per touched netting set and in total, each metric's base, with
    the new trades and increment with its standard error; FVA = FCA - FBA likewise; the new
    trades' t0 values; the touched netting sets' SA-CCR EAD before and after.

    Args:
        book: the booked portfolio.
        combined: ``book`` with the new trades (:func:`xvaflow.io.portfolio.with_new_trades`).
        settings: run settings; ``grid`` is resolved on ``combined`` and used for both runs.
    """
    started = time.perf_counter()
    touched = touched_netting_sets(book, combined)
    fixed = dataclasses.replace(settings, grid=_as_setting(resolved_grid(combined, settings)),
                                stress=False, sensitivities=(), allocation=False)
    booked = set(book.compiled.trade_ids)
    new_ids = [t for t in combined.compiled.trade_ids if t not in booked]
    run = run_partition(combined, touched, fixed, without=new_ids)
    n, size = run.n_paths, run.batch_size
    sums: dict[str, tuple[FloatArray, FloatArray, FloatArray, FloatArray]] = {}
    for m in METRICS:
        if m in run.xva:
            sums[m] = (*run.xva[variant(m, WITHOUT)], *run.xva[m])
    if "fca" in sums and "fba" in sums:
        fca, fba = sums["fca"], sums["fba"]
        sums["fva"] = (fca[0] - fba[0], fca[1] - fba[1], fca[2] - fba[2], fca[3] - fba[3])
    per_ns: dict[str, dict[str, Any]] = {ns: {} for ns in touched}
    totals: dict[str, Any] = {}
    for m, (tb, bb, ta, ba) in sums.items():
        for ns, row in zip(touched, _increments(tb, bb, ta, ba, n, size), strict=True):
            per_ns[ns][m] = row
        totals[m] = _increments(tb.sum(keepdims=True), bb.sum(axis=1, keepdims=True),
                                ta.sum(keepdims=True), ba.sum(axis=1, keepdims=True), n,
                                size)[0]
    t0 = price_t0(combined.compiled, combined.market)
    _add_ead(book, combined, t0.npv_base, touched, per_ns)
    trades = {t.info.trade_id: {"netting_set_id": t.info.netting_set_id,
                                "product": t.info.product, "currency": t.info.currency,
                                "npv": float(t0.npv[i]), "npv_base": float(t0.npv_base[i])}
              for i, t in enumerate(combined.trades) if t.info.trade_id not in booked}
    return {"netting_sets": per_ns, "totals": totals, "trades": trades,
            "grid": fixed.grid if isinstance(fixed.grid, str) else list(fixed.grid),
            "seconds": round(time.perf_counter() - started, 3)}


def _increments(total_before: FloatArray, batches_before: FloatArray, total_after: FloatArray,
                batches_after: FloatArray, n_paths: int, batch_size: int
                ) -> list[dict[str, float]]:
    """Per column: base, with the trades, increment and its standard error (the batch means of
    the differences: both runs share their paths)."""
    se = batch_stderr(batches_after - batches_before, batch_size)
    return [{"base": float(b / n_paths), "with_trades": float(a / n_paths),
             "increment": float((a - b) / n_paths), "increment_stderr": float(e)}
            for b, a, e in zip(total_before, total_after, se, strict=True)]


def _as_setting(grid: str | list[str | float]) -> str | tuple[str | float, ...]:
    return grid if isinstance(grid, str) else tuple(grid)


def _add_ead(book: Portfolio, combined: Portfolio, npv_base: FloatArray, touched: list[str],
             per_ns: dict[str, dict[str, Any]]) -> None:
    """SA-CCR EAD of each touched netting set before and after (t0); ``npv_base``: the t0
    values of ``combined``'s trades, the book's first (the new trades are appended)."""
    after = netting_set_capital(combined, npv_base, touched)["saccr"]
    held = [ns for ns in touched if ns in set(book.compiled.netting_set_ids)]
    before = netting_set_capital(book, npv_base[:len(book.trades)], held)["saccr"] \
        if held else {}
    for ns in touched:
        b = float(before[ns]["ead"]) if ns in before else 0.0
        a = float(after[ns]["ead"])
        per_ns[ns]["ead"] = {"base": b, "with_trades": a, "increment": a - b}
