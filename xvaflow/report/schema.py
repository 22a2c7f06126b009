"""The JSON Schema (draft 2020-12) of results.json, built here and published as
docs/results.schema.json (``python -m xvaflow.report.schema > docs/results.schema.json``; a test
keeps the two equal and validates the documents of every command against it).

Closed: an object lists its fields (``additionalProperties: false``), so a field the docs do
not know fails validation, as does a number where null is not allowed. Keyed objects (netting
set, trade, counterparty ids) constrain their values. Field meanings and units are in
docs/outputs.md.
"""

from __future__ import annotations

import json
from typing import Any

from xvaflow.portfolio import OUTPUT_FORMATS
from xvaflow.report.results import SCHEMA_VERSION

Schema = dict[str, Any]

NUM: Schema = {"type": "number"}
INT: Schema = {"type": "integer"}
TEXT: Schema = {"type": "string"}
BOOL: Schema = {"type": "boolean"}
NULL: Schema = {"type": "null"}
DATE: Schema = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
CCY: Schema = {"type": "string", "pattern": "^[A-Z]{3}$"}
METRICS = ("cva", "dva", "fca", "fba")


def nullable(schema: Schema) -> Schema:
    """``schema`` or null (as a type list where it can: validation errors stay specific)."""
    if isinstance(schema.get("type"), str):
        return {**schema, "type": [schema["type"], "null"]}
    return {"anyOf": [schema, NULL]}


def obj(fields: dict[str, Schema], optional: tuple[str, ...] = ()) -> Schema:
    """An object with exactly these fields (those in ``optional`` may be absent)."""
    return {"type": "object", "properties": fields,
            "required": [k for k in fields if k not in optional],
            "additionalProperties": False}


def keyed(values: Schema, keys: Schema | None = None) -> Schema:
    """An object mapping ids (or ``keys``) to ``values``."""
    out: Schema = {"type": "object", "additionalProperties": values}
    if keys is not None:
        out["propertyNames"] = keys
    return out


METRIC_KEYS: Schema = {"enum": list(METRICS)}

RUN = obj({
    "command": {"enum": ["price", "capital", "whatif", "margin"]},
    "run_id": TEXT, "wall_seconds": NUM, "paths": INT, "seed": INT,
    "grid": {"anyOf": [TEXT, {"type": "array", "items": {"type": ["string", "number"]}}]},
    "grid_default": BOOL, "horizon_short": {"type": "array", "items": TEXT},
    "steps": INT, "exposure_dates": INT, "partitions": INT, "workers": INT,
    "backend": {"enum": ["numpy", "cupy"]}, "antithetic": BOOL, "bilateral": BOOL,
    "format": {"enum": list(OUTPUT_FORMATS)},
    "backend_fallback": obj({"backend": TEXT, "partitions": keyed(TEXT)}),
    "stage_seconds": obj({"partition": NUM, "slowest_partition": NUM}),
    "model": obj({
        "hull_white": keyed(obj({
            "mean_reversion": NUM, "volatility": NUM,
            "source": {"enum": ["market.json", "calibrated"]},
            "fit_rms_bp": NUM, "fit_max_bp": NUM, "instruments": INT},
            optional=("fit_rms_bp", "fit_max_bp", "instruments")), CCY),
        "factors": {"type": "array", "items": TEXT},
        "correlation_repaired": BOOL, "correlation_max_change": NUM,
        "fx_equity_vols": keyed(obj({"pieces": INT, "fit_max_vol_error": NUM,
                                     "unreachable_knots": INT}))}),
}, optional=("command", "paths", "seed", "grid", "grid_default", "horizon_short", "steps",
             "exposure_dates", "partitions", "workers", "backend", "antithetic", "bilateral",
             "format", "backend_fallback", "stage_seconds", "model"))

_FIGURES = {m: nullable(NUM) for m in METRICS} | {f"{m}_stderr": nullable(NUM) for m in METRICS}
TOTALS = obj({**_FIGURES, "fva": nullable(NUM), "fva_stderr": NUM, "mva": NULL,
              "kva": nullable(NUM), "colva": nullable(NUM)}, optional=("fva_stderr",))
NETTING_SETS = keyed(obj({
    "counterparty_id": TEXT, "csa_id": nullable(TEXT), **_FIGURES, "npv": NUM, "eepe": NUM,
    "peak_pfe_975": NUM, "mva": NULL, "kva": nullable(NUM), "colva": nullable(NUM)}))
TRADES = keyed(obj({
    "netting_set_id": TEXT, "product": TEXT, "npv": nullable(NUM), "currency": CCY,
    "npv_base": nullable(NUM), **{m: nullable(NUM) for m in METRICS}},
    optional=METRICS))  # `price` writes t0 values only
CAPITAL = obj({
    "saccr": keyed(obj({
        "margined": BOOL, "v": NUM, "c": NUM, "rc": NUM,
        "multiplier": {"type": "number", "minimum": 0.05, "maximum": 1.0}, "addon": NUM,
        "addon_ir": NUM, "addon_fx": NUM, "addon_eq": NUM, "pfe": NUM, "ead": NUM,
        "ead_unmargined": nullable(NUM)})),
    "ba_cva": obj({"reduced": NUM, "full": nullable(NUM), "by_counterparty": keyed(NUM)}),
})
_CHANGE = obj({"base": nullable(NUM), "stressed": nullable(NUM), "change": nullable(NUM),
               "change_stderr": nullable(NUM)})
STRESS = nullable(obj({
    "scenarios": keyed(keyed(_CHANGE, METRIC_KEYS)),
    "hazard_shift_fallbacks": keyed({"type": "array", "items": TEXT}),
}))
_BY_KIND = obj({
    "ir_delta": keyed(keyed(NUM)), "ir_gamma": keyed(NUM), "fx_delta": keyed(NUM),
    "eq_delta": keyed(NUM), "ir_vega": keyed(NUM), "fx_vega": keyed(NUM),
    "eq_vega": keyed(NUM), "cs01": keyed(keyed(NUM))},
    optional=("ir_delta", "ir_gamma", "fx_delta", "eq_delta", "ir_vega", "fx_vega", "eq_vega",
              "cs01"))
_TREE = keyed(_BY_KIND, METRIC_KEYS)
SENSITIVITIES = nullable(obj({
    "bumps": obj({k: NUM for k in ("ir_bp", "credit_bp", "fx_rel", "eq_rel", "ir_vol_bp",
                                   "fx_vol", "eq_vol")},
                 optional=("ir_bp", "credit_bp", "fx_rel", "eq_rel", "ir_vol_bp", "fx_vol",
                           "eq_vol")),
    "totals": _TREE, "netting_sets": keyed(_TREE),
    "stderr": obj({"totals": _TREE, "netting_sets": keyed(_TREE)}),
}))
_INCREMENT = obj({"base": NUM, "with_trades": NUM, "increment": NUM, "increment_stderr": NUM})
WHATIF = obj({
    "netting_sets": keyed({
        "type": "object",
        "properties": {"ead": obj({"base": NUM, "with_trades": NUM, "increment": NUM})},
        "patternProperties": {"^(cva|dva|fca|fba|fva)$": _INCREMENT},
        "additionalProperties": False}),
    "totals": keyed(_INCREMENT, {"enum": [*METRICS, "fva"]}),
    "trades": keyed(obj({"netting_set_id": TEXT, "product": TEXT, "currency": CCY,
                         "npv": NUM, "npv_base": NUM})),
    "grid": {"anyOf": [TEXT, {"type": "array", "items": {"type": ["string", "number"]}}]},
    "seconds": NUM,
})


_SIDES = obj({"received": NUM, "posted": NUM})
CCP = nullable(obj({
    "model": TEXT, "lambda": NUM, "tail": NUM, "scenarios": INT, "first_date": DATE,
    "last_date": DATE,
    "netting_sets": keyed(obj({"received": NUM, "posted": NUM, "mtm": NUM,
                               "holding_days": INT})),
    "members": keyed(obj({"received": NUM, "posted": NUM, "mtm": NUM,
                          "netting_sets": {"type": "array", "items": TEXT}})),
}))
INITIAL_MARGIN = obj({
    "model": TEXT, "mpor_days": {"enum": [10, 1]}, "calculation_currency": CCY, "source": TEXT,
    "usd_per_base": NUM, "totals": _SIDES,
    "netting_sets": keyed(obj({"received": NUM, "posted": NUM, "received_usd": NUM,
                               "posted_usd": NUM, "breakdown_usd": keyed(NUM)})),
    "ccp": CCP,
})


def _command(name: str, sections: tuple[str, ...]) -> Schema:
    """``if run.command == name then these sections are required``."""
    return {"if": {"properties": {"run": {"properties": {"command": {"const": name}},
                                          "required": ["command"]}}},
            "then": {"required": list(sections)}}


def results_schema() -> Schema:
    """The schema of results.json (every command's)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://xvaflow.dev/schemas/results.schema.json",
        "title": f"xvaflow results.json, schema_version {SCHEMA_VERSION}",
        "description": "Written by xvaflow run, price, capital, whatif and margin; field "
                       "meanings and units in docs/outputs.md.",
        **obj({"schema_version": {"const": SCHEMA_VERSION}, "as_of": DATE, "base_currency": CCY,
               "run": RUN, "totals": TOTALS, "netting_sets": NETTING_SETS, "stress": STRESS,
               "sensitivities": SENSITIVITIES, "capital": CAPITAL, "trades": TRADES,
               "whatif": WHATIF, "initial_margin": INITIAL_MARGIN},
              optional=("totals", "netting_sets", "stress", "sensitivities", "capital",
                        "trades", "whatif", "initial_margin")),
        "allOf": [
            _command("price", ("trades",)), _command("capital", ("capital",)),
            _command("whatif", ("whatif",)), _command("margin", ("initial_margin",)),
            {"if": {"properties": {"run": {"not": {"required": ["command"]}}}},  # `run`
             "then": {"required": ["totals", "netting_sets", "stress", "sensitivities",
                                   "capital", "trades"]}},
        ],
    }


def schema_text() -> str:
    """docs/results.schema.json's content."""
    return json.dumps(results_schema(), indent=2) + "\n"


if __name__ == "__main__":  # pragma: no cover - the docs' generator
    print(schema_text(), end="")
