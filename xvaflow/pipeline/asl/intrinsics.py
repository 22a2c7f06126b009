"""Intrinsic functions: the two the definition uses, ``States.Format`` and ``States.StringSplit``.

An argument is a string literal (``'...'``, backslash escapes) or a JSONPath that the caller
resolves. Every other function is rejected by name, and so are nested calls and number, boolean
or null literals: the definition has none, so moto's run of it (tests/pipeline/test_moto.py)
cannot check them against AWS.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, Final

SUPPORTED: Final = ("States.Format", "States.StringSplit")
_CALL_RE: Final = re.compile(r"(States\.\w+)\((.*)\)", re.DOTALL)
_FORMAT_RE: Final = re.compile(r"\\(.)|\{\}|[{}]")  # an escape, a placeholder, a lone brace
# one argument and the ',' after it: a quoted string (escapes kept) or a path
_ARG_RE: Final = re.compile(r"\s*('(?:[^'\\]|\\.)*'|\$[^,\s]*)\s*(?:,|$)")


class IntrinsicFailure(Exception):
    """A call's arguments do not fit the function (``States.IntrinsicFailure``, catchable)."""


@lru_cache(maxsize=256)
def parse_intrinsic(text: str) -> tuple[str, tuple[str, ...]]:
    """``States.Name(arg, ...)`` as ``(name, args)``, each argument as written: ``'...'`` (a
    string) or ``$...`` (a path).

    Raises:
        ValueError: the function is not supported (named), or the call is malformed.
    """
    call = _CALL_RE.fullmatch(text)
    name = call.group(1) if call else text.split("(", 1)[0]
    if name not in SUPPORTED:
        raise ValueError(f"intrinsic {name} is not supported by the local runner "
                         f"(supported: {', '.join(SUPPORTED)})")
    if call is None:
        raise ValueError(f"'{text}' is not an intrinsic function call")
    args: list[str] = []
    i, inner = 0, call.group(2)
    while i < len(inner) or not args:
        arg = _ARG_RE.match(inner, i)
        if arg is None or arg.end() == i:
            raise ValueError(f"'{text}': only 'string' and $path arguments are supported by the "
                             "local runner (no nested calls, no other literals)")
        args.append(arg.group(1))
        i = arg.end()
    if name == "States.StringSplit" and len(args) != 2:
        raise ValueError(f"'{text}': States.StringSplit takes 2 arguments, not {len(args)}")
    if name == "States.Format" and not args[0].startswith("'"):
        raise ValueError(f"'{text}': the template of States.Format must be a 'string'")
    return name, tuple(args)


def call_intrinsic(text: str, resolve: Callable[[str], Any]) -> Any:
    """The value of intrinsic call ``text``; ``resolve(path)`` gives a path argument's value.

    Raises:
        IntrinsicFailure: arguments of the wrong type.
    """
    name, args = parse_intrinsic(text)
    values = [_unescape(arg[1:-1]) if arg.startswith("'") else resolve(arg) for arg in args]
    if name == "States.StringSplit":
        string, delimiters = values
        if not (isinstance(string, str) and isinstance(delimiters, str) and delimiters):
            raise IntrinsicFailure(f"States.StringSplit needs two strings, got {values!r}")
        # every character of the second argument is a delimiter; empty tokens are dropped
        return [t for t in re.split("|".join(map(re.escape, delimiters)), string) if t]
    return _format(args[0][1:-1], values[1:])


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _format(template: str, values: Sequence[Any]) -> str:
    """``States.Format``: each ``{}`` takes the next value; ``\\{`` is a literal brace."""
    if sum(m.group(0) == "{}" for m in _FORMAT_RE.finditer(template)) != len(values):
        raise IntrinsicFailure(f"States.Format template '{template}' does not have one {{}} "
                               f"for each of its {len(values)} argument(s)")
    rest = iter(values)

    def piece(match: re.Match[str]) -> str:
        if match.group(1) is not None:  # an escaped character
            return match.group(1)
        if match.group(0) == "{}":
            return _text(next(rest))
        raise IntrinsicFailure(f"States.Format template '{template}': unescaped "
                               f"'{match.group(0)}'")

    return _FORMAT_RE.sub(piece, template)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, bool | int | float):
        return json.dumps(value)  # null, true, 3, 1.5: as AWS writes them
    raise IntrinsicFailure(f"States.Format cannot format {json.dumps(value)[:100]} (only "
                           "strings, numbers, booleans and null)")
