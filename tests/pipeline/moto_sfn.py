"""Run the pipeline's state machine in moto's Step Functions interpreter, in-process.

moto 5.2.5 executes state machines with its port of LocalStack's ASL interpreter
(``moto/stepfunctions/parser``) under ``mock_aws(config={"stepfunctions":
{"execute_state_machine": True}})``: ``start_execution`` runs the definition in a background
thread, and every service integration calls moto's own backends through boto3. That is an
interpreter independent of ours (:mod:`xvaflow.pipeline.asl`); what it cannot do for this
workflow is patched below, in as few places as we found, each patch checking first that the
attribute it replaces exists with the signature it expects, so that a moto upgrade that moves
them fails here, loudly, instead of running something else:

1. ``lambda_eval_utils._invoke_lambda_function`` (``lambda:invoke``): moto would call its
   Lambda backend, which runs functions in Docker. The hook calls the real handlers of
   ``lambdas/<stage>/handler.py`` in-process and answers in the Invoke response shape; an
   exception becomes a function error (``FunctionError`` and the Python runtime's error
   document ``{"errorType", "errorMessage", "stackTrace"}``), which moto turns into error =
   errorType, cause = that document, as AWS does; an unknown function is
   ``Lambda.ResourceNotFoundException``.
2. ``StateTaskServiceEcs._eval_service_task`` and ``._build_sync_resolver``
   (``ecs:runTask.sync``): moto would call its ECS backend, which starts no container, and its
   .sync resolver returns a STOPPED task whatever its exit code. The hook runs the worker
   entry point (by default :func:`xvaflow.pipeline.local.run_worker_task`, i.e.
   ``worker_main`` with the task's environment overrides) and, as AWS does, fails the state
   with ``States.TaskFailed`` and the stopped task's description as cause when the exit code
   is not 0.
3. ``DistributedItemProcessorWorker._eval_job`` (a failed Distributed Map iteration): moto
   counts a failed child execution and carries on; the Map succeeds with ``null`` in that
   slot, even under the default tolerance of 0 failures. AWS fails the Map Run with
   ``States.ExceedToleratedFailureThreshold`` once failures exceed the tolerance; the hook does
   that, with AWS's cause text (:data:`EXCEEDED`; the child's own error and cause stay in the
   child execution's history on AWS, here in :attr:`Hooks.child_failures`). Only tolerance 0
   is implemented (the definition sets none); another tolerance fails the Map with an error
   saying so.
4. ``retrier_decl.time`` (Retry): moto sleeps each IntervalSeconds for real (30 s after a
   failed worker); the hook records the waits in :attr:`Hooks.waits` instead.

No hook is needed for the Map's ItemReader (``s3:getObject`` of the manifest): moto reads it
with a boto3 client, which ``mock_aws`` serves from the moto bucket. One moto limitation the
hooks cannot undo: its ecs:runTask integration drops parameters outside its own list, among
them ``CapacityProviderStrategy`` (AWS accepts it; the CDK's EcsRunTask emits it), so the
worker hook never sees which capacity provider a task asked for.

moto's CloudFormation backend needs ``moto[cloudformation]`` (docker, openapi-spec-validator,
graphql-core, aws-xray-sdk, joserfc, ...); :class:`FakeCloudFormation` answers the one call
``xvaflow submit``/``status`` make (DescribeStacks) on the client instead.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from moto.stepfunctions.parser.api import (
    HistoryEventType,
    MapRunFailedEventDetails,
    TaskFailedEventDetails,
)
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
    distributed_item_processor_worker as distributed_worker,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_ecs,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
    ResourceCondition,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.program_state import ProgramError

from xvaflow.pipeline.asl import ecs_container_overrides, placeholders, substitute
from xvaflow.pipeline.local import run_worker_task
from xvaflow.pipeline.stages import PORTFOLIO_FILES

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFINITION = REPO_ROOT / "statemachine" / "xva_pipeline.asl.json"  # what the CDK stack deploys
REGION, ACCOUNT = "us-east-1", "123456789012"
EXCEEDED = "The specified tolerated failure threshold was exceeded"  # AWS's Map Run cause
STAGES = {"PartitionFunctionArn": "partition", "AggregateFunctionArn": "aggregate",
          "OptimiseFunctionArn": "optimise"}

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
Worker = Callable[[Mapping[str, Any]], int]


def function_arn(stage: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:xvaflow-{stage}"


def substitutions(bucket: str) -> dict[str, str]:
    """AWS-shaped values of the definition's ${Placeholders} (fake ARNs, the moto bucket)."""
    ecs = f"arn:aws:ecs:{REGION}:{ACCOUNT}"
    return {**{key: function_arn(stage) for key, stage in STAGES.items()},
            "ClusterArn": f"{ecs}:cluster/xvaflow", "WorkerContainerName": "worker",
            "CpuTaskDefinitionArn": f"{ecs}:task-definition/xvaflow-worker-cpu:1",
            "GpuTaskDefinitionArn": f"{ecs}:task-definition/xvaflow-worker-gpu:1",
            "CpuCapacityProvider": "FARGATE", "GpuCapacityProvider": "xvaflow-gpu",
            "SubnetIds": "subnet-0a,subnet-0b", "SecurityGroupId": "sg-0c", "BucketName": bucket}


def definition(bucket: str) -> dict[str, Any]:
    """The deployed definition file with :func:`substitutions` (every placeholder covered)."""
    document = json.loads(DEFINITION.read_text(encoding="utf-8"))
    assert placeholders(document) == set(substitutions(bucket)), "placeholders changed"
    result: dict[str, Any] = substitute(document, substitutions(bucket))
    return result


def lambda_handlers() -> dict[str, Handler]:
    """Function ARN -> ``handler`` of lambdas/<stage>/handler.py (the functions' image CMD)."""
    handlers = {}
    for stage in STAGES.values():
        path = REPO_ROOT / "lambdas" / stage / "handler.py"
        spec = importlib.util.spec_from_file_location(f"xvaflow_lambda_{stage}", path)
        assert spec is not None, path
        assert spec.loader is not None, path
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        handlers[function_arn(stage)] = module.handler
    return handlers


def _moto(owner: Any, name: str, params: list[str]) -> Any:
    """``owner.name``, after checking that moto still has it, with these parameters."""
    found = getattr(owner, name, None)
    assert found is not None, f"moto changed: {owner.__name__}.{name} is gone; revisit the hook"
    names = list(inspect.signature(found).parameters)
    assert names == params, f"moto changed: {owner.__name__}.{name}{names}, expected {params}"
    return found


@dataclass
class Hooks:
    """The patched integrations (see the module docstring) and what they saw."""

    lambdas: Mapping[str, Handler]
    worker: Worker = run_worker_task
    fail_map_runs: bool = True  # False: moto's own behaviour (hook 3 passes through)
    invocations: list[str] = field(default_factory=list)  # function ARNs, in call order
    tasks: list[dict[str, Any]] = field(default_factory=list)  # runTask parameters
    exit_codes: list[int] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)  # worker exceptions (exit code 1)
    waits: list[float] = field(default_factory=list)  # Retry intervals, in seconds
    child_failures: list[dict[str, Any]] = field(default_factory=list)  # failed map items
    _busy: int = 0
    _idle: threading.Condition = field(default_factory=threading.Condition)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Patch moto (undone by ``monkeypatch``)."""
        hooks = self
        _moto(lambda_eval_utils, "_invoke_lambda_function",
              ["parameters", "region", "state_credentials"])
        monkeypatch.setattr(lambda_eval_utils, "_invoke_lambda_function", self._invoke)

        ecs = state_task_service_ecs.StateTaskServiceEcs
        task_params = ["self", "env", "resource_runtime_part", "normalised_parameters",
                       "state_credentials"]
        _moto(ecs, "_eval_service_task", task_params)
        _moto(ecs, "_build_sync_resolver", task_params)

        def run_task(service: Any, env: Any, resource_runtime_part: Any,
                     normalised_parameters: dict[str, Any], state_credentials: Any) -> None:
            hooks._run_task(service, env, normalised_parameters)

        def sync_resolver(service: Any, env: Any, resource_runtime_part: Any,
                          normalised_parameters: dict[str, Any], state_credentials: Any
                          ) -> Callable[[], Any]:
            return hooks._sync_resolver(env)

        monkeypatch.setattr(ecs, "_eval_service_task", run_task)
        monkeypatch.setattr(ecs, "_build_sync_resolver", sync_resolver)

        assert callable(getattr(getattr(retrier_decl, "time", None), "sleep", None)), \
            "moto changed: retrier_decl no longer sleeps with time.sleep; revisit the hook"
        monkeypatch.setattr(retrier_decl, "time", SimpleNamespace(sleep=self.waits.append))

        worker_class = distributed_worker.DistributedItemProcessorWorker
        original = _moto(worker_class, "_eval_job", ["self", "env", "job"])

        def eval_job(worker: Any, env: Any, job: Any) -> None:
            original(worker, env, job)
            if hooks.fail_map_runs:
                hooks._fail_map_run(worker, env, job)

        monkeypatch.setattr(worker_class, "_eval_job", eval_job)

    # 1. lambda:invoke ---------------------------------------------------------------------
    def _invoke(self, parameters: dict[str, Any], region: str, state_credentials: Any
                ) -> dict[str, Any]:
        name = parameters["FunctionName"]
        self.invocations.append(name)
        handler = self.lambdas.get(name)
        if handler is None:
            raise ClientError({"Error": {"Code": "ResourceNotFoundException",
                                         "Message": f"Function not found: {name}"},
                               "ResponseMetadata": {"HTTPStatusCode": 404,
                                                    "RequestId": str(uuid.uuid4())}}, "Invoke")
        event = json.loads(parameters.get("Payload") or b"{}")
        context = SimpleNamespace(aws_request_id=str(uuid.uuid4()), function_name=name)
        try:
            payload = handler(event, context)
        except Exception as exc:
            return {"StatusCode": 200, "FunctionError": "Unhandled", "ExecutedVersion": "$LATEST",
                    "Payload": {"errorMessage": str(exc), "errorType": type(exc).__name__,
                                "stackTrace": traceback.format_exception(exc)[-3:]}}
        return {"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": payload}

    # 2. ecs:runTask.sync ------------------------------------------------------------------
    def _run_task(self, service: Any, env: Any, normalised_parameters: dict[str, Any]) -> None:
        if service.resource.condition != ResourceCondition.Sync:
            raise NotImplementedError("the ECS hook serves ecs:runTask.sync only")
        params = json.loads(json.dumps(normalised_parameters))
        self.tasks.append(params)
        with self._idle:
            self._busy += 1
        try:
            code = int(self.worker(params))
        except Exception:  # a crashing container exits with 1
            self.crashes.append(traceback.format_exc())
            code = 1
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()
        self.exit_codes.append(code)
        container, _, _ = ecs_container_overrides(params)
        cluster = params["Cluster"]
        task = {"TaskArn": f"{cluster.replace(':cluster/', ':task/')}/{uuid.uuid4().hex}",
                "ClusterArn": cluster, "TaskDefinitionArn": params["TaskDefinition"],
                "StartedBy": params.get("StartedBy"), "LastStatus": "STOPPED",
                "DesiredStatus": "STOPPED", "StopCode": "EssentialContainerExited",
                "StoppedReason": "Essential container in task exited",
                "Containers": [{"Name": container, "ExitCode": code, "LastStatus": "STOPPED"}]}
        env.stack.append({"Tasks": [task], "Failures": []})  # the RunTask response

    def _sync_resolver(self, env: Any) -> Callable[[], Any]:
        task: dict[str, Any] = env.stack.pop()["Tasks"][0]

        def resolve() -> dict[str, Any]:
            if any(c["ExitCode"] != 0 for c in task["Containers"]):
                raise FailureEventException(FailureEvent(
                    env=env, error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                    event_type=HistoryEventType.TaskFailed,
                    event_details=EventDetails(  # type: ignore[typeddict-item]  # moto: total=True
                        taskFailedEventDetails=TaskFailedEventDetails(
                            error="States.TaskFailed", cause=json.dumps(task),
                            resource="runTask.sync", resourceType="ecs"))))
            return task

        return resolve

    def drain(self, timeout: float = 60.0) -> None:
        """Wait for workers still running (a failed Map does not wait for its siblings)."""
        with self._idle:
            assert self._idle.wait_for(lambda: self._busy == 0, timeout), "workers still busy"

    # 3. Distributed Map failure -----------------------------------------------------------
    def _fail_map_run(self, worker: Any, env: Any, job: Any) -> None:
        state = env.program_state()
        if not isinstance(state, ProgramError):
            return
        error = dict(state.error or {})
        self.child_failures.append({"index": job.job_index, "item": job.job_input,
                                    "error": error.get("error"), "cause": error.get("cause")})
        record = worker._map_run_record
        if record.tolerated_failure_count or record.tolerated_failure_percentage:
            job.job_output = NotImplementedError("the map hook knows tolerance 0 only")
            return
        name = StatesErrorNameType.StatesExceedToleratedFailureThreshold
        job.job_output = FailureEventException(FailureEvent(
            env=env, error_name=StatesErrorName(typ=name), event_type=HistoryEventType.MapRunFailed,
            event_details=EventDetails(  # type: ignore[typeddict-item]  # moto: total=True
                mapRunFailedEventDetails=MapRunFailedEventDetails(error=name.to_name(),
                                                                  cause=EXCEEDED))))


def deploy(sfn: Any, bucket: str, name: str = "xvaflow-pipeline") -> str:
    """Create the state machine in moto; return its ARN."""
    response = sfn.create_state_machine(
        name=name, definition=json.dumps(definition(bucket)),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/xvaflow-states")
    arn: str = response["stateMachineArn"]
    return arn


def upload_portfolio(s3: Any, bucket: str, portfolio: Path, prefix: str) -> None:
    for name in PORTFOLIO_FILES:
        if (portfolio / name).is_file():
            s3.put_object(Bucket=bucket, Key=prefix + name, Body=(portfolio / name).read_bytes())


def wait(sfn: Any, execution_arn: str, timeout: float = 120.0) -> dict[str, Any]:
    """describe_execution, polled until the execution is no longer RUNNING."""
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described
        assert time.monotonic() < deadline, f"{execution_arn} still running after {timeout}s"
        time.sleep(0.02)


def keys(s3: Any, bucket: str, prefix: str = "") -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


@dataclass
class FakeCloudFormation:
    """DescribeStacks answered from :attr:`stacks` (name -> outputs), on the client itself.

    moto's CloudFormation needs the ``moto[cloudformation]`` extra. The answer goes through
    botocore as a real one would (a ``ValidationError`` for an unknown stack, like AWS: "Stack
    with id X does not exist"), so the code under test sees an ordinary client.
    """

    stacks: dict[str, dict[str, str]] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def attach(self, client: Any) -> None:
        request: dict[str, Any] = {}

        def capture(params: dict[str, Any], **_: Any) -> None:
            request.clear()
            request.update(params)

        def answer(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
            name = request["StackName"]
            self.asked.append(name)
            meta = {"HTTPStatusCode": 200, "RequestId": str(uuid.uuid4())}
            if name not in self.stacks:
                return AWSResponse(None, 400, {}, None), {
                    "Error": {"Code": "ValidationError", "Type": "Sender",
                              "Message": f"Stack with id {name} does not exist"},
                    "ResponseMetadata": {**meta, "HTTPStatusCode": 400}}
            outputs = [{"OutputKey": k, "OutputValue": v} for k, v in self.stacks[name].items()]
            return AWSResponse(None, 200, {}, None), {
                "Stacks": [{"StackName": name, "StackStatus": "CREATE_COMPLETE",
                            "StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/"
                                       f"{name}/{uuid.uuid4()}",
                            "CreationTime": datetime.now(UTC), "Outputs": outputs}],
                "ResponseMetadata": meta}

        client.meta.events.register("before-parameter-build.cloudformation.DescribeStacks",
                                    capture)
        client.meta.events.register("before-call.cloudformation.DescribeStacks", answer)

