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


def sensitivity_rows(section: dict[str, Any]) -> list[dict[str, Any]]:
    """results.json ``sensitivities`` as flat rows, portfolio first, then per netting set:
    ``{"netting_set_id": None | id, "metric", "kind", "key", "value", "stderr"}``; ``key``
    joins the levels below the kind with ``.`` (``USD.5Y``, ``CP_ACME.flat``, ``EURUSD``)."""
    errors = section.get("stderr") or {}
    scopes: list[tuple[str | None, dict[str, Any], dict[str, Any]]] = [
        (None, section.get("totals") or {}, errors.get("totals") or {})]
    scopes += [(ns, tree, (errors.get("netting_sets") or {}).get(ns) or {})
               for ns, tree in (section.get("netting_sets") or {}).items()]
    rows = []
    for ns, tree, err in scopes:
        for metric, kinds in tree.items():
            for kind, keys in kinds.items():
                for key, value in _leaves(keys):
                    se: Any = (err.get(metric) or {}).get(kind) or {}
                    for part in key:
                        se = se.get(part) if isinstance(se, dict) else None
                    rows.append({"netting_set_id": ns, "metric": metric, "kind": kind,
                                 "key": ".".join(key), "value": value, "stderr": se})
    return rows


def _leaves(tree: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    if isinstance(tree, dict):
        return [leaf for k, v in tree.items() for leaf in _leaves(v, (*path, k))]
    return [(path, tree)]
