"""Amazon States Language (ASL) interpreter: run a Step Functions definition in-process.

Generic: nothing here knows about XVA. The definition is the JSON document that AWS runs; a
caller binds each Task ``Resource`` string (after substituting ``${Placeholders}``) to a Python
callable, and :class:`Interpreter` executes the states with the semantics of AWS Step Functions
for the subset listed below. Anything outside that subset is refused up front with
:class:`UnsupportedDefinition` (every problem listed at once, each with the state and the field),
never silently ignored.

API
---
::

    definition = load_definition("statemachine/xva_pipeline.asl.json", substitutions)
    interp = Interpreter(definition, {"arn:aws:states:::lambda:invoke": LambdaInvoke(handlers),
                                      "arn:aws:states:::ecs:runTask.sync": EcsRunTaskSync(run)},
                         item_reader=read_json_array)
    execution = interp.run({"run_id": "r1"}, name="r1")
    execution.status, execution.output, execution.error, execution.cause, execution.events

- A *resource* is ``Callable[[params, TaskContext], result]``: ``params`` is the effective
  Parameters (or the effective input when the Task has no Parameters); the return value is the
  raw task result (it must be JSON-serialisable). To fail with a named error (so Retry and Catch
  can match it) raise :class:`TaskFailed` ``(error, cause)``, e.g. ``"Lambda.ServiceException"``
  or ``"ECS.AmazonECSException"``; any other exception becomes ``States.TaskFailed`` with the
  exception as cause. :class:`LambdaInvoke` and :class:`EcsRunTaskSync` wrap plain Python
  functions in the response shapes of the ``lambda:invoke`` and ``ecs:runTask.sync``
  integrations.
- ``item_reader(spec) -> list`` serves a Distributed Map ``ItemReader``; ``spec`` is
  ``{"Resource", "ReaderConfig", "Parameters"}`` with Parameters resolved (``Bucket``, ``Key``).
- ``result_writer(spec, results) -> output`` serves a Distributed Map ``ResultWriter``; without
  one a definition using ResultWriter is rejected (the Map output would otherwise differ from AWS).
- ``executor_factory(state_name, max_workers) -> Executor`` gives the executor that runs the
  iterations of one Map (or the branches of one Parallel) state; the interpreter never has more
  than ``max_workers`` (= MaxConcurrency, or all items when it is 0) of them in flight and shuts
  the executor down afterwards. The default is a thread pool. :class:`ProcessPoolFactory` gives a
  process pool: iterations are then submitted as picklable jobs (the module-level
  :func:`_run_job` with the sub-definition, the resources mapping and the options), so the
  resources, ``item_reader``, ``sleep`` etc. must be picklable (module-level functions or
  instances of module-level classes). An alternative that keeps orchestration in threads is to
  wrap a CPU-heavy resource with :func:`in_executor`.
- Injectable for deterministic tests: ``sleep``, ``clock`` (monotonic seconds), ``now`` (UTC
  datetime for timestamps), ``random`` (jitter and States.MathRandom), ``uuid_factory``
  (States.UUID and generated names; :class:`DeterministicUUIDs` gives a reproducible sequence).

Supported subset (JSONPath query language)
------------------------------------------
- States: Pass, Task, Choice, Wait, Succeed, Fail, Parallel, Map (INLINE and DISTRIBUTED).
- Paths: InputPath, Parameters / ItemSelector (payload templates with ``.$`` keys, context object
  ``$$``), ResultSelector, ResultPath (incl. ``null``), OutputPath (``null`` gives ``{}``).
  JSONPath subset: ``$``, ``$.a.b``, ``$.a[0]``, ``$['x']`` and the same under ``$$``. Wildcards,
  filters, slices, unions, negative indexes and recursive descent are rejected.
- Context object: ``$$.Execution.{Id,Name,Input,StartTime}``, ``$$.StateMachine.{Id,Name}``,
  ``$$.State.{Name,EnteredTime,RetryCount}``, ``$$.Map.Item.{Index,Value}`` (in ItemSelector).
- Intrinsic functions: States.Format, StringToJson, JsonToString, Array, ArrayPartition,
  ArrayContains, ArrayRange, ArrayGetItem, ArrayLength, ArrayUnique, Base64Encode, Base64Decode,
  Hash, JsonMerge (shallow only, as in AWS), MathRandom, MathAdd, StringSplit (empty tokens are
  dropped), UUID. Allowed where AWS allows them: ``.$`` values and Fail ErrorPath/CausePath.
- Choice: String*/Numeric*/Boolean*/Timestamp* comparisons and their ``...Path`` variants,
  StringMatches (``*`` wildcard, ``\\*`` literal), IsNull/IsPresent/IsNumeric/IsString/
  IsBoolean/IsTimestamp, And/Or/Not, Default. A comparison whose Variable is absent is a
  ``States.Runtime`` error (as in AWS); a value of the wrong type simply does not match.
- Wait: Seconds, SecondsPath, Timestamp, TimestampPath (through the injected ``sleep``).
- Fail: Error, Cause, ErrorPath, CausePath.
- Retry: ErrorEquals (``States.ALL``; ``States.TaskFailed`` matches every error except
  ``States.Timeout``), IntervalSeconds (default 1), MaxAttempts (default 3, 0 = never),
  BackoffRate (default 2.0), MaxDelaySeconds, JitterStrategy NONE/FULL. Delay before retry n
  (n = 0, 1, ...) is ``min(IntervalSeconds * BackoffRate**n, MaxDelaySeconds)``, times
  ``random()`` under FULL jitter. The first retrier whose ErrorEquals matches decides; when it
  is exhausted the error goes to Catch.
- Catch: ErrorEquals, Next, ResultPath (default ``$``) of ``{"Error": ..., "Cause": ...}``
  applied to the state's raw input.
- Map: ItemsPath, ItemSelector (or legacy Parameters), ItemProcessor (or legacy Iterator),
  ProcessorConfig Mode INLINE / DISTRIBUTED, MaxConcurrency / MaxConcurrencyPath (0 = all at
  once), ItemReader (``arn:aws:states:::s3:getObject``, ReaderConfig InputType JSON, MaxItems),
  ToleratedFailurePercentage / Count (and ``...Path``), Label, ResultWriter (only with a
  ``result_writer``). Failure semantics follow AWS: an INLINE Map fails with the error and cause
  of the failed iteration; a DISTRIBUTED Map counts failed child executions and fails with
  ``States.ExceedToleratedFailureThreshold`` once the tolerance (default 0) is exceeded, the
  cause naming the failed items and their errors; tolerated failures leave
  ``{"Error", "Cause"}`` in their slot of the output array. After a failure no further
  iteration starts; iterations already running finish and their results are discarded.
- Parallel: Branches, Parameters, ResultSelector, ResultPath, Retry, Catch; fails with the
  error of the (lowest-index) failed branch.
- TimeoutSeconds / TimeoutSecondsPath on Task: the callable runs in a daemon thread and the
  interpreter stops waiting after the timeout, failing the task with ``States.Timeout``
  (retriable and catchable). Python cannot kill a thread: the abandoned call keeps running in the
  background and its result is discarded. State-machine ``TimeoutSeconds`` bounds the whole
  execution the same way; it ends with status ``TIMED_OUT`` and error ``States.Timeout``, which
  no Retry or Catch can intercept (as in AWS).
- Errors that AWS does not let Retry/Catch intercept end the execution: ``States.Runtime``
  (a path that does not resolve, a non-JSON task result, an exceeded transition limit) and
  ``States.DataLimitExceeded`` (a state input/output or task result above
  ``payload_limit_bytes``, 256 KiB by default, which keeps "only keys travel in the state"
  honest). ``States.ResultPathMatchFailure``, ``States.IntrinsicFailure``,
  ``States.NoChoiceMatched`` and ``States.ItemReaderFailed`` are ordinary, catchable errors.

Rejected (UnsupportedDefinition): ``QueryLanguage: JSONata`` and its fields (Arguments, Output,
Items, Condition), variables (Assign), HeartbeatSeconds(Path) (no heartbeat channel for
in-process callables), Credentials, ItemBatcher, ItemReader resources other than
``s3:getObject`` with JSON input, Task resources that have no bound callable, and the JSONPath /
intrinsic syntax beyond the subset above. Structural errors (a missing StartAt or Next target, an
unreachable state, a wrong field type) raise :class:`InvalidDefinition`. It is a subclass of
:class:`UnsupportedDefinition`, so one ``except UnsupportedDefinition`` catches both; ``problems``
lists everything found.

Differences from AWS that remain: execution and child-execution ids are synthetic
(``arn:aws:states:local:000000000000:...``); a distributed child execution is named
``<parent name>/<Label or state name>/<index>``; the event history (:class:`Event`) has our own
event types, not the AWS history event schema. Iteration events are appended to the parent's
history after the Map completes, in item order, so the history is deterministic.
"""

from __future__ import annotations

import base64
import hashlib
import json
import multiprocessing
import random as _random
import re
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures import ThreadPoolExecutor as _ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Literal, TypeAlias

__all__ = [
    "DeterministicUUIDs",
    "EcsRunTaskSync",
    "Event",
    "Execution",
    "Interpreter",
    "InvalidDefinition",
    "LambdaInvoke",
    "Problem",
    "ProcessPoolFactory",
    "TaskContext",
    "TaskFailed",
    "UnsupportedDefinition",
    "ecs_container_overrides",
    "in_executor",
    "load_definition",
    "placeholders",
    "substitute",
    "thread_pool",
    "validate",
]

Resource: TypeAlias = "Callable[[Any, TaskContext], Any]"
ItemReader: TypeAlias = "Callable[[dict[str, Any]], list[Any]]"
ResultWriter: TypeAlias = "Callable[[dict[str, Any], list[Any]], Any]"
ExecutorFactory: TypeAlias = "Callable[[str, int], Executor]"
Status: TypeAlias = Literal["SUCCEEDED", "FAILED", "TIMED_OUT"]

DEFAULT_PAYLOAD_LIMIT: Final = 256 * 1024
DEFAULT_MAX_TRANSITIONS: Final = 25_000
_LAMBDA_INVOKE: Final = "arn:aws:states:::lambda:invoke"
_S3_GET_OBJECT: Final = "arn:aws:states:::s3:getObject"
_S3_PUT_OBJECT: Final = "arn:aws:states:::s3:putObject"


# ----------------------------------------------------------------------------------------------
# Public errors and records
# ----------------------------------------------------------------------------------------------


class TaskFailed(Exception):
    """Raised by a resource callable to fail its Task with a named ASL error.

    ``error`` is what Retry/Catch ``ErrorEquals`` match (e.g. ``"States.TaskFailed"``,
    ``"Lambda.ServiceException"``, ``"ECS.AmazonECSException"``); ``cause`` is free text (AWS
    integrations put a JSON document there).
    """

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(error, cause)
        self.error = error
        self.cause = cause

    def __str__(self) -> str:
        return f"{self.error}: {self.cause}" if self.cause else self.error


@dataclass(frozen=True)
class Problem:
    """One problem found in a definition: where (state path), which field, what is wrong."""

    where: str
    field: str | None
    message: str
    unsupported: bool = False

    def __str__(self) -> str:
        at = f"{self.where}.{self.field}" if self.field else self.where
        return f"{at}: {self.message}"


class UnsupportedDefinition(ValueError):
    """The interpreter will not run this definition; ``problems`` lists every problem found.

    Raised as such when everything found is valid ASL that this interpreter does not support;
    the subclass :class:`InvalidDefinition` is raised when at least one problem makes the
    definition invalid ASL (AWS would refuse it too). ``Problem.unsupported`` tells them apart.
    """

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in the state machine definition:\n"
                         f"{lines}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.problems,))


class InvalidDefinition(UnsupportedDefinition):
    """The definition is not valid ASL (a missing target, a wrong field type, ...)."""


@dataclass(frozen=True)
class TaskContext:
    """What a resource callable learns about the Task it serves (picklable)."""

    state_name: str
    resource: str
    execution_id: str
    execution_name: str
    retry_count: int
    timeout_seconds: float | None
    scope: str


@dataclass(frozen=True)
class Event:
    """One entry of the execution history.

    ``scope`` is ``""`` for the top-level machine and ``"Map[3]"`` / ``"Map[3]/Inner[0]"`` /
    ``"Par[1]"`` inside iterations and branches. ``detail`` holds the event's data (inputs,
    outputs, errors, delays).
    """

    type: str
    state: str | None
    scope: str
    detail: Mapping[str, Any]


@dataclass(frozen=True)
class Execution:
    """The result of :meth:`Interpreter.run`."""

    name: str
    execution_id: str
    status: Status
    output: Any
    error: str | None
    cause: str | None
    events: tuple[Event, ...]

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    def events_of(self, *types: str) -> list[Event]:
        """The events whose type is one of ``types``, in history order."""
        return [e for e in self.events if e.type in types]


# ----------------------------------------------------------------------------------------------
# Internal failure signal
# ----------------------------------------------------------------------------------------------

_Kind: TypeAlias = Literal["error", "fatal", "timeout"]


class _Failure(Exception):
    """A state failed. ``kind``: error (Retry/Catch may handle it), fatal (ends the execution:
    States.Runtime, States.DataLimitExceeded), timeout (the execution's TimeoutSeconds)."""

    def __init__(self, error: str, cause: str, kind: _Kind = "error") -> None:
        super().__init__(error, cause, kind)
        self.error = error
        self.cause = cause
        self.kind: _Kind = kind


def _runtime(cause: str) -> _Failure:
    return _Failure("States.Runtime", cause, "fatal")


def _intrinsic_failure(cause: str) -> _Failure:
    return _Failure("States.IntrinsicFailure", cause)


def _short(value: Any, limit: int = 200) -> str:
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ----------------------------------------------------------------------------------------------
# JSONPath subset
# ----------------------------------------------------------------------------------------------


class _SyntaxProblem(Exception):
    def __init__(self, message: str, unsupported: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.unsupported = unsupported


@dataclass(frozen=True)
class _Path:
    text: str
    context: bool
    steps: tuple[str | int, ...]


_NAME_RE: Final = re.compile(r"[^.\[\]'\"\s*?()@,:!=<>&|]+")
_INDEX_RE: Final = re.compile(r"\[\s*(\d+)\s*\]")
_QUOTED_RE: Final = re.compile(r"""\[\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\s*\]""")
_UNESCAPE_RE: Final = re.compile(r"\\(.)")
_SUBSET: Final = "supported: $, $.a.b, $.a[0], $['x'] (and the same under $$)"


@lru_cache(maxsize=4096)
def _parse_path(text: str) -> _Path:
    """Parse a JSONPath of the supported subset; raise _SyntaxProblem otherwise."""
    if not text.startswith("$"):
        raise _SyntaxProblem(f"'{text}' is not a JSONPath (it must start with '$')")
    context = text.startswith("$$")
    i = 2 if context else 1
    steps: list[str | int] = []
    while i < len(text):
        if text.startswith("..", i):
            raise _SyntaxProblem(f"'{text}': recursive descent '..' is not supported; {_SUBSET}",
                                 unsupported=True)
        char = text[i]
        if char == ".":
            match = _NAME_RE.match(text, i + 1)
            if match is None:
                raise _SyntaxProblem(f"'{text}': unsupported member at position {i + 1}; "
                                     f"{_SUBSET}", unsupported=True)
            steps.append(match.group(0))
            i = match.end()
            continue
        if char == "[":
            match = _INDEX_RE.match(text, i)
            if match is not None:
                steps.append(int(match.group(1)))
                i = match.end()
                continue
            match = _QUOTED_RE.match(text, i)
            if match is not None:
                raw = match.group(1) if match.group(1) is not None else match.group(2)
                steps.append(_UNESCAPE_RE.sub(r"\1", raw))
                i = match.end()
                continue
            raise _SyntaxProblem(f"'{text}': only [<non-negative index>] and ['name'] subscripts "
                                 f"are supported (no wildcards, slices, unions, negative indexes "
                                 f"or filters); {_SUBSET}", unsupported=True)
        raise _SyntaxProblem(f"'{text}': unexpected {char!r} at position {i}; {_SUBSET}",
                             unsupported=True)
    return _Path(text, context, tuple(steps))


_MISSING: Final = object()


def _lookup(path: _Path, data: Any, context: Any) -> Any:
    """The value at ``path`` (in ``context`` for ``$$`` paths), or ``_MISSING``."""
    node = context if path.context else data
    for step in path.steps:
        if isinstance(step, str):
            if not isinstance(node, dict) or step not in node:
                return _MISSING
            node = node[step]
        else:
            if not isinstance(node, list) or step >= len(node):
                return _MISSING
            node = node[step]
    return node


def _set_path(path: _Path, raw: Any, value: Any) -> Any:
    """``raw`` with ``value`` placed at the reference path (copy-on-write along the path)."""
    if not path.steps:
        return value

    def fail(why: str) -> _Failure:
        return _Failure("States.ResultPathMatchFailure",
                        f"Unable to apply ResultPath '{path.text}' to input {_short(raw)}: {why}")

    if not isinstance(raw, dict):
        raise fail("the input is not a JSON object")
    root: Any = dict(raw)
    node: Any = root
    last = len(path.steps) - 1
    for k, step in enumerate(path.steps):
        if isinstance(step, str):
            if not isinstance(node, dict):
                raise fail(f"'{step}' is not inside a JSON object")
            if k == last:
                node[step] = value
                break
            child = node.get(step, _MISSING)
            where = f"'{step}'"
        else:
            if not isinstance(node, list) or step >= len(node):
                raise fail(f"index [{step}] does not exist")
            if k == last:
                node[step] = value
                break
            child, where = node[step], f"[{step}]"
        if child is _MISSING:
            child = {}
        elif isinstance(child, dict | list):
            child = type(child)(child)  # copy on write: the input stays untouched
        else:
            raise fail(f"{where} holds {_short(child)}, not an object or array")
        node[step] = child
        node = child
    return root


# ----------------------------------------------------------------------------------------------
# Intrinsic functions
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Lit:
    value: Any
    raw: str | None = None  # string literals as written (escapes kept) for States.Format


@dataclass(frozen=True)
class _Ref:
    path: _Path


@dataclass(frozen=True)
class _Call:
    name: str
    args: tuple[_Lit | _Ref | _Call, ...]


_ARITY: Final[Mapping[str, tuple[int, int | None]]] = {
    "States.Format": (1, None),
    "States.StringToJson": (1, 1),
    "States.JsonToString": (1, 1),
    "States.Array": (0, None),
    "States.ArrayPartition": (2, 2),
    "States.ArrayContains": (2, 2),
    "States.ArrayRange": (3, 3),
    "States.ArrayGetItem": (2, 2),
    "States.ArrayLength": (1, 1),
    "States.ArrayUnique": (1, 1),
    "States.Base64Encode": (1, 1),
    "States.Base64Decode": (1, 1),
    "States.Hash": (2, 2),
    "States.JsonMerge": (3, 3),
    "States.MathRandom": (2, 3),
    "States.MathAdd": (2, 2),
    "States.StringSplit": (2, 2),
    "States.UUID": (0, 0),
}
_FUNC_RE: Final = re.compile(r"States\.[A-Za-z0-9]+")
_NUMBER_RE: Final = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_HASHES: Final[Mapping[str, str]] = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256",
                                     "SHA-384": "sha384", "SHA-512": "sha512"}


class _IntrinsicParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def error(self, message: str, unsupported: bool = False) -> _SyntaxProblem:
        return _SyntaxProblem(f"intrinsic '{self.text}': {message}", unsupported)

    def ws(self) -> None:
        while self.i < len(self.text) and self.text[self.i] == " ":
            self.i += 1

    def parse(self) -> _Call:
        call = self.call()
        self.ws()
        if self.i != len(self.text):
            raise self.error(f"unexpected text after the call at position {self.i}")
        return call

    def call(self) -> _Call:
        match = _FUNC_RE.match(self.text, self.i)
        if match is None:
            raise self.error(f"expected States.<Function> at position {self.i}")
        name = match.group(0)
        if name not in _ARITY:
            raise self.error(f"{name} is not a supported intrinsic function "
                             f"(supported: {', '.join(sorted(_ARITY))})", unsupported=True)
        self.i = match.end()
        self.ws()
        if not self.text.startswith("(", self.i):
            raise self.error(f"expected '(' after {name}")
        self.i += 1
        args: list[_Lit | _Ref | _Call] = []
        self.ws()
        if self.text.startswith(")", self.i):
            self.i += 1
        else:
            while True:
                args.append(self.arg())
                self.ws()
                if self.text.startswith(",", self.i):
                    self.i += 1
                    continue
                if self.text.startswith(")", self.i):
                    self.i += 1
                    break
                raise self.error(f"expected ',' or ')' at position {self.i}")
        low, high = _ARITY[name]
        if len(args) < low or (high is not None and len(args) > high):
            want = f"{low}" if low == high else (f"{low}+" if high is None else f"{low}-{high}")
            raise self.error(f"{name} takes {want} argument(s), got {len(args)}")
        return _Call(name, tuple(args))

    def arg(self) -> _Lit | _Ref | _Call:
        self.ws()
        text, i = self.text, self.i
        if i >= len(text):
            raise self.error("unexpected end of text")
        if text[i] == "'":
            return self.string()
        if text[i] == "$":
            return self.path()
        if text.startswith("States.", i):
            return self.call()
        match = _NUMBER_RE.match(text, i)
        if match is not None:
            self.i = match.end()
            token = match.group(0)
            number: int | float = float(token) if any(c in token for c in ".eE") else int(token)
            return _Lit(number)
        for word, value in (("true", True), ("false", False), ("null", None)):
            if text.startswith(word, i):
                self.i += len(word)
                return _Lit(value)
        raise self.error(f"unexpected argument at position {i}")

    def string(self) -> _Lit:
        text = self.text
        i = self.i + 1
        raw: list[str] = []
        value: list[str] = []
        while i < len(text):
            char = text[i]
            if char == "\\" and i + 1 < len(text):
                raw.append(text[i:i + 2])
                value.append(text[i + 1])
                i += 2
                continue
            if char == "'":
                self.i = i + 1
                return _Lit("".join(value), "".join(raw))
            raw.append(char)
            value.append(char)
            i += 1
        raise self.error("unterminated string literal")

    def path(self) -> _Ref:
        text = self.text
        start = i = self.i
        quote: str | None = None
        while i < len(text):
            char = text[i]
            if quote is not None:
                if char == "\\":
                    i += 2
                    continue
                if char == quote:
                    quote = None
            elif char in "'\"" and i > start and text[i - 1] == "[":
                quote = char
            elif char in ",)":
                break
            i += 1
        self.i = i
        try:
            return _Ref(_parse_path(text[start:i].strip()))
        except _SyntaxProblem as exc:
            raise self.error(exc.message, exc.unsupported) from None


@lru_cache(maxsize=1024)
def _parse_intrinsic(text: str) -> _Call:
    return _IntrinsicParser(text).parse()


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _as_int(x: Any) -> int | None:
    if _is_int(x):
        return int(x)
    if isinstance(x, float) and x.is_integer():
        return int(x)
    return None


def _format_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, bool) or _is_number(value):
        return json.dumps(value)
    raise _intrinsic_failure(f"States.Format cannot format {_short(value)} (only strings, "
                             "numbers, booleans and null)")


def _states_format(template: str, values: Sequence[Any]) -> str:
    out: list[str] = []
    used = 0
    i = 0
    while i < len(template):
        char = template[i]
        if char == "\\" and i + 1 < len(template):
            out.append(template[i + 1])
            i += 2
            continue
        if template.startswith("{}", i):
            if used >= len(values):
                raise _intrinsic_failure(f"States.Format template '{template}' has more {{}} "
                                         f"than the {len(values)} argument(s)")
            out.append(_format_value(values[used]))
            used += 1
            i += 2
            continue
        if char in "{}":
            raise _intrinsic_failure(f"States.Format template '{template}': unescaped '{char}'")
        out.append(char)
        i += 1
    if used != len(values):
        raise _intrinsic_failure(f"States.Format template '{template}' has {used} {{}} for "
                                 f"{len(values)} argument(s)")
    return "".join(out)


# ----------------------------------------------------------------------------------------------
# Choice rules
# ----------------------------------------------------------------------------------------------

_STRING_OPS: Final = frozenset({"StringEquals", "StringLessThan", "StringGreaterThan",
                                "StringLessThanEquals", "StringGreaterThanEquals"})
_NUMERIC_OPS: Final = frozenset({"NumericEquals", "NumericLessThan", "NumericGreaterThan",
                                 "NumericLessThanEquals", "NumericGreaterThanEquals"})
_TIMESTAMP_OPS: Final = frozenset({"TimestampEquals", "TimestampLessThan", "TimestampGreaterThan",
                                   "TimestampLessThanEquals", "TimestampGreaterThanEquals"})
_BOOLEAN_OPS: Final = frozenset({"BooleanEquals"})
_TYPE_TESTS: Final = frozenset({"IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean",
                                "IsTimestamp"})
_VALUE_OPS: Final = _STRING_OPS | _NUMERIC_OPS | _TIMESTAMP_OPS | _BOOLEAN_OPS
_PATH_OPS: Final = frozenset(op + "Path" for op in _VALUE_OPS)
_ALL_OPS: Final = _VALUE_OPS | _PATH_OPS | _TYPE_TESTS | {"StringMatches"}


def _parse_timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or "T" not in value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _compare(op: str, left: Any, right: Any) -> bool:
    """Apply a comparison operator (without the Path suffix); False on a type mismatch."""
    family = next(f for f in ("String", "Numeric", "Boolean", "Timestamp") if op.startswith(f))
    relation = op[len(family):]
    a: Any = left
    b: Any = right
    if family == "String":
        if not (isinstance(left, str) and isinstance(right, str)):
            return False
    elif family == "Numeric":
        if not (_is_number(left) and _is_number(right)):
            return False
    elif family == "Boolean":
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    else:
        a, b = _parse_timestamp(left), _parse_timestamp(right)
        if a is None or b is None:
            return False
    if relation == "Equals":
        return bool(a == b)
    if relation == "LessThan":
        return bool(a < b)
    if relation == "GreaterThan":
        return bool(a > b)
    if relation == "LessThanEquals":
        return bool(a <= b)
    return bool(a >= b)  # GreaterThanEquals


@lru_cache(maxsize=256)
def _wildcard(pattern: str) -> re.Pattern[str]:
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            parts.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        parts.append(".*" if char == "*" else re.escape(char))
        i += 1
    return re.compile("".join(parts), re.DOTALL)


# ----------------------------------------------------------------------------------------------
# Helpers for callers
# ----------------------------------------------------------------------------------------------

_PLACEHOLDER_RE: Final = re.compile(r"\$\{([^}]+)\}")


def placeholders(definition: Any) -> set[str]:
    """Every ``${Name}`` placeholder in the strings (and keys) of a definition."""
    found: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, str):
            found.update(_PLACEHOLDER_RE.findall(node))
        elif isinstance(node, dict):
            for key, value in node.items():
                visit(key)
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(definition)
    return found


def substitute(definition: Any, values: Mapping[str, str]) -> Any:
    """Replace ``${Name}`` placeholders like CDK ``definition_substitutions`` does.

    Raises ``KeyError`` naming every placeholder that has no value.
    """
    missing = sorted(placeholders(definition) - set(values))
    if missing:
        raise KeyError(f"no substitution for placeholder(s): {', '.join(missing)}")

    def repl(match: re.Match[str]) -> str:
        return str(values[match.group(1)])

    def visit(node: Any) -> Any:
        if isinstance(node, str):
            return _PLACEHOLDER_RE.sub(repl, node)
        if isinstance(node, dict):
            return {visit(k): visit(v) for k, v in node.items()}
        if isinstance(node, list):
            return [visit(v) for v in node]
        return node

    return visit(definition)


def load_definition(path: str | Path,
                    substitutions: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Read an ``.asl.json`` file, substituting ``${Placeholders}`` when values are given."""
    document: Any = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise InvalidDefinition([Problem("(definition)", None, "the document is not an object")])
    if substitutions is not None:
        document = substitute(document, substitutions)
    return dict(document)


def thread_pool(state_name: str, max_workers: int) -> Executor:
    """Default executor factory: a thread pool of ``max_workers`` for one Map/Parallel state."""
    return _ThreadPoolExecutor(max_workers=max_workers,
                               thread_name_prefix=f"asl-{state_name}"[:40])


@dataclass(frozen=True)
class ProcessPoolFactory:
    """Executor factory giving a process pool (of at most ``max_workers``) to the Map/Parallel
    states named in ``states`` (all when ``None``) and a thread pool to the others.

    Iterations are then run in worker processes, so everything the interpreter was given must be
    picklable (see the module docstring). ``start_method``: ``"fork"``, ``"spawn"``,
    ``"forkserver"`` or ``None`` for the platform default.
    """

    max_workers: int | None = None
    states: frozenset[str] | None = None
    start_method: str | None = None

    def __call__(self, state_name: str, max_workers: int) -> Executor:
        if self.states is not None and state_name not in self.states:
            return thread_pool(state_name, max_workers)
        workers = max_workers if self.max_workers is None else min(max_workers, self.max_workers)
        context = (multiprocessing.get_context(self.start_method)
                   if self.start_method is not None else None)
        return ProcessPoolExecutor(max_workers=max(workers, 1), mp_context=context)


def in_executor(executor: Executor, fn: Callable[[Any], Any]) -> Resource:
    """Wrap ``fn(params)`` as a resource that runs in ``executor`` (e.g. a process pool for a
    CPU-heavy ECS task) while the Map iteration itself stays in a thread. ``fn`` must be
    picklable for a process pool; exceptions (incl. :class:`TaskFailed`) propagate."""

    def resource(params: Any, ctx: TaskContext) -> Any:
        return executor.submit(fn, params).result()

    return resource


class DeterministicUUIDs:
    """A reproducible, thread-safe sequence of UUID strings (for States.UUID and names)."""

    def __init__(self, namespace: str = "xvaflow.asl") -> None:
        self._namespace = uuid.uuid5(uuid.NAMESPACE_URL, namespace)
        self._count = 0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            self._count += 1
            count = self._count
        return str(uuid.uuid5(self._namespace, str(count)))

    def __getstate__(self) -> dict[str, Any]:
        return {"namespace": self._namespace, "count": self._count}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._namespace = state["namespace"]
        self._count = state["count"]
        self._lock = threading.Lock()


class _LambdaContext:
    """The parts of the AWS Lambda context object handlers commonly read."""

    def __init__(self, function_name: str, ctx: TaskContext) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function_name
        self.memory_limit_in_mb = 1024
        self.aws_request_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{ctx.execution_id}/"
                                             f"{ctx.scope}/{ctx.state_name}/{ctx.retry_count}"))
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = (None if ctx.timeout_seconds is None
                          else time.monotonic() + ctx.timeout_seconds)

    def get_remaining_time_in_millis(self) -> int:
        if self._deadline is None:
            return 900_000
        return max(int((self._deadline - time.monotonic()) * 1000), 0)


class LambdaInvoke:
    """Resource for ``arn:aws:states:::lambda:invoke``: ``handlers[FunctionName](Payload, ctx)``.

    Returns the integration's response ``{"ExecutedVersion", "Payload", "StatusCode"}`` (select
    ``$.Payload`` with ResultSelector as in AWS). A handler exception fails the task with the
    exception's class name as error and the Lambda error document
    ``{"errorMessage", "errorType", "stackTrace"}`` (JSON) as cause, like a Lambda function
    error; an unknown FunctionName fails with ``Lambda.ResourceNotFoundException``. Picklable
    when the handlers are module-level functions.
    """

    def __init__(self, handlers: Mapping[str, Callable[[Any, Any], Any]]) -> None:
        self.handlers = dict(handlers)

    def __call__(self, params: Any, ctx: TaskContext) -> Any:
        if not isinstance(params, dict) or not isinstance(params.get("FunctionName"), str):
            raise TaskFailed("Lambda.InvalidParameterValueException",
                             f"lambda:invoke needs Parameters with a FunctionName, got "
                             f"{_short(params)}")
        name = params["FunctionName"]
        handler = self.handlers.get(name)
        if handler is None:
            raise TaskFailed("Lambda.ResourceNotFoundException", f"Function not found: {name}")
        try:
            payload = handler(params.get("Payload"), _LambdaContext(name, ctx))
        except TaskFailed:
            raise
        except Exception as exc:
            document = {"errorMessage": str(exc), "errorType": type(exc).__name__,
                        "stackTrace": traceback.format_exception(exc)[-5:]}
            raise TaskFailed(type(exc).__name__, json.dumps(document)) from exc
        return {"ExecutedVersion": "$LATEST", "Payload": payload, "StatusCode": 200}


def ecs_container_overrides(params: Mapping[str, Any],
                            container: str | None = None) -> tuple[str, dict[str, str], list[str]]:
    """``(container name, environment, command)`` from runTask ``Overrides.ContainerOverrides``
    (the first override, or the one named ``container``)."""
    overrides = params.get("Overrides", {}).get("ContainerOverrides", [])
    for item in overrides:
        if container is None or item.get("Name") == container:
            env = {str(e["Name"]): str(e["Value"]) for e in item.get("Environment", [])}
            return str(item.get("Name", container or "")), env, list(item.get("Command", []))
    return container or "", {}, []


class EcsRunTaskSync:
    """Resource for ``arn:aws:states:::ecs:runTask.sync``: ``run(params) -> exit code``.

    Returns a stopped-task description (``TaskArn``, ``TaskDefinitionArn``, ``LastStatus``,
    ``StopCode``, ``Containers[{Name, ExitCode, LastStatus}]``) like the .sync integration; a
    non-zero exit code fails the task with ``States.TaskFailed`` and that description (JSON) as
    cause, as AWS does. Picklable when ``run`` is a module-level function.
    """

    def __init__(self, run: Callable[[Mapping[str, Any]], int]) -> None:
        self.run = run

    def __call__(self, params: Any, ctx: TaskContext) -> Any:
        if not isinstance(params, dict) or "TaskDefinition" not in params:
            raise TaskFailed("ECS.InvalidParameterException",
                             f"ecs:runTask needs a TaskDefinition, got {_short(params)}")
        name, _, _ = ecs_container_overrides(params)
        code = int(self.run(params))
        task_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{ctx.execution_id}/{ctx.scope}/"
                             f"{ctx.state_name}/{ctx.retry_count}").hex
        cluster = str(params.get("Cluster", "default")).rsplit("/", 1)[-1]
        task = {
            "TaskArn": f"arn:aws:ecs:local:000000000000:task/{cluster}/{task_id}",
            "TaskDefinitionArn": params["TaskDefinition"],
            "LastStatus": "STOPPED",
            "DesiredStatus": "STOPPED",
            "StopCode": "EssentialContainerExited",
            "StoppedReason": "Essential container in task exited",
            "Containers": [{"Name": name or "worker", "ExitCode": code,
                            "LastStatus": "STOPPED"}],
        }
        if code != 0:
            raise TaskFailed("States.TaskFailed", json.dumps(task))
        return task


# ----------------------------------------------------------------------------------------------
# Validation
# ----------------------------------------------------------------------------------------------

_COMMON_FIELDS: Final = frozenset({"Type", "Comment", "QueryLanguage"})
_STATE_FIELDS: Final[Mapping[str, frozenset[str]]] = {
    "Pass": frozenset({"Next", "End", "InputPath", "OutputPath", "Parameters", "ResultPath",
                       "Result"}),
    "Task": frozenset({"Next", "End", "Resource", "InputPath", "OutputPath", "Parameters",
                       "ResultSelector", "ResultPath", "Retry", "Catch", "TimeoutSeconds",
                       "TimeoutSecondsPath"}),
    "Choice": frozenset({"Choices", "Default", "InputPath", "OutputPath"}),
    "Wait": frozenset({"Next", "End", "Seconds", "SecondsPath", "Timestamp", "TimestampPath",
                       "InputPath", "OutputPath"}),
    "Succeed": frozenset({"InputPath", "OutputPath"}),
    "Fail": frozenset({"Error", "ErrorPath", "Cause", "CausePath"}),
    "Parallel": frozenset({"Next", "End", "Branches", "InputPath", "OutputPath", "Parameters",
                           "ResultSelector", "ResultPath", "Retry", "Catch"}),
    "Map": frozenset({"Next", "End", "InputPath", "OutputPath", "ItemsPath", "ItemSelector",
                      "Parameters", "ItemProcessor", "Iterator", "MaxConcurrency",
                      "MaxConcurrencyPath", "ResultSelector", "ResultPath", "Retry", "Catch",
                      "ItemReader", "ResultWriter", "ToleratedFailurePercentage",
                      "ToleratedFailurePercentagePath", "ToleratedFailureCount",
                      "ToleratedFailureCountPath", "Label"}),
}
_UNSUPPORTED_FIELDS: Final[Mapping[str, str]] = {
    "HeartbeatSeconds": "heartbeats are not supported (in-process callables have no heartbeat "
                        "channel); use TimeoutSeconds",
    "HeartbeatSecondsPath": "heartbeats are not supported; use TimeoutSeconds",
    "Credentials": "cross-account task credentials are not supported",
    "Arguments": "JSONata 'Arguments' is not supported (use Parameters)",
    "Output": "JSONata 'Output' is not supported (use ResultSelector/OutputPath)",
    "Items": "JSONata 'Items' is not supported (use ItemsPath or ItemReader)",
    "Assign": "workflow variables (Assign) are not supported",
    "ItemBatcher": "ItemBatcher is not supported",
}
_RETRY_FIELDS: Final = frozenset({"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate",
                                  "MaxDelaySeconds", "JitterStrategy", "Comment"})
_CATCH_FIELDS: Final = frozenset({"ErrorEquals", "Next", "ResultPath", "Comment"})
_MAX_STATE_NAME: Final = 80


class _Validator:
    def __init__(self, resources: Mapping[str, Any] | None, has_item_reader: bool,
                 has_result_writer: bool) -> None:
        self.resources = resources
        self.has_item_reader = has_item_reader
        self.has_result_writer = has_result_writer
        self.problems: list[Problem] = []

    def invalid(self, where: str, field: str | None, message: str) -> None:
        self.problems.append(Problem(where, field, message, False))

    def unsupported(self, where: str, field: str | None, message: str) -> None:
        self.problems.append(Problem(where, field, message, True))

    # -- machines ------------------------------------------------------------------------------

    def machine(self, machine: Any, where: str, kind: str) -> None:
        allowed = {"top": {"StartAt", "States", "Comment", "Version", "TimeoutSeconds",
                           "QueryLanguage"},
                   "processor": {"StartAt", "States", "Comment", "ProcessorConfig"},
                   "branch": {"StartAt", "States", "Comment"}}[kind]
        if not isinstance(machine, dict):
            self.invalid(where, None, "must be a JSON object with StartAt and States")
            return
        for key in machine:
            if key not in allowed:
                self.invalid(where, key, f"unknown field in a {kind} definition")
        if kind == "top":
            self.query_language(where, machine)
            if "TimeoutSeconds" in machine and not self.positive_int(machine["TimeoutSeconds"]):
                self.invalid(where, "TimeoutSeconds", "must be a positive integer")
            if "Version" in machine and not isinstance(machine["Version"], str):
                self.invalid(where, "Version", "must be a string")
        states = machine.get("States")
        start = machine.get("StartAt")
        if not isinstance(states, dict) or not states:
            self.invalid(where, "States", "must be a non-empty object of states")
            return
        prefix = "" if where == "(definition)" else f"{where}/"
        if not isinstance(start, str):
            self.invalid(where, "StartAt", "is required and must be a state name")
        elif start not in states:
            self.invalid(where, "StartAt", f"names '{start}', which is not a state")
        edges: dict[str, list[str]] = {}
        for name, state in states.items():
            edges[name] = self.state(f"{prefix}{name}", name, state, states)
        if isinstance(start, str) and start in states:
            seen = {start}
            todo = [start]
            while todo:
                for target in edges.get(todo.pop(), []):
                    if target in states and target not in seen:
                        seen.add(target)
                        todo.append(target)
            for name in states:
                if name not in seen:
                    self.invalid(f"{prefix}{name}", None,
                                 f"is not reachable from StartAt '{start}'")

    def query_language(self, where: str, obj: Mapping[str, Any]) -> None:
        language = obj.get("QueryLanguage", "JSONPath")
        if language == "JSONata":
            self.unsupported(where, "QueryLanguage", "JSONata is not supported; use JSONPath")
        elif language != "JSONPath":
            self.invalid(where, "QueryLanguage", f"must be JSONPath or JSONata, not {language!r}")

    # -- one state -----------------------------------------------------------------------------

    def state(self, where: str, name: str, state: Any, names: Mapping[str, Any]) -> list[str]:
        """Validate one state; return the names it can transition to."""
        if len(name) > _MAX_STATE_NAME:
            self.invalid(where, None, f"state names are limited to {_MAX_STATE_NAME} characters")
        if not isinstance(state, dict):
            self.invalid(where, None, "a state must be a JSON object")
            return []
        kind = state.get("Type")
        if not isinstance(kind, str) or kind not in _STATE_FIELDS:
            if isinstance(kind, str):
                self.unsupported(where, "Type", f"unknown state type '{kind}' (supported: "
                                 f"{', '.join(sorted(_STATE_FIELDS))})")
            else:
                self.invalid(where, "Type", "is required")
            return []
        allowed = _STATE_FIELDS[kind] | _COMMON_FIELDS
        for key in state:
            if key in allowed:
                continue
            if key in _UNSUPPORTED_FIELDS:
                self.unsupported(where, key, _UNSUPPORTED_FIELDS[key])
            else:
                self.invalid(where, key, f"is not a field of a {kind} state")
        self.query_language(where, state)
        targets: list[str] = []
        if kind in ("Choice", "Succeed", "Fail"):
            for key in ("Next", "End"):
                if key in state:
                    self.invalid(where, key, f"a {kind} state cannot have {key}")
        else:
            has_next, has_end = "Next" in state, state.get("End") is True
            if "End" in state and state["End"] is not True:
                self.invalid(where, "End", "must be true when present")
            if has_next == has_end:
                self.invalid(where, None, "must have exactly one of Next or \"End\": true")
            if has_next:
                targets.append(self.target(where, "Next", state["Next"], names))
        for field in ("InputPath", "OutputPath"):
            if field in state:
                self.path(where, field, state[field], nullable=True)
        if "ResultPath" in state:
            self.path(where, "ResultPath", state["ResultPath"], nullable=True, reference=True)
        if "Parameters" in state:
            self.template(where, "Parameters", state["Parameters"])
        if "ResultSelector" in state:
            self.template(where, "ResultSelector", state["ResultSelector"], need_object=True)
        if "Retry" in state:
            self.retriers(where, state["Retry"])
        if "Catch" in state:
            targets += self.catchers(where, state["Catch"], names)
        check = getattr(self, f"state_{kind.lower()}")
        targets += check(where, state, names)
        return [t for t in targets if t]

    def target(self, where: str, field: str, value: Any, names: Mapping[str, Any]) -> str:
        if not isinstance(value, str):
            self.invalid(where, field, "must be a state name")
            return ""
        if value not in names:
            self.invalid(where, field, f"names '{value}', which is not a state in this scope")
            return ""
        return value

    def state_pass(self, where: str, state: Mapping[str, Any], names: Any) -> list[str]:
        return []

    def state_succeed(self, where: str, state: Mapping[str, Any], names: Any) -> list[str]:
        return []

    def state_task(self, where: str, state: Mapping[str, Any], names: Any) -> list[str]:
        resource = state.get("Resource")
        if not isinstance(resource, str) or not resource:
            self.invalid(where, "Resource", "is required and must be a string")
        elif "${" in resource:
            self.unsupported(where, "Resource", f"'{resource}' still holds a ${{placeholder}}; "
                             "substitute the definition before running it")
        elif self.resources is not None and resource not in self.resources:
            self.unsupported(where, "Resource", f"no callable is bound to resource '{resource}'")
        self.timeout(where, state)
        return []

    def timeout(self, where: str, state: Mapping[str, Any]) -> None:
        if "TimeoutSeconds" in state and "TimeoutSecondsPath" in state:
            self.invalid(where, "TimeoutSeconds", "cannot be combined with TimeoutSecondsPath")
        if "TimeoutSeconds" in state and not self.positive_int(state["TimeoutSeconds"]):
            self.invalid(where, "TimeoutSeconds", "must be a positive integer")
        if "TimeoutSecondsPath" in state:
            self.path(where, "TimeoutSecondsPath", state["TimeoutSecondsPath"])

    def state_wait(self, where: str, state: Mapping[str, Any], names: Any) -> list[str]:
        given = [k for k in ("Seconds", "SecondsPath", "Timestamp", "TimestampPath") if k in state]
        if len(given) != 1:
            self.invalid(where, None, "needs exactly one of Seconds, SecondsPath, Timestamp, "
                         f"TimestampPath (has {given or 'none'})")
        if "Seconds" in state and not (_is_int(state["Seconds"]) and state["Seconds"] >= 0):
            self.invalid(where, "Seconds", "must be a non-negative integer")
        if "Timestamp" in state and _parse_timestamp(state["Timestamp"]) is None:
            self.invalid(where, "Timestamp", "must be an RFC 3339 timestamp with an offset")
        for field in ("SecondsPath", "TimestampPath"):
            if field in state:
                self.path(where, field, state[field])
        return []

    def state_fail(self, where: str, state: Mapping[str, Any], names: Any) -> list[str]:
        for plain, dynamic in (("Error", "ErrorPath"), ("Cause", "CausePath")):
            if plain in state and dynamic in state:
                self.invalid(where, plain, f"cannot be combined with {dynamic}")
            if plain in state and not isinstance(state[plain], str):
                self.invalid(where, plain, "must be a string")
            if dynamic in state:
                self.dynamic(where, dynamic, state[dynamic])
        return []

    def state_choice(self, where: str, state: Mapping[str, Any],
                     names: Mapping[str, Any]) -> list[str]:
        targets: list[str] = []
        choices = state.get("Choices")
        if not isinstance(choices, list) or not choices:
            self.invalid(where, "Choices", "must be a non-empty array of rules")
        else:
            for i, rule in enumerate(choices):
                targets += self.rule(where, f"Choices[{i}]", rule, names, top=True)
        if "Default" in state:
            targets.append(self.target(where, "Default", state["Default"], names))
        return targets

    def rule(self, where: str, field: str, rule: Any, names: Mapping[str, Any],
             top: bool) -> list[str]:
        targets: list[str] = []
        if not isinstance(rule, dict):
            self.invalid(where, field, "a choice rule must be a JSON object")
            return targets
        keys = set(rule) - {"Comment"}
        if top:
            if "Next" in rule:
                targets.append(self.target(where, f"{field}.Next", rule["Next"], names))
            else:
                self.invalid(where, field, "a top-level choice rule needs Next")
            keys.discard("Next")
        elif "Next" in rule:
            self.invalid(where, f"{field}.Next", "nested choice rules cannot have Next")
            keys.discard("Next")
        if "Condition" in keys:
            self.unsupported(where, f"{field}.Condition", "JSONata conditions are not supported")
            return targets
        if "Assign" in keys:
            self.unsupported(where, f"{field}.Assign", _UNSUPPORTED_FIELDS["Assign"])
            keys.discard("Assign")
        combinators = keys & {"And", "Or", "Not"}
        if combinators:
            if len(keys) != 1:
                self.invalid(where, field, f"a rule with {sorted(combinators)[0]} can have no "
                             f"other operator (has {sorted(keys)})")
            for op in sorted(combinators):
                if op == "Not":
                    self.rule(where, f"{field}.Not", rule["Not"], names, top=False)
                elif not isinstance(rule[op], list) or not rule[op]:
                    self.invalid(where, f"{field}.{op}", "must be a non-empty array of rules")
                else:
                    for j, sub in enumerate(rule[op]):
                        self.rule(where, f"{field}.{op}[{j}]", sub, names, top=False)
            return targets
        if "Variable" not in keys:
            self.invalid(where, field, "a comparison needs Variable")
        else:
            self.path(where, f"{field}.Variable", rule["Variable"])
        ops = sorted(keys - {"Variable"})
        unknown = [op for op in ops if op not in _ALL_OPS]
        for op in unknown:
            self.invalid(where, f"{field}.{op}", "is not a choice rule operator")
        known = [op for op in ops if op in _ALL_OPS]
        if len(known) != 1:
            if not unknown:
                self.invalid(where, field, f"needs exactly one comparison operator (has {known})")
            return targets
        op = known[0]
        value = rule[op]
        if op in _PATH_OPS:
            self.path(where, f"{field}.{op}", value)
        elif op in _TYPE_TESTS or op in _BOOLEAN_OPS:
            if not isinstance(value, bool):
                self.invalid(where, f"{field}.{op}", "must be true or false")
        elif op in _NUMERIC_OPS:
            if not _is_number(value):
                self.invalid(where, f"{field}.{op}", "must be a number")
        elif op in _TIMESTAMP_OPS:
            if _parse_timestamp(value) is None:
                self.invalid(where, f"{field}.{op}", "must be an RFC 3339 timestamp")
        elif not isinstance(value, str):  # String ops and StringMatches
            self.invalid(where, f"{field}.{op}", "must be a string")
        return targets

    def state_parallel(self, where: str, state: Mapping[str, Any], names: Any) -> list[str]:
        branches = state.get("Branches")
        if not isinstance(branches, list) or not branches:
            self.invalid(where, "Branches", "must be a non-empty array of state machines")
            return []
        for i, branch in enumerate(branches):
            self.machine(branch, f"{where}/Branches[{i}]", "branch")
        return []

    def state_map(self, where: str, state: Mapping[str, Any], names: Any) -> list[str]:
        has_processor, has_iterator = "ItemProcessor" in state, "Iterator" in state
        mode = "INLINE"
        if has_processor == has_iterator:
            self.invalid(where, "ItemProcessor", "exactly one of ItemProcessor or (legacy) "
                         "Iterator is required")
        elif has_processor:
            processor = state["ItemProcessor"]
            config = processor.get("ProcessorConfig", {}) if isinstance(processor, dict) else {}
            if not isinstance(config, dict):
                self.invalid(where, "ItemProcessor.ProcessorConfig", "must be an object")
                config = {}
            for key in config:
                if key not in ("Mode", "ExecutionType"):
                    self.invalid(where, f"ItemProcessor.ProcessorConfig.{key}", "unknown field")
            mode = config.get("Mode", "INLINE")
            if mode not in ("INLINE", "DISTRIBUTED"):
                self.invalid(where, "ItemProcessor.ProcessorConfig.Mode",
                             "must be INLINE or DISTRIBUTED")
            execution_type = config.get("ExecutionType")
            if mode == "DISTRIBUTED" and execution_type not in ("STANDARD", "EXPRESS"):
                self.invalid(where, "ItemProcessor.ProcessorConfig.ExecutionType",
                             "must be STANDARD or EXPRESS in DISTRIBUTED mode")
            if mode != "DISTRIBUTED" and execution_type is not None:
                self.invalid(where, "ItemProcessor.ProcessorConfig.ExecutionType",
                             "is only valid in DISTRIBUTED mode")
            self.machine(processor, f"{where}/ItemProcessor", "processor")
        else:
            self.machine(state["Iterator"], f"{where}/Iterator", "branch")
        if "ItemSelector" in state and "Parameters" in state:
            self.invalid(where, "ItemSelector", "cannot be combined with (legacy) Parameters")
        if "ItemSelector" in state:
            self.template(where, "ItemSelector", state["ItemSelector"], need_object=True)
        if "ItemsPath" in state:
            self.path(where, "ItemsPath", state["ItemsPath"])
        if "MaxConcurrency" in state:
            if "MaxConcurrencyPath" in state:
                self.invalid(where, "MaxConcurrency", "cannot be combined with "
                             "MaxConcurrencyPath")
            value = state["MaxConcurrency"]
            if not (_is_int(value) and value >= 0):
                self.invalid(where, "MaxConcurrency", "must be a non-negative integer")
        if "MaxConcurrencyPath" in state:
            self.path(where, "MaxConcurrencyPath", state["MaxConcurrencyPath"])
        distributed_only = ("ItemReader", "ResultWriter", "ToleratedFailurePercentage",
                            "ToleratedFailurePercentagePath", "ToleratedFailureCount",
                            "ToleratedFailureCountPath", "Label")
        if mode != "DISTRIBUTED":
            for key in distributed_only:
                if key in state:
                    self.invalid(where, key, "is only valid for a Map in DISTRIBUTED mode")
            return []
        for plain in ("ToleratedFailurePercentage", "ToleratedFailureCount"):
            if plain in state and f"{plain}Path" in state:
                self.invalid(where, plain, f"cannot be combined with {plain}Path")
            if f"{plain}Path" in state:
                self.path(where, f"{plain}Path", state[f"{plain}Path"])
        if "ToleratedFailurePercentage" in state:
            value = state["ToleratedFailurePercentage"]
            if not (_is_number(value) and 0 <= value <= 100):
                self.invalid(where, "ToleratedFailurePercentage", "must be a number in [0, 100]")
        if "ToleratedFailureCount" in state:
            value = state["ToleratedFailureCount"]
            if not (_is_int(value) and value >= 0):
                self.invalid(where, "ToleratedFailureCount", "must be a non-negative integer")
        if "Label" in state and not isinstance(state["Label"], str):
            self.invalid(where, "Label", "must be a string")
        if "ItemReader" in state:
            self.item_reader(where, state)
        if "ResultWriter" in state:
            self.result_writer(where, state["ResultWriter"])
        return []

    def item_reader(self, where: str, state: Mapping[str, Any]) -> None:
        reader = state["ItemReader"]
        if not isinstance(reader, dict):
            self.invalid(where, "ItemReader", "must be an object")
            return
        if "ItemsPath" in state:
            self.unsupported(where, "ItemsPath", "ItemsPath together with ItemReader is not "
                             "supported; the JSON file must hold the array itself")
        for key in reader:
            if key not in ("Resource", "ReaderConfig", "Parameters"):
                self.invalid(where, f"ItemReader.{key}", "unknown field")
        if reader.get("Resource") != _S3_GET_OBJECT:
            self.unsupported(where, "ItemReader.Resource", f"only '{_S3_GET_OBJECT}' (a JSON "
                             f"array in one object) is supported, not {reader.get('Resource')!r}")
        config = reader.get("ReaderConfig", {})
        if not isinstance(config, dict):
            self.invalid(where, "ItemReader.ReaderConfig", "must be an object")
            config = {}
        for key, value in config.items():
            if key == "InputType":
                if value != "JSON":
                    self.unsupported(where, "ItemReader.ReaderConfig.InputType",
                                     f"only JSON input is supported, not {value!r}")
            elif key == "MaxItems":
                if not (_is_int(value) and value >= 0):
                    self.invalid(where, "ItemReader.ReaderConfig.MaxItems",
                                 "must be a non-negative integer")
            elif key == "MaxItemsPath":
                self.path(where, "ItemReader.ReaderConfig.MaxItemsPath", value)
            else:
                self.unsupported(where, f"ItemReader.ReaderConfig.{key}", "is not supported")
        params = reader.get("Parameters")
        if not isinstance(params, dict):
            self.invalid(where, "ItemReader.Parameters", "must be an object with Bucket and Key")
        else:
            self.template(where, "ItemReader.Parameters", params)
            for key in ("Bucket", "Key"):
                if key not in params and f"{key}.$" not in params:
                    self.invalid(where, f"ItemReader.Parameters.{key}", "is required")
        if not self.has_item_reader:
            self.unsupported(where, "ItemReader", "the interpreter was given no item_reader to "
                             "read the items with")

    def result_writer(self, where: str, writer: Any) -> None:
        if not isinstance(writer, dict):
            self.invalid(where, "ResultWriter", "must be an object")
            return
        if "Resource" in writer and writer["Resource"] != _S3_PUT_OBJECT:
            self.invalid(where, "ResultWriter.Resource", f"must be '{_S3_PUT_OBJECT}'")
        if "Parameters" in writer:
            self.template(where, "ResultWriter.Parameters", writer["Parameters"])
        if not self.has_result_writer:
            self.unsupported(where, "ResultWriter", "ResultWriter is not supported without a "
                             "result_writer callable (the Map output would differ from AWS)")

    # -- fields --------------------------------------------------------------------------------

    @staticmethod
    def positive_int(value: Any) -> bool:
        return _is_int(value) and value > 0

    def path(self, where: str, field: str, value: Any, *, nullable: bool = False,
             reference: bool = False) -> None:
        if value is None:
            if not nullable:
                self.invalid(where, field, "must be a JSONPath, not null")
            return
        if not isinstance(value, str):
            self.invalid(where, field, "must be a JSONPath string")
            return
        try:
            parsed = _parse_path(value)
        except _SyntaxProblem as exc:
            (self.unsupported if exc.unsupported else self.invalid)(where, field, exc.message)
            return
        if reference and parsed.context:
            self.invalid(where, field, "cannot reference the context object ($$)")

    def dynamic(self, where: str, field: str, value: Any) -> None:
        if not isinstance(value, str):
            self.invalid(where, field, "must be a JSONPath or an intrinsic function string")
            return
        try:
            if value.startswith("States."):
                _parse_intrinsic(value)
            elif value.startswith("$"):
                _parse_path(value)
            else:
                self.invalid(where, field, f"'{value}' is neither a JSONPath ('$...') nor an "
                             "intrinsic function ('States.…(...)')")
        except _SyntaxProblem as exc:
            (self.unsupported if exc.unsupported else self.invalid)(where, field, exc.message)

    def template(self, where: str, field: str, value: Any, *, need_object: bool = False) -> None:
        if need_object and not isinstance(value, dict):
            self.invalid(where, field, "must be a JSON object")
            return
        if isinstance(value, dict):
            for key, sub in value.items():
                if key.endswith(".$"):
                    self.dynamic(where, f"{field}.{key}", sub)
                else:
                    self.template(where, f"{field}.{key}", sub)
        elif isinstance(value, list):
            for i, sub in enumerate(value):
                self.template(where, f"{field}[{i}]", sub)

    def error_equals(self, where: str, field: str, value: Any, last: bool, what: str) -> None:
        if (not isinstance(value, list) or not value
                or not all(isinstance(v, str) and v for v in value)):
            self.invalid(where, f"{field}.ErrorEquals", "must be a non-empty array of error names")
            return
        if "States.ALL" in value:
            if len(value) != 1:
                self.invalid(where, f"{field}.ErrorEquals", "States.ALL must appear alone")
            if not last:
                self.invalid(where, f"{field}.ErrorEquals", f"a {what} matching States.ALL must "
                             f"be the last {what}")

    def retriers(self, where: str, value: Any) -> None:
        if not isinstance(value, list):
            self.invalid(where, "Retry", "must be an array of retriers")
            return
        for i, retrier in enumerate(value):
            field = f"Retry[{i}]"
            if not isinstance(retrier, dict):
                self.invalid(where, field, "must be an object")
                continue
            for key in retrier:
                if key not in _RETRY_FIELDS:
                    self.invalid(where, f"{field}.{key}", "is not a retrier field")
            self.error_equals(where, field, retrier.get("ErrorEquals"), i == len(value) - 1,
                              "retrier")
            if "IntervalSeconds" in retrier and not self.positive_int(retrier["IntervalSeconds"]):
                self.invalid(where, f"{field}.IntervalSeconds", "must be a positive integer")
            if "MaxAttempts" in retrier and not (_is_int(retrier["MaxAttempts"])
                                                 and retrier["MaxAttempts"] >= 0):
                self.invalid(where, f"{field}.MaxAttempts", "must be a non-negative integer")
            if "BackoffRate" in retrier and not (_is_number(retrier["BackoffRate"])
                                                 and retrier["BackoffRate"] >= 1.0):
                self.invalid(where, f"{field}.BackoffRate", "must be a number >= 1.0")
            if "MaxDelaySeconds" in retrier and not self.positive_int(retrier["MaxDelaySeconds"]):
                self.invalid(where, f"{field}.MaxDelaySeconds", "must be a positive integer")
            if retrier.get("JitterStrategy", "NONE") not in ("NONE", "FULL"):
                self.invalid(where, f"{field}.JitterStrategy", "must be NONE or FULL")

    def catchers(self, where: str, value: Any, names: Mapping[str, Any]) -> list[str]:
        if not isinstance(value, list):
            self.invalid(where, "Catch", "must be an array of catchers")
            return []
        targets: list[str] = []
        for i, catcher in enumerate(value):
            field = f"Catch[{i}]"
            if not isinstance(catcher, dict):
                self.invalid(where, field, "must be an object")
                continue
            for key in catcher:
                if key not in _CATCH_FIELDS:
                    message = _UNSUPPORTED_FIELDS.get(key)
                    if message:
                        self.unsupported(where, f"{field}.{key}", message)
                    else:
                        self.invalid(where, f"{field}.{key}", "is not a catcher field")
            self.error_equals(where, field, catcher.get("ErrorEquals"), i == len(value) - 1,
                              "catcher")
            if "Next" not in catcher:
                self.invalid(where, f"{field}.Next", "is required")
            else:
                targets.append(self.target(where, f"{field}.Next", catcher["Next"], names))
            if "ResultPath" in catcher:
                self.path(where, f"{field}.ResultPath", catcher["ResultPath"], nullable=True,
                          reference=True)
        return targets


def validate(definition: Any, *, resources: Mapping[str, Any] | None = None,
             has_item_reader: bool = True, has_result_writer: bool = False) -> list[Problem]:
    """Every problem in ``definition`` (empty when it can run).

    ``resources``: when given, each Task Resource must be one of its keys. ``has_item_reader`` /
    ``has_result_writer``: whether the interpreter will get those hooks.
    """
    validator = _Validator(resources, has_item_reader, has_result_writer)
    validator.machine(definition, "(definition)", "top")
    return validator.problems


def _raise_problems(problems: Sequence[Problem]) -> None:
    if not problems:
        return
    if all(p.unsupported for p in problems):
        raise UnsupportedDefinition(problems)
    raise InvalidDefinition(problems)


# ----------------------------------------------------------------------------------------------
# Execution machinery
# ----------------------------------------------------------------------------------------------


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True)
class _Options:
    resources: Mapping[str, Resource]
    item_reader: ItemReader | None
    result_writer: ResultWriter | None
    executor_factory: ExecutorFactory
    sleep: Callable[[float], None]
    clock: Callable[[], float]
    now: Callable[[], datetime]
    random: Callable[[], float]
    uuid_factory: Callable[[], str]
    payload_limit_bytes: int | None
    max_transitions: int


@dataclass(frozen=True)
class _ExecInfo:
    execution_id: str
    name: str
    input: Any
    start_time: str
    state_machine_id: str
    state_machine_name: str


@dataclass(frozen=True)
class _Job:
    """A picklable unit of work: run ``machine`` on ``input`` (a Map iteration or a branch)."""

    opts: _Options
    machine: Mapping[str, Any]
    input: Any
    info: _ExecInfo
    scope: str
    remaining: float | None


@dataclass(frozen=True)
class _Outcome:
    ok: bool
    output: Any
    error: str
    cause: str
    kind: _Kind
    events: tuple[Event, ...]


def _run_job(job: _Job) -> _Outcome:
    """Run one iteration/branch (module-level so process pools can pickle it)."""
    deadline = None if job.remaining is None else job.opts.clock() + job.remaining
    runner = _Runner(job.opts, job.info, job.scope, deadline)
    try:
        output = runner.run_machine(job.machine, job.input)
    except _Failure as failure:
        return _Outcome(False, None, failure.error, failure.cause, failure.kind,
                        tuple(runner.events))
    return _Outcome(True, output, "", "", "error", tuple(runner.events))


class _TaskTimedOut(Exception):
    pass


def _call_resource(fn: Resource, params: Any, ctx: TaskContext, wait_s: float | None) -> Any:
    """Call ``fn``; with ``wait_s``, in a daemon thread abandoned after ``wait_s`` seconds."""
    if wait_s is None:
        return fn(params, ctx)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn(params, ctx)
        except BaseException as exc:  # re-raised in the calling thread
            box["error"] = exc

    thread = threading.Thread(target=target, name=f"asl-task-{ctx.state_name}"[:40],
                              daemon=True)
    thread.start()
    thread.join(max(wait_s, 0.0))
    if thread.is_alive():
        raise _TaskTimedOut
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _to_json(value: Any, what: str) -> Any:
    """A JSON-only deep copy of ``value`` (fatal States.Runtime if it is not JSON)."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise _runtime(f"{what} is not JSON-serialisable: {exc}") from None


def _matches(error_equals: Sequence[str], error: str) -> bool:
    for name in error_equals:
        if name == "States.ALL" or name == error:
            return True
        if name == "States.TaskFailed" and error != "States.Timeout":
            return True
    return False


class _Runner:
    """Runs one (sub-)state machine; collects its events."""

    def __init__(self, opts: _Options, info: _ExecInfo, scope: str,
                 deadline: float | None) -> None:
        self.opts = opts
        self.info = info
        self.scope = scope
        self.deadline = deadline
        self.events: list[Event] = []
        self.transitions = 0
        self.entered_time = ""

    # -- bookkeeping ---------------------------------------------------------------------------

    def emit(self, kind: str, state: str | None, **detail: Any) -> None:
        self.events.append(Event(kind, state, self.scope, detail))

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - self.opts.clock()

    def timed_out(self, what: str) -> _Failure:
        return _Failure("States.Timeout", f"The execution exceeded its TimeoutSeconds {what}",
                        "timeout")

    def sleep(self, seconds: float, state: str) -> None:
        remaining = self.remaining()
        if remaining is not None and seconds >= remaining:
            self.opts.sleep(max(remaining, 0.0))
            raise self.timed_out(f"while state '{state}' was waiting")
        if seconds > 0:
            self.opts.sleep(seconds)

    def check_size(self, value: Any, what: str) -> None:
        limit = self.opts.payload_limit_bytes
        if limit is None:
            return
        size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
        if size > limit:
            raise _Failure("States.DataLimitExceeded", f"{what} is {size} bytes, above the "
                           f"{limit}-byte payload limit; pass object-store keys instead",
                           "fatal")

    def context(self, state: str, retry_count: int = 0,
                item: tuple[int, Any] | None = None) -> dict[str, Any]:
        info = self.info
        ctx: dict[str, Any] = {
            "Execution": {"Id": info.execution_id, "Name": info.name, "Input": info.input,
                          "StartTime": info.start_time},
            "StateMachine": {"Id": info.state_machine_id, "Name": info.state_machine_name},
            "State": {"Name": state, "EnteredTime": self.entered_time,
                      "RetryCount": retry_count},
        }
        if item is not None:
            ctx["Map"] = {"Item": {"Index": item[0], "Value": item[1]}}
        return ctx

    # -- paths and templates -------------------------------------------------------------------

    def get(self, text: str, data: Any, ctx: Any, what: str) -> Any:
        value = _lookup(_parse_path(text), data, ctx)
        if value is _MISSING:
            source = "the context object" if text.startswith("$$") else f"input {_short(data)}"
            raise _runtime(f"The JSONPath '{text}' specified for {what} could not be found in "
                           f"{source}")
        return value

    def input_path(self, name: str, state: Mapping[str, Any], raw: Any) -> Any:
        if "InputPath" not in state:
            return raw
        path = state["InputPath"]
        if path is None:
            return {}
        return self.get(path, raw, self.context(name), f"InputPath of state '{name}'")

    def output_path(self, name: str, state: Mapping[str, Any], data: Any) -> Any:
        if "OutputPath" not in state:
            return data
        path = state["OutputPath"]
        if path is None:
            return {}
        return self.get(path, data, self.context(name), f"OutputPath of state '{name}'")

    def result_path(self, state: Mapping[str, Any], raw: Any, result: Any) -> Any:
        path = state.get("ResultPath", "$")
        if path is None:
            return raw
        return _set_path(_parse_path(path), raw, result)

    def render(self, template: Any, data: Any, ctx: Any, what: str) -> Any:
        if isinstance(template, dict):
            out: dict[str, Any] = {}
            for key, value in template.items():
                if key.endswith(".$"):
                    out[key[:-2]] = self.dynamic(value, data, ctx, f"the field '{key}' of {what}")
                else:
                    out[key] = self.render(value, data, ctx, what)
            return out
        if isinstance(template, list):
            return [self.render(value, data, ctx, what) for value in template]
        return template

    def dynamic(self, expr: str, data: Any, ctx: Any, what: str) -> Any:
        if expr.startswith("States."):
            return self.intrinsic(_parse_intrinsic(expr), data, ctx, what)
        return self.get(expr, data, ctx, what)

    def intrinsic(self, node: _Lit | _Ref | _Call, data: Any, ctx: Any, what: str) -> Any:
        if isinstance(node, _Lit):
            return node.value
        if isinstance(node, _Ref):
            return self.get(node.path.text, data, ctx, what)
        args = [self.intrinsic(arg, data, ctx, what) for arg in node.args]
        if node.name == "States.Format":
            first = node.args[0]
            template = first.raw if isinstance(first, _Lit) and first.raw is not None else args[0]
            if not isinstance(template, str):
                raise _intrinsic_failure("States.Format needs a string template")
            return _states_format(template, args[1:])
        return self.call_intrinsic(node.name, args)

    def call_intrinsic(self, name: str, args: list[Any]) -> Any:
        def need(cond: bool, why: str) -> None:
            if not cond:
                raise _intrinsic_failure(f"{name}: {why} (arguments {_short(args)})")

        if name == "States.StringToJson":
            need(isinstance(args[0], str), "the argument must be a string")
            try:
                return json.loads(args[0])
            except ValueError as exc:
                raise _intrinsic_failure(f"States.StringToJson: invalid JSON: {exc}") from None
        if name == "States.JsonToString":
            return json.dumps(args[0], separators=(",", ":"), ensure_ascii=False)
        if name == "States.Array":
            return list(args)
        if name == "States.ArrayPartition":
            size = _as_int(args[1])
            need(isinstance(args[0], list) and size is not None and size > 0,
                 "needs an array and a positive chunk size")
            assert size is not None
            return [args[0][i:i + size] for i in range(0, len(args[0]), size)]
        if name == "States.ArrayContains":
            need(isinstance(args[0], list), "the first argument must be an array")
            return any(item == args[1] and type(item) is type(args[1]) for item in args[0])
        if name == "States.ArrayRange":
            start, end, step = (_as_int(a) for a in args)
            need(start is not None and end is not None and step is not None and step != 0,
                 "needs integer start, end and a non-zero step")
            assert start is not None
            assert end is not None
            assert step is not None
            values = list(range(start, end + (1 if step > 0 else -1), step))
            need(len(values) <= 1000, "the range may hold at most 1000 items")
            return values
        if name == "States.ArrayGetItem":
            index = _as_int(args[1])
            need(isinstance(args[0], list) and index is not None
                 and 0 <= index < len(args[0]), "needs an array and an index inside it")
            assert index is not None
            return args[0][index]
        if name == "States.ArrayLength":
            need(isinstance(args[0], list), "the argument must be an array")
            return len(args[0])
        if name == "States.ArrayUnique":
            need(isinstance(args[0], list), "the argument must be an array")
            seen: set[str] = set()
            unique: list[Any] = []
            for item in args[0]:
                key = json.dumps(item, sort_keys=True)
                if key not in seen:
                    seen.add(key)
                    unique.append(item)
            return unique
        if name == "States.Base64Encode":
            need(isinstance(args[0], str) and len(args[0]) <= 10_000,
                 "needs a string of at most 10000 characters")
            return base64.b64encode(args[0].encode()).decode()
        if name == "States.Base64Decode":
            need(isinstance(args[0], str) and len(args[0]) <= 10_000,
                 "needs a string of at most 10000 characters")
            try:
                return base64.b64decode(args[0], validate=True).decode()
            except ValueError as exc:
                raise _intrinsic_failure(f"States.Base64Decode: {exc}") from None
        if name == "States.Hash":
            need(isinstance(args[0], str) and args[1] in _HASHES,
                 f"needs a string and one of {', '.join(_HASHES)}")
            digest = hashlib.new(_HASHES[args[1]], args[0].encode(), usedforsecurity=False)
            return digest.hexdigest()
        if name == "States.JsonMerge":
            need(isinstance(args[0], dict) and isinstance(args[1], dict)
                 and isinstance(args[2], bool), "needs two objects and a boolean")
            need(args[2] is False, "only shallow merging (false) is supported, as in AWS")
            return {**args[0], **args[1]}
        if name == "States.MathRandom":
            start, end = _as_int(args[0]), _as_int(args[1])
            need(start is not None and end is not None and start < end,
                 "needs integers start < end")
            assert start is not None
            assert end is not None
            if len(args) == 3:
                seed = _as_int(args[2])
                need(seed is not None, "the seed must be an integer")
                return _random.Random(seed).randrange(start, end)  # noqa: S311 - not crypto
            return start + min(int(self.opts.random() * (end - start)), end - start - 1)
        if name == "States.MathAdd":
            need(_is_number(args[0]) and _is_number(args[1]), "needs two numbers")
            total = args[0] + args[1]
            return int(total) if _is_int(args[0]) and _is_int(args[1]) else total
        if name == "States.StringSplit":
            need(isinstance(args[0], str) and isinstance(args[1], str) and args[1] != "",
                 "needs a string and a non-empty string of delimiter characters")
            pattern = "[" + "".join(re.escape(c) for c in args[1]) + "]"
            return [token for token in re.split(pattern, args[0]) if token]
        if name == "States.UUID":
            return self.opts.uuid_factory()
        raise _intrinsic_failure(f"{name} is not implemented")  # pragma: no cover

    # -- the machine loop ----------------------------------------------------------------------

    def run_machine(self, machine: Mapping[str, Any], data: Any) -> Any:
        states: Mapping[str, Any] = machine["States"]
        current: str = machine["StartAt"]
        while True:
            remaining = self.remaining()
            if remaining is not None and remaining <= 0:
                raise self.timed_out(f"before state '{current}'")
            self.transitions += 1
            if self.transitions > self.opts.max_transitions:
                raise _runtime(f"more than {self.opts.max_transitions} state transitions "
                               f"(a loop?) at state '{current}'")
            state: Mapping[str, Any] = states[current]
            self.entered_time = _iso(self.opts.now())
            self.emit("StateEntered", current, type=state["Type"], input=data)
            self.check_size(data, f"the input of state '{current}'")
            handler = getattr(self, f"do_{state['Type'].lower()}")
            output, following = handler(current, state, data)
            self.check_size(output, f"the output of state '{current}'")
            self.emit("StateExited", current, output=output)
            if state["Type"] in ("Succeed",) or (following is None and state.get("End")):
                return output
            current = following if following is not None else state["Next"]
            data = output

    # -- states --------------------------------------------------------------------------------

    def do_pass(self, name: str, state: Mapping[str, Any], raw: Any) -> tuple[Any, str | None]:
        effective = self.input_path(name, state, raw)
        if "Parameters" in state:
            effective = self.render(state["Parameters"], effective, self.context(name),
                                    f"the Parameters of state '{name}'")
        result = state.get("Result", effective)
        output = self.result_path(state, raw, result)
        return self.output_path(name, state, output), None

    def do_succeed(self, name: str, state: Mapping[str, Any],
                   raw: Any) -> tuple[Any, str | None]:
        return self.output_path(name, state, self.input_path(name, state, raw)), None

    def do_fail(self, name: str, state: Mapping[str, Any], raw: Any) -> tuple[Any, str | None]:
        ctx = self.context(name)
        values: dict[str, str] = {}
        for plain in ("Error", "Cause"):
            value: Any = state.get(plain, "")
            if f"{plain}Path" in state:
                value = self.dynamic(state[f"{plain}Path"], raw, ctx,
                                     f"the {plain}Path of state '{name}'")
                if not isinstance(value, str):
                    raise _runtime(f"{plain}Path of state '{name}' resolved to {_short(value)}, "
                                   "not a string")
            values[plain] = value
        self.emit("FailStateReached", name, error=values["Error"], cause=values["Cause"])
        raise _Failure(values["Error"], values["Cause"])

    def do_wait(self, name: str, state: Mapping[str, Any], raw: Any) -> tuple[Any, str | None]:
        effective = self.input_path(name, state, raw)
        ctx = self.context(name)
        seconds: float
        if "Seconds" in state:
            seconds = float(state["Seconds"])
        elif "SecondsPath" in state:
            value = self.get(state["SecondsPath"], effective, ctx, f"SecondsPath of '{name}'")
            if not (_is_int(value) and value >= 0):
                raise _runtime(f"SecondsPath of state '{name}' resolved to {_short(value)}, not "
                               "a non-negative integer")
            seconds = float(value)
        else:
            stamp = (state["Timestamp"] if "Timestamp" in state else
                     self.get(state["TimestampPath"], effective, ctx,
                              f"TimestampPath of '{name}'"))
            moment = _parse_timestamp(stamp)
            if moment is None:
                raise _runtime(f"the timestamp of Wait state '{name}' is not an RFC 3339 "
                               f"timestamp: {_short(stamp)}")
            seconds = max((moment - self.opts.now()).total_seconds(), 0.0)
        self.emit("WaitStarted", name, seconds=seconds)
        self.sleep(seconds, name)
        return self.output_path(name, state, effective), None

    def do_choice(self, name: str, state: Mapping[str, Any],
                  raw: Any) -> tuple[Any, str | None]:
        effective = self.input_path(name, state, raw)
        ctx = self.context(name)
        following: str | None = None
        for rule in state["Choices"]:
            if self.rule(name, rule, effective, ctx):
                following = rule["Next"]
                break
        else:
            following = state.get("Default")
            if following is None:
                raise _Failure("States.NoChoiceMatched", f"No Choices rule of state '{name}' "
                               f"matched input {_short(effective)} and there is no Default")
        self.emit("ChoiceMade", name, next=following)
        return self.output_path(name, state, effective), following

    def rule(self, name: str, rule: Mapping[str, Any], data: Any, ctx: Any) -> bool:
        if "And" in rule:
            return all(self.rule(name, sub, data, ctx) for sub in rule["And"])
        if "Or" in rule:
            return any(self.rule(name, sub, data, ctx) for sub in rule["Or"])
        if "Not" in rule:
            return not self.rule(name, rule["Not"], data, ctx)
        variable = rule["Variable"]
        op = next(k for k in rule if k in _ALL_OPS)
        expected = rule[op]
        value = _lookup(_parse_path(variable), data, ctx)
        if op == "IsPresent":
            return (value is not _MISSING) == bool(expected)
        if value is _MISSING:
            raise _runtime(f"Invalid path '{variable}': the Variable of a Choices rule of state "
                           f"'{name}' references a value that does not exist in "
                           f"{_short(data)}")
        if op in _TYPE_TESTS:
            actual = {"IsNull": value is None, "IsNumeric": _is_number(value),
                      "IsString": isinstance(value, str), "IsBoolean": isinstance(value, bool),
                      "IsTimestamp": _parse_timestamp(value) is not None}[op]
            return actual == bool(expected)
        if op == "StringMatches":
            return isinstance(value, str) and _wildcard(expected).fullmatch(value) is not None
        if op in _PATH_OPS:
            expected = self.get(expected, data, ctx, f"{op} of a Choices rule of '{name}'")
            op = op.removesuffix("Path")
        return _compare(op, value, expected)

    def do_task(self, name: str, state: Mapping[str, Any], raw: Any) -> tuple[Any, str | None]:
        def attempt(retry_count: int) -> Any:
            ctx = self.context(name, retry_count)
            effective = self.input_path(name, state, raw)
            params = (self.render(state["Parameters"], effective, ctx,
                                  f"the Parameters of state '{name}'")
                      if "Parameters" in state else effective)
            timeout: float | None = None
            if "TimeoutSeconds" in state:
                timeout = float(state["TimeoutSeconds"])
            elif "TimeoutSecondsPath" in state:
                value = self.get(state["TimeoutSecondsPath"], effective, ctx,
                                 f"TimeoutSecondsPath of '{name}'")
                if not (_is_int(value) and value > 0):
                    raise _runtime(f"TimeoutSecondsPath of state '{name}' resolved to "
                                   f"{_short(value)}, not a positive integer")
                timeout = float(value)
            result = self.invoke(name, state["Resource"], params, retry_count, timeout)
            if "ResultSelector" in state:
                result = self.render(state["ResultSelector"], result, ctx,
                                     f"the ResultSelector of state '{name}'")
            return result

        return self.guarded(name, state, raw, attempt)

    def invoke(self, name: str, resource: str, params: Any, retry_count: int,
               timeout: float | None) -> Any:
        fn = self.opts.resources[resource]
        remaining = self.remaining()
        wait_s = timeout
        execution_bound = False
        if remaining is not None and (timeout is None or remaining < timeout):
            wait_s, execution_bound = remaining, True
        task_ctx = TaskContext(name, resource, self.info.execution_id, self.info.name,
                               retry_count, timeout, self.scope)
        self.emit("TaskScheduled", name, resource=resource, parameters=params,
                  retry_count=retry_count)
        try:
            raw_result = _call_resource(fn, params, task_ctx, wait_s)
        except _TaskTimedOut:
            if execution_bound:
                raise self.timed_out(f"while task '{name}' was running") from None
            cause = f"Task '{name}' did not finish within TimeoutSeconds={timeout:g}"
            self.emit("TaskTimedOut", name, error="States.Timeout", cause=cause)
            raise _Failure("States.Timeout", cause) from None
        except TaskFailed as exc:
            self.emit("TaskFailed", name, error=exc.error, cause=exc.cause)
            raise _Failure(exc.error, exc.cause) from None
        except _Failure:
            raise
        except Exception as exc:
            cause = f"{type(exc).__name__}: {exc}"
            self.emit("TaskFailed", name, error="States.TaskFailed", cause=cause)
            raise _Failure("States.TaskFailed", cause) from None
        result = _to_json(raw_result, f"the result of task '{name}' ({resource})")
        self.check_size(result, f"the result of task '{name}'")
        self.emit("TaskSucceeded", name, output=result)
        return result

    def guarded(self, name: str, state: Mapping[str, Any], raw: Any,
                attempt: Callable[[int], Any]) -> tuple[Any, str | None]:
        """Run ``attempt`` under the state's Retry and Catch; apply ResultPath/OutputPath."""
        retriers: list[Mapping[str, Any]] = state.get("Retry", [])
        catchers: list[Mapping[str, Any]] = state.get("Catch", [])
        used = [0] * len(retriers)
        retry_count = 0
        while True:
            try:
                result = attempt(retry_count)
                output = self.result_path(state, raw, result)
                return self.output_path(name, state, output), None
            except _Failure as failure:
                if failure.kind != "error":
                    raise
                index = next((i for i, r in enumerate(retriers)
                              if _matches(r["ErrorEquals"], failure.error)), None)
                if index is not None and used[index] < retriers[index].get("MaxAttempts", 3):
                    retrier = retriers[index]
                    delay = (retrier.get("IntervalSeconds", 1)
                             * retrier.get("BackoffRate", 2.0) ** used[index])
                    if "MaxDelaySeconds" in retrier:
                        delay = min(delay, float(retrier["MaxDelaySeconds"]))
                    if retrier.get("JitterStrategy", "NONE") == "FULL":
                        delay *= self.opts.random()
                    used[index] += 1
                    retry_count += 1
                    self.emit("RetryScheduled", name, error=failure.error, cause=failure.cause,
                              retrier=index, attempt=used[index], delay=delay)
                    self.sleep(delay, name)
                    continue
                for catcher in catchers:
                    if _matches(catcher["ErrorEquals"], failure.error):
                        error_output = {"Error": failure.error, "Cause": failure.cause}
                        self.emit("ErrorCaught", name, error=failure.error,
                                  cause=failure.cause, next=catcher["Next"])
                        output = self.result_path(catcher, raw, error_output)
                        return output, catcher["Next"]
                self.emit("StateFailed", name, error=failure.error, cause=failure.cause)
                raise

    def do_parallel(self, name: str, state: Mapping[str, Any],
                    raw: Any) -> tuple[Any, str | None]:
        def attempt(retry_count: int) -> Any:
            ctx = self.context(name, retry_count)
            effective = self.input_path(name, state, raw)
            if "Parameters" in state:
                effective = self.render(state["Parameters"], effective, ctx,
                                        f"the Parameters of state '{name}'")
            jobs = [self.job(branch, effective, self.info, f"{name}[{i}]")
                    for i, branch in enumerate(state["Branches"])]
            outcomes = self.fan_out(name, jobs, len(jobs), None)
            self.merge_events(name, outcomes, "Branch")
            failed = [o for o in outcomes if o is not None and not o.ok]
            if failed:
                raise _Failure(failed[0].error, failed[0].cause, failed[0].kind)
            result = [o.output for o in outcomes if o is not None]
            if "ResultSelector" in state:
                result = self.render(state["ResultSelector"], result, ctx,
                                     f"the ResultSelector of state '{name}'")
            return result

        return self.guarded(name, state, raw, attempt)

    def do_map(self, name: str, state: Mapping[str, Any], raw: Any) -> tuple[Any, str | None]:
        processor: Mapping[str, Any] = state.get("ItemProcessor") or state["Iterator"]
        config: Mapping[str, Any] = processor.get("ProcessorConfig", {})
        distributed = config.get("Mode", "INLINE") == "DISTRIBUTED"
        machine = {"StartAt": processor["StartAt"], "States": processor["States"]}
        label = state.get("Label", name)

        def number(field: str, ctx: Any, effective: Any, check: Callable[[Any], bool],
                   what: str) -> Any:
            if field in state:
                return state[field]
            if f"{field}Path" in state:
                value = self.get(state[f"{field}Path"], effective, ctx, f"{field}Path of "
                                 f"'{name}'")
                if not check(value):
                    raise _runtime(f"{field}Path of state '{name}' resolved to {_short(value)}, "
                                   f"not {what}")
                return value
            return None

        def nonneg_int(value: Any) -> bool:
            return _is_int(value) and value >= 0

        def attempt(retry_count: int) -> Any:
            ctx = self.context(name, retry_count)
            effective = self.input_path(name, state, raw)
            items = (self.read_items(name, state, effective, ctx) if "ItemReader" in state
                     else self.get(state.get("ItemsPath", "$"), effective, ctx,
                                   f"ItemsPath of state '{name}'"))
            if not isinstance(items, list):
                raise _runtime(f"ItemsPath of Map state '{name}' resolved to {_short(items)}, "
                               "not a JSON array")
            concurrency = number("MaxConcurrency", ctx, effective, nonneg_int,
                                 "a non-negative integer") or 0
            selector = state.get("ItemSelector", state.get("Parameters"))
            inputs = [self.render(selector, effective, self.context(name, retry_count,
                                                                    (i, item)),
                                  f"the ItemSelector of state '{name}'")
                      if selector is not None else item
                      for i, item in enumerate(items)]
            tolerance: tuple[int | None, float | None] | None = None
            if distributed:
                count = number("ToleratedFailureCount", ctx, effective, nonneg_int,
                               "a non-negative integer")
                percent = number("ToleratedFailurePercentage", ctx, effective,
                                 lambda v: _is_number(v) and 0 <= v <= 100,
                                 "a number in [0, 100]")
                tolerance = (count, percent)
            jobs = []
            for i, item_input in enumerate(inputs):
                info = self.info
                if distributed:
                    info = _ExecInfo(f"{self.info.execution_id}/{label}/{i}",
                                     f"{self.info.name}/{label}/{i}", item_input,
                                     _iso(self.opts.now()), self.info.state_machine_id,
                                     self.info.state_machine_name)
                jobs.append(self.job(machine, item_input, info, f"{name}[{i}]"))
            self.emit("MapRunStarted", name, items=len(items), max_concurrency=concurrency,
                      mode="DISTRIBUTED" if distributed else "INLINE")
            outcomes = self.fan_out(name, jobs, concurrency, tolerance)
            self.merge_events(name, outcomes, "MapIteration")
            result = self.map_result(name, outcomes, tolerance)
            if "ResultWriter" in state:
                writer = state["ResultWriter"]
                spec = {"Resource": writer.get("Resource", _S3_PUT_OBJECT),
                        "Parameters": self.render(writer.get("Parameters", {}), effective, ctx,
                                                  f"the ResultWriter of state '{name}'")}
                assert self.opts.result_writer is not None
                result = _to_json(self.opts.result_writer(spec, result),
                                  f"the ResultWriter output of state '{name}'")
            if "ResultSelector" in state:
                result = self.render(state["ResultSelector"], result, ctx,
                                     f"the ResultSelector of state '{name}'")
            return result

        return self.guarded(name, state, raw, attempt)

    def read_items(self, name: str, state: Mapping[str, Any], effective: Any,
                   ctx: Any) -> list[Any]:
        reader: Mapping[str, Any] = state["ItemReader"]
        config = dict(reader.get("ReaderConfig", {}))
        spec = {"Resource": reader["Resource"], "ReaderConfig": config,
                "Parameters": self.render(reader["Parameters"], effective, ctx,
                                          f"the ItemReader of state '{name}'")}
        max_items = config.get("MaxItems")
        if "MaxItemsPath" in config:
            max_items = self.get(config["MaxItemsPath"], effective, ctx,
                                 f"MaxItemsPath of '{name}'")
            if not (_is_int(max_items) and max_items >= 0):
                raise _runtime(f"MaxItemsPath of state '{name}' resolved to "
                               f"{_short(max_items)}, not a non-negative integer")
        assert self.opts.item_reader is not None
        try:
            items = self.opts.item_reader(spec)
        except Exception as exc:
            raise _Failure("States.ItemReaderFailed", f"ItemReader of state '{name}' could not "
                           f"read {_short(spec['Parameters'])}: {type(exc).__name__}: {exc}")\
                from None
        if not isinstance(items, list):
            raise _Failure("States.ItemReaderFailed", f"ItemReader of state '{name}' returned "
                           f"{type(items).__name__}, not a JSON array")
        items = _to_json(items, f"the items read by state '{name}'")
        self.emit("ItemsRead", name, parameters=spec["Parameters"], count=len(items))
        selected: list[Any] = items if not max_items else items[:max_items]
        return selected

    def job(self, machine: Mapping[str, Any], data: Any, info: _ExecInfo, label: str) -> _Job:
        scope = f"{self.scope}/{label}" if self.scope else label
        return _Job(self.opts, machine, data, info, scope, self.remaining())

    def fan_out(self, name: str, jobs: Sequence[_Job], concurrency: int,
                tolerance: tuple[int | None, float | None] | None) -> list[_Outcome | None]:
        """Run ``jobs`` with at most ``concurrency`` (0 = all) in flight; stop starting new ones
        after a failure that ends the state. Outcomes are in job order (None = not run)."""
        total = len(jobs)
        outcomes: list[_Outcome | None] = [None] * total
        if total == 0:
            return outcomes
        workers = total if concurrency <= 0 else min(total, concurrency)
        executor = self.opts.executor_factory(name, workers)
        pending: dict[Future[_Outcome], int] = {}
        next_index = 0
        failures = 0
        stop = False
        try:
            while pending or (not stop and next_index < total):
                while not stop and next_index < total and len(pending) < workers:
                    pending[executor.submit(_run_job, jobs[next_index])] = next_index
                    next_index += 1
                done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: pending[f]):
                    index = pending.pop(future)
                    try:
                        outcome = future.result()
                    except Exception as exc:
                        outcome = _Outcome(False, None, "States.Runtime", f"iteration {index} "
                                           f"of '{name}' crashed: {type(exc).__name__}: {exc}",
                                           "fatal", ())
                    outcomes[index] = outcome
                    if outcome.ok:
                        continue
                    if tolerance is None or outcome.kind == "timeout":
                        stop = True
                        continue
                    failures += 1
                    if self.exceeds(failures, total, tolerance):
                        stop = True
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
        return outcomes

    @staticmethod
    def exceeds(failures: int, total: int,
                tolerance: tuple[int | None, float | None]) -> bool:
        count, percent = tolerance
        if count is None and percent is None:
            return failures > 0
        if count is not None and failures > count:
            return True
        return percent is not None and 100.0 * failures / total > percent

    def merge_events(self, name: str, outcomes: Sequence[_Outcome | None], prefix: str) -> None:
        for index, outcome in enumerate(outcomes):
            if outcome is None:
                continue
            self.emit(f"{prefix}Started", name, index=index)
            self.events.extend(outcome.events)
            if outcome.ok:
                self.emit(f"{prefix}Succeeded", name, index=index)
            else:
                self.emit(f"{prefix}Failed", name, index=index, error=outcome.error,
                          cause=outcome.cause)

    def map_result(self, name: str, outcomes: Sequence[_Outcome | None],
                   tolerance: tuple[int | None, float | None] | None) -> list[Any]:
        failed = [(i, o) for i, o in enumerate(outcomes) if o is not None and not o.ok]
        timeout = next((o for _, o in failed if o.kind == "timeout"), None)
        if timeout is not None:
            raise _Failure(timeout.error, timeout.cause, "timeout")
        if tolerance is None:
            if failed:
                outcome = failed[0][1]
                raise _Failure(outcome.error, outcome.cause, outcome.kind)
            return [o.output for o in outcomes if o is not None]
        if failed and (self.exceeds(len(failed), len(outcomes), tolerance)
                       or any(o is None for o in outcomes)):
            detail = "; ".join(f"item {i}: {o.error}: {o.cause}" for i, o in failed[:5])
            more = f" (and {len(failed) - 5} more)" if len(failed) > 5 else ""
            raise _Failure("States.ExceedToleratedFailureThreshold",
                           f"Map state '{name}': {len(failed)} of {len(outcomes)} child "
                           f"executions failed, above the tolerated failure threshold: "
                           f"{detail}{more}")
        return [o.output if o is not None and o.ok else
                {"Error": o.error if o is not None else "", "Cause": o.cause if o else ""}
                for o in outcomes]


# ----------------------------------------------------------------------------------------------
# The interpreter
# ----------------------------------------------------------------------------------------------


class Interpreter:
    """Runs one ASL definition; see the module docstring for the API and the semantics.

    The definition is validated on construction (raising :class:`InvalidDefinition` or
    :class:`UnsupportedDefinition` with every problem); :meth:`run` may be called any number of
    times, also concurrently.
    """

    def __init__(self, definition: Mapping[str, Any], resources: Mapping[str, Resource], *,
                 item_reader: ItemReader | None = None,
                 result_writer: ResultWriter | None = None,
                 executor_factory: ExecutorFactory = thread_pool,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], datetime] = _utcnow,
                 random: Callable[[], float] = _random.random,
                 uuid_factory: Callable[[], str] | None = None,
                 payload_limit_bytes: int | None = DEFAULT_PAYLOAD_LIMIT,
                 max_transitions: int = DEFAULT_MAX_TRANSITIONS,
                 state_machine_name: str = "local") -> None:
        problems = validate(definition, resources=resources,
                            has_item_reader=item_reader is not None,
                            has_result_writer=result_writer is not None)
        _raise_problems(problems)
        self.definition: dict[str, Any] = _to_json(dict(definition), "the definition")
        self.state_machine_name = state_machine_name
        self.state_machine_id = (f"arn:aws:states:local:000000000000:stateMachine:"
                                 f"{state_machine_name}")
        self._opts = _Options(
            resources=dict(resources), item_reader=item_reader, result_writer=result_writer,
            executor_factory=executor_factory, sleep=sleep, clock=clock, now=now, random=random,
            uuid_factory=uuid_factory if uuid_factory is not None else _uuid4,
            payload_limit_bytes=payload_limit_bytes, max_transitions=max_transitions)

    def run(self, input: Any = None, name: str | None = None) -> Execution:
        """Execute the state machine on ``input`` (any JSON value; ``None`` means ``{}``).

        Raises ``ValueError`` if ``input`` is not JSON-serialisable; every failure inside the
        execution is reported in the returned :class:`Execution` instead.
        """
        opts = self._opts
        name = name if name is not None else opts.uuid_factory()
        try:
            data = _to_json({} if input is None else input, "the execution input")
        except _Failure as failure:
            raise ValueError(failure.cause) from None
        info = _ExecInfo(f"arn:aws:states:local:000000000000:execution:"
                         f"{self.state_machine_name}:{name}", name, data, _iso(opts.now()),
                         self.state_machine_id, self.state_machine_name)
        timeout = self.definition.get("TimeoutSeconds")
        deadline = None if timeout is None else opts.clock() + float(timeout)
        runner = _Runner(opts, info, "", deadline)
        runner.emit("ExecutionStarted", None, input=data, name=name)
        try:
            output = runner.run_machine(self.definition, data)
        except _Failure as failure:
            status: Status = "TIMED_OUT" if failure.kind == "timeout" else "FAILED"
            runner.emit("ExecutionTimedOut" if status == "TIMED_OUT" else "ExecutionFailed",
                        None, error=failure.error, cause=failure.cause)
            return Execution(name, info.execution_id, status, None, failure.error or None,
                             failure.cause or None, tuple(runner.events))
        runner.emit("ExecutionSucceeded", None, output=output)
        return Execution(name, info.execution_id, "SUCCEEDED", output, None, None,
                         tuple(runner.events))


def _uuid4() -> str:
    return str(uuid.uuid4())
