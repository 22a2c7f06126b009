"""The security options and their defaults in the template: GPU instances, network egress and
endpoints, encryption, state-machine and Lambda logging, input expiry; the context flags'
parsing; and what the images install (Parquet support, the pyarrow floor)."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest
from aws_cdk.assertions import Capture, Match, Template
from template_checks import FLAGS, Synthesis, of_type, render

from infra.app import build_app, cdk_json_context
from infra.constructs.network import INTERFACE_ENDPOINTS, TASK_SG_DESCRIPTION
from infra.settings import REPO_ROOT, PipelineSettings


def lambda_functions(synth: Synthesis) -> list[dict[str, Any]]:
    return [v["Properties"] for v in of_type(synth.resources, "AWS::Lambda::Function").values()
            if v["Properties"].get("PackageType") == "Image"]


# ---------------------------------------------------------------------------------------------
# GPU instances and network


def test_gpu_tasks_cannot_reach_the_instance_credentials(any_synth: Synthesis) -> None:
    user_data = Capture()
    any_synth.template.has_resource_properties("AWS::EC2::LaunchTemplate", {
        "LaunchTemplateData": Match.object_like({
            "UserData": {"Fn::Base64": user_data},
            "MetadataOptions": Match.object_like({"HttpTokens": "required"})})})
    lines = render(user_data.as_object()).splitlines()
    assert "echo ECS_AWSVPC_BLOCK_IMDS=true >> /etc/ecs/ecs.config" in lines
    assert "echo ECS_ENABLE_GPU_SUPPORT=true >> /etc/ecs/ecs.config" in lines
    assert any(line.startswith("echo ECS_CLUSTER=") for line in lines)


def test_task_security_group_allows_https_out_only(any_synth: Synthesis) -> None:
    egress = Capture()
    any_synth.template.has_resource_properties("AWS::EC2::SecurityGroup", {
        "GroupDescription": TASK_SG_DESCRIPTION, "SecurityGroupEgress": egress,
        "SecurityGroupIngress": Match.absent()})
    (rule,) = egress.as_array()
    assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", 443, 443)
    assert "HTTPS (TCP 443) only" in TASK_SG_DESCRIPTION
    # nothing is allowed in: no ingress rule names the task group
    for ingress in of_type(any_synth.resources, "AWS::EC2::SecurityGroupIngress").values():
        assert ingress["Properties"]["GroupId"]["Fn::GetAtt"][0].startswith(
            "NetworkEndpointSecurityGroup")


def test_default_network_two_nat_gateways_no_interface_endpoints(
        default_synth: Synthesis) -> None:
    template = default_synth.template
    template.resource_count_is("AWS::EC2::NatGateway", 2)
    template.has_resource_properties("AWS::EC2::VPCEndpoint", {"VpcEndpointType": "Gateway"})
    template.resource_count_is("AWS::EC2::VPCEndpoint", 1)
    (sfn,) = of_type(default_synth.resources, "AWS::StepFunctions::StateMachine").values()
    subnets = sfn["Properties"]["DefinitionSubstitutions"]["SubnetIds"]["Fn::Join"][1]
    assert all(s["Ref"].startswith("NetworkVpcprivateSubnet") for s in subnets)


def test_vpc_endpoints_flag_needs_no_nat(flagged_synth: Synthesis) -> None:
    template, resources = flagged_synth.template, flagged_synth.resources
    template.resource_count_is("AWS::EC2::NatGateway", 0)
    template.resource_count_is("AWS::EC2::InternetGateway", 0)
    routes = of_type(resources, "AWS::EC2::Route")
    assert routes == {}  # isolated subnets: local routes and the S3 gateway only
    endpoints = of_type(resources, "AWS::EC2::VPCEndpoint").values()
    gateway = [e for e in endpoints if e["Properties"].get("VpcEndpointType") == "Gateway"]
    interface = [e["Properties"] for e in endpoints
                 if e["Properties"].get("VpcEndpointType") == "Interface"]
    assert len(gateway) == 1
    assert render(gateway[0]["Properties"]["ServiceName"]).endswith(".s3")
    services = {render(p["ServiceName"]).rsplit(".", 1)[-1] if "ecr" not in
                render(p["ServiceName"]) else ".".join(render(p["ServiceName"]).split(".")[-2:])
                for p in interface}
    assert services == {"ecr.api", "ecr.dkr", "logs", "ecs", "ecs-agent", "ecs-telemetry", "sts"}
    assert len(interface) == len(INTERFACE_ENDPOINTS)
    for props in interface:
        assert props["PrivateDnsEnabled"] is True
        (group,) = props["SecurityGroupIds"]
        assert group["Fn::GetAtt"][0].startswith("NetworkEndpointSecurityGroup")
    # the endpoints accept HTTPS from the task group only
    (ingress,) = of_type(resources, "AWS::EC2::SecurityGroupIngress").values()
    props = ingress["Properties"]
    assert (props["IpProtocol"], props["FromPort"], props["ToPort"]) == ("tcp", 443, 443)
    assert props["SourceSecurityGroupId"]["Fn::GetAtt"][0].startswith(
        "NetworkTaskSecurityGroup")
    (sfn,) = of_type(resources, "AWS::StepFunctions::StateMachine").values()
    subnets = sfn["Properties"]["DefinitionSubstitutions"]["SubnetIds"]["Fn::Join"][1]
    assert all(s["Ref"].startswith("NetworkVpcprivateSubnet") for s in subnets)


# ---------------------------------------------------------------------------------------------
# Encryption, logging, expiry


def test_default_encryption_is_sse_s3(default_synth: Synthesis) -> None:
    default_synth.template.resource_count_is("AWS::KMS::Key", 0)
    for group in of_type(default_synth.resources, "AWS::Logs::LogGroup").values():
        assert "KmsKeyId" not in group["Properties"]


def test_kms_key_flag_encrypts_bucket_and_every_log_group(flagged_synth: Synthesis) -> None:
    template, resources = flagged_synth.template, flagged_synth.resources
    (key,) = of_type(resources, "AWS::KMS::Key")
    key_props = resources[key]["Properties"]
    assert key_props["EnableKeyRotation"] is True
    assert resources[key]["DeletionPolicy"] == "Retain"
    template.has_resource_properties("AWS::S3::Bucket", {
        "LoggingConfiguration": Match.any_value(),
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [{
            "BucketKeyEnabled": True,
            "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                              "KMSMasterKeyID": {"Fn::GetAtt": [key, "Arn"]}}}]}})
    groups = of_type(resources, "AWS::Logs::LogGroup")
    assert len(groups) == 6  # flow logs, workers, three stages, state machine
    for group in groups.values():
        assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key, "Arn"]}
    # CloudWatch Logs may use the key for log groups of this account and region only
    logs = [s for s in key_props["KeyPolicy"]["Statement"]
            if "Service" in s.get("Principal", {})]
    (statement,) = logs
    assert render(statement["Principal"]["Service"]) == "logs.<AWS::Region>.<AWS::URLSuffix>"
    assert render(statement["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]) == \
        "arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:*"
    outputs = flagged_synth.template.to_json()["Outputs"]
    assert outputs["KmsKeyArn"]["Value"] == {"Fn::GetAtt": [key, "Arn"]}


def test_state_machine_logs_execution_data_only_when_asked(default_synth: Synthesis,
                                                           flagged_synth: Synthesis) -> None:
    for synth, included in ((default_synth, False), (flagged_synth, True)):
        synth.template.has_resource_properties("AWS::StepFunctions::StateMachine", {
            "LoggingConfiguration": Match.object_like({"Level": "ALL",
                                                       "IncludeExecutionData": included})})


def test_lambda_logs_are_json_at_the_stage_log_level(default_synth: Synthesis,
                                                      flagged_synth: Synthesis) -> None:
    for synth, level in ((default_synth, "INFO"), (flagged_synth, "DEBUG")):
        functions = lambda_functions(synth)
        assert len(functions) == 3
        for props in functions:
            config = props["LoggingConfig"]
            assert config["LogFormat"] == "JSON"
            assert config["ApplicationLogLevel"] == level
            assert config["SystemLogLevel"] == "WARN"
            assert re.fullmatch(r"(Partition|Aggregate|Optimise)StageLogs\w+",
                                config["LogGroup"]["Ref"])
    # the stages log their JSON lines at INFO: the default level must show them
    from xvaflow.pipeline import runtime

    assert "LOG.info(" in (REPO_ROOT / "xvaflow" / "pipeline" / "runtime.py").read_text()
    assert runtime.LOG.name == "xvaflow.pipeline"


def test_inputs_expire(default_synth: Synthesis, flagged_synth: Synthesis) -> None:
    for synth, days in ((default_synth, 7), (flagged_synth, int(FLAGS["input_expiry_days"]))):
        synth.template.has_resource_properties("AWS::S3::Bucket", {
            "LifecycleConfiguration": {"Rules": Match.array_with([Match.object_like({
                "Id": "expire-inputs", "Prefix": "inputs/", "ExpirationInDays": days,
                "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
                "Status": "Enabled"})])}})


# ---------------------------------------------------------------------------------------------
# Context flags


class Node:
    def __init__(self, context: dict[str, Any]) -> None:
        self.context = context

    def try_get_context(self, key: str) -> Any:
        return self.context.get(key)


def settings(**context: Any) -> PipelineSettings:
    return PipelineSettings.from_context(Node(context))  # type: ignore[arg-type]


def test_context_flags_parse_cli_strings_and_json_values() -> None:
    assert settings() == PipelineSettings()
    assert settings(kms_key="true", vpc_endpoints="1", log_execution_data="yes").kms_key
    parsed = settings(kms_key=True, vpc_endpoints="true", log_execution_data="false",
                      input_expiry_days="3", nat_gateways="1", lambda_log_level="WARN")
    assert (parsed.kms_key, parsed.vpc_endpoints, parsed.log_execution_data) == (
        True, True, False)
    assert (parsed.input_expiry_days, parsed.nat_gateway_count) == (3, 1)
    assert settings().nat_gateway_count == 2
    assert settings(vpc_endpoints=True).nat_gateway_count == 0


@pytest.mark.parametrize(("context", "message"), [
    ({"kms_key": "maybe"}, "kms_key must be true or false"),
    ({"input_expiry_days": "0"}, "input_expiry_days must be 1 or more"),
    ({"input_expiry_days": "week"}, "input_expiry_days must be an integer"),
    ({"nat_gateways": "0"}, "nat_gateways=0 needs vpc_endpoints=true"),
    ({"lambda_log_level": "LOUD"}, "lambda_log_level must be one of"),
])
def test_bad_context_flags_say_what_is_wrong(context: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        settings(**context)


def test_cdk_json_context_is_the_default(default_synth: Synthesis) -> None:
    context = cdk_json_context()
    assert PipelineSettings.from_context(Node(context)) == PipelineSettings()  # type: ignore[arg-type]
    assert default_synth.stack.settings == PipelineSettings()


def test_endpoints_with_nat_keep_private_subnets_with_egress(tmp_path: Any) -> None:
    _, stack = build_app(context={**cdk_json_context(), "vpc_endpoints": "true",
                                  "nat_gateways": "1"}, outdir=str(tmp_path), nag=False)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::EC2::NatGateway", 1)
    template.resource_count_is("AWS::EC2::VPCEndpoint", 1 + len(INTERFACE_ENDPOINTS))


# ---------------------------------------------------------------------------------------------
# The images: Parquet support and the pyarrow floor (CVE-2023-47248: pickle in pyarrow < 14.0.1)


def extras(dockerfile: str) -> set[str]:
    text = (REPO_ROOT / dockerfile).read_text()
    (spec,) = re.findall(r"pip install [^\n]*?\[([a-z,]+)\]", text)
    return set(spec.split(","))


def floor(requirement: str) -> tuple[int, ...]:
    match = re.fullmatch(r"pyarrow>=([0-9.]+)", requirement)
    assert match, requirement
    return tuple(int(p) for p in match.group(1).split("."))


def test_pyarrow_floor_is_above_the_pickle_cve() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    declared = [r for group in [project["dependencies"],
                                *project["optional-dependencies"].values()]
                for r in group if r.startswith("pyarrow")]
    assert declared
    for requirement in declared:
        assert floor(requirement) >= (14, 0, 1), requirement


@pytest.mark.parametrize("dockerfile", ["lambdas/Dockerfile", "containers/worker/Dockerfile"])
def test_images_read_parquet(dockerfile: str) -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    installed = extras(dockerfile)
    assert "parquet" in installed
    assert any(r.startswith("pyarrow>=") for r in project["optional-dependencies"]["parquet"])
