"""Stress and sensitivity outputs through the local workflow: results.json ``stress`` and
``sensitivities``, stress.csv published with the set, the same numbers whatever the partition
count, and nothing of them when not asked for."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import pytest

from xvaflow.pipeline.local import run_pipeline

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"
SETTINGS = {"paths": 100, "grid": "3M:1Y", "seed": 3, "stress": True, "sensitivities": True}


def _run(out: Path, **extra: Any) -> tuple[dict[str, Any], list[dict[str, str]]]:
    run_pipeline(DEMO, out, {**SETTINGS, **extra}, workers=1, log=lambda _: None)
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    with open(out / "stress.csv", newline="", encoding="utf-8") as fh:
        return doc, list(csv.DictReader(fh))


def _close(a: Any, b: Any, path: str = "") -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, float):
        assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9), (path, a, b)
    else:
        assert a == b, path


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[dict[str, Any], list[Any]]]:
    root = tmp_path_factory.mktemp("risk")
    return [_run(root / f"p{k}", partitions=k) for k in (1, 3)]


def test_sections_and_file_agree(runs: list[tuple[dict[str, Any], list[Any]]]) -> None:
    doc, rows = runs[0]
    scenarios = doc["stress"]["scenarios"]
    assert list(scenarios) == ["credit+100bp", "credit-100bp", "funding+50bp", "funding-50bp",
                               "coverage0%", "coverage50%", "coverage100%", "coverage120%"]
    assert set(scenarios["funding+50bp"]) == {"fca", "fba"}
    netting = [*doc["netting_sets"], "PORTFOLIO"]
    n_metrics = sum(len(v) for v in scenarios.values())
    assert len(rows) == n_metrics * len(netting)
    for r in rows:
        assert math.isclose(float(r["stressed"]) - float(r["base"]), float(r["change"]),
                            rel_tol=1e-9, abs_tol=1e-6)
        if r["netting_set_id"] == "PORTFOLIO":
            entry = scenarios[r["scenario"]][r["metric"]]
            assert math.isclose(entry["change"], float(r["change"]), rel_tol=1e-12)
            assert math.isclose(entry["base"], doc["totals"][r["metric"]], rel_tol=1e-12)
    sens = doc["sensitivities"]
    assert sens["bumps"] == {"ir_bp": 1.0, "credit_bp": 1.0, "fx_rel": 0.01, "eq_rel": 0.01,
                             "ir_vol_bp": 1.0, "fx_vol": 0.01, "eq_vol": 0.01}
    market = json.loads((DEMO / "market.json").read_text(encoding="utf-8"))
    cva = sens["totals"]["cva"]
    for ccy in ("USD", "EUR"):
        assert list(cva["ir_delta"][ccy]) == [q["tenor"] for q in
                                              market["curves"][ccy]["par_quotes"]]
        assert math.isfinite(cva["ir_gamma"][ccy])
    assert set(cva["fx_delta"]) == {"EURUSD"}
    assert set(cva["eq_delta"]) == {"SPX", "EUROSTOXX"}
    assert set(cva["ir_vega"]) == {"USD", "EUR"}
    assert set(cva["fx_vega"]) == {"EURUSD"}
    assert set(cva["eq_vega"]) == {"SPX", "EUROSTOXX"}
    # NS_NORDBANK holds no SPX: its SPX vega is exactly 0, the holders' is not
    assert sens["netting_sets"]["NS_NORDBANK"]["cva"]["eq_vega"]["SPX"] == 0.0
    assert sens["netting_sets"]["NS_HELIOS"]["cva"]["eq_vega"]["SPX"] != 0.0
    for ns in doc["netting_sets"]:  # every netting set has every market figure
        assert sens["netting_sets"][ns]["cva"]["ir_delta"].keys() == cva["ir_delta"].keys()
        total = sum(sens["netting_sets"][n]["cva"]["fx_delta"]["EURUSD"]
                    for n in doc["netting_sets"])
        assert math.isclose(total, cva["fx_delta"]["EURUSD"], rel_tol=1e-9, abs_tol=1e-6)
    cs01 = sens["totals"]["cva"]["cs01"]
    assert set(cs01) == {"CP_ACME", "CP_NORDBANK", "CP_HELIOS"}
    assert list(cs01["CP_HELIOS"]) == ["flat"]
    assert list(cs01["CP_ACME"]) == ["6M", "1Y", "2Y", "3Y", "5Y", "7Y", "10Y"]
    for ns, entry in doc["netting_sets"].items():  # one netting set per counterparty here
        cpty = entry["counterparty_id"]
        for metric, tree in sens["totals"].items():
            assert sens["netting_sets"][ns][metric]["cs01"] == {cpty: tree["cs01"][cpty]}
            se = sens["stderr"]["netting_sets"][ns][metric]["cs01"][cpty]
            assert se.keys() == tree["cs01"][cpty].keys()
    assert cs01["CP_ACME"]["1Y"] > 0.0  # wider spread within the 1Y grid, more CVA
    assert sum(cs01["CP_ACME"].values()) > 0.0


def test_partitions_do_not_change_the_figures(runs: list[tuple[dict[str, Any], list[Any]]]
                                              ) -> None:
    (a, rows_a), (b, rows_b) = runs
    _close(a["stress"], b["stress"], "stress")
    _close(a["sensitivities"], b["sensitivities"], "sensitivities")
    assert len(rows_a) == len(rows_b)
    for x, y in zip(rows_a, rows_b, strict=True):
        _close({k: float(v) if k not in ("scenario", "netting_set_id", "metric") else v
                for k, v in x.items()},
               {k: float(v) if k not in ("scenario", "netting_set_id", "metric") else v
                for k, v in y.items()})


def test_not_asked_for_not_computed(tmp_path: Path) -> None:
    run_pipeline(DEMO, tmp_path, {**SETTINGS, "stress": False, "sensitivities": False},
                 workers=1, log=lambda _: None)
    doc = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert doc["stress"] is None
    assert doc["sensitivities"] is None
    assert not (tmp_path / "stress.csv").exists()
