"""Reading CSV (and Parquet) tables into raw rows, with header checks.

Rows come back as ``(row number, {column: text})`` with row numbers as a spreadsheet shows them
(header = 1; a quoted cell spanning several lines stays one row), and with every header column
present (missing trailing cells read as empty). Missing required columns are problems on row 1;
columns nobody reads, and columns without a name, are warnings (CONTRACT.md: "extra columns are
ignored with a warning"). Parquet files are converted to the same text form so that one
validation path serves both (floats keep their exact ``repr``).
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import math
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

from xvaflow.core.errors import ProblemLog
from xvaflow.core.fields import unsafe_character
from xvaflow.io.files import TABLE_LIMIT, read_input

Row = tuple[int, dict[str, str | None]]


def _check_header(header: list[str], name: str, log: ProblemLog, required: Collection[str],
                  known: Collection[str]) -> bool:
    ok = True
    seen: set[str] = set()
    for i, col in enumerate(header, start=1):
        if (why := unsafe_character(col)) is not None:
            log.add(name, 1, f"column {i}", f"name {col!r} {why}")
            ok = False
        elif not col:  # e.g. the trailing empty cells of a spreadsheet export
            log.warn(name, 1, None, f"column {i} has no name, ignored")
        elif col in seen:
            log.add(name, 1, col, "column appears twice in the header")
            ok = False
        seen.add(col)
    for col in required:
        if col not in seen:
            found = next((h for h in header if h.lower() == col.lower()), None)
            extra = f" (found {found!r}; column names are case-sensitive)" if found else ""
            log.add(name, 1, col, f"required column is missing from the header{extra}")
            ok = False
    for col in header:
        if col and col not in known and unsafe_character(col) is None:
            hint = next((k for k in known if k.lower() == col.strip().lower()), None)
            extra = f" (did you mean {hint!r}? column names are case-sensitive)" if hint else ""
            log.warn(name, 1, col, f"unknown column, ignored{extra}")
    return ok


def _check_ids(row: Mapping[str, str | None], name: str, row_no: int, log: ProblemLog) -> None:
    """Identifiers (every ``*_id`` column) must be printable text (see
    :func:`~xvaflow.core.fields.unsafe_character`)."""
    for col, value in row.items():
        if col.endswith("_id") and value and (why := unsafe_character(value)) is not None:
            log.add(name, row_no, col, f"{value!r} {why}")


class AnyColumns(Collection[str]):
    """``known`` for :func:`read_csv` when every column is accepted (the caller deals with
    the ones it does not use): iterates as ``listed``, for messages."""

    def __init__(self, listed: Collection[str] = ()) -> None:
        self.listed = tuple(listed)

    def __contains__(self, item: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self.listed)

    def __len__(self) -> int:
        return len(self.listed)


def read_csv(path: Path, log: ProblemLog, required: Collection[str], known: Collection[str],
             name: str | None = None) -> list[Row] | None:
    """Read a CSV file with a header row.

    Returns:
        The rows, or None when the file cannot be read or its header lacks required columns
        (problems recorded in ``log``).
    """
    name = name or path.name
    data = read_input(path, log, TABLE_LIMIT, name)
    if data is None:
        return None
    try:
        with io.StringIO(data.decode("utf-8-sig"), newline="") as fh:
            reader = csv.reader(fh)
            try:
                header = [h.strip() for h in next(reader)]
            except StopIteration:
                log.add(name, None, None, "file is empty (expected a header row)")
                return None
            if len(header) == 1 and ";" in header[0]:  # e.g. saved by a localised spreadsheet
                log.add(name, 1, None, "columns must be separated by commas, not semicolons")
                return None
            if not _check_header(header, name, log, required, known):
                return None
            rows: list[Row] = []
            # Count records, not lines: a quoted cell with a line break is one spreadsheet row.
            for row_no, values in enumerate(reader, start=2):
                if not any(v.strip() for v in values):
                    continue  # blank line
                if len(values) > len(header):
                    log.add(name, row_no, None,
                            f"has {len(values)} cells but the header has {len(header)} columns")
                    continue
                values += [""] * (len(header) - len(values))
                row: dict[str, str | None] = dict(zip(header, values, strict=True))
                _check_ids(row, name, row_no, log)
                rows.append((row_no, row))
            return rows
    except UnicodeDecodeError as exc:
        log.add(name, None, None, f"is not UTF-8 text ({exc.reason})")
    except csv.Error as exc:
        log.add(name, None, None, f"is not valid CSV: {exc}")
    return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        return None if math.isnan(value) else repr(value)
    if isinstance(value, _dt.datetime):
        return value.date().isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    return str(value)


def read_parquet(path: Path, log: ProblemLog, required: Collection[str],
                 known: Collection[str]) -> list[Row] | None:
    """Read a Parquet table; row numbers count as if it were a CSV with a header (first = 2)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        log.add(path.name, None, None,
                "reading Parquet needs pyarrow: pip install 'xvaflow[parquet]' (or use CSV)")
        return None
    data = read_input(path, log, TABLE_LIMIT)
    if data is None:
        return None
    try:
        table = pq.read_table(pa.BufferReader(data))
    except Exception as exc:  # pyarrow raises several unrelated types for bad files
        log.add(path.name, None, None, f"is not a readable Parquet file: {exc}")
        return None
    header = list(table.column_names)
    if not _check_header(header, path.name, log, required, known):
        return None
    columns = {c: [_text(v) for v in table.column(c).to_pylist()] for c in header}
    rows = [(i + 2, {c: columns[c][i] for c in header}) for i in range(table.num_rows)]
    for row_no, row in rows:
        _check_ids(row, path.name, row_no, log)
    return rows
