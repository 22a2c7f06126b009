"""ECS cluster with Fargate capacity providers and a GPU EC2 Auto Scaling capacity provider that
scales to zero."""

from __future__ import annotations

from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.constructs.nag import acknowledge

FARGATE_CAPACITY_PROVIDER = "FARGATE"

#: /etc/ecs/ecs.config of the GPU instances. ECS_AWSVPC_BLOCK_IMDS: tasks (awsvpc network mode,
#: as both task definitions use) cannot reach the instance metadata service, hence not the
#: instance role's credentials; they get their own task role's credentials from the agent.
ECS_AGENT_CONFIG = ("ECS_ENABLE_GPU_SUPPORT=true", "ECS_AWSVPC_BLOCK_IMDS=true")

#: What the ECS container agent on an instance does with the instance role (the statements
#: CDK would add, with ecs:Submit* spelled out and without CloudWatch Logs: the awslogs driver
#: of a task with an execution role writes with that role's credentials, and the agent of
#: ECS_AWSVPC_BLOCK_IMDS tasks has nothing else to log).
AGENT_CLUSTER_ACTIONS = ("ecs:DeregisterContainerInstance", "ecs:RegisterContainerInstance",
                         "ecs:SubmitAttachmentStateChanges", "ecs:SubmitContainerStateChange",
                         "ecs:SubmitTaskStateChange")
AGENT_INSTANCE_ACTIONS = ("ecs:Poll", "ecs:StartTelemetrySession")
AGENT_UNSCOPED_ACTIONS = ("ecs:DiscoverPollEndpoint", "ecr:GetAuthorizationToken")


class WorkerCluster(Construct):
    """``cluster`` with the FARGATE / FARGATE_SPOT providers and ``gpu_capacity_provider``.

    The GPU provider is an Auto Scaling group of ``gpu_instance_type`` (ECS-optimized Amazon
    Linux 2023 GPU AMI, IMDSv2 only, encrypted gp3 root volume) with min 0 instances: ECS managed
    scaling starts instances when GPU tasks are pending and returns to zero when idle. Tasks
    cannot reach the instance metadata (``ECS_AWSVPC_BLOCK_IMDS``), and the instance role holds
    exactly the ECS agent's statements (:data:`AGENT_CLUSTER_ACTIONS` ...): CDK's own, which add
    ``logs:CreateLogStream``/``PutLogEvents`` on ``*``, are not applied.
    """

    def __init__(self, scope: Construct, construct_id: str, *, vpc: ec2.IVpc,
                 subnets: ec2.SubnetSelection, security_group: ec2.ISecurityGroup,
                 gpu_instance_type: str, gpu_max_instances: int,
                 root_volume_gib: int = 100) -> None:
        super().__init__(scope, construct_id)
        self.cluster = ecs.Cluster(self, "Cluster", vpc=vpc,
                                   container_insights_v2=ecs.ContainerInsights.ENABLED,
                                   enable_fargate_capacity_providers=True)
        self.instance_role = iam.Role(self, "GpuInstanceRole",
                                      assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
                                      description="xvaflow GPU instances: the ECS agent only")
        self.gpu_instances = autoscaling.AutoScalingGroup(
            self, "GpuInstances",
            # CDK's cluster wiring adds the agent's statements to the role it is given; this view
            # of the role ignores them, and _grant_agent adds the narrower set.
            role=self.instance_role.without_policy_updates(),
            vpc=vpc, vpc_subnets=subnets, security_group=security_group,
            instance_type=ec2.InstanceType(gpu_instance_type),
            machine_image=ecs.EcsOptimizedImage.amazon_linux2023(ecs.AmiHardwareType.GPU),
            min_capacity=0, max_capacity=gpu_max_instances,
            require_imdsv2=True,
            block_devices=[autoscaling.BlockDevice(
                device_name="/dev/xvda",
                volume=autoscaling.BlockDeviceVolume.ebs(
                    root_volume_gib, encrypted=True,
                    volume_type=autoscaling.EbsDeviceVolumeType.GP3))],
        )
        self.gpu_instances.add_user_data(
            *(f"echo {setting} >> /etc/ecs/ecs.config" for setting in ECS_AGENT_CONFIG))
        self.gpu_capacity_provider = ecs.AsgCapacityProvider(
            self, "GpuCapacityProvider", auto_scaling_group=self.gpu_instances,
            enable_managed_scaling=True, enable_managed_termination_protection=True,
            target_capacity_percent=100)
        self.cluster.add_asg_capacity_provider(self.gpu_capacity_provider)
        acknowledge(self.gpu_instances, "AwsSolutions-AS3",
                    "Scaling of the GPU group is driven by the ECS capacity provider's managed "
                    "scaling (from zero when GPU tasks are pending, back to zero when idle); no "
                    "operator acts on individual scaling events, which remain in the group's "
                    "activity history, and failed worker tasks surface through the state "
                    "machine's failed-executions alarm.")
        self._grant_agent()
        self.cpu_capacity_provider_name = FARGATE_CAPACITY_PROVIDER

    def _grant_agent(self) -> None:
        cluster_arn = self.cluster.cluster_arn
        role = self.instance_role
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="EcsAgentOnThisCluster", actions=list(AGENT_CLUSTER_ACTIONS),
            resources=[cluster_arn]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="EcsAgentPoll", actions=list(AGENT_INSTANCE_ACTIONS), resources=["*"],
            conditions={"ArnEquals": {"ecs:cluster": cluster_arn}}))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="EcsAgentUnscoped", actions=list(AGENT_UNSCOPED_ACTIONS), resources=["*"]))
        acknowledge(role, "AwsSolutions-IAM5[Resource::*]",
                    "The ECS container agent: ecr:GetAuthorizationToken and "
                    "ecs:DiscoverPollEndpoint support no resource-level permissions; ecs:Poll "
                    "and ecs:StartTelemetrySession act on container instances registered at "
                    "runtime and are conditioned on ecs:cluster being this cluster. Nothing "
                    "else of this role is unscoped (no CloudWatch Logs: tasks log with their "
                    "execution role), and tasks cannot reach these credentials "
                    "(ECS_AWSVPC_BLOCK_IMDS=true, IMDSv2 only).")
