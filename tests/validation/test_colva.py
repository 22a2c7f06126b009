"""COLVA (csas.csv collateral_spread_bp): recomputed from the published exposure profile and
the credit curves (xvaflow.xva.colva's formula, code of the test's own), 0 without a spread,
and a spread changes nothing else (it is not in the simulation)."""

from __future__ import annotations

import csv
import datetime as _dt
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from xvaflow.io.portfolio import load_portfolio
from xvaflow.pipeline.local import run_pipeline

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"
SETTINGS = {"paths": 256, "grid": "3M:5Y", "seed": 11, "partitions": 2}
SPREAD_BP = 25.0


def _with_spread(root: Path, spread: str) -> Path:
    book = root / f"demo{spread or '-none'}"
    shutil.copytree(DEMO, book)
    with (book / "csas.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        r["collateral_spread_bp"] = spread
    with (book / "csas.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return book


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("colva")
    out = {}
    for spread in ("", str(SPREAD_BP)):
        book = _with_spread(root, spread)
        run_pipeline(book, root / f"out{spread}", SETTINGS, workers=1, log=lambda _: None)
        doc = json.loads((root / f"out{spread}" / "results.json").read_text(encoding="utf-8"))
        with (root / f"out{spread}" / "exposure.csv").open(newline="", encoding="utf-8") as fh:
            out[spread] = (book, doc, list(csv.DictReader(fh)))
    return out


def test_colva_is_the_spread_on_the_expected_collateral(runs: dict[str, Any]) -> None:
    book, doc, rows = runs[str(SPREAD_BP)]
    pf = load_portfolio(book)
    as_of = pf.market.as_of
    for ns, entry in doc["netting_sets"].items():
        csa = pf.netting_sets[ns].csa_id
        if csa is None:
            assert entry["colva"] == 0.0
            continue
        mine = [r for r in rows if r["netting_set_id"] == ns]
        t = np.array([(_dt.date.fromisoformat(r["date"]) - as_of).days / 365.0 for r in mine])
        collateral = np.array([float(r["expected_collateral"]) for r in mine])
        survival = (pf.credit[pf.netting_sets[ns].counterparty_id].curve.survival(t)
                    * pf.market.own_credit.curve.survival(t))  # type: ignore[union-attr]
        expected = -SPREAD_BP / 1e4 * float(np.sum(np.diff(np.r_[0.0, t]) * collateral
                                                   * survival))
        assert entry["colva"] == pytest.approx(expected, rel=1e-9)
        assert entry["colva"] != 0.0
    assert doc["totals"]["colva"] == pytest.approx(
        sum(e["colva"] for e in doc["netting_sets"].values()), rel=1e-12)


def test_no_spread_no_colva_and_a_spread_changes_nothing_else(runs: dict[str, Any]) -> None:
    _, plain, plain_rows = runs[""]
    _, spread, spread_rows = runs[str(SPREAD_BP)]
    assert plain["totals"]["colva"] == 0.0
    assert all(e["colva"] == 0.0 for e in plain["netting_sets"].values())
    for key, value in plain["totals"].items():
        if key != "colva":
            assert spread["totals"][key] == value, key
    assert plain_rows == spread_rows
