"""Unit tests of the local Step Functions runner (xvaflow.pipeline.asl): the pipeline's own
definition end to end with fake services, then small definitions, one feature at a time,
including the rejection by name of everything the runner does not support."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from xvaflow.pipeline.asl import (
    EcsRunTaskSync,
    Execution,
    Interpreter,
    LambdaInvoke,
    TaskContext,
    TaskFailed,
    UnsupportedDefinition,
    ecs_container_overrides,
    placeholders,
    substitute,
    validate,
)

DEFINITION = Path(__file__).resolve().parents[2] / "statemachine" / "xva_pipeline.asl.json"
LAMBDA = "arn:aws:states:::lambda:invoke"
ECS = "arn:aws:states:::ecs:runTask.sync"
READER = {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
          "Parameters": {"Bucket": "b", "Key.$": "$.key"}}

# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------


class FakeTime:
    """A clock that only moves when the runner sleeps."""

    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


def machine(states: dict[str, Any], start: str | None = None, **top: Any) -> dict[str, Any]:
    return {"StartAt": start or next(iter(states)), "States": states, **top}


def run(definition: dict[str, Any], data: Any = None,
        resources: Mapping[str, Callable[[Any, TaskContext], Any]] | None = None,
        name: str = "exec-1", **options: Any) -> Execution:
    fake = options.pop("fake", None) or FakeTime()
    options.setdefault("sleep", fake.sleep)
    options.setdefault("clock", fake.clock)
    return Interpreter(definition, resources or {}, **options).run(data, name)


def task(resource: str = "r", **fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": resource, "End": True, **fields}


def distributed(**fields: Any) -> dict[str, Any]:
    """A DISTRIBUTED Map whose items are the list ``$.key`` names in :func:`items_at`."""
    return {"Type": "Map", "End": True, "ItemReader": READER,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED",
                                                  "ExecutionType": "STANDARD"},
                              "StartAt": "T", "States": {"T": task()}}, **fields}


def items_at(store: Mapping[str, list[Any]]) -> Callable[[dict[str, Any]], list[Any]]:
    return lambda spec: store[spec["Parameters"]["Key"]]


def echo(params: Any, ctx: TaskContext) -> Any:
    return params


def fail_odd(params: Any, ctx: TaskContext) -> Any:
    if params % 2:
        raise TaskFailed("Custom.Odd", f"{params} is odd")
    return params


class Flaky:
    """Fails with ``error`` the first ``n`` calls, then returns the call count."""

    def __init__(self, n: int, error: str = "Lambda.ServiceException") -> None:
        self.n = n
        self.error = error
        self.contexts: list[TaskContext] = []

    def __call__(self, params: Any, ctx: TaskContext) -> Any:
        self.contexts.append(ctx)
        if len(self.contexts) <= self.n:
            raise TaskFailed(self.error, f"call {len(self.contexts)}")
        return {"calls": len(self.contexts)}


def problems(definition: dict[str, Any], **options: Any) -> str:
    return "\n".join(validate(definition, **options))


# ----------------------------------------------------------------------------------------------
# the pipeline's definition, end to end with fake services
# ----------------------------------------------------------------------------------------------


def pipeline(compute: str, worker: Callable[[Mapping[str, Any]], int],
             lambda_error: list[str] | None = None, fake: FakeTime | None = None) -> Execution:
    """Run statemachine/xva_pipeline.asl.json with handlers that answer as the stages do."""
    document = json.loads(DEFINITION.read_text())
    values = {key: f"local-{key}" for key in placeholders(document)}
    values["SubnetIds"] = "subnet-a,subnet-b"
    errors = list(lambda_error or [])

    def partition(event: Any, context: Any) -> Any:
        if errors:
            raise TaskFailed(errors.pop(0), "transient")
        return {"manifest_key": f"runs/{event['run_id']}/manifest.json", "partitions": 3,
                "max_concurrency": event["max_concurrency"], "compute": compute}

    def stage(key: str) -> Callable[[Any, Any], Any]:
        return lambda event, context: {key: f"runs/{event['run_id']}/{key}",
                                       "exposure_key": "x"}

    handlers = {"local-PartitionFunctionArn": partition,
                "local-AggregateFunctionArn": stage("results_key"),
                "local-OptimiseFunctionArn": stage("diagnostics_key")}
    manifest = {"runs/r1/manifest.json": [{"run_id": "r1", "partition": k} for k in range(3)]}
    interpreter = Interpreter(substitute(document, values),
                              {LAMBDA: LambdaInvoke(handlers), ECS: EcsRunTaskSync(worker)},
                              item_reader=items_at(manifest), sleep=(fake or FakeTime()).sleep,
                              random=lambda: 0.5)
    return interpreter.run({"run_id": "r1", "input_prefix": "inputs/r1/", "settings": {},
                            "max_concurrency": 2}, name="r1")


def test_the_pipeline_definition_runs_with_its_data_flow() -> None:
    tasks: list[Mapping[str, Any]] = []
    lock = threading.Lock()

    def worker(params: Mapping[str, Any]) -> int:
        with lock:
            tasks.append(params)
        return 0

    fake = FakeTime()
    execution = pipeline("gpu", worker, ["Lambda.ServiceException"], fake)
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["partitioned"] == {"manifest_key": "runs/r1/manifest.json",
                                               "partitions": 3, "max_concurrency": 2,
                                               "compute": "gpu"}
    assert execution.output["aggregated"]["results_key"] == "runs/r1/results_key"
    assert execution.output["optimised"] == {"diagnostics_key": "runs/r1/diagnostics_key"}
    assert fake.sleeps == [1.0]  # the Lambda retrier: 2 s under FULL jitter (random 0.5)
    assert sorted(ecs_container_overrides(t)[1]["XVAFLOW_PARTITION"] for t in tasks) == [
        "0", "1", "2"]  # States.Format('{}', 0): a string
    for params in tasks:
        assert params["TaskDefinition"] == "local-GpuTaskDefinitionArn"  # the Choice
        network = params["NetworkConfiguration"]["AwsvpcConfiguration"]
        assert network["Subnets"] == ["subnet-a", "subnet-b"]  # States.StringSplit
        assert ecs_container_overrides(params, "local-WorkerContainerName")[1][
            "XVAFLOW_RUN_ID"] == "r1"


def test_a_failing_worker_is_retried_once_then_fails_the_run_naming_it() -> None:
    attempts: list[str] = []

    def worker(params: Mapping[str, Any]) -> int:
        partition = ecs_container_overrides(params)[1]["XVAFLOW_PARTITION"]
        attempts.append(partition)
        assert params["TaskDefinition"] == "local-CpuTaskDefinitionArn"
        return 3 if partition == "1" else 0

    fake = FakeTime()
    execution = pipeline("cpu", worker, fake=fake)
    assert (execution.status, execution.error) == ("FAILED", "XvaPipeline.WorkersFailed")
    assert fake.sleeps == [30.0]  # States.TaskFailed: one retry after 30 s
    assert attempts.count("1") == 2
    cause = execution.cause or ""
    assert cause.startswith("CalculatePartitionedXVA failed: "
                            "States.ExceedToleratedFailureThreshold: ")
    assert "item 1: XvaPipeline.WorkerFailed: partition 1 of run r1 failed: States.TaskFailed: " \
        in cause
    assert '"ExitCode": 3' in cause


def test_the_pipeline_definition_is_supported_and_needs_its_bindings() -> None:
    document = json.loads(DEFINITION.read_text())
    definition = substitute(document, {key: "x" for key in placeholders(document)})
    assert validate(definition) == []
    text = problems(definition, resources={LAMBDA: echo}, has_item_reader=False)
    assert f"state 'CalculatePartitionedXVA/ItemProcessor/RunWorkerCpu': no callable is bound " \
        f"to Resource '{ECS}'" in text
    assert "state 'CalculatePartitionedXVA': ItemReader needs an item_reader callable" in text
    assert "PartitionPortfolio" not in text


# ----------------------------------------------------------------------------------------------
# rejected by name
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["Pass", "Wait", "Parallel", "Magic"])
def test_unsupported_state_types_are_rejected_by_name(kind: str) -> None:
    d = machine({"X": {"Type": kind, "End": True}})
    with pytest.raises(UnsupportedDefinition) as info:
        Interpreter(d, {})
    assert info.value.problems[0] == (
        f"state 'X': Type {kind} is not supported by the local runner (supported: Choice, Fail, "
        "Map, Succeed, Task)")


@pytest.mark.parametrize(("state", "field"), [
    (task(InputPath="$.a"), "InputPath"),
    (task(OutputPath="$.a"), "OutputPath"),
    (task(HeartbeatSeconds=60), "HeartbeatSeconds"),
    (task(TimeoutSecondsPath="$.t"), "TimeoutSecondsPath"),
    (task(Arguments={}), "Arguments"),
    (task(Assign={"x": 1}), "Assign"),
    (task(Retry=[{"ErrorEquals": ["States.ALL"], "Comment": "c"}]), "Retry[0].Comment"),
    (task(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "X", "Assign": {}}]),
     "Catch[0].Assign"),
    (distributed(ItemsPath="$.items"), "ItemsPath"),
    (distributed(MaxConcurrency=2), "MaxConcurrency"),
    (distributed(ToleratedFailureCount=1), "ToleratedFailureCount"),
    (distributed(ToleratedFailurePercentage=10), "ToleratedFailurePercentage"),
    (distributed(ResultWriter={}), "ResultWriter"),
    (distributed(ItemBatcher={}), "ItemBatcher"),
    (distributed(Retry=[]), "Retry"),
    (distributed(ResultSelector={}), "ResultSelector"),
    (distributed(Iterator={}), "Iterator"),
    (distributed(ItemReader={**READER, "ReaderConfig": {"InputType": "JSON", "MaxItems": 2}}),
     "ItemReader.ReaderConfig.MaxItems"),
    ({"Type": "Succeed", "OutputPath": "$.a"}, "OutputPath"),
    ({"Type": "Choice", "Choices": [{"Variable": "$.a", "StringEquals": "x", "Next": "X",
                                     "NumericEquals": 1}]}, "Choices[0].NumericEquals"),
    ({"Type": "Choice", "Choices": [{"Variable": "$.a", "StringEquals": "x", "Next": "X",
                                     "StringMatches": "x*"}]}, "Choices[0].StringMatches"),
    ({"Type": "Choice", "Choices": [{"Variable": "$.a", "StringEquals": "x", "Next": "X",
                                     "And": []}]}, "Choices[0].And"),
])
def test_unsupported_fields_are_rejected_by_name(state: dict[str, Any], field: str) -> None:
    found = validate(machine({"X": state}))
    assert len(found) == 1, found
    assert found[0].startswith(f"state 'X': {field} is not supported by the local runner ")
    assert "(supported: " in found[0]


@pytest.mark.parametrize(("expression", "message"), [
    ("States.ArrayLength($.a)", "intrinsic States.ArrayLength is not supported by the local "
                                "runner (supported: States.Format, States.StringSplit)"),
    ("States.UUID()", "intrinsic States.UUID is not supported"),
    ("States.Format('{}', States.StringSplit('a', ','))", "no nested calls"),
    ("States.Format('{}', 3)", "only 'string' and $path arguments are supported"),
    ("States.StringSplit('a')", "States.StringSplit takes 2 arguments"),
    ("States.Format($.template, $.a)", "the template of States.Format must be a 'string'"),
    ("$..a", "JSONPath '$..a' is not supported by the local runner"),
    ("$.a[0]", "JSONPath '$.a[0]' is not supported"),
    ("$.a[*]", "JSONPath '$.a[*]' is not supported"),
    ("$['a']", "JSONPath '$['a']' is not supported"),
    ("a.b", "JSONPath 'a.b' is not supported"),
    ("States.Format('{}', $.a[?(@.x)])", "JSONPath '$.a[?(@.x)]' is not supported"),
])
def test_unsupported_intrinsics_and_paths_are_rejected_by_name(expression: str,
                                                               message: str) -> None:
    d = machine({"X": task(Parameters={"deep": [{"v.$": expression}]})})
    (problem,) = validate(d)
    assert problem.startswith("state 'X': Parameters.deep[0].v.$: ")
    assert message in problem


def test_unsupported_map_modes_readers_and_result_paths_are_named() -> None:
    inline = distributed(ItemProcessor={"StartAt": "T", "States": {"T": task()}})
    assert "ItemProcessor.ProcessorConfig is required" in problems(machine({"M": inline}))
    inline["ItemProcessor"]["ProcessorConfig"] = {"Mode": "INLINE"}
    assert ("state 'M': ItemProcessor.ProcessorConfig.Mode 'INLINE' is not supported by the "
            "local runner (supported: DISTRIBUTED)") in problems(machine({"M": inline}))
    reader = {"Resource": "arn:aws:states:::s3:listObjectsV2", "ReaderConfig": {"InputType": "CSV"},
              "Parameters": {"Bucket": "b"}}
    text = problems(machine({"M": distributed(ItemReader=reader)}))
    assert "ItemReader.Resource 'arn:aws:states:::s3:listObjectsV2' is not supported" in text
    assert "ItemReader.ReaderConfig.InputType 'CSV' is not supported" in text
    assert "ItemReader.Parameters.Key is required" in text
    text = problems(machine({"T": task(ResultPath="$$.x", Catch=[
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.a[0]", "Next": "T"}])}))
    assert "ResultPath '$$.x' is not supported" in text
    assert "Catch[0].ResultPath '$.a[0]' is not supported" in text
    top = {**machine({"S": {"Type": "Succeed"}}), "QueryLanguage": "JSONata", "Version": "1.0"}
    assert "definition: QueryLanguage is not supported by the local runner" in problems(top)
    assert "definition: Version is not supported" in problems(top)


def test_targets_and_required_fields_and_every_problem_at_once() -> None:
    d = machine({
        "A": task("${PartitionFunctionArn}", Next="Missing"),
        "B": {"Type": "Task", "Resource": "r"},
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.a", "StringEquals": "x",
                                             "Next": "Nope"}], "Default": "Gone"},
        "D": {"Type": "Map", "Catch": [{"ErrorEquals": ["States.ALL"]}],
              "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"}, "StartAt": "T",
                                "States": {"T": {"Type": "Task", "Resource": "r",
                                                 "Next": "A"}}},
              "Next": "A"},
        "E": task("unbound", Retry=[{"MaxAttempts": 1}]),
        "F": {"Type": "Choice", "Choices": [{"Variable": "$.a", "Next": "A"}]},
    }, start="Start")
    with pytest.raises(UnsupportedDefinition) as info:
        Interpreter(d, {"r": echo})
    text = str(info.value)
    for expected in [
        "definition: StartAt names 'Start', which is not a state here",
        "state 'A': Resource '${PartitionFunctionArn}' is not a resource",
        "state 'A': Next names 'Missing', which is not a state here",
        "state 'A': needs exactly one of Next or \"End\": true",
        "state 'B': needs exactly one of Next or \"End\": true",
        "state 'C': Choices[0].Next names 'Nope'",
        "state 'C': Default names 'Gone'",
        "state 'D': ItemReader is required",
        "state 'D': Catch[0].Next is required",
        "state 'D/ItemProcessor/T': Next names 'A', which is not a state here",
        "state 'E': no callable is bound to Resource 'unbound' (bound: r)",
        "state 'E': Retry[0].ErrorEquals is required",
        "state 'F': Choices[0].StringEquals is required",
    ]:
        assert expected in text, expected
    with pytest.raises(UnsupportedDefinition, match="state 'M': ItemReader needs an "
                       "item_reader callable, and the runner was given none"):
        Interpreter(machine({"M": distributed()}), {"r": echo})


# ----------------------------------------------------------------------------------------------
# paths, templates, ResultPath, the context object
# ----------------------------------------------------------------------------------------------


def test_parameters_result_selector_and_result_path() -> None:
    seen: list[Any] = []

    def service(params: Any, ctx: TaskContext) -> Any:
        seen.append(params)
        return {"Payload": {"key": params["k"], "extra": 1}}

    d = machine({"T": task(Parameters={"k.$": "$.in.key", "const": {"list": [{"v.$": "$.n"}, 2]}},
                           ResultSelector={"key.$": "$.Payload.key"}, ResultPath="$.out.res")})
    data = {"in": {"key": "runs/1/x.json"}, "n": 7, "out": {"kept": True}}
    ex = run(d, data, {"r": service})
    assert seen == [{"k": "runs/1/x.json", "const": {"list": [{"v": 7}, 2]}}]
    assert ex.output == {**data, "out": {"kept": True, "res": {"key": "runs/1/x.json"}}}
    assert data["out"] == {"kept": True}  # the input is not modified
    assert run(machine({"T": task(ResultPath=None)}), {"a": 1}, {"r": echo}).output == {"a": 1}
    assert run(machine({"T": task()}), {"a": 1}, {"r": lambda p, c: 5}).output == 5


def test_result_path_through_a_non_object_is_a_catchable_failure() -> None:
    d = machine({"T": task(ResultPath="$.a.b", Catch=[
        {"ErrorEquals": ["States.ResultPathMatchFailure"], "ResultPath": "$.err", "Next": "S"}]),
        "S": {"Type": "Succeed"}})
    ex = run(d, {"a": "text"}, {"r": echo})
    assert ex.status == "SUCCEEDED"
    assert ex.output["err"]["Error"] == "States.ResultPathMatchFailure"
    assert "'a' is not an object" in ex.output["err"]["Cause"]


def test_a_missing_path_is_a_runtime_error_that_no_catch_intercepts() -> None:
    d = machine({"T": task(Parameters={"x.$": "$.missing"},
                           Catch=[{"ErrorEquals": ["States.ALL"], "Next": "S"}]),
                 "S": {"Type": "Succeed"}})
    ex = run(d, {"a": 1}, {"r": echo})
    assert (ex.status, ex.error) == ("FAILED", "States.Runtime")
    assert "The JSONPath '$.missing' specified for the field 'x.$'" in (ex.cause or "")


def test_context_object() -> None:
    flaky = Flaky(1)
    seen: list[Any] = []

    def service(params: Any, ctx: TaskContext) -> Any:
        seen.append(params)
        return flaky(params, ctx)

    d = machine({"T": task(Parameters={"name.$": "$$.Execution.Name", "state.$": "$$.State.Name",
                                       "retry.$": "$$.State.RetryCount",
                                       "input.$": "$$.Execution.Input"},
                           Retry=[{"ErrorEquals": ["States.ALL"]}])})
    assert run(d, {"k": "v"}, {"r": service}, name="my-run").status == "SUCCEEDED"
    assert seen == [{"name": "my-run", "state": "T", "retry": n, "input": {"k": "v"}}
                    for n in (0, 1)]
    assert [c.retry_count for c in flaky.contexts] == [0, 1]


def test_input_none_is_an_empty_object_and_non_json_input_is_refused() -> None:
    assert run(machine({"S": {"Type": "Succeed"}})).output == {}
    with pytest.raises(TypeError, match="not JSON serializable"):
        run(machine({"S": {"Type": "Succeed"}}), {"x": object()})


@pytest.mark.parametrize(("expression", "expected"), [
    ("States.Format('partition {} of run {}', $.n, $.id)", "partition 3 of run r1"),
    ("States.Format('{} {} {}', $.flag, $.nothing, $.x)", "true null 1.5"),
    (r"States.Format('literal \{\} and \'{}\'', $.id)", "literal {} and 'r1'"),
    ("States.Format('no placeholders')", "no placeholders"),
    ("States.StringSplit('subnet-a,subnet-b', ',')", ["subnet-a", "subnet-b"]),
    ("States.StringSplit($.csv, ',;')", ["a", "b", "c"]),
    ("States.StringSplit('local', ',')", ["local"]),
])
def test_intrinsics(expression: str, expected: Any) -> None:
    data = {"n": 3, "id": "r1", "flag": True, "nothing": None, "x": 1.5, "csv": "a,b;;c"}
    ex = run(machine({"T": task(Parameters={"v.$": expression})}), data, {"r": echo})
    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output == {"v": expected}


@pytest.mark.parametrize("expression", [
    "States.Format('{}', $.obj)",
    "States.Format('{} {}', $.n)",
    "States.Format('{}', $.n, $.n)",
    "States.Format('a { b', $.n)",
    "States.StringSplit($.n, ',')",
])
def test_intrinsic_failures_are_catchable(expression: str) -> None:
    d = machine({"T": task(Parameters={"v.$": expression},
                           Catch=[{"ErrorEquals": ["States.IntrinsicFailure"], "Next": "S"}]),
                 "S": {"Type": "Succeed"}})
    ex = run(d, {"obj": {"a": 1}, "n": 1}, {"r": echo})
    assert ex.status == "SUCCEEDED"
    assert ex.output["Error"] == "States.IntrinsicFailure"


# ----------------------------------------------------------------------------------------------
# Task: Retry, Catch, errors, timeouts, the payload limit
# ----------------------------------------------------------------------------------------------


def test_retry_backs_off_then_catch_takes_the_error() -> None:
    flaky = Flaky(10)
    fake = FakeTime()
    d = machine({"T": task(
        Retry=[{"ErrorEquals": ["Lambda.ServiceException"], "IntervalSeconds": 1,
                "MaxAttempts": 3, "BackoffRate": 2.0}],
        Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}]),
        "Failed": {"Type": "Fail", "Error": "Pipeline.Failed", "CausePath": "$.error.Cause"}})
    ex = run(d, {"in": 1}, {"r": flaky}, fake=fake)
    assert [c.retry_count for c in flaky.contexts] == [0, 1, 2, 3]
    assert fake.sleeps == [1.0, 2.0, 4.0]
    assert (ex.status, ex.error, ex.cause) == ("FAILED", "Pipeline.Failed", "call 4")


def test_retry_defaults_max_delay_and_full_jitter() -> None:
    fake = FakeTime()
    d = machine({"T": task(Retry=[{"ErrorEquals": ["States.ALL"]}])})
    ex = run(d, {}, {"r": Flaky(4)}, fake=fake)
    assert (ex.error, fake.sleeps) == ("Lambda.ServiceException", [1.0, 2.0, 4.0])  # 3 retries
    fake = FakeTime()
    d = machine({"T": task(Retry=[{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 3,
                                   "BackoffRate": 3, "MaxDelaySeconds": 10,
                                   "JitterStrategy": "FULL", "MaxAttempts": 5}])})
    ex = run(d, {}, {"r": Flaky(3)}, fake=fake, random=lambda: 0.5)
    assert ex.output == {"calls": 4}
    assert fake.sleeps == [1.5, 4.5, 5.0]  # 3, 9, min(27, 10), halved


def test_the_first_matching_retrier_decides() -> None:
    fake = FakeTime()
    d = machine({"T": task(Retry=[{"ErrorEquals": ["Custom.Error"], "MaxAttempts": 0},
                                  {"ErrorEquals": ["States.ALL"], "MaxAttempts": 5}])})
    ex = run(d, {}, {"r": Flaky(1, "Custom.Error")}, fake=fake)
    assert (ex.status, ex.error, fake.sleeps) == ("FAILED", "Custom.Error", [])
    ex = run(d, {}, {"r": Flaky(1, "Other.Error")}, fake=fake)
    assert (ex.status, fake.sleeps) == ("SUCCEEDED", [1.0])


def test_catch_order_default_result_path_and_no_match() -> None:
    d = machine({"T": task(Catch=[{"ErrorEquals": ["Other"], "Next": "A"},
                                  {"ErrorEquals": ["X", "Custom.Odd"], "Next": "B"}]),
                 "A": {"Type": "Fail", "Error": "Wrong"},
                 "B": {"Type": "Succeed"}})
    assert run(d, 3, {"r": fail_odd}).output == {"Error": "Custom.Odd", "Cause": "3 is odd"}
    d["States"]["T"]["Catch"].pop()
    ex = run(d, 3, {"r": fail_odd})
    assert (ex.status, ex.error, ex.cause) == ("FAILED", "Custom.Odd", "3 is odd")


def test_task_errors_generic_and_non_json() -> None:
    def boom(params: Any, ctx: TaskContext) -> Any:
        raise RuntimeError("disk full")

    d = machine({"T": task(Retry=[{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 1}])})
    fake = FakeTime()
    ex = run(d, {}, {"r": boom}, fake=fake)
    assert (ex.error, ex.cause, fake.sleeps) == ("States.TaskFailed", "RuntimeError: disk full",
                                                 [1.0])
    ex = run(d, {}, {"r": lambda p, c: {"x": object()}})
    assert ex.error == "States.Runtime"
    assert "not JSON-serialisable" in (ex.cause or "")
    assert run(d, {}, {"r": lambda p, c: float("nan")}).error == "States.Runtime"


def test_task_timeout_is_states_timeout_which_task_failed_does_not_match() -> None:
    release = threading.Event()

    def slow(params: Any, ctx: TaskContext) -> Any:
        release.wait(5)
        return 1

    d = machine({"T": task(TimeoutSeconds=1,
                           Catch=[{"ErrorEquals": ["States.TaskFailed"], "Next": "Wrong"},
                                  {"ErrorEquals": ["States.Timeout"], "Next": "TimedOut"}]),
                 "Wrong": {"Type": "Fail", "Error": "Wrong"},
                 "TimedOut": {"Type": "Succeed"}})
    start = time.monotonic()
    try:
        ex = Interpreter(d, {"r": slow}).run({}, "t")
    finally:
        release.set()
    assert ex.status == "SUCCEEDED"
    assert ex.output["Error"] == "States.Timeout"
    assert 0.9 < time.monotonic() - start < 3


def test_the_execution_timeout_ends_it_and_no_catch_intercepts() -> None:
    fake = FakeTime()
    d = machine({"T": task(Retry=[{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 30}],
                           Catch=[{"ErrorEquals": ["States.ALL"], "Next": "S"}]),
                 "S": {"Type": "Succeed"}}, TimeoutSeconds=50)
    ex = run(d, {}, {"r": Flaky(5)}, fake=fake)
    assert (ex.status, ex.error) == ("TIMED_OUT", "States.Timeout")
    assert fake.sleeps == [30.0, 20.0]  # the second wait is cut at the deadline

    release = threading.Event()

    def slow(params: Any, ctx: TaskContext) -> Any:
        release.wait(5)
        return 1

    try:
        ex = Interpreter(machine({"T": task(TimeoutSeconds=600)}, TimeoutSeconds=1),
                         {"r": slow}).run({}, "t")
    finally:
        release.set()
    assert (ex.status, ex.error) == ("TIMED_OUT", "States.Timeout")


def test_payload_limit() -> None:
    d = machine({"T": task(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "S"}]),
                 "S": {"Type": "Succeed"}})
    ex = run(d, {}, {"r": lambda p, c: "x" * 300_000})
    assert (ex.status, ex.error) == ("FAILED", "States.DataLimitExceeded")
    assert "pass object-store keys" in (ex.cause or "")
    assert run(d, {}, {"r": lambda p, c: "x" * 300_000},
               payload_limit_bytes=None).status == "SUCCEEDED"


# ----------------------------------------------------------------------------------------------
# Choice, Succeed, Fail
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("rule", "matches"), [
    ({"Variable": "$.s", "StringEquals": "gpu"}, True),
    ({"Variable": "$.s", "StringEquals": "cpu"}, False),
    ({"Variable": "$.n", "StringEquals": "3"}, False),  # a type mismatch does not match
    ({"Variable": "$$.Execution.Name", "StringEquals": "exec-1"}, True),
])
def test_choice_rules(rule: dict[str, Any], matches: bool) -> None:
    d = machine({"C": {"Type": "Choice", "Choices": [{**rule, "Next": "Yes"}], "Default": "No"},
                 "Yes": {"Type": "Succeed"},
                 "No": {"Type": "Fail", "Error": "No"}})
    assert run(d, {"s": "gpu", "n": 3, "b": True}).status == (
        "SUCCEEDED" if matches else "FAILED")


def test_choice_without_default_and_with_a_missing_variable() -> None:
    d = machine({"C": {"Type": "Choice", "Choices": [
        {"Variable": "$.s", "StringEquals": "gpu", "Next": "S"}]}, "S": {"Type": "Succeed"}})
    assert run(d, {"s": "gpu"}).output == {"s": "gpu"}
    assert run(d, {"s": "cpu"}).error == "States.NoChoiceMatched"
    ex = run(d, {"other": 1})
    assert (ex.error, "Invalid path '$.s'" in (ex.cause or "")) == ("States.Runtime", True)


def test_fail_error_and_cause_and_their_paths() -> None:
    d = machine({"F": {"Type": "Fail", "ErrorPath": "$.e",
                       "CausePath": "States.Format('partition {} failed: {}', $.k, $.why)"}})
    ex = run(d, {"e": "Stage.Failed", "k": 3, "why": "disk full"})
    assert (ex.status, ex.error, ex.cause) == ("FAILED", "Stage.Failed",
                                               "partition 3 failed: disk full")
    plain = run(machine({"F": {"Type": "Fail", "Error": "E", "Cause": "C"}}))
    assert (plain.error, plain.cause) == ("E", "C")
    assert (run(machine({"F": {"Type": "Fail"}})).error, plain.output) == (None, None)
    ex = run(machine({"F": {"Type": "Fail", "CausePath": "$.obj"}}), {"obj": {}})
    assert ex.error == "States.Runtime"


# ----------------------------------------------------------------------------------------------
# Map (distributed, with an ItemReader)
# ----------------------------------------------------------------------------------------------


def test_map_reads_items_selects_each_and_names_its_child_executions() -> None:
    specs: list[dict[str, Any]] = []
    names: list[str] = []

    def reader(spec: dict[str, Any]) -> list[Any]:
        specs.append(spec)
        return [{"k": f"part-{i}"} for i in range(3)]

    def service(params: Any, ctx: TaskContext) -> Any:
        names.append(ctx.execution_name)
        return params

    d = machine({"M": distributed(Label="Parts", ResultPath="$.results",
                                  ItemSelector={"key.$": "$$.Map.Item.Value.k",
                                                "i.$": "$$.Map.Item.Index", "run.$": "$.run"})})
    ex = run(d, {"key": "runs/r/manifest.json", "run": "r"}, {"r": service}, item_reader=reader)
    assert ex.output["results"] == [{"key": f"part-{i}", "i": i, "run": "r"} for i in range(3)]
    assert specs == [{"Resource": "arn:aws:states:::s3:getObject",
                      "ReaderConfig": {"InputType": "JSON"},
                      "Parameters": {"Bucket": "b", "Key": "runs/r/manifest.json"}}]
    assert sorted(names) == ["exec-1/Parts/0", "exec-1/Parts/1", "exec-1/Parts/2"]
    assert run(d, {"key": "k", "run": "r"}, {"r": service},
               item_reader=lambda spec: []).output["results"] == []


class ConcurrencyProbe:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = self.peak = 0

    def __call__(self, params: Any, ctx: TaskContext) -> Any:
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        time.sleep(0.03)
        with self.lock:
            self.active -= 1
        return params


@pytest.mark.parametrize(("limit", "peak"), [(1, 1), (2, 2), (0, 6), (None, 6)])
def test_map_max_concurrency_path(limit: int | None, peak: int) -> None:
    probe = ConcurrencyProbe()
    fields = {} if limit is None else {"MaxConcurrencyPath": "$.mc"}
    ex = run(machine({"M": distributed(**fields)}), {"key": "k", "mc": limit}, {"r": probe},
             item_reader=items_at({"k": list(range(6))}))
    assert (ex.output, probe.peak) == (list(range(6)), peak)


def test_map_max_concurrency_path_must_be_a_count() -> None:
    d = machine({"M": distributed(MaxConcurrencyPath="$.mc")})
    ex = run(d, {"key": "k", "mc": "two"}, {"r": echo}, item_reader=items_at({"k": [1]}))
    assert (ex.error, "not a non-negative integer" in (ex.cause or "")) == ("States.Runtime",
                                                                           True)


def test_a_failed_child_fails_the_map_naming_the_item_and_stops_new_ones() -> None:
    started: list[int] = []

    def service(params: Any, ctx: TaskContext) -> Any:
        started.append(params)
        return fail_odd(params, ctx)

    d = machine({"M": distributed(MaxConcurrencyPath="$.mc", Catch=[
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}]),
        "Failed": {"Type": "Fail", "Error": "Pipeline.WorkersFailed",
                   "CausePath": "$.error.Cause"}})
    ex = run(d, {"key": "k", "mc": 1}, {"r": service},
             item_reader=items_at({"k": [2, 4, 5, 6, 7]}))
    assert (ex.status, ex.error) == ("FAILED", "Pipeline.WorkersFailed")
    assert started == [2, 4, 5]  # one at a time: nothing starts after the failure
    assert ex.cause == ("Map state 'M': 1 of 5 child executions failed, above the tolerated 0: "
                        "item 2: Custom.Odd: 5 is odd")
    together = threading.Barrier(3, timeout=5)

    def all_at_once(params: Any, ctx: TaskContext) -> Any:
        together.wait()  # all three running before any fails
        return fail_odd(params, ctx)

    ex = run(machine({"M": distributed()}), {"key": "k"}, {"r": all_at_once},
             item_reader=items_at({"k": [1, 2, 3]}))
    assert ex.error == "States.ExceedToleratedFailureThreshold"
    assert "item 0: Custom.Odd: 1 is odd; item 2: Custom.Odd: 3 is odd" in (ex.cause or "")


def test_item_reader_failures_are_catchable() -> None:
    def missing(spec: dict[str, Any]) -> list[Any]:
        raise FileNotFoundError(spec["Parameters"]["Key"])

    d = machine({"M": distributed(Catch=[{"ErrorEquals": ["States.ItemReaderFailed"],
                                          "Next": "S"}]), "S": {"Type": "Succeed"}})
    ex = run(d, {"key": "runs/r/manifest.json"}, {"r": echo}, item_reader=missing)
    assert ex.output["Error"] == "States.ItemReaderFailed"
    assert "FileNotFoundError: runs/r/manifest.json" in ex.output["Cause"]
    def not_a_list(spec: dict[str, Any]) -> Any:
        return {"not": "a list"}

    ex = run(d, {"key": "k"}, {"r": echo}, item_reader=not_a_list)
    assert "read dict, not a JSON array" in ex.output["Cause"]


# ----------------------------------------------------------------------------------------------
# integrations and helpers
# ----------------------------------------------------------------------------------------------


def handler_ok(event: Any, context: Any) -> Any:
    return {"key": f"runs/{event['run_id']}/manifest.json", "fn": context.function_name,
            "request": context.aws_request_id}


def handler_bad(event: Any, context: Any) -> Any:
    raise ValueError("portfolio has no trades")


def test_lambda_invoke_response_and_function_errors() -> None:
    d = machine({"T": task(LAMBDA, Parameters={"FunctionName": "fn-part", "Payload.$": "$"},
                           ResultSelector={"key.$": "$.Payload.key", "fn.$": "$.Payload.fn",
                                           "request.$": "$.Payload.request",
                                           "status.$": "$.StatusCode"},
                           Catch=[{"ErrorEquals": ["States.ALL"], "Next": "S"}]),
                 "S": {"Type": "Succeed"}})
    resources = {LAMBDA: LambdaInvoke({"fn-part": handler_ok, "fn-bad": handler_bad})}
    output = run(d, {"run_id": "r1"}, resources).output
    assert (output["key"], output["fn"], output["status"]) == ("runs/r1/manifest.json",
                                                               "fn-part", 200)
    assert output["request"] == run(d, {"run_id": "r1"}, resources).output["request"]
    d["States"]["T"]["Parameters"]["FunctionName"] = "fn-bad"
    caught = run(d, {"run_id": "r1"}, resources).output
    assert caught["Error"] == "ValueError"
    assert json.loads(caught["Cause"])["errorMessage"] == "portfolio has no trades"
    d["States"]["T"]["Parameters"]["FunctionName"] = "fn-none"
    assert run(d, {}, resources).output["Error"] == "Lambda.ResourceNotFoundException"


def test_ecs_run_task_sync_and_container_overrides() -> None:
    def worker(params: Mapping[str, Any]) -> int:
        name, env, command = ecs_container_overrides(params, "worker")
        assert (name, command) == ("worker", ["run"])
        return int(env["CODE"])

    params = {"Cluster": "arn:aws:ecs:eu-west-1:1:cluster/xva", "TaskDefinition": "td-cpu",
              "Overrides": {"ContainerOverrides": [
                  {"Name": "sidecar", "Environment": []},
                  {"Name": "worker", "Command": ["run"], "Environment": [
                      {"Name": "CODE", "Value.$": "States.Format('{}', $.code)"}]}]}}
    d = machine({"T": task(ECS, Parameters=params,
                           ResultSelector={"status.$": "$.LastStatus", "task.$": "$.TaskArn"})})
    ex = run(d, {"code": 0}, {ECS: EcsRunTaskSync(worker)})
    assert ex.output["status"] == "STOPPED"
    assert ex.output["task"].startswith("arn:aws:ecs:local:000000000000:task/xva/")
    bad = run(d, {"code": 3}, {ECS: EcsRunTaskSync(worker)})
    assert bad.error == "States.TaskFailed"
    assert json.loads(bad.cause or "{}")["Containers"] == [
        {"Name": "sidecar", "ExitCode": 3, "LastStatus": "STOPPED"}]
    assert ecs_container_overrides({}, "x") == ("x", {}, [])


def test_placeholders_and_substitute() -> None:
    definition = machine({"T": task("${Fn}", Parameters={"FunctionName": "${Fn}",
                                                         "${Key}": "${ClusterArn}/x"})})
    assert placeholders(definition) == {"Fn", "ClusterArn", "Key"}
    with pytest.raises(KeyError, match="ClusterArn, Key"):
        substitute(definition, {"Fn": "arn:fn"})
    done = substitute(definition, {"Fn": "arn:fn", "ClusterArn": "arn:c", "Key": "k"})
    assert done["States"]["T"]["Parameters"] == {"FunctionName": "arn:fn", "k": "arn:c/x"}
    assert definition["States"]["T"]["Resource"] == "${Fn}"  # a copy
