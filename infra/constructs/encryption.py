"""The optional customer managed KMS key (context ``kms_key``) of the run-data bucket and the
log groups."""

from __future__ import annotations

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

#: What CloudWatch Logs needs of a key that encrypts log groups (CloudWatch Logs user guide,
#: "Encrypt log data in CloudWatch Logs using AWS KMS").
LOGS_KEY_ACTIONS = ("kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                    "kms:Describe*")


class PipelineKey(Construct):
    """``key``: rotated yearly, retained on stack deletion (run data and logs encrypted with it
    would otherwise become unreadable). Its policy is CDK's default (the account administers
    it through IAM) plus CloudWatch Logs of this region, only for log groups of this account and
    region. Roles get ``kms:Decrypt``/``kms:GenerateDataKey`` through their S3 grants, only via
    S3 (``RunDataBucket.grant``)."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.key = kms.Key(self, "Key", enable_key_rotation=True,
                           description=f"{stack.stack_name}: xvaflow run data (S3) and logs",
                           removal_policy=RemovalPolicy.RETAIN)
        self.key.add_to_resource_policy(iam.PolicyStatement(
            sid="CloudWatchLogsOfThisAccountAndRegion",
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.{stack.url_suffix}")],
            actions=list(LOGS_KEY_ACTIONS), resources=["*"],
            conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                service="logs", resource="log-group", resource_name="*",
                arn_format=ArnFormat.COLON_RESOURCE_NAME)}}))

