"""Run-data bucket (inputs/ and runs/ prefixes) with its server-access-log bucket."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.constructs.nag import acknowledge, logical_id

RUN_PREFIX = "runs/"
INPUT_PREFIX = "inputs/"


def _secure_bucket(scope: Construct, construct_id: str, *, removal_policy: RemovalPolicy,
                   lifecycle_rules: list[s3.LifecycleRule],
                   server_access_logs_bucket: s3.IBucket | None = None,
                   server_access_logs_prefix: str | None = None) -> s3.Bucket:
    """SSE-S3 encrypted, TLS >= 1.2 only, public access blocked, owner-enforced, versioned."""
    return s3.Bucket(
        scope, construct_id,
        encryption=s3.BucketEncryption.S3_MANAGED, enforce_ssl=True, minimum_tls_version=1.2,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED, versioned=True,
        removal_policy=removal_policy, lifecycle_rules=lifecycle_rules,
        server_access_logs_bucket=server_access_logs_bucket,
        server_access_logs_prefix=server_access_logs_prefix)


class RunDataBucket(Construct):
    """The pipeline's object store: portfolios under ``inputs/``, everything a run produces under
    ``runs/<run_id>/`` (expired after ``expire_runs_after_days``).

    Encrypted (SSE-S3), TLS only (TLS >= 1.2), public access blocked, versioned, server access
    logs to a dedicated bucket. :meth:`grant_pipeline_access` gives a role exactly the prefixes
    a pipeline stage needs.
    """

    def __init__(self, scope: Construct, construct_id: str, *,
                 expire_runs_after_days: int = 30, keep_access_logs_days: int = 365,
                 removal_policy: RemovalPolicy = RemovalPolicy.RETAIN) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = _secure_bucket(
            self, "AccessLogs", removal_policy=removal_policy,
            lifecycle_rules=[s3.LifecycleRule(
                id="expire-access-logs", expiration=Duration.days(keep_access_logs_days),
                noncurrent_version_expiration=Duration.days(7))])
        acknowledge(self.access_logs, "AwsSolutions-S1",
                    "This is the server-access-log bucket of the run-data bucket; logging it "
                    "into itself would recurse and logging it elsewhere only moves the problem.")
        self.bucket = _secure_bucket(
            self, "Bucket", removal_policy=removal_policy,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="run-data/",
            lifecycle_rules=[
                s3.LifecycleRule(id="expire-run-data", prefix=RUN_PREFIX,
                                 expiration=Duration.days(expire_runs_after_days),
                                 noncurrent_version_expiration=Duration.days(7)),
                s3.LifecycleRule(id="expire-noncurrent-inputs", prefix=INPUT_PREFIX,
                                 noncurrent_version_expiration=Duration.days(90)),
                s3.LifecycleRule(id="abort-incomplete-uploads",
                                 abort_incomplete_multipart_upload_after=Duration.days(1)),
            ])

    def objects(self, prefix: str) -> str:
        """ARN pattern of the objects under ``prefix`` (e.g. ``runs/``)."""
        return self.bucket.arn_for_objects(f"{prefix}*")

    def grant_pipeline_access(self, role: iam.IRole, *, read_inputs: bool = True) -> None:
        """Read ``inputs/`` (optional) and ``runs/``, write ``runs/``; list only those prefixes.

        Adds ``AwsSolutions-IAM5`` acknowledgements for the two prefix wildcards on ``role``:
        object keys are created per run (``runs/<run_id>/...``), so the prefix is the narrowest
        resource an IAM statement can name.
        """
        readable = [RUN_PREFIX] + ([INPUT_PREFIX] if read_inputs else [])
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="ReadRunData", actions=["s3:GetObject"],
            resources=[self.objects(p) for p in readable]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="WriteRunData", actions=["s3:PutObject"], resources=[self.objects(RUN_PREFIX)]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="ListRunData", actions=["s3:ListBucket"], resources=[self.bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{p}*" for p in readable]}}))
        for prefix in readable:
            self._acknowledge_prefix(role, prefix)

    def grant_read_runs(self, role: iam.IRole) -> None:
        """Read-only ``s3:GetObject`` under ``runs/`` (the state machine's Distributed Map reads
        its partition manifest there)."""
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="ReadRunManifests", actions=["s3:GetObject"], resources=[self.objects(RUN_PREFIX)]))
        self._acknowledge_prefix(role, RUN_PREFIX)

    def _acknowledge_prefix(self, role: iam.IRole, prefix: str) -> None:
        acknowledge(role, f"AwsSolutions-IAM5[Resource::<{logical_id(self.bucket)}.Arn>/{prefix}*]",
                    f"Prefix-scoped object access: keys under {prefix} are created per run "
                    f"({prefix}<run_id>/...), so the prefix is the narrowest resource an IAM "
                    "statement can name; the other prefixes of the bucket stay closed.")
