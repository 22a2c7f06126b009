"""JSONPath in the definition: reference paths, payload templates (``.$`` keys), ResultPath, and
:class:`StatesError`, how they (and every state) fail.

Paths are the subset the definition writes, member names: ``$``, ``$.name.name`` and the same
under ``$$`` (the context object). Indexes, wildcards, filters, slices, quoted names and recursive
descent are rejected by the validator, the path in the message.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any, Final, Literal, TypeAlias

from xvaflow.pipeline.asl.intrinsics import IntrinsicFailure, call_intrinsic, parse_intrinsic

MISSING: Final = object()
Kind: TypeAlias = Literal["error", "fatal", "timeout"]


class StatesError(Exception):
    """A state failed with ASL error ``error``. ``kind`` says who may handle it, as in AWS:
    ``error``: Retry and Catch; ``fatal`` (States.Runtime, States.DataLimitExceeded): nobody,
    the execution fails; ``timeout`` (the execution's TimeoutSeconds): nobody, it times out."""

    def __init__(self, error: str, cause: str = "", kind: Kind = "error") -> None:
        super().__init__(f"{error}: {cause}" if cause else error)
        self.error, self.cause, self.kind = error, cause, kind


def runtime_error(cause: str) -> StatesError:
    """``States.Runtime``: a path that does not resolve, a result that is not JSON, ..."""
    return StatesError("States.Runtime", cause, "fatal")


_PATH_RE: Final = re.compile(r"\$\$?(\.[\w-]+)*")


@lru_cache(maxsize=1024)
def parse_path(text: str) -> tuple[str, ...]:
    """``("$", name, ...)``, or ``("$$", name, ...)`` for the context object.

    Raises:
        ValueError: the text is not a path of the subset (named in the message).
    """
    if _PATH_RE.fullmatch(text) is None:
        raise ValueError(f"JSONPath '{text}' is not supported by the local runner (supported: "
                         "$, $.name.name, and the same under $$)")
    return tuple(text.split("."))


def lookup(path: str, data: Any, context: Any) -> Any:
    """The value at ``path`` (in ``context`` for a ``$$`` path), or :data:`MISSING`."""
    root, *names = parse_path(path)
    node = context if root == "$$" else data
    for name in names:
        if not isinstance(node, dict) or name not in node:
            return MISSING
        node = node[name]
    return node


def get(text: str, data: Any, context: Any, what: str) -> Any:
    """The value at path ``text``; a path that does not resolve is ``States.Runtime``, which
    no Catch intercepts (as in AWS)."""
    value = lookup(text, data, context)
    if value is MISSING:
        source = "the context object" if text.startswith("$$") else f"input {short(data)}"
        raise runtime_error(f"The JSONPath '{text}' specified for {what} could not be found in "
                            f"{source}")
    return value


def evaluate(expr: str, data: Any, context: Any, what: str) -> Any:
    """A ``.$`` value, ErrorPath or CausePath: a path or an intrinsic function call."""
    if not expr.startswith("States."):
        return get(expr, data, context, what)
    try:
        return call_intrinsic(expr, lambda path: get(path, data, context, what))
    except IntrinsicFailure as exc:
        raise StatesError("States.IntrinsicFailure", str(exc)) from None


def render(template: Any, data: Any, context: Any, what: str) -> Any:
    """A payload template (Parameters, ItemSelector, ResultSelector) applied to ``data``: each
    ``"key.$": expr`` becomes ``"key": value``, everything else is copied."""
    if isinstance(template, dict):
        return {key[:-2] if key.endswith(".$") else key:
                evaluate(value, data, context, f"the field '{key}' of {what}")
                if key.endswith(".$") else render(value, data, context, what)
                for key, value in template.items()}
    if isinstance(template, list):
        return [render(value, data, context, what) for value in template]
    return template


def set_result(path: str | None, raw: Any, result: Any) -> Any:
    """``raw`` with ``result`` placed at ResultPath ``path`` (``None``: ``raw`` unchanged);
    objects on the way are created or copied, so ``raw`` itself is never modified.

    Raises:
        StatesError: ``States.ResultPathMatchFailure`` (catchable) when the path crosses a
            value that is not an object.
    """
    steps = parse_path(path)[1:] if path is not None else ()  # names under "$" (validated)
    if not steps:
        return raw if path is None else result
    root: dict[str, Any] = {"$": raw}  # a handle: the input is an object on the way like others
    node = root
    for step in ("$", *steps[:-1]):
        child = node.get(step, {})
        if not isinstance(child, dict):
            raise StatesError("States.ResultPathMatchFailure", f"Unable to apply ResultPath "
                              f"'{path}' to input {short(raw)}: '{step}' is not an object")
        node[step] = dict(child)
        node = node[step]
    node[steps[-1]] = result
    return root["$"]


def expression_problem(value: Any, intrinsics: bool = True) -> str | None:
    """Why a path (or, with ``intrinsics``, an intrinsic function call: a ``.$`` value,
    ErrorPath, CausePath) cannot run here; ``None`` when it can."""
    try:
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not a JSONPath" + " or an intrinsic function call"
                             * intrinsics)
        if intrinsics and value.startswith("States."):
            for arg in parse_intrinsic(value)[1]:
                if arg.startswith("$"):
                    parse_path(arg)
        else:
            parse_path(value)
    except ValueError as exc:
        return str(exc)
    return None


def short(value: Any, limit: int = 200) -> str:
    """``value`` as compact JSON, cut at ``limit`` characters (for error causes)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=repr)
    return text if len(text) <= limit else text[: limit - 3] + "..."
