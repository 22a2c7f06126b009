"""Deployment settings of the pipeline stack, read from CDK context (cdk.json or ``-c key=value``).

Context keys (all optional):

==========================  ===================================================  ===============
key                         meaning                                              default
==========================  ===================================================  ===============
``stack_name``              CloudFormation stack name                            XvaflowPipeline
``vpc_id``                  use this existing VPC (looked up; needs account and  new VPC
                            region, e.g. CDK_DEFAULT_ACCOUNT/REGION) instead of
                            creating one
``gpu_instance_type``       EC2 type of the GPU capacity provider (g5/g6 ...)    g5.xlarge
``gpu_max_instances``       upper bound of the GPU Auto Scaling group            4
``run_data_expiry_days``    objects under runs/ expire after this many days      30
``cpu_task_cpu``            Fargate worker vCPU units                            4096
``cpu_task_memory_mib``     Fargate worker memory                                16384
``gpu_task_cpu``            GPU worker CPU units (per task, one GPU)             3584
``gpu_task_memory_mib``     GPU worker memory                                    14336
``asl_path``                workflow definition, relative to the repo root       statemachine/
                                                                                 xva_pipeline.asl.json
``alarm_topic_arn``         SNS topic notified by the failed-executions alarm    none
==========================  ===================================================  ===============
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from constructs import Node

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class PipelineSettings:
    """Everything the stack needs to know that is not code."""

    stack_name: str = "XvaflowPipeline"
    vpc_id: str | None = None
    gpu_instance_type: str = "g5.xlarge"
    gpu_max_instances: int = 4
    run_data_expiry_days: int = 30
    cpu_task_cpu: int = 4096
    cpu_task_memory_mib: int = 16384
    gpu_task_cpu: int = 3584
    gpu_task_memory_mib: int = 14336
    asl_path: str = "statemachine/xva_pipeline.asl.json"
    alarm_topic_arn: str | None = None

    @classmethod
    def from_context(cls, node: Node) -> PipelineSettings:
        """Settings from the context of ``node`` (strings from ``-c`` are converted)."""
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = node.try_get_context(field.name)
            if raw is None or raw == "":
                continue
            default = field.default
            values[field.name] = int(raw) if isinstance(default, int) else str(raw)
        return cls(**values)

    @property
    def asl_file(self) -> Path:
        return REPO_ROOT / self.asl_path

    @property
    def account(self) -> str | None:
        return os.environ.get("CDK_DEFAULT_ACCOUNT")

    @property
    def region(self) -> str | None:
        return os.environ.get("CDK_DEFAULT_REGION")
