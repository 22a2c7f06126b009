"""A local runner for the pipeline's Step Functions definition (Amazon States Language).

``xvaflow run`` executes statemachine/xva_pipeline.asl.json in-process with the semantics of AWS
Step Functions for exactly what that definition uses (:mod:`.definition` lists it)::

    interpreter = Interpreter(substitute(definition, values),  # ${Placeholders}, as the CDK does
                              {LAMBDA: LambdaInvoke(handlers), ECS: EcsRunTaskSync(run_task)},
                              item_reader=read_json_array)
    execution = interpreter.run({"run_id": "r1"}, name="r1")  # .status .output .error .cause

Anything else (Pass, Wait, Parallel, inline Maps, InputPath, ItemsPath, HeartbeatSeconds,
tolerated failures, other Choice operators and intrinsics, JSONata, ...) is rejected by name when
the :class:`Interpreter` is made (:func:`validate` lists every problem). Conformance with AWS is
checked by moto's interpreter running the same definition to the same results
(tests/pipeline/test_moto.py). Modules: :mod:`.definition` (placeholders, :func:`validate`),
:mod:`.paths`, :mod:`.intrinsics`, :mod:`.runner`, :mod:`.integrations` (Lambda, ECS).
"""

from xvaflow.pipeline.asl.definition import (
    UnsupportedDefinition,
    placeholders,
    substitute,
    validate,
)
from xvaflow.pipeline.asl.integrations import EcsRunTaskSync, LambdaInvoke, ecs_container_overrides
from xvaflow.pipeline.asl.runner import Execution, Interpreter, TaskContext, TaskFailed

__all__ = [
    "EcsRunTaskSync",
    "Execution",
    "Interpreter",
    "LambdaInvoke",
    "TaskContext",
    "TaskFailed",
    "UnsupportedDefinition",
    "ecs_container_overrides",
    "placeholders",
    "substitute",
    "validate",
]
