"""The two service integrations the definition calls, as resource callables for the runner:
``lambda:invoke`` (:class:`LambdaInvoke`) and ``ecs:runTask.sync`` (:class:`EcsRunTaskSync`).

Each wraps a plain Python function in the integration's response shape and failure behaviour,
so the definition's ResultSelectors, Retry and Catch see what they see on AWS.
"""

from __future__ import annotations

import json
import traceback
import uuid
from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any

from xvaflow.pipeline.asl.runner import TaskContext, TaskFailed


def _request_id(context: TaskContext) -> str:
    """A stable id per task attempt (a Lambda request id, an ECS task id)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{context.execution_name}/{context.state_name}/"
                          f"{context.retry_count}"))


class LambdaInvoke:
    """Resource for ``arn:aws:states:::lambda:invoke``: ``handlers[FunctionName](Payload, ctx)``.

    Returns the integration's response ``{"ExecutedVersion", "Payload", "StatusCode"}``. A
    handler exception fails the task as a Lambda function error does: the exception's class name
    is the error, the Lambda error document ``{"errorMessage", "errorType", "stackTrace"}`` (JSON)
    the cause. An unknown FunctionName is ``Lambda.ResourceNotFoundException``.
    """

    def __init__(self, handlers: Mapping[str, Callable[[Any, Any], Any]]) -> None:
        self.handlers = dict(handlers)

    def __call__(self, params: Any, context: TaskContext) -> Any:
        name = params.get("FunctionName") if isinstance(params, dict) else None
        handler = self.handlers.get(name) if isinstance(name, str) else None
        if handler is None:
            raise TaskFailed("Lambda.ResourceNotFoundException", f"Function not found: {name}")
        try:
            # the Lambda context object, as far as the handlers read it
            lambda_context = SimpleNamespace(function_name=name,
                                             aws_request_id=_request_id(context))
            payload = handler(params.get("Payload"), lambda_context)
        except TaskFailed:  # a named service error (Lambda.ServiceException, ...), for tests
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
    for item in params.get("Overrides", {}).get("ContainerOverrides", []):
        if container is None or item.get("Name") == container:
            env = {str(e["Name"]): str(e["Value"]) for e in item.get("Environment", [])}
            return str(item.get("Name", container or "")), env, list(item.get("Command", []))
    return container or "", {}, []


class EcsRunTaskSync:
    """Resource for ``arn:aws:states:::ecs:runTask.sync``: ``run(params) -> exit code``.

    Returns the stopped task's description (``TaskArn``, ``TaskDefinitionArn``, ``LastStatus``,
    ``StopCode``, ``Containers[{Name, ExitCode, LastStatus}]``) as the .sync integration does; a
    non-zero exit code fails the task with ``States.TaskFailed`` and that description (JSON) as
    cause, as on AWS.
    """

    def __init__(self, run: Callable[[Mapping[str, Any]], int]) -> None:
        self.run = run

    def __call__(self, params: Any, context: TaskContext) -> Any:
        code = int(self.run(params))
        cluster = str(params.get("Cluster", "default")).rsplit("/", 1)[-1]
        task = {"TaskArn": f"arn:aws:ecs:local:000000000000:task/{cluster}/"
                           f"{uuid.UUID(_request_id(context)).hex}",
                "TaskDefinitionArn": params["TaskDefinition"], "LastStatus": "STOPPED",
                "DesiredStatus": "STOPPED", "StopCode": "EssentialContainerExited",
                "StoppedReason": "Essential container in task exited",
                "Containers": [{"Name": ecs_container_overrides(params)[0] or "worker",
                                "ExitCode": code, "LastStatus": "STOPPED"}]}
        if code != 0:
            raise TaskFailed("States.TaskFailed", json.dumps(task))
        return task
