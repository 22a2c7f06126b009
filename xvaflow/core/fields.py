"""Typed reading of one input record, collecting every problem instead of stopping at the first.

A :class:`FieldReader` wraps one CSV row (or JSON object) as strings. Each getter parses a field,
records a :class:`~xvaflow.core.errors.Problem` naming file, row and field when the value is
missing or malformed, and returns ``None`` in that case so that the caller can go on reading the
rest of the row. Empty cells mean "not applicable" (CONTRACT.md).
"""

from __future__ import annotations

import datetime as _dt
import math
import unicodedata
from collections.abc import Callable, Collection, Mapping
from typing import TypeVar

from xvaflow.core.dates import Tenor, parse_date, parse_tenor
from xvaflow.core.errors import ProblemLog

T = TypeVar("T")

_LINE_SEPARATORS = ("\u2028", "\u2029")


def unsafe_character(text: str) -> str | None:
    """Why ``text`` cannot be an identifier or a column name, or None when it can.

    Control characters (NUL, tabs, line breaks, escapes: Unicode category Cc), format characters
    (category Cf: the bidirectional overrides and isolates U+202A-U+202E, U+2066-U+2069 that
    make text display in another order than it compares, zero-width spaces and joiners) and the
    Unicode line separators make an id look like another one, or break the CSV, the log line or
    the terminal that shows it.
    """
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Cf") or ch in _LINE_SEPARATORS:
            name = unicodedata.name(ch, "")
            shown = f"U+{ord(ch):04X}" + (f" {name}" if name else "")
            return (f"contains the invisible or control character {shown} (ids and column "
                    "names must be printable text)")
    return None


class FieldReader:
    """Parse the fields of one record.

    Args:
        values: field name -> raw text (``None`` or ``""`` for an empty cell).
        log: where problems are recorded.
        file: file name for messages.
        row: 1-based row number (header = 1), or None for JSON records.
        key: record identifier for messages (e.g. the trade id), if known.
        prefix: prepended to field names in messages (JSON paths, e.g. ``"equities.SPX."``).
    """

    def __init__(
        self,
        values: Mapping[str, str | None],
        log: ProblemLog,
        file: str,
        row: int | None,
        key: str | None = None,
        prefix: str = "",
    ) -> None:
        self.values = values
        self.log = log
        self.file = file
        self.row = row
        self.key = key
        self.prefix = prefix
        self.ok = True  # False once any problem was recorded through this reader

    def problem(self, field: str | None, message: str) -> None:
        """Record a problem about ``field`` of this record."""
        self.ok = False
        name = None if field is None else self.prefix + field
        self.log.add(self.file, self.row, name, message, self.key)

    def warn(self, field: str | None, message: str) -> None:
        name = None if field is None else self.prefix + field
        self.log.warn(self.file, self.row, name, message, self.key)

    def raw(self, field: str) -> str | None:
        """Stripped text of a field, or None when empty or absent."""
        v = self.values.get(field)
        if v is None:
            return None
        v = v.strip()
        return v or None

    def has(self, field: str) -> bool:
        return self.raw(field) is not None

    def _get(self, field: str, required: bool, parse: Callable[[str], T]) -> T | None:
        text = self.raw(field)
        if text is None:
            if required:
                self.problem(field, "is required but empty" if field in self.values
                             else "is required but the column is missing")
            return None
        try:
            return parse(text)
        except ValueError as exc:
            self.problem(field, str(exc))
            return None

    def text(self, field: str, required: bool = True) -> str | None:
        return self._get(field, required, lambda s: s)

    def number(
        self,
        field: str,
        required: bool = True,
        *,
        positive: bool = False,
        non_negative: bool = False,
        lower: float | None = None,
        upper: float | None = None,
    ) -> float | None:
        """A finite float, optionally constrained (bounds inclusive)."""

        def parse(s: str) -> float:
            try:
                v = float(s)
            except ValueError:
                raise ValueError(f"{s!r} is not a number") from None
            if not math.isfinite(v):
                raise ValueError(f"{s!r} is not a finite number")
            if positive and v <= 0.0:
                raise ValueError(f"must be positive, got {s}")
            if non_negative and v < 0.0:
                raise ValueError(f"must not be negative, got {s}")
            if lower is not None and v < lower:
                raise ValueError(f"must be at least {lower:g}, got {s}")
            if upper is not None and v > upper:
                raise ValueError(f"must be at most {upper:g}, got {s}")
            return v

        return self._get(field, required, parse)

    def integer(self, field: str, required: bool = True, *,
                minimum: int | None = None, maximum: int | None = None) -> int | None:
        def parse(s: str) -> int:
            try:
                f = float(s)
            except ValueError:
                raise ValueError(f"{s!r} is not an integer") from None
            if not f.is_integer():
                raise ValueError(f"{s!r} is not an integer")
            if minimum is not None and f < minimum:
                raise ValueError(f"must be at least {minimum}, got {s}")
            if maximum is not None and f > maximum:
                raise ValueError(f"must be at most {maximum}, got {s}")
            return int(f)

        return self._get(field, required, parse)

    def date(self, field: str, required: bool = True) -> _dt.date | None:
        return self._get(field, required, parse_date)

    def tenor(self, field: str, required: bool = True) -> Tenor | None:
        return self._get(field, required, parse_tenor)

    def choice(
        self,
        field: str,
        options: Collection[str],
        required: bool = True,
        *,
        what: str = "value",
        case_sensitive: bool = False,
    ) -> str | None:
        """One of ``options``; matched case-insensitively unless asked, returned as listed."""
        lookup = {o if case_sensitive else o.lower(): o for o in options}

        def parse(s: str) -> str:
            found = lookup.get(s if case_sensitive else s.lower())
            if found is None:
                hint = next((o for o in options if o.lower() == s.lower()), None)
                if hint is not None:
                    raise ValueError(f"unknown {what} {s!r} (did you mean {hint!r}? "
                                     "it is case-sensitive)")
                shown = ", ".join(sorted(options))
                raise ValueError(f"unknown {what} {s!r}; expected one of {shown}")
            return found

        return self._get(field, required, parse)

    def parsed(self, field: str, parse: Callable[[str], T], required: bool = True) -> T | None:
        """Any value whose parser raises ``ValueError`` with a user-facing message."""
        return self._get(field, required, parse)

    def forbid(self, fields: Collection[str], reason: str) -> None:
        """Record a problem for each of ``fields`` that is filled although it must not be."""
        for f in fields:
            if self.has(f):
                self.problem(f, f"must be empty {reason}")
