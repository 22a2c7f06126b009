"""Unit tests of the generic ASL interpreter (xvaflow.pipeline.asl): small definitions, one
feature at a time, including the error paths and the rejections."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from xvaflow.pipeline.asl import (
    DeterministicUUIDs,
    EcsRunTaskSync,
    Execution,
    Interpreter,
    InvalidDefinition,
    LambdaInvoke,
    ProcessPoolFactory,
    TaskContext,
    TaskFailed,
    UnsupportedDefinition,
    ecs_container_overrides,
    in_executor,
    load_definition,
    placeholders,
    substitute,
    validate,
)

# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------


class FakeTime:
    """A clock that only moves when the interpreter sleeps."""

    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds

    def now(self) -> datetime:
        return datetime.fromtimestamp(1767323045 + self.t, tz=UTC)


def machine(states: dict[str, Any], start: str | None = None, **top: Any) -> dict[str, Any]:
    return {"StartAt": start or next(iter(states)), "States": states, **top}


def run(definition: dict[str, Any], data: Any = None,
        resources: Mapping[str, Callable[[Any, TaskContext], Any]] | None = None,
        name: str = "exec-1", **options: Any) -> Execution:
    fake = options.pop("fake", None) or FakeTime()
    options.setdefault("sleep", fake.sleep)
    options.setdefault("clock", fake.clock)
    options.setdefault("now", fake.now)
    options.setdefault("uuid_factory", DeterministicUUIDs("tests"))
    return Interpreter(definition, resources or {}, **options).run(data, name)


def echo(params: Any, ctx: TaskContext) -> Any:
    return params


def square(params: Any, ctx: TaskContext) -> Any:
    return params["v"] ** 2


def pid_of(params: Any, ctx: TaskContext) -> Any:
    return {"pid": os.getpid(), "v": params}


def fail_odd(params: Any, ctx: TaskContext) -> Any:
    if params % 2:
        raise TaskFailed("Custom.Odd", f"{params} is odd")
    return params


class Flaky:
    """Fails with ``error`` the first ``n`` calls, then returns the call count."""

    def __init__(self, n: int, error: str = "Lambda.ServiceException") -> None:
        self.n = n
        self.error = error
        self.calls = 0
        self.contexts: list[TaskContext] = []

    def __call__(self, params: Any, ctx: TaskContext) -> Any:
        self.calls += 1
        self.contexts.append(ctx)
        if self.calls <= self.n:
            raise TaskFailed(self.error, f"call {self.calls}")
        return {"calls": self.calls}


def end_task(resource: str = "r", **fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": resource, "End": True, **fields}


# ----------------------------------------------------------------------------------------------
# Pass and the paths
# ----------------------------------------------------------------------------------------------


def test_pass_result_resultpath_outputpath() -> None:
    d = machine({"P": {"Type": "Pass", "Result": {"x": 1}, "ResultPath": "$.r.s",
                       "OutputPath": "$.r", "End": True}})
    ex = run(d, {"a": 1})
    assert ex.status == "SUCCEEDED"
    assert ex.output == {"s": {"x": 1}}


def test_pass_parameters_inputpath_and_quoted_and_indexed_paths() -> None:
    d = machine({"P": {"Type": "Pass", "InputPath": "$.in",
                       "Parameters": {"first.$": "$.list[0]", "odd.$": "$['odd key']",
                                      "dq.$": '$["k"]', "const": {"nested.$": "$.list[1]"},
                                      "arr": [{"v.$": "$.list[2]"}, 3]},
                       "End": True}})
    ex = run(d, {"in": {"list": [10, 20, 30], "odd key": "ok", "k": "dq"}})
    assert ex.output == {"first": 10, "odd": "ok", "dq": "dq", "const": {"nested": 20},
                         "arr": [{"v": 30}, 3]}


def test_null_paths() -> None:
    d = machine({"A": {"Type": "Pass", "InputPath": None, "ResultPath": "$.seen", "Next": "B"},
                 "B": {"Type": "Pass", "Result": 5, "ResultPath": None, "Next": "C"},
                 "C": {"Type": "Pass", "OutputPath": None, "End": True}})
    ex = run(d, {"a": 1})
    assert ex.output == {}
    entered = [e for e in ex.events if e.type == "StateExited"]
    assert entered[0].detail["output"] == {"a": 1, "seen": {}}
    assert entered[1].detail["output"] == {"a": 1, "seen": {}}


def test_resultpath_does_not_mutate_the_input_and_creates_objects() -> None:
    data = {"a": {"b": 1}}
    d = machine({"P": {"Type": "Pass", "Result": 2, "ResultPath": "$.a.c.d", "End": True}})
    ex = run(d, data)
    assert ex.output == {"a": {"b": 1, "c": {"d": 2}}}
    assert data == {"a": {"b": 1}}


def test_resultpath_into_array_index() -> None:
    d = machine({"P": {"Type": "Pass", "Result": "x", "ResultPath": "$.a[1]", "End": True}})
    assert run(d, {"a": [0, 1]}).output == {"a": [0, "x"]}


def test_resultpath_match_failure_is_catchable() -> None:
    d = machine({"P": {"Type": "Task", "Resource": "r", "ResultPath": "$.a.b", "End": True,
                       "Catch": [{"ErrorEquals": ["States.ResultPathMatchFailure"],
                                  "ResultPath": "$.err", "Next": "Caught"}]},
                 "Caught": {"Type": "Succeed"}})
    ex = run(d, {"a": "not an object"}, {"r": echo})
    assert ex.status == "SUCCEEDED"
    assert ex.output["err"]["Error"] == "States.ResultPathMatchFailure"


def test_missing_path_is_a_runtime_error_that_catch_all_does_not_intercept() -> None:
    d = machine({"T": {"Type": "Task", "Resource": "r", "Parameters": {"x.$": "$.missing"},
                       "End": True,
                       "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]},
                 "Caught": {"Type": "Succeed"}})
    ex = run(d, {"a": 1}, {"r": echo})
    assert ex.status == "FAILED"
    assert ex.error == "States.Runtime"
    assert "$.missing" in (ex.cause or "")


@pytest.mark.parametrize("field", ["InputPath", "OutputPath"])
def test_missing_input_or_output_path_fails(field: str) -> None:
    d = machine({"P": {"Type": "Pass", field: "$.nope", "End": True}})
    ex = run(d, {"a": 1})
    assert (ex.status, ex.error) == ("FAILED", "States.Runtime")


def test_context_object() -> None:
    d = machine({"P": {"Type": "Pass", "Parameters": {
        "id.$": "$$.Execution.Id", "name.$": "$$.Execution.Name",
        "input.$": "$$.Execution.Input", "state.$": "$$.State.Name",
        "sm.$": "$$.StateMachine.Name", "retry.$": "$$.State.RetryCount",
        "start.$": "$$.Execution.StartTime"}, "End": True}})
    ex = run(d, {"k": "v"}, name="my-run", state_machine_name="xva")
    assert ex.output["name"] == "my-run"
    assert ex.output["id"] == "arn:aws:states:local:000000000000:execution:xva:my-run"
    assert ex.output["input"] == {"k": "v"}
    assert ex.output["state"] == "P"
    assert ex.output["sm"] == "xva"
    assert ex.output["retry"] == 0
    assert ex.output["start"].endswith("Z")
    assert ex.execution_id == ex.output["id"]


def test_input_none_means_empty_object_and_non_json_input_is_refused() -> None:
    d = machine({"P": {"Type": "Pass", "End": True}})
    assert run(d).output == {}
    with pytest.raises(ValueError, match="not JSON-serialisable"):
        run(d, {"x": object()})


@pytest.mark.parametrize("path", ["$..a", "$.a[*]", "$.a[-1]", "$.a[0:2]", "$.a[?(@.x)]",
                                  "$.a[0,1]", "$.*", "$.a.length()"])
def test_unsupported_jsonpath_is_rejected_with_state_and_field(path: str) -> None:
    d = machine({"P": {"Type": "Pass", "InputPath": path, "End": True}})
    with pytest.raises(UnsupportedDefinition) as info:
        Interpreter(d, {})
    assert type(info.value) is UnsupportedDefinition
    (problem,) = info.value.problems
    assert (problem.where, problem.field, problem.unsupported) == ("P", "InputPath", True)
    assert "supported" in problem.message


def test_path_without_dollar_is_invalid() -> None:
    d = machine({"P": {"Type": "Pass", "Parameters": {"x.$": "a.b"}, "End": True}})
    with pytest.raises(InvalidDefinition, match=r"P\.Parameters\.x\.\$"):
        Interpreter(d, {})


def test_resultpath_cannot_reference_context() -> None:
    d = machine({"P": {"Type": "Pass", "ResultPath": "$$.Execution", "End": True}})
    with pytest.raises(InvalidDefinition, match="context object"):
        Interpreter(d, {})


# ----------------------------------------------------------------------------------------------
# intrinsic functions
# ----------------------------------------------------------------------------------------------


INTRINSIC_CASES: list[tuple[str, Any]] = [
    ("States.Format('run {} has {} parts', $.id, $.n)", "run r1 has 3 parts"),
    (r"States.Format('literal \{\} and {}', $.flag)", "literal {} and true"),
    ("States.Format('{}/{}', $.nothing, 1.5)", "null/1.5"),
    (r"States.Format('it\'s {}', 'ok')", "it's ok"),
    ("States.StringToJson($.json)", {"a": [1, 2]}),
    ("States.JsonToString($.obj)", '{"k":"v","n":1}'),
    ("States.Array($.id, 2, 'x', true, null)", ["r1", 2, "x", True, None]),
    ("States.ArrayLength($.list)", 5),
    ("States.ArrayPartition($.list, 2)", [[1, 2], [3, 4], [5]]),
    ("States.ArrayContains($.list, 3)", True),
    ("States.ArrayContains($.list, 9)", False),
    ("States.ArrayRange(1, 9, 2)", [1, 3, 5, 7, 9]),
    ("States.ArrayRange(5, 1, -2)", [5, 3, 1]),
    ("States.ArrayGetItem($.list, 1)", 2),
    ("States.ArrayUnique(States.Array(1, 1, 'a', 'a', 2))", [1, "a", 2]),
    ("States.Base64Encode('hello')", "aGVsbG8="),
    ("States.Base64Decode('aGVsbG8=')", "hello"),
    ("States.Hash('abc', 'SHA-256')",
     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    ("States.JsonMerge($.obj, $.other, false)", {"k": "w", "n": 1, "m": 2}),
    ("States.MathAdd($.n, -1)", 2),
    ("States.MathAdd(1.5, 1)", 2.5),
    ("States.StringSplit('a,b;;c', ',;')", ["a", "b", "c"]),
    ("States.MathRandom(1, 10, 7)", None),  # checked separately (seeded)
    ("States.ArrayLength(States.ArrayPartition(States.ArrayRange(1, 10, 1), 3))", 4),
    ("States.Format('{}', $['odd, key'])", "comma"),
]


@pytest.mark.parametrize(("expr", "expected"), INTRINSIC_CASES)
def test_intrinsic_functions(expr: str, expected: Any) -> None:
    data = {"id": "r1", "n": 3, "flag": True, "json": '{"a":[1,2]}', "obj": {"k": "v", "n": 1},
            "other": {"k": "w", "m": 2}, "list": [1, 2, 3, 4, 5], "odd, key": "comma",
            "nothing": None}
    d = machine({"P": {"Type": "Pass", "Parameters": {"r.$": expr}, "End": True}})
    ex = run(d, data)
    assert ex.status == "SUCCEEDED", ex.cause
    if expected is None:
        assert 1 <= ex.output["r"] < 10
        assert ex.output["r"] == run(d, data).output["r"]  # seeded => reproducible
    else:
        assert ex.output["r"] == expected


def test_uuid_and_math_random_use_the_injected_sources() -> None:
    d = machine({"P": {"Type": "Pass", "Parameters": {"u.$": "States.UUID()",
                                                      "r.$": "States.MathRandom(0, 100)"},
                       "End": True}})
    a = run(d, random=lambda: 0.5).output
    b = run(d, random=lambda: 0.5).output
    assert a == b
    assert a["r"] == 50
    assert len(a["u"]) == 36


@pytest.mark.parametrize("expr", [
    "States.StringToJson('not json')",
    "States.ArrayGetItem(States.Array(1), 5)",
    "States.JsonMerge($.obj, $.obj, true)",
    "States.Format('{} {}', 1)",
    "States.Format('{}', $.obj)",
    "States.ArrayPartition(States.Array(1), 0)",
    "States.ArrayRange(1, 5000, 1)",
    "States.MathAdd('a', 1)",
])
def test_intrinsic_failures_are_catchable(expr: str) -> None:
    d = machine({"T": {"Type": "Task", "Resource": "r", "Parameters": {"x.$": expr},
                       "End": True,
                       "Catch": [{"ErrorEquals": ["States.IntrinsicFailure"], "Next": "C"}]},
                 "C": {"Type": "Pass", "End": True}})
    ex = run(d, {"obj": {"a": 1}}, {"r": echo})
    assert ex.status == "SUCCEEDED"
    assert ex.output["Error"] == "States.IntrinsicFailure"


@pytest.mark.parametrize(("expr", "unsupported"), [
    ("States.Nope(1)", True),
    ("States.ArrayLength(1, 2)", False),
    ("States.Format('x'", False),
    ("States.Array($.a[*])", True),
    ("States.Array(1) trailing", False),
])
def test_bad_intrinsics_are_rejected_up_front(expr: str, unsupported: bool) -> None:
    d = machine({"P": {"Type": "Pass", "Parameters": {"x.$": expr}, "End": True}})
    problems = validate(d)
    assert len(problems) == 1
    assert problems[0].field == "Parameters.x.$"
    assert problems[0].unsupported is unsupported


# ----------------------------------------------------------------------------------------------
# Task, Retry, Catch, timeouts
# ----------------------------------------------------------------------------------------------


def test_task_parameters_context_and_result_selector() -> None:
    seen: list[tuple[Any, TaskContext]] = []

    def resource(params: Any, ctx: TaskContext) -> Any:
        seen.append((params, ctx))
        return {"Payload": {"key": params["k"]}, "StatusCode": 200}

    d = machine({"T": {"Type": "Task", "Resource": "arn:r", "Parameters": {"k.$": "$.key"},
                       "ResultSelector": {"key.$": "$.Payload.key"}, "ResultPath": "$.res",
                       "End": True}})
    ex = run(d, {"key": "runs/1/x.json"}, {"arn:r": resource})
    assert ex.output == {"key": "runs/1/x.json", "res": {"key": "runs/1/x.json"}}
    params, ctx = seen[0]
    assert params == {"k": "runs/1/x.json"}
    assert (ctx.state_name, ctx.resource, ctx.execution_name, ctx.retry_count) == (
        "T", "arn:r", "exec-1", 0)


def test_task_without_parameters_gets_the_effective_input() -> None:
    d = machine({"T": end_task(InputPath="$.a")})
    assert run(d, {"a": {"b": 1}}, {"r": echo}).output == {"b": 1}


def test_task_errors_named_generic_and_non_json() -> None:
    def boom(params: Any, ctx: TaskContext) -> Any:
        raise RuntimeError("disk full")

    d = machine({"T": end_task()})
    ex = run(d, {}, {"r": boom})
    assert (ex.status, ex.error, ex.cause) == ("FAILED", "States.TaskFailed",
                                               "RuntimeError: disk full")
    ex = run(d, {}, {"r": lambda p, c: {"x": object()}})
    assert ex.error == "States.Runtime"
    assert "not JSON-serialisable" in (ex.cause or "")
    ex = run(d, {}, {"r": lambda p, c: float("nan")})
    assert ex.error == "States.Runtime"


def test_retry_backoff_max_attempts_then_catch() -> None:
    flaky = Flaky(10)
    fake = FakeTime()
    d = machine({"T": end_task(
        Retry=[{"ErrorEquals": ["Lambda.ServiceException"], "IntervalSeconds": 1,
                "MaxAttempts": 3, "BackoffRate": 2.0}],
        Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}]),
        "Failed": {"Type": "Fail", "Error": "Pipeline.Failed", "CausePath": "$.error.Cause"}})
    ex = run(d, {"in": 1}, {"r": flaky}, fake=fake)
    assert flaky.calls == 4
    assert fake.sleeps == [1.0, 2.0, 4.0]
    assert [c.retry_count for c in flaky.contexts] == [0, 1, 2, 3]
    assert (ex.status, ex.error, ex.cause) == ("FAILED", "Pipeline.Failed", "call 4")
    assert [e.detail["delay"] for e in ex.events_of("RetryScheduled")] == [1.0, 2.0, 4.0]


def test_retry_succeeds_and_max_delay_and_full_jitter() -> None:
    flaky = Flaky(3)
    fake = FakeTime()
    d = machine({"T": end_task(Retry=[{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 3,
                                       "BackoffRate": 3, "MaxDelaySeconds": 10,
                                       "JitterStrategy": "FULL", "MaxAttempts": 5}])})
    ex = run(d, {}, {"r": flaky}, fake=fake, random=lambda: 0.5)
    assert ex.output == {"calls": 4}
    assert fake.sleeps == [1.5, 4.5, 5.0]


def test_first_matching_retrier_decides_and_max_attempts_zero() -> None:
    flaky = Flaky(1, "Custom.Error")
    fake = FakeTime()
    d = machine({"T": end_task(Retry=[{"ErrorEquals": ["Custom.Error"], "MaxAttempts": 0},
                                      {"ErrorEquals": ["States.ALL"], "MaxAttempts": 5}])})
    ex = run(d, {}, {"r": flaky}, fake=fake)
    assert (ex.status, ex.error) == ("FAILED", "Custom.Error")
    assert fake.sleeps == []


def test_retry_count_in_context_object() -> None:
    flaky = Flaky(2)
    seen: list[int] = []

    def resource(params: Any, ctx: TaskContext) -> Any:
        seen.append(params["n"])
        return flaky(params, ctx)

    d = machine({"T": end_task(Parameters={"n.$": "$$.State.RetryCount"},
                               Retry=[{"ErrorEquals": ["States.TaskFailed"]}])})
    assert run(d, {}, {"r": resource}).status == "SUCCEEDED"
    assert seen == [0, 1, 2]


def test_catch_order_and_default_result_path_and_no_match() -> None:
    d = machine({"T": end_task(Catch=[{"ErrorEquals": ["Other"], "Next": "A"},
                                      {"ErrorEquals": ["Custom.Odd", "X"], "Next": "B"}]),
                 "A": {"Type": "Pass", "Result": "A", "End": True},
                 "B": {"Type": "Pass", "End": True}})
    ex = run(d, 3, {"r": fail_odd})
    assert ex.output == {"Error": "Custom.Odd", "Cause": "3 is odd"}
    d2 = machine({"T": end_task(Catch=[{"ErrorEquals": ["Other"], "Next": "A"}]),
                  "A": {"Type": "Pass", "End": True}})
    ex = run(d2, 3, {"r": fail_odd})
    assert (ex.status, ex.error, ex.cause) == ("FAILED", "Custom.Odd", "3 is odd")


def test_task_failed_wildcard_does_not_match_timeout() -> None:
    release = threading.Event()

    def slow(params: Any, ctx: TaskContext) -> Any:
        release.wait(5)
        return 1

    d = machine({"T": end_task(TimeoutSeconds=1,
                               Catch=[{"ErrorEquals": ["States.TaskFailed"], "Next": "W"},
                                      {"ErrorEquals": ["States.Timeout"], "Next": "TO"}]),
                 "W": {"Type": "Pass", "Result": "wrong", "End": True},
                 "TO": {"Type": "Pass", "Result": "timed out", "End": True}})
    start = time.monotonic()
    try:
        ex = Interpreter(d, {"r": slow}).run({}, "t")
    finally:
        release.set()
    assert ex.output == "timed out"
    assert 0.9 < time.monotonic() - start < 3
    assert ex.events_of("TaskTimedOut")


def test_timeout_seconds_path_must_be_positive_int() -> None:
    d = machine({"T": end_task(TimeoutSecondsPath="$.t")})
    assert run(d, {"t": 5}, {"r": lambda p, c: c.timeout_seconds}).output == 5.0
    ex = run(d, {"t": "five"}, {"r": echo})
    assert ex.error == "States.Runtime"


def test_state_machine_timeout_is_not_catchable() -> None:
    fake = FakeTime()
    d = machine({"W": {"Type": "Wait", "Seconds": 100, "Next": "T"},
                 "T": end_task(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "C"}]),
                 "C": {"Type": "Succeed"}}, TimeoutSeconds=50)
    ex = run(d, {}, {"r": echo}, fake=fake)
    assert (ex.status, ex.error) == ("TIMED_OUT", "States.Timeout")
    assert fake.t == 50
    assert ex.events[-1].type == "ExecutionTimedOut"


def test_state_machine_timeout_while_a_task_runs() -> None:
    release = threading.Event()

    def slow(params: Any, ctx: TaskContext) -> Any:
        release.wait(5)
        return 1

    d = machine({"T": end_task(Retry=[{"ErrorEquals": ["States.ALL"]}])}, TimeoutSeconds=1)
    try:
        ex = Interpreter(d, {"r": slow}).run({}, "t")
    finally:
        release.set()
    assert ex.status == "TIMED_OUT"


def test_payload_limit() -> None:
    d = machine({"T": end_task()})
    ex = run(d, {}, {"r": lambda p, c: "x" * 300_000})
    assert (ex.status, ex.error) == ("FAILED", "States.DataLimitExceeded")
    assert run(d, {}, {"r": lambda p, c: "x" * 300_000},
               payload_limit_bytes=None).status == "SUCCEEDED"


def test_transition_limit_stops_loops() -> None:
    d = machine({"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}})
    ex = run(d, {}, max_transitions=50)
    assert ex.error == "States.Runtime"
    assert "50 state transitions" in (ex.cause or "")


# ----------------------------------------------------------------------------------------------
# Choice, Wait, Succeed, Fail
# ----------------------------------------------------------------------------------------------

CHOICE_CASES: list[tuple[dict[str, Any], bool]] = [
    ({"Variable": "$.s", "StringEquals": "abc"}, True),
    ({"Variable": "$.s", "StringLessThan": "abd"}, True),
    ({"Variable": "$.s", "StringGreaterThanEquals": "abc"}, True),
    ({"Variable": "$.s", "StringEqualsPath": "$.s2"}, True),
    ({"Variable": "$.s", "StringMatches": "a*c"}, True),
    ({"Variable": "$.star", "StringMatches": r"x\*y"}, True),
    ({"Variable": "$.s", "StringMatches": r"a\*c"}, False),
    ({"Variable": "$.n", "NumericEquals": 3}, True),
    ({"Variable": "$.n", "NumericLessThan": 3}, False),
    ({"Variable": "$.n", "NumericLessThanEquals": 3.0}, True),
    ({"Variable": "$.n", "NumericGreaterThanPath": "$.m"}, True),
    ({"Variable": "$.s", "NumericEquals": 3}, False),  # type mismatch: no match
    ({"Variable": "$.b", "BooleanEquals": False}, True),
    ({"Variable": "$.n", "BooleanEquals": True}, False),
    ({"Variable": "$.b", "BooleanEqualsPath": "$.b"}, True),
    ({"Variable": "$.ts", "TimestampLessThan": "2026-01-02T00:00:00Z"}, True),
    ({"Variable": "$.ts", "TimestampEqualsPath": "$.ts"}, True),
    ({"Variable": "$.s", "TimestampEquals": "2026-01-01T00:00:00Z"}, False),
    ({"Variable": "$.z", "IsNull": True}, True),
    ({"Variable": "$.missing", "IsPresent": False}, True),
    ({"Variable": "$.n", "IsPresent": True}, True),
    ({"Variable": "$.n", "IsNumeric": True}, True),
    ({"Variable": "$.b", "IsNumeric": True}, False),
    ({"Variable": "$.s", "IsString": True}, True),
    ({"Variable": "$.b", "IsBoolean": True}, True),
    ({"Variable": "$.ts", "IsTimestamp": True}, True),
    ({"Variable": "$.s", "IsTimestamp": True}, False),
    ({"And": [{"Variable": "$.n", "NumericGreaterThan": 1},
              {"Not": {"Variable": "$.b", "BooleanEquals": True}}]}, True),
    ({"Or": [{"Variable": "$.n", "NumericGreaterThan": 10},
             {"Variable": "$.s", "StringEquals": "zzz"}]}, False),
    ({"Variable": "$$.Execution.Name", "StringEquals": "exec-1"}, True),
]


@pytest.mark.parametrize(("rule", "matches"), CHOICE_CASES)
def test_choice_rules(rule: dict[str, Any], matches: bool) -> None:
    data = {"s": "abc", "s2": "abc", "star": "x*y", "n": 3, "m": 2, "b": False, "z": None,
            "ts": "2026-01-01T12:00:00+00:00"}
    d = machine({"C": {"Type": "Choice", "Choices": [{**rule, "Next": "Yes"}], "Default": "No"},
                 "Yes": {"Type": "Pass", "Result": "yes", "End": True},
                 "No": {"Type": "Pass", "Result": "no", "End": True}})
    assert run(d, data).output == ("yes" if matches else "no")


def test_choice_no_match_without_default_and_missing_variable() -> None:
    d = machine({"C": {"Type": "Choice", "Choices": [
        {"Variable": "$.n", "NumericEquals": 1, "Next": "Y"}]},
        "Y": {"Type": "Succeed"}})
    ex = run(d, {"n": 2})
    assert (ex.status, ex.error) == ("FAILED", "States.NoChoiceMatched")
    ex = run(d, {"other": 2})
    assert (ex.status, ex.error) == ("FAILED", "States.Runtime")


def test_choice_input_and_output_path() -> None:
    d = machine({"C": {"Type": "Choice", "InputPath": "$.x", "OutputPath": "$.y",
                       "Choices": [{"Variable": "$.y", "IsPresent": True, "Next": "S"}]},
                 "S": {"Type": "Succeed"}})
    assert run(d, {"x": {"y": 7}}).output == 7


def test_choice_rule_validation() -> None:
    d = machine({"C": {"Type": "Choice", "Choices": [
        {"Variable": "$.n", "NumericEquals": "one", "Next": "S"},
        {"Variable": "$.n", "NumericEquals": 1, "StringEquals": "x", "Next": "S"},
        {"Variable": "$.n", "Bogus": 1, "Next": "S"},
        {"And": [{"Variable": "$.n", "IsNull": True, "Next": "S"}], "Next": "S"},
        {"Variable": "$.n", "IsNull": True}],
        "Next": "S"},
        "S": {"Type": "Succeed"}})
    problems = validate(d)
    text = "\n".join(map(str, problems))
    assert "Choices[0].NumericEquals: must be a number" in text
    assert "Choices[1]: needs exactly one comparison operator" in text
    assert "Choices[2].Bogus: is not a choice rule operator" in text
    assert "Choices[3].And[0].Next: nested choice rules cannot have Next" in text
    assert "Choices[4]: a top-level choice rule needs Next" in text
    assert "C.Next: a Choice state cannot have Next" in text


def test_wait_seconds_path_and_timestamps() -> None:
    fake = FakeTime()
    d = machine({"A": {"Type": "Wait", "Seconds": 3, "Next": "B"},
                 "B": {"Type": "Wait", "SecondsPath": "$.s", "Next": "C"},
                 "C": {"Type": "Wait", "TimestampPath": "$.ts", "Next": "D"},
                 "D": {"Type": "Wait", "Timestamp": "2000-01-01T00:00:00Z", "End": True}})
    start = fake.now()
    target = datetime.fromtimestamp(start.timestamp() + 3 + 4 + 10, tz=UTC).isoformat()
    ex = run(d, {"s": 4, "ts": target}, fake=fake)
    assert ex.status == "SUCCEEDED"
    assert fake.sleeps == [3.0, 4.0, 10.0]
    ex = run(d, {"s": -1, "ts": target})
    assert ex.error == "States.Runtime"


def test_fail_with_paths_and_intrinsics() -> None:
    d = machine({"F": {"Type": "Fail", "ErrorPath": "$.e",
                       "CausePath": "States.Format('partition {} is missing', $.k)"}})
    ex = run(d, {"e": "Aggregate.Incomplete", "k": 3})
    assert (ex.status, ex.error, ex.cause) == ("FAILED", "Aggregate.Incomplete",
                                               "partition 3 is missing")
    assert ex.events[-1].type == "ExecutionFailed"
    plain = run(machine({"F": {"Type": "Fail", "Error": "E", "Cause": "C"}}))
    assert (plain.error, plain.cause) == ("E", "C")
    bare = run(machine({"F": {"Type": "Fail"}}))
    assert (bare.status, bare.error, bare.cause) == ("FAILED", None, None)


def test_succeed_input_output_path() -> None:
    d = machine({"S": {"Type": "Succeed", "InputPath": "$.a", "OutputPath": "$.b"}})
    assert run(d, {"a": {"b": [1]}}).output == [1]


# ----------------------------------------------------------------------------------------------
# Map (inline and distributed), Parallel, executors
# ----------------------------------------------------------------------------------------------


def inline_map(**fields: Any) -> dict[str, Any]:
    return {"Type": "Map", "End": True,
            "ItemProcessor": {"StartAt": "T", "States": {"T": end_task()}}, **fields}


def test_map_items_path_item_selector_and_order() -> None:
    d = machine({"M": inline_map(ItemsPath="$.parts", ResultPath="$.results",
                                 ItemSelector={"v.$": "$$.Map.Item.Value",
                                               "i.$": "$$.Map.Item.Index", "run.$": "$.run"})})
    ex = run(d, {"parts": [3, 1, 2], "run": "r"}, {"r": echo})
    assert ex.output["results"] == [{"v": 3, "i": 0, "run": "r"}, {"v": 1, "i": 1, "run": "r"},
                                    {"v": 2, "i": 2, "run": "r"}]
    iterations = ex.events_of("MapIterationStarted")
    assert [e.detail["index"] for e in iterations] == [0, 1, 2]
    inner = [e for e in ex.events if e.scope == "M[1]" and e.type == "TaskScheduled"]
    assert inner[0].detail["parameters"] == {"v": 1, "i": 1, "run": "r"}


def test_map_legacy_iterator_parameters_and_empty() -> None:
    d = machine({"M": {"Type": "Map", "End": True, "Parameters": {"x.$": "$$.Map.Item.Value"},
                       "Iterator": {"StartAt": "P", "States": {"P": {"Type": "Pass",
                                                                     "End": True}}}}})
    assert run(d, [1, 2]).output == [{"x": 1}, {"x": 2}]
    assert run(d, []).output == []
    ex = run(machine({"M": inline_map(ItemsPath="$.x")}), {"x": {"not": "a list"}},
             {"r": echo})
    assert ex.error == "States.Runtime"


class ConcurrencyProbe:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = 0
        self.peak = 0

    def __call__(self, params: Any, ctx: TaskContext) -> Any:
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        time.sleep(0.03)
        with self.lock:
            self.active -= 1
        return params


@pytest.mark.parametrize(("field", "value", "expected_peak"), [
    ("MaxConcurrency", 2, 2), ("MaxConcurrency", 1, 1), ("MaxConcurrency", 0, 6),
    ("MaxConcurrencyPath", "$.mc", 3)])
def test_map_max_concurrency(field: str, value: Any, expected_peak: int) -> None:
    probe = ConcurrencyProbe()
    d = machine({"M": inline_map(ItemsPath="$.items", **{field: value})})
    ex = run(d, {"items": list(range(6)), "mc": 3}, {"r": probe})
    assert ex.output == list(range(6))
    assert probe.peak == expected_peak


def test_inline_map_fails_with_the_iteration_error_and_can_be_caught() -> None:
    d = machine({"M": inline_map(MaxConcurrency=1, ItemsPath="$.items",
                                 Catch=[{"ErrorEquals": ["Custom.Odd"], "ResultPath": "$.err",
                                         "Next": "C"}]),
                 "C": {"Type": "Pass", "End": True}})
    ex = run(d, {"items": [2, 4, 5, 6, 8]}, {"r": fail_odd})
    assert ex.status == "SUCCEEDED"
    assert ex.output["err"] == {"Error": "Custom.Odd", "Cause": "5 is odd"}
    # with MaxConcurrency 1 nothing after the failed item starts
    assert [e.detail["index"] for e in ex.events_of("MapIterationStarted")] == [0, 1, 2]
    no_catch = machine({"M": inline_map()})
    ex = run(no_catch, [1], {"r": fail_odd})
    assert (ex.status, ex.error, ex.cause) == ("FAILED", "Custom.Odd", "1 is odd")


def test_map_retry_reruns_the_map() -> None:
    flaky = Flaky(1)
    d = machine({"M": inline_map(Retry=[{"ErrorEquals": ["States.ALL"], "MaxAttempts": 1}])})
    ex = run(d, [1, 2], {"r": flaky})
    assert ex.status == "SUCCEEDED"
    assert ex.events_of("RetryScheduled")[0].state == "M"


def test_iteration_runtime_error_fails_the_execution() -> None:
    d = machine({"M": {**inline_map(), "ItemProcessor": {"StartAt": "P", "States": {
        "P": {"Type": "Pass", "InputPath": "$.nope", "End": True}}},
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "C"}]},
        "C": {"Type": "Succeed"}})
    ex = run(d, [{"a": 1}])
    assert (ex.status, ex.error) == ("FAILED", "States.Runtime")


def test_nested_map() -> None:
    inner = {"Type": "Map", "End": True, "ItemsPath": "$.row",
             "ItemProcessor": {"StartAt": "T", "States": {"T": end_task()}}}
    d = machine({"Outer": {"Type": "Map", "End": True,
                           "ItemSelector": {"row.$": "$$.Map.Item.Value"},
                           "ItemProcessor": {"StartAt": "Inner", "States": {"Inner": inner}}}})
    ex = run(d, [[1, 2], [3]], {"r": lambda p, c: p * 10})
    assert ex.output == [[10, 20], [30]]
    assert any(e.scope == "Outer[0]/Inner[1]" for e in ex.events)


def distributed(**fields: Any) -> dict[str, Any]:
    return {"Type": "Map", "End": True,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED",
                                                  "ExecutionType": "STANDARD"},
                              "StartAt": "T", "States": {"T": end_task()}}, **fields}


def test_distributed_map_with_item_reader() -> None:
    specs: list[dict[str, Any]] = []

    def reader(spec: dict[str, Any]) -> list[Any]:
        specs.append(spec)
        return [{"k": f"part-{i}"} for i in range(4)]

    d = machine({"M": distributed(
        ItemReader={"Resource": "arn:aws:states:::s3:getObject",
                    "ReaderConfig": {"InputType": "JSON", "MaxItems": 3},
                    "Parameters": {"Bucket.$": "$.bucket", "Key.$": "$.manifest"}},
        ItemSelector={"key.$": "$$.Map.Item.Value.k", "run.$": "$.run"},
        MaxConcurrencyPath="$.mc", Label="Parts")})
    seen_names: list[str] = []

    def resource(params: Any, ctx: TaskContext) -> Any:
        seen_names.append(ctx.execution_name)
        return params["key"]

    ex = run(d, {"bucket": "b", "manifest": "runs/r/manifest.json", "run": "r", "mc": 2},
             {"r": resource}, item_reader=reader)
    assert ex.output == ["part-0", "part-1", "part-2"]
    assert specs == [{"Resource": "arn:aws:states:::s3:getObject",
                      "ReaderConfig": {"InputType": "JSON", "MaxItems": 3},
                      "Parameters": {"Bucket": "b", "Key": "runs/r/manifest.json"}}]
    assert sorted(seen_names) == ["exec-1/Parts/0", "exec-1/Parts/1", "exec-1/Parts/2"]


def test_distributed_map_failure_threshold() -> None:
    d = machine({"M": distributed(MaxConcurrency=1)})
    ex = run(d, [2, 3, 4], {"r": fail_odd})
    assert (ex.status, ex.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    assert "item 1: Custom.Odd: 3 is odd" in (ex.cause or "")
    tolerated = machine({"M": distributed(ToleratedFailureCount=1)})
    ex = run(tolerated, [2, 3, 4], {"r": fail_odd})
    assert ex.output == [2, {"Error": "Custom.Odd", "Cause": "3 is odd"}, 4]
    pct = machine({"M": distributed(ToleratedFailurePercentagePath="$.p", ItemsPath="$.v")})
    assert run(pct, {"p": 50, "v": [1, 2, 4, 6]}, {"r": fail_odd}).status == "SUCCEEDED"
    assert run(pct, {"p": 20, "v": [1, 2, 4, 6]}, {"r": fail_odd}).error == (
        "States.ExceedToleratedFailureThreshold")


def test_distributed_runtime_error_in_child_counts_as_item_failure() -> None:
    d = machine({"M": {**distributed(ToleratedFailureCount=1), "ItemProcessor": {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
        "StartAt": "P", "States": {"P": {"Type": "Pass", "InputPath": "$.a", "End": True}}}}})
    ex = run(d, [{"a": 1}, {"b": 2}])
    assert ex.output[0] == 1
    assert ex.output[1]["Error"] == "States.Runtime"


def test_item_reader_failure_is_catchable() -> None:
    def reader(spec: dict[str, Any]) -> list[Any]:
        raise FileNotFoundError(spec["Parameters"]["Key"])

    d = machine({"M": distributed(
        ItemReader={"Resource": "arn:aws:states:::s3:getObject",
                    "ReaderConfig": {"InputType": "JSON"},
                    "Parameters": {"Bucket": "b", "Key": "missing.json"}},
        Catch=[{"ErrorEquals": ["States.ItemReaderFailed"], "Next": "C"}]),
        "C": {"Type": "Pass", "End": True}})
    ex = run(d, {}, {"r": echo}, item_reader=reader)
    assert ex.output["Error"] == "States.ItemReaderFailed"
    assert "missing.json" in ex.output["Cause"]


def test_result_writer_needs_a_hook() -> None:
    d = machine({"M": distributed(ResultWriter={"Resource": "arn:aws:states:::s3:putObject",
                                                "Parameters": {"Bucket": "b", "Prefix": "out"}})})
    with pytest.raises(UnsupportedDefinition, match="result_writer"):
        Interpreter(d, {"r": echo})
    calls: list[Any] = []

    def writer(spec: dict[str, Any], results: list[Any]) -> Any:
        calls.append((spec, results))
        return {"ResultWriterDetails": {"Bucket": "b", "Key": "out/manifest.json"}}

    ex = run(d, [1, 2], {"r": echo}, result_writer=writer)
    assert ex.output == {"ResultWriterDetails": {"Bucket": "b", "Key": "out/manifest.json"}}
    assert calls[0][1] == [1, 2]


def test_map_rejections() -> None:
    d = machine({"M": inline_map(ItemReader={"Resource": "arn:aws:states:::s3:getObject",
                                             "Parameters": {"Bucket": "b", "Key": "k"}},
                                 ToleratedFailureCount=1, ItemBatcher={"MaxItemsPerBatch": 2})})
    text = "\n".join(map(str, validate(d)))
    assert "M.ItemReader: is only valid for a Map in DISTRIBUTED mode" in text
    assert "M.ToleratedFailureCount: is only valid for a Map in DISTRIBUTED mode" in text
    assert "M.ItemBatcher: ItemBatcher is not supported" in text
    dist = machine({"M": distributed(ItemReader={
        "Resource": "arn:aws:states:::s3:listObjectsV2",
        "ReaderConfig": {"InputType": "CSV"}, "Parameters": {"Bucket": "b"}})})
    problems = validate(dist, has_item_reader=False)
    text = "\n".join(map(str, problems))
    assert "M.ItemReader.Resource: only 'arn:aws:states:::s3:getObject'" in text
    assert "M.ItemReader.ReaderConfig.InputType: only JSON input" in text
    assert "M.ItemReader.Parameters.Key: is required" in text
    assert "M.ItemReader: the interpreter was given no item_reader" in text
    bad_mode = machine({"M": {**inline_map(), "ItemProcessor": {
        "ProcessorConfig": {"Mode": "DISTRIBUTED"}, "StartAt": "T", "States": {"T": end_task()}}}})
    assert any(p.field == "ItemProcessor.ProcessorConfig.ExecutionType"
               for p in validate(bad_mode))


def test_process_pool_iterations() -> None:
    d = machine({"M": inline_map(MaxConcurrency=2)})
    factory = ProcessPoolFactory(max_workers=2, states=frozenset({"M"}), start_method="fork")
    ex = Interpreter(d, {"r": pid_of}, executor_factory=factory,
                     uuid_factory=DeterministicUUIDs()).run([1, 2, 3], "pp")
    assert ex.status == "SUCCEEDED", ex.cause
    assert [o["v"] for o in ex.output] == [1, 2, 3]
    assert all(o["pid"] != os.getpid() for o in ex.output)
    # the iterations' events travel back from the worker processes
    assert len([e for e in ex.events if e.type == "TaskSucceeded"]) == 3


def test_unpicklable_resources_in_a_process_pool_fail_clearly() -> None:
    d = machine({"M": inline_map()})
    ex = Interpreter(d, {"r": lambda p, c: p},
                     executor_factory=ProcessPoolFactory(start_method="fork")).run([1], "pp")
    assert (ex.status, ex.error) == ("FAILED", "States.Runtime")
    assert "crashed" in (ex.cause or "")


def test_in_executor_wrapper() -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        resource = in_executor(pool, lambda p: p + 1)
        assert run(machine({"T": end_task()}), 1, {"r": resource}).output == 2


def test_parallel_branches_result_selector_and_failure() -> None:
    branch_a = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "a", "End": True}}}
    branch_b = {"StartAt": "B", "States": {"B": end_task(Parameters={"x.$": "$.x"})}}
    d = machine({"P": {"Type": "Parallel", "Branches": [branch_a, branch_b],
                       "Parameters": {"x.$": "$.in"}, "ResultSelector": {"both.$": "$"},
                       "ResultPath": "$.out", "End": True}})
    ex = run(d, {"in": 5}, {"r": echo})
    assert ex.output == {"in": 5, "out": {"both": ["a", {"x": 5}]}}
    assert [e.detail["index"] for e in ex.events_of("BranchStarted")] == [0, 1]
    failing = machine({"P": {"Type": "Parallel", "Branches": [branch_a, {
        "StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "B.Failed"}}}], "End": True,
        "Catch": [{"ErrorEquals": ["B.Failed"], "Next": "C"}]}, "C": {"Type": "Succeed"}})
    assert run(failing, {}).output["Error"] == "B.Failed"


# ----------------------------------------------------------------------------------------------
# validation
# ----------------------------------------------------------------------------------------------


def test_validation_reports_all_problems_at_once() -> None:
    d = {"StartAt": "Nowhere", "QueryLanguage": "JSONPath", "Extra": 1, "States": {
        "A": {"Type": "Task", "Resource": "${PartitionFunctionArn}", "Next": "Missing",
              "HeartbeatSeconds": 10, "Retry": [{"ErrorEquals": ["States.ALL"]},
                                                {"ErrorEquals": ["X"], "BackoffRate": 0.5}]},
        "B": {"Type": "Pass", "Next": "A", "End": True},
        "C": {"Type": "Pass"},
        "D": {"Type": "Magic", "End": True},
        "E": {"Type": "Task", "Resource": "arn:unbound", "End": True, "Assign": {"x": 1},
              "TimeoutSeconds": 0},
        "F": {"Type": "Pass", "End": True, "QueryLanguage": "JSONata"},
        "G": {"Type": "Wait", "End": True},
        "H": {"Type": "Succeed", "Catch": []},
    }}
    with pytest.raises(InvalidDefinition) as info:
        Interpreter(d, {"arn:bound": echo})
    text = str(info.value)
    for expected in [
        "(definition).StartAt: names 'Nowhere', which is not a state",
        "(definition).Extra: unknown field",
        "A.Resource: '${PartitionFunctionArn}' still holds a ${placeholder}",
        "A.Next: names 'Missing', which is not a state in this scope",
        "A.HeartbeatSeconds: heartbeats are not supported",
        "A.Retry[0].ErrorEquals: a retrier matching States.ALL must be the last retrier",
        "A.Retry[1].BackoffRate: must be a number >= 1.0",
        "B: must have exactly one of Next or \"End\": true",
        "C: must have exactly one of Next or \"End\": true",
        "D.Type: unknown state type 'Magic'",
        "E.Resource: no callable is bound to resource 'arn:unbound'",
        "E.Assign: workflow variables (Assign) are not supported",
        "E.TimeoutSeconds: must be a positive integer",
        "F.QueryLanguage: JSONata is not supported",
        "G: needs exactly one of Seconds, SecondsPath, Timestamp, TimestampPath",
        "H.Catch: is not a field of a Succeed state",
    ]:
        assert expected in text, expected
    unsupported = {(p.where, p.field) for p in info.value.problems if p.unsupported}
    assert ("A", "HeartbeatSeconds") in unsupported
    assert ("D", "Type") in unsupported


def test_unreachable_states_and_nested_scopes() -> None:
    d = machine({"A": {"Type": "Pass", "End": True},
                 "Orphan": {"Type": "Pass", "End": True},
                 "M": inline_map(ItemProcessor={"StartAt": "X", "States": {
                     "X": {"Type": "Pass", "Next": "A"}}})}, start="A")
    text = "\n".join(map(str, validate(d)))
    assert "Orphan: is not reachable from StartAt 'A'" in text
    assert "M/ItemProcessor/X.Next: names 'A', which is not a state in this scope" in text


def test_purely_unsupported_definition_raises_the_base_class() -> None:
    d = machine({"T": end_task(HeartbeatSeconds=5)})
    with pytest.raises(UnsupportedDefinition) as info:
        Interpreter(d, {"r": echo})
    assert type(info.value) is UnsupportedDefinition
    assert info.value.problems[0].where == "T"


def test_catch_validation() -> None:
    d = machine({"T": end_task(Catch=[{"ErrorEquals": [], "Next": "T"},
                                      {"ErrorEquals": ["States.ALL", "X"], "Next": "Nope"},
                                      {"ErrorEquals": ["Y"]}])})
    text = "\n".join(map(str, validate(d)))
    assert "T.Catch[0].ErrorEquals: must be a non-empty array" in text
    assert "T.Catch[1].ErrorEquals: States.ALL must appear alone" in text
    assert "T.Catch[1].ErrorEquals: a catcher matching States.ALL must be the last" in text
    assert "T.Catch[1].Next: names 'Nope'" in text
    assert "T.Catch[2].Next: is required" in text


def test_problems_are_picklable() -> None:
    import pickle

    error = UnsupportedDefinition(validate(machine({"T": end_task(HeartbeatSeconds=1)})))
    again = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object
    assert again.problems == error.problems
    failed = pickle.loads(pickle.dumps(TaskFailed("E", "c")))  # noqa: S301
    assert (failed.error, failed.cause) == ("E", "c")


# ----------------------------------------------------------------------------------------------
# events and helpers
# ----------------------------------------------------------------------------------------------


def test_event_history_is_deterministic() -> None:
    d = machine({"M": inline_map(MaxConcurrency=3)})
    a = run(d, [1, 2, 3, 4], {"r": echo})
    b = run(d, [1, 2, 3, 4], {"r": echo})
    strip = [(e.type, e.state, e.scope) for e in a.events]
    assert strip == [(e.type, e.state, e.scope) for e in b.events]
    assert strip[0] == ("ExecutionStarted", None, "")
    assert strip[-1] == ("ExecutionSucceeded", None, "")


def test_placeholders_substitute_and_load(tmp_path: Path) -> None:
    definition = machine({"T": end_task("${Fn}", Parameters={"FunctionName": "${Fn}",
                                                             "Cluster": "${ClusterArn}"})})
    assert placeholders(definition) == {"Fn", "ClusterArn"}
    with pytest.raises(KeyError, match="ClusterArn"):
        substitute(definition, {"Fn": "arn:fn"})
    done = substitute(definition, {"Fn": "arn:fn", "ClusterArn": "arn:cluster"})
    assert done["States"]["T"]["Resource"] == "arn:fn"
    path = tmp_path / "m.asl.json"
    path.write_text(json.dumps(definition))
    assert load_definition(path, {"Fn": "a", "ClusterArn": "b"})["States"]["T"]["Resource"] == "a"
    assert load_definition(path) == definition


def handler_ok(event: Any, context: Any) -> Any:
    return {"key": f"runs/{event['run_id']}/manifest.json", "fn": context.function_name}


def handler_bad(event: Any, context: Any) -> Any:
    raise ValueError("portfolio has no trades")


def test_lambda_invoke_shape_and_errors() -> None:
    d = machine({"T": end_task(_lambda := "arn:aws:states:::lambda:invoke",
                               Parameters={"FunctionName": "fn-part", "Payload.$": "$"},
                               ResultSelector={"key.$": "$.Payload.key"},
                               Retry=[{"ErrorEquals": ["Lambda.ServiceException"]}],
                               Catch=[{"ErrorEquals": ["States.ALL"], "Next": "F"}]),
                 "F": {"Type": "Pass", "End": True}})
    resources = {_lambda: LambdaInvoke({"fn-part": handler_ok, "fn-bad": handler_bad})}
    assert run(d, {"run_id": "r1"}, resources).output == {"key": "runs/r1/manifest.json"}
    d["States"]["T"]["Parameters"]["FunctionName"] = "fn-bad"
    caught = run(d, {"run_id": "r1"}, resources).output
    assert caught["Error"] == "ValueError"
    assert json.loads(caught["Cause"])["errorMessage"] == "portfolio has no trades"
    d["States"]["T"]["Parameters"]["FunctionName"] = "fn-none"
    assert run(d, {}, resources).output["Error"] == "Lambda.ResourceNotFoundException"


def test_ecs_run_task_sync_helper() -> None:
    runs: list[dict[str, Any]] = []

    def worker(params: Mapping[str, Any]) -> int:
        runs.append(dict(params))
        _, env, _ = ecs_container_overrides(params, "worker")
        return 0 if env["PART"] != "2" else 3

    resource = "arn:aws:states:::ecs:runTask.sync"
    d = machine({"M": {**inline_map(), "ItemProcessor": {"StartAt": "Run", "States": {
        "Run": end_task(resource, Parameters={
            "Cluster": "arn:aws:ecs:eu-west-1:1:cluster/xva", "TaskDefinition": "td-cpu",
            "Overrides": {"ContainerOverrides": [{"Name": "worker", "Environment": [
                {"Name": "PART", "Value.$": "States.Format('{}', $.part)"}]}]}},
            ResultSelector={"exit.$": "$.Containers[0].ExitCode"})}}}})
    ok = run(d, [{"part": 0}, {"part": 1}], {resource: EcsRunTaskSync(worker)})
    assert ok.output == [{"exit": 0}, {"exit": 0}]
    bad = run(d, [{"part": 2}], {resource: EcsRunTaskSync(worker)})
    assert bad.error == "States.TaskFailed"
    assert json.loads(bad.cause or "{}")["Containers"][0]["ExitCode"] == 3
    assert ecs_container_overrides({}, "x") == ("x", {}, [])


def test_deterministic_uuids() -> None:
    a, b = DeterministicUUIDs("n"), DeterministicUUIDs("n")
    assert [a(), a()] == [b(), b()]
    assert a() != DeterministicUUIDs("other")()
