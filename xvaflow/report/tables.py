"""The tabular outputs (exposure, trades, stress): typed tables, written as CSV or Parquet.

The engine's aggregation builds a :class:`Table` of plain values (ids and text as ``str``,
dates as ISO ``str``, numbers as ``float``, ``None`` for a figure not computed); this module
alone decides how a file spells them:

- **CSV** (the default): numbers as Python's shortest round-trip repr, missing figures as an
  empty cell, ids a spreadsheet would evaluate as a formula with a leading apostrophe
  (:func:`csv_text`);
- **Parquet** (run.json ``"format": "parquet"``, ``--format parquet``; the ``parquet`` extra):
  ids and text as strings (as given, no apostrophe), dates as ``date32``, numbers as
  ``float64`` with nulls for missing figures.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from xvaflow.portfolio import OUTPUT_FORMATS
from xvaflow.xva.adjustments import METRICS

FORMATS = OUTPUT_FORMATS
EXPOSURE_COLUMNS = ("netting_set_id", "date", "time", "ee", "epe", "ene", "pfe_95", "pfe_975",
                    "pfe_99", "expected_collateral", "basel_ee",
                    *(f"{m}_contribution" for m in METRICS), "epe_stderr", "ene_stderr",
                    "ead", "capital_ccr", "capital_cva")
TRADE_COLUMNS = ("trade_id", "netting_set_id", "counterparty_id", "product", "currency", "npv",
                 "npv_base", *METRICS)
STRESS_COLUMNS = ("scenario", "netting_set_id", "metric", "base", "stressed", "change",
                  "change_stderr")
#: Column kinds other than numbers: ``id`` (text from the inputs, escaped in CSV), ``text``
#: (our own codes), ``date``.
KINDS = {"netting_set_id": "id", "trade_id": "id", "counterparty_id": "id", "date": "date",
         "product": "text", "currency": "text", "scenario": "text", "metric": "text"}
DIGITS = {"time": 6}  # year fractions: 6 decimals (31 s) say all a date does


@dataclass(frozen=True)
class Table:
    """``rows`` of values in ``columns`` order; the file is ``<name>.<format>``."""

    name: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]

    def file(self, fmt: str) -> str:
        return f"{self.name}.{fmt}"


def encode(table: Table, fmt: str) -> bytes:
    """The file content of ``table`` in ``fmt`` (``csv`` or ``parquet``)."""
    return to_parquet(table) if fmt == "parquet" else to_csv(table)


def to_csv(table: Table) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(table.columns)
    cells = [_csv_cell(KINDS.get(c, "number"), DIGITS.get(c)) for c in table.columns]
    for row in table.rows:
        w.writerow([cell(v) for cell, v in zip(cells, row, strict=True)])
    return buf.getvalue().encode()


def to_parquet(table: Table) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = []
    for i, column in enumerate(table.columns):
        kind = KINDS.get(column, "number")
        values = [row[i] for row in table.rows]
        if kind == "date":
            arrays.append(pa.array([date.fromisoformat(v) for v in values], pa.date32()))
        elif kind in ("id", "text"):
            arrays.append(pa.array(values, pa.string()))
        else:
            arrays.append(pa.array([None if v is None or not math.isfinite(v) else float(v)
                                    for v in values], pa.float64()))
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_arrays(arrays, names=list(table.columns)), sink)
    return sink.getvalue()


def read_columns(data: bytes, fmt: str) -> dict[str, list[Any]]:
    """A table file back as column -> values (ids unescaped, dates ISO text, missing figures
    NaN): what :mod:`xvaflow.report.html` draws from."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(io.BytesIO(data))
        out = {}
        for name in table.column_names:
            values = table.column(name).to_pylist()
            kind = KINDS.get(name, "number")
            out[name] = ([v.isoformat() for v in values] if kind == "date" else values
                         if kind in ("id", "text") else
                         [math.nan if v is None else float(v) for v in values])
        return out
    rows = list(csv.reader(io.StringIO(data.decode())))
    header, body = rows[0], rows[1:]
    columns: dict[str, list[Any]] = {}
    for i, name in enumerate(header):
        kind = KINDS.get(name, "number")
        cells = [r[i] for r in body]
        columns[name] = ([unescape(c) for c in cells] if kind == "id" else cells
                         if kind in ("text", "date") else
                         [float(c) if c else math.nan for c in cells])
    return columns


def table_file(files: Mapping[str, bytes], name: str) -> tuple[bytes, str] | None:
    """(content, format) of the table ``name`` among an output set's files, if there."""
    return next(((files[f"{name}.{fmt}"], fmt) for fmt in FORMATS if f"{name}.{fmt}" in files),
                None)


#: First characters that make a spreadsheet evaluate a cell (OWASP "CSV Injection"), and the
#: apostrophe itself, so that the escaping below is reversible.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


def csv_text(value: str) -> str:
    """A text cell that spreadsheets show rather than evaluate: ``value`` with a leading
    apostrophe (``'``) when it begins with ``=``, ``+``, ``-``, ``@``, TAB, CR or an apostrophe,
    else unchanged (OWASP's advice against CSV injection): a spreadsheet then takes the cell as
    text, never as a formula. A program reading the CSV gets the id back by removing one
    leading apostrophe from a value that has one (no other value starts with one)."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def unescape(value: str) -> str:
    """The id :func:`csv_text` escaped."""
    return value[1:] if value.startswith("'") else value


def _csv_cell(kind: str, digits: int | None) -> Any:
    if kind == "id":
        return csv_text
    if kind in ("text", "date"):
        return str
    if digits is not None:
        return lambda v: "" if v is None or not math.isfinite(v) else f"{v:.{digits}f}"
    return lambda v: "" if v is None or not math.isfinite(v) else repr(float(v))


def rows_of(records: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> list[tuple[Any, ...]]:
    """Table rows from dict records (a missing key: None)."""
    return [tuple(r.get(c) for c in columns) for r in records]
