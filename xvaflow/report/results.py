"""results.json (CONTRACT.md, "Outputs"): writing the sections produced so far.

Metrics that are not computed are ``null``, never 0. Files are written atomically (temporary
file, then rename) so that a reader never sees a half-written result.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from xvaflow.pricing.t0 import TradeValues
from xvaflow.products.tables import CompiledPortfolio

SCHEMA_VERSION = 1


def trades_section(compiled: CompiledPortfolio, values: TradeValues) -> dict[str, Any]:
    """``{"T1": {"npv", "currency", "npv_base"}, ...}`` in trade order."""
    return {
        tid: {"npv": _num(values.npv[i]), "currency": compiled.currencies[
            compiled.trade_currency[i]], "npv_base": _num(values.npv_base[i])}
        for i, tid in enumerate(compiled.trade_ids)
    }


def _num(x: Any) -> float | None:
    v = float(x)
    return v if math.isfinite(v) else None


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same directory and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, document: dict[str, Any]) -> None:
    """Write JSON (no NaN: missing metrics are null) atomically."""
    write_text_atomic(path, json.dumps(document, indent=2, allow_nan=False) + "\n")
