"""results.json against its published JSON Schema (docs/results.schema.json): the file is the
one xvaflow.report.schema builds, and the documents of every command (run with every optional
section, price, capital, whatif) validate; the schema is closed, so an unknown field, a wrong
type or a missing section fails."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from xvaflow.cli import main
from xvaflow.pipeline.local import run_pipeline
from xvaflow.report.schema import results_schema, schema_text

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "demo"
VALIDATOR = Draft202012Validator(results_schema())
NEW_TRADE = (
    "trade_id,netting_set_id,product,direction,notional,currency,start_date,maturity_date,"
    "fixed_rate,fixed_frequency,fixed_daycount,float_index,float_frequency,float_spread,"
    "float_daycount\n"
    "N1,NS_ACME,IRS,receiver,50000000,USD,2026-11-24,2033-11-24,0.036,annual,ACT/360,"
    "USD-SOFR,annual,0,ACT/360\n")


def _errors(document: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in VALIDATOR.iter_errors(document)]


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    root = tmp_path_factory.mktemp("schema")
    run_pipeline(DEMO, root / "run", {"paths": 128, "grid": "6M:3Y", "stress": True,
                                      "sensitivities": True, "allocation": True},
                 workers=1, log=lambda _: None)
    (root / "new.csv").write_text(NEW_TRADE, encoding="utf-8")
    for args in (["price", str(DEMO), "--out", str(root / "price")],
                 ["capital", str(DEMO), "--out", str(root / "capital")],
                 ["whatif", str(DEMO), "--trades", str(root / "new.csv"), "--out",
                  str(root / "whatif"), "--paths", "128", "--grid", "6M:3Y"]):
        assert main(args) == 0, args
    return {name: json.loads((root / name / "results.json").read_text(encoding="utf-8"))
            for name in ("run", "price", "capital", "whatif")}


def test_the_published_schema_is_the_built_one() -> None:
    assert (REPO / "docs" / "results.schema.json").read_text(encoding="utf-8") == schema_text()
    Draft202012Validator.check_schema(results_schema())


@pytest.mark.parametrize("command", ["run", "price", "capital", "whatif"])
def test_every_command_writes_a_valid_document(documents: dict[str, dict[str, Any]],
                                               command: str) -> None:
    assert _errors(documents[command]) == []


def test_the_run_document_has_every_optional_section(
        documents: dict[str, dict[str, Any]]) -> None:
    doc = documents["run"]
    assert doc["stress"] is not None
    kinds = {k for tree in doc["sensitivities"]["totals"].values() for k in tree}
    assert kinds == {"ir_delta", "ir_gamma", "fx_delta", "eq_delta", "ir_vega", "fx_vega",
                     "eq_vega", "cs01"}
    assert all(t["cva"] is not None for t in doc["trades"].values())


@pytest.mark.parametrize(("change", "expected"), [
    (lambda d: d["totals"].update(cvaa=1.0), "Additional properties are not allowed"),
    (lambda d: d["totals"].update(cva="12"), "'12' is not of type 'number', 'null'"),
    (lambda d: next(iter(d["netting_sets"].values())).pop("eepe"), "'eepe' is a required"),
    (lambda d: d.pop("totals"), "'totals' is a required property"),
    (lambda d: d["run"].update(backend="jax"), "is not one of"),
    (lambda d: d.update(schema_version=2), "1 was expected"),
    (lambda d: d["sensitivities"]["totals"].update(xva={}), "'xva' is not one of"),
])
def test_the_schema_is_closed(documents: dict[str, dict[str, Any]], change: Any,
                              expected: str) -> None:
    doc = copy.deepcopy(documents["run"])
    change(doc)
    errors = _errors(doc)
    assert errors
    assert any(expected in e for e in errors), errors
