"""Network: a new VPC (private subnets with NAT egress, S3 gateway endpoint, flow logs) or an
existing one looked up by id, and the security group of the worker tasks."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct


class PipelineNetwork(Construct):
    """``vpc``, ``task_security_group`` and ``task_subnets`` (private subnets) for the workers.

    With ``vpc_id`` the VPC is looked up (the stack then needs an explicit account and region);
    it must have private subnets with egress (NAT) so that tasks can pull images and reach S3.
    """

    def __init__(self, scope: Construct, construct_id: str, *, vpc_id: str | None = None,
                 max_azs: int = 2, nat_gateways: int = 1,
                 cidr: str = "10.42.0.0/16") -> None:
        super().__init__(scope, construct_id)
        if vpc_id:
            self.vpc: ec2.IVpc = ec2.Vpc.from_lookup(self, "Vpc", vpc_id=vpc_id)
        else:
            flow_logs = logs.LogGroup(self, "FlowLogs", retention=logs.RetentionDays.ONE_MONTH,
                                      removal_policy=RemovalPolicy.DESTROY)
            self.vpc = ec2.Vpc(
                self, "Vpc",
                ip_addresses=ec2.IpAddresses.cidr(cidr),
                max_azs=max_azs,
                nat_gateways=nat_gateways,
                subnet_configuration=[
                    ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC,
                                            cidr_mask=24),
                    ec2.SubnetConfiguration(name="private",
                                            subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS,
                                            cidr_mask=20),
                ],
                gateway_endpoints={"S3": ec2.GatewayVpcEndpointOptions(
                    service=ec2.GatewayVpcEndpointAwsService.S3)},
                flow_logs={"FlowLogs": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
                    traffic_type=ec2.FlowLogTrafficType.ALL)},
            )
        self.task_subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
        self.task_security_group = ec2.SecurityGroup(
            self, "TaskSecurityGroup", vpc=self.vpc, allow_all_outbound=True,
            description="xvaflow worker tasks and GPU instances: no inbound traffic; outbound "
                        "to S3, ECR and CloudWatch")
