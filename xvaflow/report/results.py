"""results.json (CONTRACT.md, "Outputs"): writing the sections produced so far.

Metrics that are not computed are ``null``, never 0. The commands publish the files as one set
(:func:`xvaflow.pipeline.publish.publish_outputs`), so a reader never sees a half-written or
mixed result.
"""

from __future__ import annotations

import json
import math
from typing import Any

from xvaflow.pricing.t0 import TradeValues
from xvaflow.products.tables import CompiledPortfolio

SCHEMA_VERSION = 1


def trades_section(compiled: CompiledPortfolio, values: TradeValues) -> dict[str, Any]:
    """``{"T1": {"netting_set_id", "product", "npv", "currency", "npv_base"}, ...}`` in trade
    order."""
    return {
        tid: {"netting_set_id": compiled.netting_set_ids[compiled.netting_set[i]],
              "product": compiled.products[i], "npv": _num(values.npv[i]),
              "currency": compiled.currencies[compiled.trade_currency[i]],
              "npv_base": _num(values.npv_base[i])}
        for i, tid in enumerate(compiled.trade_ids)
    }


def _num(x: Any) -> float | None:
    v = float(x)
    return v if math.isfinite(v) else None


def json_bytes(document: dict[str, Any]) -> bytes:
    """A JSON output file's content (no NaN: missing metrics are null)."""
    return (json.dumps(document, indent=2, allow_nan=False) + "\n").encode()
