"""Fixtures for the input-validation tests.

``pf`` is a writable copy of ``examples/demo`` with small helpers that change one cell of a CSV
file or one key of market.json, load the portfolio and find the problems it reports. Rows are
spreadsheet rows (header = 1), as in every problem xvaflow reports; a row may also be given by
the value of its first cell (the record id, e.g. ``"T001"``).
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from xvaflow.core.errors import InputError, Problem
from xvaflow.io.portfolio import load_portfolio
from xvaflow.portfolio import Portfolio

DEMO = Path(__file__).resolve().parents[3] / "examples" / "demo"
_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _json_path(path: str) -> list[str | int]:
    """``"curves.USD.par_quotes[3].rate"`` -> ``["curves", "USD", "par_quotes", 3, "rate"]``."""
    return [int(i) if i else k for k, i in _PATH_PART.findall(path)]


class Report:
    """The problems of a portfolio that failed to load."""

    def __init__(self, error: InputError) -> None:
        self.error = error
        self.problems = error.problems
        self.lines = error.lines()

    def __len__(self) -> int:
        return len(self.problems)

    def at(self, file: str, row: int | None, field: str | None) -> Problem:
        """The one problem reported at (file, row, field); its rendered line names all three."""
        found = [p for p in self.problems if (p.file, p.row, p.field) == (file, row, field)]
        assert len(found) == 1, f"expected one problem at {file} {row} {field}, got:\n" + \
            "\n".join(self.lines)
        line = str(found[0])
        assert line.startswith(file), line
        if row is not None:
            assert f" row {row}" in line, line
        if field is not None:
            assert f", {field}: " in line, line
        assert line.endswith(found[0].message)
        return found[0]

    def only(self, file: str, row: int | None, field: str | None) -> Problem:
        """Like :meth:`at`, and no other problem was reported (no echoes of the first)."""
        assert len(self.problems) == 1, "expected exactly one problem, got:\n" + \
            "\n".join(self.lines)
        return self.at(file, row, field)


class PortfolioDir:
    """A portfolio directory under ``tmp_path`` that tests edit one cell at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path

    # --- CSV -------------------------------------------------------------------------------
    def rows(self, name: str) -> list[list[str]]:
        with (self.path / name).open(newline="", encoding="utf-8") as fh:
            return list(csv.reader(fh))

    def write_rows(self, name: str, rows: list[list[str]]) -> None:
        with (self.path / name).open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh, lineterminator="\n").writerows(rows)

    def row_number(self, name: str, row: int | str) -> int:
        """Spreadsheet row of ``row`` (a row number, or the id in the first column)."""
        if isinstance(row, int):
            return row
        ids = [r[0] if r else "" for r in self.rows(name)]
        assert ids.count(row) == 1, f"{row!r} is not exactly once in {name}"
        return ids.index(row) + 1

    def column(self, name: str, column: str) -> int:
        header = self.rows(name)[0]
        assert column in header, f"{column!r} not in the header of {name}"
        return header.index(column)

    def cell(self, name: str, row: int | str, column: str) -> str:
        return self.rows(name)[self.row_number(name, row) - 1][self.column(name, column)]

    def set_cell(self, name: str, row: int | str, column: str, value: str) -> int:
        """Write ``value`` into one cell; returns the spreadsheet row."""
        number, col = self.row_number(name, row), self.column(name, column)
        rows = self.rows(name)
        rows[number - 1][col] = value
        self.write_rows(name, rows)
        return number

    def set_cells(self, name: str, row: int | str, **values: str) -> int:
        number = self.row_number(name, row)
        for column, value in values.items():
            self.set_cell(name, number, column, value)
        return number

    def append_copy(self, name: str, row: int | str, **changes: str) -> int:
        """Append a copy of ``row`` with some cells changed; returns the new spreadsheet row."""
        rows = self.rows(name)
        new = list(rows[self.row_number(name, row) - 1])
        for column, value in changes.items():
            new[self.column(name, column)] = value
        rows.append(new)
        self.write_rows(name, rows)
        return len(rows)

    def rename_column(self, name: str, old: str, new: str) -> None:
        rows = self.rows(name)
        rows[0][self.column(name, old)] = new
        self.write_rows(name, rows)

    def drop_column(self, name: str, column: str) -> None:
        col = self.column(name, column)
        self.write_rows(name, [r[:col] + r[col + 1:] for r in self.rows(name)])

    def add_column(self, name: str, column: str, value: str = "") -> None:
        rows = self.rows(name)
        self.write_rows(name, [rows[0] + [column]] + [[*r, value] for r in rows[1:]])

    def keep_rows(self, name: str, *ids: str) -> None:
        """Keep the header and the rows whose first cell is in ``ids`` (in file order)."""
        rows = self.rows(name)
        self.write_rows(name, [rows[0]] + [r for r in rows[1:] if r[0] in ids])

    # --- market.json -----------------------------------------------------------------------
    def market(self) -> dict[str, Any]:
        return json.loads((self.path / "market.json").read_text(encoding="utf-8"))  # type: ignore

    def write_market(self, doc: Any) -> None:
        (self.path / "market.json").write_text(json.dumps(doc, indent=1), encoding="utf-8")

    def set_market(self, path: str, value: Any) -> None:
        """Set one key of market.json by its dotted path (``curves.USD.par_quotes[3].rate``)."""
        doc = self.market()
        *parents, last = _json_path(path)
        node: Any = doc
        for part in parents:
            node = node[part]
        node[last] = value
        self.write_market(doc)

    def del_market(self, path: str) -> None:
        doc = self.market()
        *parents, last = _json_path(path)
        node: Any = doc
        for part in parents:
            node = node[part]
        del node[last]
        self.write_market(doc)

    # --- loading ---------------------------------------------------------------------------
    def load(self) -> Portfolio:
        return load_portfolio(self.path)

    def errors(self) -> Report:
        """Load, expecting an :class:`InputError`; returns its problems."""
        with pytest.raises(InputError) as info:
            load_portfolio(self.path)
        return Report(info.value)


@pytest.fixture
def pf(tmp_path: Path) -> PortfolioDir:
    """A fresh, valid copy of the demo portfolio."""
    target = tmp_path / "portfolio"
    shutil.copytree(DEMO, target)
    return PortfolioDir(target)
