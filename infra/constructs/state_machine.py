"""The Step Functions state machine loaded from the ASL file, with a least-privilege role,
logging at level ALL (without execution data unless asked), X-Ray tracing and an alarm on
failed executions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs.nag import acknowledge, logical_id

ECS_SYNC_RULE = "StepFunctionsGetEventsForECSTaskRule"


class PipelineStateMachine(Construct):
    """``state_machine`` from ``asl_file`` with ``${Key}`` placeholders replaced by
    ``substitutions`` (CDK ``definition_substitutions``: CloudFormation resolves them at deploy).

    The role may: invoke exactly ``functions``; run exactly ``task_definitions`` and only in
    ``cluster``; describe/stop tasks of that cluster; manage the EventBridge rule the
    ``ecs:runTask.sync`` integration uses; pass exactly the tasks' task and execution roles, and
    only to ECS tasks; start, describe and stop its own child executions (Distributed Map).
    Logging and tracing statements are added by CDK; the caller grants the S3 read of the
    Distributed Map manifest (``RunDataBucket.grant``).

    Execution logs (level ALL) carry no execution data (states' input and output, which hold
    run settings and S3 keys, and error causes, which quote input problems) unless
    ``include_execution_data``: portfolios are confidential. ``encryption_key`` encrypts the
    log group.
    """

    def __init__(self, scope: Construct, construct_id: str, *, asl_file: Path,
                 substitutions: Mapping[str, str], state_machine_name: str,
                 functions: Sequence[lambda_.IFunction], cluster: ecs.ICluster,
                 task_definitions: Sequence[ecs.TaskDefinition],
                 alarm_topic_arn: str | None = None, include_execution_data: bool = False,
                 encryption_key: kms.IKey | None = None) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.role = iam.Role(self, "Role",
                             assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
                             description="xvaflow pipeline state machine")
        statements = [
            iam.PolicyStatement(sid="InvokeStageFunctions", actions=["lambda:InvokeFunction"],
                                resources=[f.function_arn for f in functions]),
            iam.PolicyStatement(
                sid="RunWorkerTasks", actions=["ecs:RunTask"],
                resources=[td.task_definition_arn for td in task_definitions],
                conditions={"ArnEquals": {"ecs:cluster": cluster.cluster_arn}}),
            iam.PolicyStatement(
                sid="TrackWorkerTasks", actions=["ecs:DescribeTasks", "ecs:StopTask"],
                resources=[stack.format_arn(service="ecs", resource="task",
                                            resource_name=f"{cluster.cluster_name}/*")]),
            iam.PolicyStatement(
                sid="EcsSyncIntegrationRule",
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[stack.format_arn(service="events", resource="rule",
                                            resource_name=ECS_SYNC_RULE)]),
            iam.PolicyStatement(
                sid="PassWorkerRoles", actions=["iam:PassRole"],
                resources=sorted({arn for td in task_definitions for arn in (
                    td.task_role.role_arn, td.obtain_execution_role().role_arn)}),
                conditions={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}),
            iam.PolicyStatement(
                sid="StartChildExecutions", actions=["states:StartExecution"],
                resources=[stack.format_arn(service="states", resource="stateMachine",
                                            resource_name=state_machine_name,
                                            arn_format=ArnFormat.COLON_RESOURCE_NAME)]),
            iam.PolicyStatement(
                sid="TrackChildExecutions",
                actions=["states:DescribeExecution", "states:StopExecution"],
                resources=[stack.format_arn(service="states", resource="execution",
                                            resource_name=f"{state_machine_name}/*",
                                            arn_format=ArnFormat.COLON_RESOURCE_NAME)]),
        ]
        for statement in statements:
            self.role.add_to_principal_policy(statement)

        stack_arn = "arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>:{rest}"
        acknowledge(self.role, "AwsSolutions-IAM5[Resource::" + stack_arn.format(
            service="ecs", rest=f"task/<{logical_id(cluster)}>/*") + "]",
            "ecs:DescribeTasks/StopTask act on task ARNs that RunTask creates at runtime; the "
            "wildcard is limited to tasks of this cluster (needed by ecs:runTask.sync to track "
            "and, on abort or timeout, stop the worker).")
        acknowledge(self.role, "AwsSolutions-IAM5[Resource::" + stack_arn.format(
            service="states", rest=f"execution:{state_machine_name}/*") + "]",
            "The Distributed Map runs each partition as a child execution whose ARN is generated "
            "at runtime; the wildcard is limited to executions of this state machine.")
        acknowledge(self.role, "AwsSolutions-IAM5[Resource::*]",
                    "Added by CDK for logging and tracing: the CloudWatch Logs vended-log "
                    "delivery actions (Create/Get/Update/Delete/ListLogDeliveries, "
                    "PutResourcePolicy, DescribeResourcePolicies, DescribeLogGroups) and the "
                    "X-Ray actions (PutTraceSegments, PutTelemetryRecords, GetSamplingRules, "
                    "GetSamplingTargets), the only actions of this role on *, support no "
                    "resource-level permissions.")
        self.log_group = logs.LogGroup(
            self, "ExecutionLogs",
            log_group_name=f"/aws/vendedlogs/states/{state_machine_name}",
            retention=logs.RetentionDays.ONE_MONTH, encryption_key=encryption_key,
            removal_policy=RemovalPolicy.DESTROY)
        self.state_machine = sfn.StateMachine(
            self, "StateMachine",
            state_machine_name=state_machine_name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_string(asl_file.read_text(encoding="utf-8")),
            definition_substitutions=dict(substitutions),
            role=self.role,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL,
                                include_execution_data=include_execution_data),
            tracing_enabled=True,
        )
        self.failed_alarm = cloudwatch.Alarm(
            self, "ExecutionsFailedAlarm",
            alarm_description="An xvaflow pipeline execution failed, timed out or was aborted "
                              "(ExecutionsFailed >= 1 in 5 minutes)",
            metric=self.state_machine.metric_failed(period=Duration.minutes(5),
                                                    statistic="Sum"),
            threshold=1, evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING)
        if alarm_topic_arn:
            topic = sns.Topic.from_topic_arn(self, "AlarmTopic", alarm_topic_arn)
            self.failed_alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))
