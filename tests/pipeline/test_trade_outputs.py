"""trades.csv and results.json ``trades`` through the local workflow: one row per trade with
its netting set, counterparty, product and t0 value; with ``allocation`` each trade's share
of its netting set's XVA, summing to the netting set's figures, the same whatever the
partition count; without it the XVA cells are empty and the fields null."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import pytest

from xvaflow.pipeline.local import run_pipeline
from xvaflow.report.tables import TRADE_COLUMNS

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"
SETTINGS = {"paths": 200, "grid": "3M:2Y", "seed": 5}
METRICS = ("cva", "dva", "fca", "fba")


def _run(out: Path, **extra: Any) -> tuple[dict[str, Any], list[dict[str, str]]]:
    run_pipeline(DEMO, out, {**SETTINGS, **extra}, workers=1, log=lambda _: None)
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    with open(out / "trades.csv", newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == TRADE_COLUMNS
        return doc, list(reader)


@pytest.fixture(scope="module")
def allocated(tmp_path_factory: pytest.TempPathFactory
              ) -> list[tuple[dict[str, Any], list[dict[str, str]]]]:
    root = tmp_path_factory.mktemp("alloc")
    return [_run(root / f"p{k}", partitions=k, allocation=True) for k in (1, 3)]


def test_shares_sum_to_netting_sets(allocated: list[tuple[dict[str, Any], list[Any]]]) -> None:
    doc, rows = allocated[0]
    assert [r["trade_id"] for r in rows] == list(doc["trades"])
    sums: dict[tuple[str, str], float] = {}
    for r in rows:
        t = doc["trades"][r["trade_id"]]
        assert r["netting_set_id"] == t["netting_set_id"]
        assert r["counterparty_id"] == doc["netting_sets"][t["netting_set_id"]]["counterparty_id"]
        assert r["product"] == t["product"]
        for m in METRICS:
            assert float(r[m]) == t[m]
            sums[t["netting_set_id"], m] = sums.get((t["netting_set_id"], m), 0.0) + t[m]
    for ns, entry in doc["netting_sets"].items():
        for m in METRICS:
            assert entry[m] > 0.0
            assert math.isclose(sums[ns, m], entry[m], rel_tol=1e-12), (ns, m)


def test_partitions_do_not_change_shares(
        allocated: list[tuple[dict[str, Any], list[Any]]]) -> None:
    (one, _), (three, _) = allocated
    assert three["run"]["partitions"] == 3
    for tid, t in one["trades"].items():
        for m in METRICS:
            assert math.isclose(t[m], three["trades"][tid][m], rel_tol=1e-9, abs_tol=1e-6)


def test_without_allocation_the_cells_are_empty(tmp_path: Path) -> None:
    doc, rows = _run(tmp_path / "plain", partitions=2)
    assert len(rows) == len(doc["trades"]) == 20
    for r in rows:
        assert all(r[m] == "" for m in METRICS)
        assert float(r["npv"]) == doc["trades"][r["trade_id"]]["npv"]
    assert all(t[m] is None for t in doc["trades"].values() for m in METRICS)
