"""Network: a new VPC (private subnets, S3 gateway endpoint, flow logs; NAT gateways and/or
interface endpoints) or an existing one looked up by id, and the security group of the worker
tasks and GPU instances."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

HTTPS = 443

#: Interface endpoints of ``vpc_endpoints=true``: what Fargate (image pull, awslogs), the ECS
#: agent on the GPU instances (ecs, ecs-agent, ecs-telemetry) and the SDKs (STS) call.
#: Together with the S3 gateway endpoint (image layers live in S3), workers need no NAT.
INTERFACE_ENDPOINTS: dict[str, ec2.InterfaceVpcEndpointAwsService] = {
    "EcrApi": ec2.InterfaceVpcEndpointAwsService.ECR,
    "EcrDocker": ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
    "Logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    "Ecs": ec2.InterfaceVpcEndpointAwsService.ECS,
    "EcsAgent": ec2.InterfaceVpcEndpointAwsService.ECS_AGENT,
    "EcsTelemetry": ec2.InterfaceVpcEndpointAwsService.ECS_TELEMETRY,
    "Sts": ec2.InterfaceVpcEndpointAwsService.STS,
}

TASK_SG_DESCRIPTION = ("xvaflow worker tasks and GPU instances: no inbound traffic; outbound "
                       "HTTPS (TCP 443) only, to the AWS APIs they use (S3, ECR, CloudWatch "
                       "Logs, ECS, STS)")


class PipelineNetwork(Construct):
    """``vpc``, ``task_security_group`` and ``task_subnets`` (private subnets) for the workers.

    A new VPC has two AZs, private subnets and an S3 gateway endpoint. Egress to the other AWS
    APIs goes through ``nat_gateways`` NAT gateways (one per AZ by default, so that an AZ outage
    does not cut the other AZ's egress), or, with ``endpoints``, through interface endpoints
    (:data:`INTERFACE_ENDPOINTS`); with endpoints and ``nat_gateways=0`` the private subnets
    are isolated (no internet gateway, no route out of the VPC but the S3 gateway).

    With ``vpc_id`` the VPC is looked up (the stack then needs an explicit account and region);
    it must have private subnets with egress (NAT) unless ``endpoints`` adds the endpoints
    (which then must not exist there already: private DNS names would clash).

    The task security group allows no inbound traffic and outbound TCP 443 only.
    """

    def __init__(self, scope: Construct, construct_id: str, *, vpc_id: str | None = None,
                 max_azs: int = 2, nat_gateways: int = 2, endpoints: bool = False,
                 cidr: str = "10.42.0.0/16", encryption_key: kms.IKey | None = None) -> None:
        super().__init__(scope, construct_id)
        if nat_gateways == 0 and not endpoints:
            raise ValueError("nat_gateways=0 needs endpoints: the workers could not reach AWS")
        private = (ec2.SubnetType.PRIVATE_ISOLATED if nat_gateways == 0 and not vpc_id
                   else ec2.SubnetType.PRIVATE_WITH_EGRESS)
        if vpc_id:
            self.vpc: ec2.IVpc = ec2.Vpc.from_lookup(self, "Vpc", vpc_id=vpc_id)
        else:
            flow_logs = logs.LogGroup(self, "FlowLogs", retention=logs.RetentionDays.ONE_MONTH,
                                      encryption_key=encryption_key,
                                      removal_policy=RemovalPolicy.DESTROY)
            subnets = [ec2.SubnetConfiguration(name="private", subnet_type=private,
                                               cidr_mask=20)]
            if nat_gateways:
                subnets.insert(0, ec2.SubnetConfiguration(
                    name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24))
            self.vpc = ec2.Vpc(
                self, "Vpc",
                ip_addresses=ec2.IpAddresses.cidr(cidr),
                max_azs=max_azs,
                nat_gateways=nat_gateways,
                subnet_configuration=subnets,
                gateway_endpoints={"S3": ec2.GatewayVpcEndpointOptions(
                    service=ec2.GatewayVpcEndpointAwsService.S3)},
                flow_logs={"FlowLogs": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
                    traffic_type=ec2.FlowLogTrafficType.ALL)},
            )
        self.task_subnets = ec2.SubnetSelection(subnet_type=private)
        self.task_security_group = ec2.SecurityGroup(
            self, "TaskSecurityGroup", vpc=self.vpc, allow_all_outbound=False,
            description=TASK_SG_DESCRIPTION)
        self.task_security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(HTTPS),
            "HTTPS to the AWS APIs (through the VPC endpoints, or NAT for those without one)")
        self.endpoint_security_group: ec2.SecurityGroup | None = None
        self.interface_endpoints: dict[str, ec2.InterfaceVpcEndpoint] = {}
        if endpoints:
            self._add_interface_endpoints()

    def _add_interface_endpoints(self) -> None:
        group = ec2.SecurityGroup(
            self, "EndpointSecurityGroup", vpc=self.vpc, allow_all_outbound=False,
            description="xvaflow interface VPC endpoints: inbound HTTPS (TCP 443) from the "
                        "worker tasks and GPU instances only")
        group.add_ingress_rule(self.task_security_group, ec2.Port.tcp(HTTPS),
                               "HTTPS from the worker tasks and GPU instances")
        self.endpoint_security_group = group
        for name, service in INTERFACE_ENDPOINTS.items():
            self.interface_endpoints[name] = self.vpc.add_interface_endpoint(
                name, service=service, subnets=self.task_subnets, security_groups=[group],
                open=False, private_dns_enabled=True)
