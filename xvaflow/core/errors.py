"""Typed errors and the problem records they carry.

Every user mistake is reported as a :class:`Problem` naming the file, the row and the field it
concerns. Loaders collect *all* problems of an input before raising one :class:`InputError`, so
that a user fixes a portfolio in one pass. The command line prints one line per problem and exits
with status 2, without a traceback; anything else that escapes is an internal error (status 1).

Row numbers are 1-based line numbers of the file as a spreadsheet or editor shows them: the CSV
header is row 1, the first data row is row 2. JSON files have no rows; their ``field`` is a dotted
path such as ``curves.EUR.par_quotes[1].rate``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input.

    Attributes:
        file: file name relative to the portfolio directory, e.g. ``trades.csv``.
        row: 1-based row (header = 1), or ``None`` for whole-file or JSON problems.
        field: column name or JSON path, or ``None`` when the problem is about the whole row.
        message: what is wrong and, where useful, what was expected.
        key: the identifier of the record (trade id, netting set id, ...) when known.
    """

    file: str
    row: int | None
    field: str | None
    message: str
    key: str | None = None

    def __str__(self) -> str:
        where = _shown(self.file)
        if self.row is not None:
            where += f" row {self.row}"
        if self.key is not None:
            where += f" ({_shown(self.key)})"
        if self.field is not None:
            where += f", {_shown(self.field)}"
        return f"{where}: {self.message}"


def _shown(text: str) -> str:
    """``text`` as is when printable, else escaped (``repr``): a NUL, escape sequence or
    bidirectional override taken from an input must not reach the terminal or log raw."""
    return text if text.isprintable() else repr(text)


class XvaflowError(Exception):
    """Base class of every error xvaflow raises on purpose."""


class InputError(XvaflowError):
    """The user's input is wrong. Carries every problem found, in file order."""

    def __init__(self, problems: Iterable[Problem], warnings: Iterable[Problem] = ()) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.warnings: tuple[Problem, ...] = tuple(warnings)
        if not self.problems:
            raise ValueError("InputError needs at least one problem")
        first = str(self.problems[0])
        more = len(self.problems) - 1
        super().__init__(first if more == 0 else f"{first} (and {more} more problems)")

    def lines(self) -> list[str]:
        """One human-readable line per problem."""
        return [str(p) for p in self.problems]


class PipelineError(XvaflowError):
    """A pipeline stage cannot complete (missing partition results, failed worker, ...)."""


class ProblemLog:
    """Collects problems while a loader walks its inputs, then raises them together."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    def add(
        self,
        file: str,
        row: int | None,
        field: str | None,
        message: str,
        key: str | None = None,
    ) -> None:
        self.problems.append(Problem(file, row, field, message, key))

    def warn(
        self,
        file: str,
        row: int | None,
        field: str | None,
        message: str,
        key: str | None = None,
    ) -> None:
        self.warnings.append(Problem(file, row, field, message, key))

    def extend(self, other: ProblemLog) -> None:
        self.problems.extend(other.problems)
        self.warnings.extend(other.warnings)

    def __bool__(self) -> bool:
        return bool(self.problems)

    def raise_if_any(self, error: type[InputError] = InputError) -> None:
        """Raise ``error`` carrying every collected problem, if there is at least one."""
        if self.problems:
            raise error(self.problems, self.warnings)
