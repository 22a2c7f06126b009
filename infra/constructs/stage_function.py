"""One pipeline stage as a Lambda function (container image built from lambdas/Dockerfile)."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, IgnoreMode, RemovalPolicy
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.constructs.nag import acknowledge
from infra.constructs.worker import image_context_exclude


class StageFunction(Construct):
    """``function`` running ``lambdas/<stage>/handler.py:handler``.

    The three stage functions share one image (lambdas/Dockerfile: the Lambda Python base image
    with xvaflow installed, build context = repository root; identical assets are built once);
    each selects its handler through the image CMD ``lambdas/<stage>/handler.handler``. The
    function gets its own role (``role``), log group and X-Ray tracing; S3 access is granted by
    the caller.

    Logs are JSON (Lambda's log format: one JSON object per record, with level, logger and
    request id; the stages' own JSON line is its ``message``) at application level
    ``log_level`` (INFO shows the stages' start/done/failed lines, which
    ``xvaflow.pipeline.runtime.log_json`` writes at INFO) and system level WARN.
    """

    def __init__(self, scope: Construct, construct_id: str, *, repo_root: Path, stage: str,
                 description: str, environment: dict[str, str],
                 timeout_minutes: int = 15, memory_mib: int = 3008, log_level: str = "INFO",
                 encryption_key: kms.IKey | None = None) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(self, "Logs", retention=logs.RetentionDays.ONE_MONTH,
                                       encryption_key=encryption_key,
                                       removal_policy=RemovalPolicy.DESTROY)
        self.role = iam.Role(self, "Role",
                             assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                             description=f"xvaflow {stage} stage function")
        self.log_group.grant_write(self.role)
        code = lambda_.DockerImageCode.from_image_asset(
            str(repo_root), file="lambdas/Dockerfile",
            cmd=[f"lambdas/{stage}/handler.handler"],
            exclude=image_context_exclude("lambdas"), ignore_mode=IgnoreMode.DOCKER,
            platform=ecr_assets.Platform.LINUX_AMD64)
        self.function = lambda_.DockerImageFunction(
            self, "Function", code=code, description=description, role=self.role,
            architecture=lambda_.Architecture.X86_64, memory_size=memory_mib,
            timeout=Duration.minutes(timeout_minutes),
            environment=environment, tracing=lambda_.Tracing.ACTIVE, log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel[log_level],
            system_log_level_v2=lambda_.SystemLogLevel.WARN)
        acknowledge(self.role, "AwsSolutions-IAM5[Resource::*]",
                    "Added by CDK for active X-Ray tracing: xray:PutTraceSegments and "
                    "xray:PutTelemetryRecords, the only actions of this role on *, support no "
                    "resource-level permissions.")
