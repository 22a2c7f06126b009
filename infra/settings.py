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
``input_expiry_days``       submitted portfolios under inputs/ expire after      7
                            this many days (the partition stage copies them to
                            runs/<run_id>/inputs/ at the start of a run)
``nat_gateways``            NAT gateways of the new VPC (one per AZ: an AZ       2, or 0 with
                            outage does not cut the workers' egress); 0 needs    vpc_endpoints
                            ``vpc_endpoints`` (private subnets are then
                            isolated: no internet route at all)
``vpc_endpoints``           interface endpoints for ECR (api, dkr), CloudWatch   false
                            Logs, ECS (ecs, ecs-agent, ecs-telemetry) and STS
                            next to the S3 gateway endpoint, so that workers
                            need no NAT
``kms_key``                 a customer managed KMS key (rotated yearly) encrypts false (SSE-S3,
                            the run-data bucket (SSE-KMS, bucket key) and every  service keys)
                            log group
``log_execution_data``      state-machine logs include execution input/output    false
                            (portfolio settings, keys, causes); off because
                            portfolios are confidential
``lambda_log_level``        application log level of the stage Lambdas (JSON     INFO
                            log format): TRACE DEBUG INFO WARN ERROR FATAL
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
from typing import Any, get_type_hints

from constructs import Node

REPO_ROOT = Path(__file__).resolve().parents[1]
LAMBDA_LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


def _boolean(name: str, raw: Any) -> bool:
    """A context flag: JSON true/false (cdk.json) or the strings of ``-c name=true``."""
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"context {name} must be true or false, got {raw!r}")


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
    input_expiry_days: int = 7
    nat_gateways: int | None = None
    vpc_endpoints: bool = False
    kms_key: bool = False
    log_execution_data: bool = False
    lambda_log_level: str = "INFO"

    def __post_init__(self) -> None:
        for name in ("run_data_expiry_days", "input_expiry_days", "gpu_max_instances"):
            if getattr(self, name) < 1:
                raise ValueError(f"context {name} must be 1 or more, got {getattr(self, name)}")
        if self.nat_gateways is not None and self.nat_gateways < 0:
            raise ValueError(f"context nat_gateways must be 0 or more, got {self.nat_gateways}")
        if self.nat_gateways == 0 and not self.vpc_endpoints:
            raise ValueError("context nat_gateways=0 needs vpc_endpoints=true: without NAT or "
                             "endpoints the workers cannot reach S3, ECR or CloudWatch Logs")
        if self.lambda_log_level not in LAMBDA_LOG_LEVELS:
            raise ValueError(f"context lambda_log_level must be one of "
                             f"{' '.join(LAMBDA_LOG_LEVELS)}, got {self.lambda_log_level!r}")

    @property
    def nat_gateway_count(self) -> int:
        """NAT gateways of a new VPC: as set, else 2 (one per AZ), or 0 with endpoints."""
        if self.nat_gateways is not None:
            return self.nat_gateways
        return 0 if self.vpc_endpoints else 2

    @classmethod
    def from_context(cls, node: Node) -> PipelineSettings:
        """Settings from the context of ``node`` (strings from ``-c`` are converted).

        Raises:
            ValueError: a value of the wrong kind (e.g. ``-c kms_key=maybe``) or out of range.
        """
        hints = get_type_hints(cls)
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = node.try_get_context(field.name)
            if raw is None or raw == "":
                continue
            kind = hints[field.name]
            if kind is bool:
                values[field.name] = _boolean(field.name, raw)
            elif kind is int or kind == (int | None):
                try:
                    values[field.name] = int(raw)
                except (TypeError, ValueError):
                    raise ValueError(f"context {field.name} must be an integer, "
                                     f"got {raw!r}") from None
            else:
                values[field.name] = str(raw)
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
