"""Run-data bucket (inputs/ and runs/ prefixes) with its server-access-log bucket, and the S3
access of each pipeline role (:data:`ACCESS`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.constructs.nag import acknowledge, logical_id

RUN_PREFIX = "runs/"
INPUT_PREFIX = "inputs/"
RUN = "runs/*/"
"""A run's folder as an IAM resource pattern: the run id is chosen when the run is submitted,
so its path segment is the one wildcard every pattern needs."""


@dataclass(frozen=True)
class S3Access:
    """The object keys a role may read and write (IAM patterns, each with what it is for), and
    the ``s3:prefix`` patterns it may list (``S3Store.exists`` lists one key)."""

    role: str
    read: Mapping[str, str] = field(default_factory=dict)
    write: Mapping[str, str] = field(default_factory=dict)
    list_prefixes: tuple[str, ...] = ()


#: What each role of the stack may do in the run-data bucket (xvaflow/pipeline/stages.py
#: documents the layout). Only the partition stage reads ``inputs/`` (the portfolio as
#: submitted); the workers read its copy under ``runs/<run_id>/inputs/``.
ACCESS: dict[str, S3Access] = {
    "partition": S3Access(
        "the partition stage",
        read={INPUT_PREFIX + "*": "the portfolio as submitted, at the execution's input_prefix "
                                  "(inputs/<run_id>/ from xvaflow submit)"},
        write={RUN + "inputs/*": "the workers' copy of the portfolio (calibrated market.json)",
               RUN + "spec.json": "the run's settings and partitions",
               RUN + "manifest.json": "the Distributed Map's items",
               RUN + "trades.json": "t0 values of the trades",
               RUN + "attributes.json": "netting-set attributes for the desks' tables"},
        list_prefixes=(INPUT_PREFIX + "*",)),
    "worker": S3Access(
        "the worker tasks",
        read={RUN + "spec.json": "the run's settings and partitions",
              RUN + "inputs/*": "the portfolio copy with the calibrated market",
              RUN + "trades.json": "the t0 values every partition's capital terms use"},
        write={RUN + "results/part-*": "one partition's result, part-<k>.json and .npz"},
        list_prefixes=(RUN + "inputs/*",)),
    "aggregate": S3Access(
        "the aggregation stage",
        read={RUN + "spec.json": "the run's settings and partitions",
              RUN + "results/part-*": "the partitions' results",
              RUN + "trades.json": "t0 values of the trades"},
        write={RUN + "output/*": "the published outputs (results.json, the exposure, trades "
                                 "and stress tables)"}),
    "optimise": S3Access(
        "the optimisation stage",
        read={RUN + "output/results.json": "the aggregated results",
              RUN + "output/exposure.csv": "the exposure table report.html draws (CSV runs)",
              RUN + "output/exposure.parquet": "the same (Parquet runs)",
              RUN + "attributes.json": "netting-set attributes"},
        write={RUN + "output/diagnostics.json": "the desks' diagnostics",
               RUN + "output/report.html": "the HTML report"}),
    "state_machine": S3Access(
        "the state machine",
        read={RUN + "manifest.json": "the Distributed Map's ItemReader input"}),
}


def _secure_bucket(scope: Construct, construct_id: str, *, removal_policy: RemovalPolicy,
                   lifecycle_rules: list[s3.LifecycleRule],
                   encryption_key: kms.IKey | None = None,
                   server_access_logs_bucket: s3.IBucket | None = None,
                   server_access_logs_prefix: str | None = None) -> s3.Bucket:
    """SSE-S3 (or SSE-KMS with a bucket key) encrypted, TLS >= 1.2 only, public access blocked,
    owner-enforced, versioned."""
    kms_encrypted = encryption_key is not None
    return s3.Bucket(
        scope, construct_id,
        encryption=s3.BucketEncryption.KMS if kms_encrypted else s3.BucketEncryption.S3_MANAGED,
        encryption_key=encryption_key, bucket_key_enabled=True if kms_encrypted else None,
        enforce_ssl=True, minimum_tls_version=1.2,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED, versioned=True,
        removal_policy=removal_policy, lifecycle_rules=lifecycle_rules,
        server_access_logs_bucket=server_access_logs_bucket,
        server_access_logs_prefix=server_access_logs_prefix)


class RunDataBucket(Construct):
    """The pipeline's object store: portfolios under ``inputs/`` (expired after
    ``expire_inputs_after_days``), everything a run produces under ``runs/<run_id>/`` (expired
    after ``expire_runs_after_days``).

    Encrypted (SSE-S3, or SSE-KMS with ``encryption_key``), TLS only (TLS >= 1.2), public access
    blocked, versioned, server access logs to a dedicated bucket (SSE-S3: a server-access-log
    target cannot use SSE-KMS). :meth:`grant` gives a role exactly the keys of :data:`ACCESS`.
    """

    def __init__(self, scope: Construct, construct_id: str, *,
                 expire_runs_after_days: int = 30, expire_inputs_after_days: int = 7,
                 keep_access_logs_days: int = 365, encryption_key: kms.IKey | None = None,
                 removal_policy: RemovalPolicy = RemovalPolicy.RETAIN) -> None:
        super().__init__(scope, construct_id)
        self.encryption_key = encryption_key
        self.access_logs = _secure_bucket(
            self, "AccessLogs", removal_policy=removal_policy,
            lifecycle_rules=[s3.LifecycleRule(
                id="expire-access-logs", expiration=Duration.days(keep_access_logs_days),
                noncurrent_version_expiration=Duration.days(7))])
        self.bucket = _secure_bucket(
            self, "Bucket", removal_policy=removal_policy, encryption_key=encryption_key,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="run-data/",
            lifecycle_rules=[
                s3.LifecycleRule(id="expire-run-data", prefix=RUN_PREFIX,
                                 expiration=Duration.days(expire_runs_after_days),
                                 noncurrent_version_expiration=Duration.days(7)),
                s3.LifecycleRule(id="expire-inputs", prefix=INPUT_PREFIX,
                                 expiration=Duration.days(expire_inputs_after_days),
                                 noncurrent_version_expiration=Duration.days(1)),
                s3.LifecycleRule(id="abort-incomplete-uploads",
                                 abort_incomplete_multipart_upload_after=Duration.days(1)),
            ])
        # No AwsSolutions-S1 finding on the access-log bucket: cdk-nag recognises a server-access
        # log destination (tests/infra/test_acknowledgements.py: no acknowledgement is stale).

    def objects(self, pattern: str) -> str:
        """ARN pattern of the objects matching ``pattern`` (e.g. ``runs/*/spec.json``)."""
        return self.bucket.arn_for_objects(pattern)

    def grant(self, role: iam.IRole, access: S3Access) -> None:
        """``s3:GetObject`` on ``access.read``, ``s3:PutObject`` on ``access.write``,
        ``s3:ListBucket`` for ``access.list_prefixes`` only; with a KMS key, ``kms:Decrypt``
        (readers) and ``kms:GenerateDataKey`` (writers) only through S3.

        Adds an ``AwsSolutions-IAM5`` acknowledgement per pattern on ``role``.
        """
        if access.read:
            role.add_to_principal_policy(iam.PolicyStatement(
                sid="ReadRunData", actions=["s3:GetObject"],
                resources=[self.objects(p) for p in access.read]))
        if access.write:
            role.add_to_principal_policy(iam.PolicyStatement(
                sid="WriteRunData", actions=["s3:PutObject"],
                resources=[self.objects(p) for p in access.write]))
        if access.list_prefixes:
            role.add_to_principal_policy(iam.PolicyStatement(
                sid="ListRunData", actions=["s3:ListBucket"],
                resources=[self.bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": list(access.list_prefixes)}}))
        if self.encryption_key is not None:
            stack = Stack.of(self)
            actions = (["kms:Decrypt"] if access.read else []) + \
                (["kms:GenerateDataKey"] if access.write else [])
            role.add_to_principal_policy(iam.PolicyStatement(
                sid="RunDataKeyThroughS3", actions=actions,
                resources=[self.encryption_key.key_arn],
                conditions={"StringEquals": {
                    "kms:ViaService": f"s3.{stack.region}.{stack.url_suffix}"}}))
        for verb, patterns in (("reads", access.read), ("writes", access.write)):
            for pattern, purpose in patterns.items():
                acknowledge(role, f"AwsSolutions-IAM5[Resource::<{logical_id(self.bucket)}.Arn>"
                                  f"/{pattern}]", _reason(access.role, verb, pattern, purpose))


def _reason(who: str, verb: str, pattern: str, purpose: str) -> str:
    if pattern.startswith(RUN):
        return (f"{who.capitalize()} {verb} {pattern} ({purpose}). Keys are "
                "runs/<run_id>/<name>: the run id is chosen when a run is submitted, so its "
                "segment is a wildcard; the rest of the pattern is the one file, or the one "
                "folder, this role needs, and every other key of a run and of the bucket stays "
                "closed to this role.")
    return (f"{who.capitalize()} {verb} {pattern} ({purpose}): the prefix of a submission is "
            "chosen when the run is submitted; this is the only role of the stack that can "
            "read inputs/ (the workers read the copy under runs/<run_id>/inputs/).")
