"""The pipeline stack: network, run-data bucket, ECS cluster (Fargate + GPU), worker task
definitions, the three stage Lambdas and the state machine from statemachine/*.asl.json."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Fn, Stack
from constructs import Construct

from infra.constructs.cluster import WorkerCluster
from infra.constructs.encryption import PipelineKey
from infra.constructs.network import PipelineNetwork
from infra.constructs.stage_function import StageFunction
from infra.constructs.state_machine import PipelineStateMachine
from infra.constructs.storage import ACCESS, INPUT_PREFIX, RUN_PREFIX, RunDataBucket
from infra.constructs.worker import WorkerTaskDefinitions
from infra.settings import REPO_ROOT, PipelineSettings

#: The ``${Key}`` placeholders the ASL file may use, i.e. the keys of definition_substitutions.
SUBSTITUTION_KEYS = (
    "PartitionFunctionArn", "AggregateFunctionArn", "OptimiseFunctionArn",
    "ClusterArn", "CpuTaskDefinitionArn", "GpuTaskDefinitionArn",
    "CpuCapacityProvider", "GpuCapacityProvider",
    "SubnetIds", "SecurityGroupId", "BucketName", "WorkerContainerName",
)

STAGES = {
    "partition": ("PartitionFunctionArn", "PartitionPortfolio: validate inputs, calibrate, "
                                          "split netting sets into partitions"),
    "aggregate": ("AggregateFunctionArn", "AggregateXVAResults: completeness check and "
                                          "aggregation of the partition results"),
    "optimise": ("OptimiseFunctionArn", "RunXVAOptimization: desks' analyses and the "
                                        "integrated optimisation plan"),
}


class XvaPipelineStack(Stack):
    """Everything the pipeline runs on; see the module docstring."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: PipelineSettings,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.settings = settings
        self.key = PipelineKey(self, "Encryption") if settings.kms_key else None
        kms_key = self.key.key if self.key else None
        network = PipelineNetwork(self, "Network", vpc_id=settings.vpc_id,
                                  nat_gateways=settings.nat_gateway_count,
                                  endpoints=settings.vpc_endpoints, encryption_key=kms_key)
        data = RunDataBucket(self, "RunData",
                             expire_runs_after_days=settings.run_data_expiry_days,
                             expire_inputs_after_days=settings.input_expiry_days,
                             encryption_key=kms_key)
        compute = WorkerCluster(self, "Compute", vpc=network.vpc, subnets=network.task_subnets,
                                security_group=network.task_security_group,
                                gpu_instance_type=settings.gpu_instance_type,
                                gpu_max_instances=settings.gpu_max_instances)
        workers = WorkerTaskDefinitions(self, "Worker", repo_root=REPO_ROOT,
                                        cpu=settings.cpu_task_cpu,
                                        memory_mib=settings.cpu_task_memory_mib,
                                        gpu_cpu=settings.gpu_task_cpu,
                                        gpu_memory_mib=settings.gpu_task_memory_mib,
                                        encryption_key=kms_key)
        for task_definition in workers.task_definitions:
            data.grant(task_definition.task_role, ACCESS["worker"])

        # the workers' memory, so that the partition stage refuses a run whose partitions
        # cannot fit in a task (xvaflow.pipeline.stages.worker_memory)
        environment = {"XVAFLOW_BUCKET": data.bucket.bucket_name,
                       "XVAFLOW_RUN_PREFIX": RUN_PREFIX, "XVAFLOW_INPUT_PREFIX": INPUT_PREFIX,
                       "XVAFLOW_WORKER_MEMORY_MIB": str(settings.cpu_task_memory_mib),
                       "XVAFLOW_GPU_WORKER_MEMORY_MIB": str(settings.gpu_task_memory_mib)}
        self.functions: dict[str, StageFunction] = {}
        for stage, (_, description) in STAGES.items():
            function = StageFunction(self, f"{stage.capitalize()}Stage", repo_root=REPO_ROOT,
                                     stage=stage, description=description,
                                     environment=environment,
                                     log_level=settings.lambda_log_level, encryption_key=kms_key)
            data.grant(function.role, ACCESS[stage])
            self.functions[stage] = function

        subnets = network.vpc.select_subnets(subnet_type=network.task_subnets.subnet_type)
        self.substitutions: dict[str, str] = {
            **{key: self.functions[stage].function.function_arn
               for stage, (key, _) in STAGES.items()},
            "ClusterArn": compute.cluster.cluster_arn,
            "CpuTaskDefinitionArn": workers.cpu.task_definition_arn,
            "GpuTaskDefinitionArn": workers.gpu.task_definition_arn,
            "CpuCapacityProvider": compute.cpu_capacity_provider_name,
            "GpuCapacityProvider": compute.gpu_capacity_provider.capacity_provider_name,
            "SubnetIds": Fn.join(",", subnets.subnet_ids),
            "SecurityGroupId": network.task_security_group.security_group_id,
            "BucketName": data.bucket.bucket_name,
            "WorkerContainerName": workers.container_name,
        }
        assert tuple(self.substitutions) == SUBSTITUTION_KEYS
        self.pipeline = PipelineStateMachine(
            self, "Pipeline", asl_file=settings.asl_file, substitutions=self.substitutions,
            state_machine_name=f"{construct_id}-xva-pipeline",
            functions=[f.function for f in self.functions.values()],
            cluster=compute.cluster, task_definitions=workers.task_definitions,
            alarm_topic_arn=settings.alarm_topic_arn,
            include_execution_data=settings.log_execution_data, encryption_key=kms_key)
        data.grant(self.pipeline.role, ACCESS["state_machine"])

        self.data = data
        self.compute = compute
        self.workers = workers
        self.network = network
        CfnOutput(self, "StateMachineArn", value=self.pipeline.state_machine.state_machine_arn)
        CfnOutput(self, "BucketName", value=data.bucket.bucket_name)
        CfnOutput(self, "FailedExecutionsAlarmName",
                  value=self.pipeline.failed_alarm.alarm_name)
        if self.key is not None:
            CfnOutput(self, "KmsKeyArn", value=self.key.key.key_arn,
                      description="encrypts the run-data bucket and the log groups: submitters "
                                  "need kms:GenerateDataKey and kms:Decrypt on it")
