"""The local runner: :class:`Interpreter` executes a validated definition in-process.

Each Task ``Resource`` is bound to a callable ``resource(params, TaskContext) -> JSON result``
(``params``: the rendered Parameters, else the state's input); it raises :class:`TaskFailed` to
fail with a named error, any other exception being ``States.TaskFailed``. ``item_reader(spec)``
returns a Map's items; ``spec`` is ``{"Resource", "ReaderConfig", "Parameters"}``, rendered.

As in AWS: the first retrier whose ErrorEquals matches waits
``min(IntervalSeconds * BackoffRate**n, MaxDelaySeconds)`` before its retry n = 0, 1, ...
(defaults 1, 2.0, none; times ``random()`` under JitterStrategy FULL) up to MaxAttempts (default
3); then the first matching catcher puts ``{"Error", "Cause"}`` at its ResultPath (default
``$``). Nothing catches ``States.Runtime`` (a path that does not resolve, a result that is not
JSON), ``States.DataLimitExceeded`` (a state output or task result above 256 KiB: only keys
travel in the state) or the execution's own timeout. A task past its TimeoutSeconds fails with
``States.Timeout``, its call left running in an abandoned daemon thread. A Map runs each item as
a child execution ``<name>/<Label>/<index>`` in a thread, at most MaxConcurrencyPath (0: all) at
once; the first failed child fails it (AWS's default tolerance is 0) and no other starts. Its
error is ``States.ExceedToleratedFailureThreshold`` as in AWS, but the cause names the items.
"""

from __future__ import annotations

import json
import math
import random as _random
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias

from xvaflow.pipeline.asl.definition import UnsupportedDefinition, validate
from xvaflow.pipeline.asl.paths import (
    MISSING,
    StatesError,
    evaluate,
    get,
    lookup,
    render,
    runtime_error,
    set_result,
    short,
)

PAYLOAD_LIMIT: Final = 256 * 1024
Status: TypeAlias = Literal["SUCCEEDED", "FAILED", "TIMED_OUT"]


class TaskFailed(StatesError):
    """Raised by a resource callable to fail its Task with a named error: ``error`` is what
    Retry/Catch ``ErrorEquals`` match (``"Lambda.ServiceException"``, ...), ``cause`` free text
    (AWS integrations put a JSON document there)."""


@dataclass(frozen=True)
class TaskContext:
    """What a resource callable learns about the Task it serves."""

    state_name: str
    execution_name: str
    retry_count: int


Resource: TypeAlias = Callable[[Any, TaskContext], Any]
ItemReader: TypeAlias = Callable[[dict[str, Any]], list[Any]]


@dataclass(frozen=True)
class Execution:
    """The end of :meth:`Interpreter.run`: its status, output, or error and cause."""

    name: str
    status: Status
    output: Any
    error: str | None
    cause: str | None


class Interpreter:
    """Runs one definition; the module docstring says how.

    Raises (on construction):
        UnsupportedDefinition: with every problem :func:`validate` finds.
    """

    def __init__(self, definition: Mapping[str, Any], resources: Mapping[str, Resource], *,
                 item_reader: ItemReader | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 random: Callable[[], float] = _random.random,
                 payload_limit_bytes: int | None = PAYLOAD_LIMIT) -> None:
        self.definition: dict[str, Any] = json.loads(json.dumps(definition))
        problems = validate(self.definition, resources=resources,
                            has_item_reader=item_reader is not None)
        if problems:
            raise UnsupportedDefinition(problems)
        self.resources = dict(resources)
        self.item_reader = item_reader
        self.sleep, self.clock, self.random = sleep, clock, random
        self.payload_limit_bytes = payload_limit_bytes

    def run(self, input: Any = None, name: str | None = None) -> Execution:
        """Execute the definition on ``input`` (``None``: ``{}``); every failure inside the
        execution is in the returned :class:`Execution`.

        Raises:
            TypeError, ValueError: ``input`` is not JSON.
        """
        name = name or str(uuid.uuid4())
        data = json.loads(json.dumps({} if input is None else input, allow_nan=False))
        timeout = self.definition.get("TimeoutSeconds")
        deadline = None if timeout is None else self.clock() + timeout
        try:
            output = _Run(self, name, data, deadline).machine(self.definition, data)
        except StatesError as exc:
            status: Status = "TIMED_OUT" if exc.kind == "timeout" else "FAILED"
            return Execution(name, status, None, exc.error or None, exc.cause or None)
        return Execution(name, "SUCCEEDED", output, None, None)


class _Run:
    """One execution, or one child execution of a Map."""

    def __init__(self, interpreter: Interpreter, name: str, data: Any,
                 deadline: float | None) -> None:
        self.it = interpreter
        self.name = name
        self.input = data
        self.deadline = deadline

    def machine(self, machine: Mapping[str, Any], data: Any) -> Any:
        """Run ``machine``'s states from StartAt to a Succeed, an End, or a failure."""
        name: str = machine["StartAt"]
        while True:
            if (left := self.remaining()) is not None and left <= 0:
                raise self.timed_out(f"before state '{name}'")
            state: Mapping[str, Any] = machine["States"][name]
            data, following = getattr(self, state["Type"].lower())(name, state, data)
            self.check_size(data, f"the output of state '{name}'")
            if following is None:
                return data
            name = following

    # -- bookkeeping ---------------------------------------------------------------------------

    def context(self, state: str, retry: int = 0,
                item: tuple[int, Any] | None = None) -> dict[str, Any]:
        """The context object (``$$``)."""
        ctx: dict[str, Any] = {"Execution": {"Name": self.name, "Input": self.input},
                               "State": {"Name": state, "RetryCount": retry}}
        if item is not None:
            ctx["Map"] = {"Item": {"Index": item[0], "Value": item[1]}}
        return ctx

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - self.it.clock()

    def timed_out(self, when: str) -> StatesError:
        return StatesError("States.Timeout", f"The execution exceeded its TimeoutSeconds {when}",
                           "timeout")

    def sleep(self, seconds: float, state: str) -> None:
        remaining = self.remaining()
        if remaining is not None and seconds >= remaining:
            self.it.sleep(max(remaining, 0.0))
            raise self.timed_out(f"while state '{state}' waited to retry")
        self.it.sleep(seconds)

    def check_size(self, value: Any, what: str) -> None:
        limit = self.it.payload_limit_bytes
        size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
        if limit is not None and size > limit:
            raise StatesError("States.DataLimitExceeded", f"{what} is {size} bytes, above the "
                              f"{limit}-byte limit; pass object-store keys instead", "fatal")

    # -- states --------------------------------------------------------------------------------

    def succeed(self, name: str, state: Mapping[str, Any], raw: Any) -> tuple[Any, str | None]:
        return raw, None

    def fail(self, name: str, state: Mapping[str, Any], raw: Any) -> tuple[Any, str | None]:
        values = []
        for field in ("Error", "Cause"):
            value = (evaluate(state[f"{field}Path"], raw, self.context(name),
                              f"the {field}Path of state '{name}'")
                     if f"{field}Path" in state else state.get(field, ""))
            if not isinstance(value, str):
                raise runtime_error(f"the {field}Path of state '{name}' gave {short(value)}, "
                                    "not a string")
            values.append(value)
        raise StatesError(values[0], values[1])

    def choice(self, name: str, state: Mapping[str, Any], raw: Any) -> tuple[Any, str | None]:
        for rule in state["Choices"]:
            value = lookup(rule["Variable"], raw, self.context(name))
            if value is MISSING:  # as in AWS: an error, not a mismatch
                raise runtime_error(f"Invalid path '{rule['Variable']}': the Variable of a "
                                    f"Choices rule of state '{name}' is not in {short(raw)}")
            if isinstance(value, str) and value == rule["StringEquals"]:
                return raw, rule["Next"]
        if "Default" in state:
            return raw, state["Default"]
        raise StatesError("States.NoChoiceMatched", f"No Choices rule of state '{name}' "
                          f"matched {short(raw)} and there is no Default")

    def task(self, name: str, state: Mapping[str, Any], raw: Any) -> tuple[Any, str | None]:
        def attempt(retry: int) -> Any:
            ctx = self.context(name, retry)
            params = (render(state["Parameters"], raw, ctx, f"the Parameters of state '{name}'")
                      if "Parameters" in state else raw)
            result = self.invoke(name, state, params, retry)
            return (render(state["ResultSelector"], result, ctx,
                           f"the ResultSelector of state '{name}'")
                    if "ResultSelector" in state else result)

        return self.guarded(name, state, raw, attempt)

    def invoke(self, name: str, state: Mapping[str, Any], params: Any, retry: int) -> Any:
        """Call the Task's resource within its TimeoutSeconds and the execution's."""
        timeout = state.get("TimeoutSeconds")
        remaining = self.remaining()
        by_execution = remaining is not None and (timeout is None or remaining < timeout)
        expired = (self.timed_out(f"while task '{name}' was running") if by_execution else
                   StatesError("States.Timeout", f"Task '{name}' did not finish within "
                               f"TimeoutSeconds={timeout}"))
        try:
            result = _call(self.it.resources[state["Resource"]], params,
                           TaskContext(name, self.name, retry),
                           remaining if by_execution else timeout, expired)
        except StatesError:  # TaskFailed, or the time limit
            raise
        except Exception as exc:
            raise StatesError("States.TaskFailed", f"{type(exc).__name__}: {exc}") from None
        result = _json(result, f"the result of task '{name}'")
        self.check_size(result, f"the result of task '{name}'")
        return result

    def guarded(self, name: str, state: Mapping[str, Any], raw: Any,
                attempt: Callable[[int], Any]) -> tuple[Any, str | None]:
        """``attempt(retry count)`` under the state's Retry and Catch, its result placed by
        ResultPath; returns the output and the next state."""
        retriers: list[Mapping[str, Any]] = state.get("Retry", [])
        used = [0] * len(retriers)
        while True:
            try:
                return set_result(state.get("ResultPath", "$"), raw, attempt(sum(used))), \
                    state.get("Next")
            except StatesError as failure:
                if failure.kind != "error":
                    raise
                i = next((i for i, r in enumerate(retriers)
                          if _matches(r["ErrorEquals"], failure.error)), None)
                if i is not None and used[i] < retriers[i].get("MaxAttempts", 3):
                    retrier = retriers[i]
                    delay = min(retrier.get("IntervalSeconds", 1)
                                * retrier.get("BackoffRate", 2.0) ** used[i],
                                retrier.get("MaxDelaySeconds", math.inf))
                    if retrier.get("JitterStrategy") == "FULL":
                        delay *= self.it.random()
                    used[i] += 1
                    self.sleep(delay, name)
                    continue
                for catcher in state.get("Catch", []):
                    if _matches(catcher["ErrorEquals"], failure.error):
                        error = {"Error": failure.error, "Cause": failure.cause}
                        return set_result(catcher.get("ResultPath", "$"), raw, error), \
                            catcher["Next"]
                raise

    def map(self, name: str, state: Mapping[str, Any], raw: Any) -> tuple[Any, str | None]:
        def attempt(retry: int) -> Any:
            ctx = self.context(name)
            items = self.read_items(name, state["ItemReader"], raw, ctx)
            limit = (get(state["MaxConcurrencyPath"], raw, ctx, f"the MaxConcurrencyPath of "
                         f"state '{name}'") if "MaxConcurrencyPath" in state else 0)
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
                raise runtime_error(f"the MaxConcurrencyPath of state '{name}' gave "
                                    f"{short(limit)}, not a non-negative integer")
            inputs = [render(state["ItemSelector"], raw, self.context(name, 0, (i, item)),
                             f"the ItemSelector of state '{name}'")
                      if "ItemSelector" in state else item for i, item in enumerate(items)]
            return self.children(name, state, inputs, limit)

        return self.guarded(name, state, raw, attempt)

    def read_items(self, name: str, reader: Mapping[str, Any], raw: Any,
                   ctx: Any) -> list[Any]:
        spec = {"Resource": reader["Resource"], "ReaderConfig": dict(reader["ReaderConfig"]),
                "Parameters": render(reader["Parameters"], raw, ctx,
                                     f"the ItemReader of state '{name}'")}
        assert self.it.item_reader is not None  # validated
        try:
            items = self.it.item_reader(spec)
        except Exception as exc:
            raise StatesError("States.ItemReaderFailed", f"the ItemReader of state '{name}' "
                              f"could not read {short(spec['Parameters'])}: "
                              f"{type(exc).__name__}: {exc}") from None
        if not isinstance(items, list):
            raise StatesError("States.ItemReaderFailed", f"the ItemReader of state '{name}' "
                              f"read {type(items).__name__}, not a JSON array")
        return list(_json(items, f"the items of state '{name}'"))

    def children(self, name: str, state: Mapping[str, Any], inputs: Sequence[Any],
                 limit: int) -> list[Any]:
        """One child execution per input, at most ``limit`` (0: all) at once; after a failure
        the children not yet started do not start (those running finish)."""
        label = state.get("Label", name)
        failed: dict[int, StatesError] = {}
        stop = threading.Event()

        def child(i: int) -> Any:
            if stop.is_set():
                return None
            try:
                return _Run(self.it, f"{self.name}/{label}/{i}", inputs[i],
                            self.deadline).machine(state["ItemProcessor"], inputs[i])
            except StatesError as exc:
                failed[i] = exc
                stop.set()
                return None

        # threads suffice: a child mostly waits on its task (an ECS task is its own process)
        with ThreadPoolExecutor(min(len(inputs), limit or len(inputs)) or 1,
                                thread_name_prefix=f"asl-{name}"[:30]) as pool:
            results = list(pool.map(child, range(len(inputs))))
        timeout = next((f for f in failed.values() if f.kind == "timeout"), None)
        if timeout is not None:
            raise timeout
        if failed:
            items = sorted(failed.items())
            detail = "; ".join(f"item {i}: {f.error}: {f.cause}" for i, f in items[:5])
            raise StatesError("States.ExceedToleratedFailureThreshold", f"Map state '{name}': "
                              f"{len(failed)} of {len(inputs)} child executions failed, above "
                              f"the tolerated 0: {detail}{' ...' if len(items) > 5 else ''}")
        return results


def _call(fn: Resource, params: Any, context: TaskContext, limit: float | None,
          expired: StatesError) -> Any:
    """``fn(params, context)``; with a time ``limit``, in a daemon thread abandoned after it
    (Python cannot kill a thread), raising ``expired``."""
    if limit is None:
        return fn(params, context)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn(params, context)
        except BaseException as exc:  # re-raised in the calling thread
            box["error"] = exc

    # a daemon thread: an abandoned call must not keep the command from exiting
    thread = threading.Thread(target=target, name=f"asl-{context.state_name}"[:40], daemon=True)
    thread.start()
    thread.join(max(limit, 0.0))
    if thread.is_alive():
        raise expired
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _matches(names: Sequence[str], error: str) -> bool:
    """``States.ALL`` matches every error, ``States.TaskFailed`` every one but a timeout (AWS)."""
    return any(n in (error, "States.ALL")
               or (n == "States.TaskFailed" and error != "States.Timeout") for n in names)


def _json(value: Any, what: str) -> Any:
    """A JSON-only deep copy of ``value`` (``States.Runtime`` when it is not JSON)."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise runtime_error(f"{what} is not JSON-serialisable: {exc}") from None
