"""The CDK app: one synthesis of the stack with cdk.json's context and cdk-nag's AwsSolutions
checks, then assertions on the CloudFormation template."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from template_checks import Synthesis, as_list, of_type, render

from infra.app import build_app, cdk_json_context
from infra.settings import REPO_ROOT
from infra.stacks.xva_pipeline_stack import SUBSTITUTION_KEYS, XvaPipelineStack
from xvaflow.pipeline.asl import placeholders, substitute, validate

ASL = REPO_ROOT / "statemachine" / "xva_pipeline.asl.json"


@pytest.fixture(scope="module")
def synthesized(default_synth: Synthesis) -> tuple[XvaPipelineStack, Path]:
    """The stack, synthesised once with cdk-nag registered (a finding fails the synthesis)."""
    return default_synth.stack, default_synth.outdir


@pytest.fixture(scope="module")
def template(default_synth: Synthesis) -> Template:
    return default_synth.template


@pytest.fixture(scope="module")
def resources(default_synth: Synthesis) -> dict[str, Any]:
    return default_synth.resources


def statements(resources: dict[str, Any], logical_prefix: str = "") -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for logical_id, policy in of_type(resources, "AWS::IAM::Policy").items():
        if logical_id.startswith(logical_prefix):
            found += policy["Properties"]["PolicyDocument"]["Statement"]
    return found


# ----------------------------------------------------------------------------------------------


def test_cdk_nag_aws_solutions_passes(synthesized: tuple[XvaPipelineStack, Path]) -> None:
    _, outdir = synthesized
    report = json.loads((outdir / "validation-report.json").read_text())
    assert report["pluginReports"] == []


def test_asl_placeholders_equal_the_substitution_keys(
        synthesized: tuple[XvaPipelineStack, Path]) -> None:
    definition = json.loads(ASL.read_text())
    assert placeholders(definition) == set(SUBSTITUTION_KEYS)
    assert set(synthesized[0].substitutions) == set(SUBSTITUTION_KEYS)


def test_state_machine_definition_logging_tracing(resources: dict[str, Any]) -> None:
    (machine,) = of_type(resources, "AWS::StepFunctions::StateMachine").values()
    props = machine["Properties"]
    text, variables = props["DefinitionString"], props["DefinitionSubstitutions"]
    assert text == ASL.read_text()  # inlined verbatim (from_string), not an S3 asset
    assert set(variables) == set(SUBSTITUTION_KEYS)
    dummy = {key: f"dummy-{key}" for key in SUBSTITUTION_KEYS}
    assert validate(substitute(json.loads(text), dummy)) == []
    assert variables["BucketName"]["Ref"].startswith("RunDataBucket")
    assert variables["ClusterArn"]["Fn::GetAtt"][0].startswith("ComputeCluster")
    assert variables["CpuCapacityProvider"] == "FARGATE"
    assert variables["GpuCapacityProvider"]["Ref"].startswith("ComputeGpuCapacityProvider")
    assert variables["WorkerContainerName"] == "worker"
    assert variables["SubnetIds"]["Fn::Join"][0] == ","
    assert variables["SecurityGroupId"]["Fn::GetAtt"][1] == "GroupId"
    for key in ("CpuTaskDefinitionArn", "GpuTaskDefinitionArn"):
        assert variables[key]["Ref"].startswith("Worker")
    for key in ("PartitionFunctionArn", "AggregateFunctionArn", "OptimiseFunctionArn"):
        assert variables[key]["Fn::GetAtt"][1] == "Arn"
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    # portfolios are confidential: no state input/output in the logs unless asked
    assert props["LoggingConfiguration"]["IncludeExecutionData"] is False
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert props["StateMachineType"] == "STANDARD"


def test_bucket_encryption_versioning_public_access_logging_lifecycle(template: Template) -> None:
    template.has_resource_properties("AWS::S3::Bucket", {
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
        "VersioningConfiguration": {"Status": "Enabled"},
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                           "IgnorePublicAcls": True,
                                           "RestrictPublicBuckets": True},
        "LoggingConfiguration": {"DestinationBucketName": Match.any_value(),
                                 "LogFilePrefix": "run-data/"},
        "LifecycleConfiguration": {"Rules": Match.array_with([
            Match.object_like({"Id": "expire-run-data", "Prefix": "runs/",
                               "ExpirationInDays": 30, "Status": "Enabled"}),
            Match.object_like({"Id": "expire-inputs", "Prefix": "inputs/",
                               "ExpirationInDays": 7, "Status": "Enabled",
                               "NoncurrentVersionExpiration": {"NoncurrentDays": 1}})])},
    })
    buckets = template.find_resources("AWS::S3::Bucket")
    assert len(buckets) == 2
    for bucket in buckets.values():
        assert bucket["DeletionPolicy"] == "Retain"
        assert bucket["Properties"]["PublicAccessBlockConfiguration"]["BlockPublicAcls"] is True


def test_bucket_policies_deny_plain_http_and_old_tls(resources: dict[str, Any]) -> None:
    policies = of_type(resources, "AWS::S3::BucketPolicy")
    assert len(policies) == 2
    for policy in policies.values():
        denies = [s for s in policy["Properties"]["PolicyDocument"]["Statement"]
                  if s["Effect"] == "Deny"]
        conditions = [s["Condition"] for s in denies]
        assert {"Bool": {"aws:SecureTransport": "false"}} in conditions
        assert {"NumericLessThan": {"s3:TlsVersion": 1.2}} in conditions


def test_state_machine_role_is_least_privilege(resources: dict[str, Any]) -> None:
    pipeline = statements(resources, "PipelineRole")
    by_sid = {s.get("Sid"): s for s in pipeline}
    task_defs = sorted(of_type(resources, "AWS::ECS::TaskDefinition"))
    run = by_sid["RunWorkerTasks"]
    assert run["Action"] == "ecs:RunTask"
    assert sorted(r["Ref"] for r in run["Resource"]) == task_defs
    assert run["Condition"]["ArnEquals"]["ecs:cluster"]["Fn::GetAtt"][1] == "Arn"
    passrole = by_sid["PassWorkerRoles"]
    assert passrole["Action"] == "iam:PassRole"
    assert passrole["Condition"] == {"StringEquals": {
        "iam:PassedToService": "ecs-tasks.amazonaws.com"}}
    passed = sorted(r["Fn::GetAtt"][0] for r in passrole["Resource"])
    assert len(passed) == 4
    assert all(re.match(r"Worker(Cpu|Gpu)(Task|Execution)Role", r) for r in passed)
    invoke = by_sid["InvokeStageFunctions"]
    functions = {k for k, v in of_type(resources, "AWS::Lambda::Function").items()
                 if v["Properties"].get("PackageType") == "Image"}
    assert {r["Fn::GetAtt"][0] for r in invoke["Resource"]} == functions
    assert len(functions) == 3
    rule = by_sid["EcsSyncIntegrationRule"]["Resource"]["Fn::Join"][1]
    assert rule[-1].endswith(":rule/StepFunctionsGetEventsForECSTaskRule")
    assert set(as_list(by_sid["TrackChildExecutions"]["Action"])) == {
        "states:DescribeExecution", "states:StopExecution"}


def test_no_policy_grants_wildcard_actions_or_whole_bucket(resources: dict[str, Any]) -> None:
    for statement in statements(resources):
        actions = as_list(statement["Action"])
        assert "*" not in actions
        assert not any(a.endswith(("*", ":*")) for a in actions), statement
        if any(a.startswith("s3:") for a in actions):
            for resource in as_list(statement["Resource"]):
                if "s3:ListBucket" in actions:
                    assert statement["Condition"]["StringLike"]["s3:prefix"]
                else:  # objects of a named folder or file, never the whole bucket
                    text = render(resource)
                    # a named file is one of the run's outputs' kinds
                    assert re.fullmatch(r"<RunDataBucket\w+\.Arn>/(inputs/\*|runs/\*/"
                                        r"[a-z]+(/[a-z-]*\*|/[a-z]+\.(json|csv|parquet|html)"
                                        r"|\.json))", text), text
        for resource in as_list(statement["Resource"]):
            if resource == "*" and "Condition" not in statement:
                assert all(a.startswith(("xray:", "logs:CreateLogDelivery",
                                         "logs:DeleteLogDelivery", "logs:DescribeLogGroups",
                                         "logs:DescribeResourcePolicies",
                                         "logs:GetLogDelivery", "logs:ListLogDeliveries",
                                         "logs:PutResourcePolicy", "logs:UpdateLogDelivery",
                                         "ecr:GetAuthorizationToken",
                                         "ecs:DiscoverPollEndpoint"))
                           for a in actions), statement


def test_writes_only_under_runs(resources: dict[str, Any]) -> None:
    for statement in statements(resources):
        if "s3:PutObject" in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                assert render(resource).split(">/", 1)[1].startswith("runs/*/")


def test_task_definitions(resources: dict[str, Any]) -> None:
    task_defs = of_type(resources, "AWS::ECS::TaskDefinition")
    cpu = next(v["Properties"] for k, v in task_defs.items() if k.startswith("WorkerCpu"))
    gpu = next(v["Properties"] for k, v in task_defs.items() if k.startswith("WorkerGpu"))
    assert cpu["RequiresCompatibilities"] == ["FARGATE"]
    assert (cpu["Cpu"], cpu["Memory"], cpu["NetworkMode"]) == ("4096", "16384", "awsvpc")
    assert gpu["RequiresCompatibilities"] == ["EC2"]
    assert gpu["NetworkMode"] == "awsvpc"
    (container,) = gpu["ContainerDefinitions"]
    assert container["ResourceRequirements"] == [{"Type": "GPU", "Value": "1"}]
    assert container["Name"] == "worker"
    for props in (cpu, gpu):
        (container,) = props["ContainerDefinitions"]
        assert container["LogConfiguration"]["LogDriver"] == "awslogs"
        assert "Environment" not in container or all(
            e["Name"] == "AWS_REGION" for e in container["Environment"])


def test_gpu_capacity_provider_scales_to_zero(template: Template,
                                              resources: dict[str, Any]) -> None:
    template.has_resource_properties("AWS::AutoScaling::AutoScalingGroup",
                                     {"MinSize": "0", "MaxSize": "4"})
    template.has_resource_properties("AWS::ECS::CapacityProvider", {
        "AutoScalingGroupProvider": {"ManagedScaling": {"Status": "ENABLED",
                                                        "TargetCapacity": 100}}})
    (launch,) = of_type(resources, "AWS::EC2::LaunchTemplate").values()
    data = launch["Properties"]["LaunchTemplateData"]
    assert data["InstanceType"] == "g5.xlarge"
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True
    parameters = template.to_json()["Parameters"]
    ami = parameters[data["ImageId"]["Ref"]]["Default"]
    assert ami == "/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id"
    (association,) = of_type(resources, "AWS::ECS::ClusterCapacityProviderAssociations").values()
    providers = association["Properties"]["CapacityProviders"]
    assert "FARGATE" in providers
    assert any(isinstance(p, dict) and "Ref" in p for p in providers)


def test_stage_lambdas_run_the_handlers_from_the_image(
        resources: dict[str, Any], synthesized: tuple[XvaPipelineStack, Path]) -> None:
    settings = synthesized[0].settings
    functions = [v["Properties"] for v in of_type(resources, "AWS::Lambda::Function").values()
                 if v["Properties"].get("PackageType") == "Image"]
    commands = sorted(f["ImageConfig"]["Command"][0] for f in functions)
    assert commands == ["lambdas/aggregate/handler.handler", "lambdas/optimise/handler.handler",
                        "lambdas/partition/handler.handler"]
    for command in commands:
        module, function = command.rsplit(".", 1)
        spec = importlib.util.spec_from_file_location(module, REPO_ROOT / f"{module}.py")
        assert spec is not None
        assert spec.loader is not None
        loaded = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(loaded)
        assert callable(getattr(loaded, function))
    for props in functions:
        assert props["TracingConfig"] == {"Mode": "Active"}
        variables = props["Environment"]["Variables"]
        assert set(variables) == {"XVAFLOW_BUCKET", "XVAFLOW_RUN_PREFIX", "XVAFLOW_INPUT_PREFIX",
                                  "XVAFLOW_WORKER_MEMORY_MIB", "XVAFLOW_GPU_WORKER_MEMORY_MIB"}
        # the memory the partition stage checks a run against is the task definitions'
        assert variables["XVAFLOW_WORKER_MEMORY_MIB"] == str(settings.cpu_task_memory_mib)
        assert variables["XVAFLOW_GPU_WORKER_MEMORY_MIB"] == str(settings.gpu_task_memory_mib)
        assert props["LoggingConfig"]["LogGroup"]["Ref"]


def test_image_assets_stage_only_what_the_images_need(
        synthesized: tuple[XvaPipelineStack, Path]) -> None:
    _, outdir = synthesized
    manifest = json.loads((outdir / "XvaflowPipeline.assets.json").read_text())
    images = {v["source"]["dockerFile"]: outdir / v["source"]["directory"]
              for v in manifest["dockerImages"].values()}
    assert set(images) == {"containers/worker/Dockerfile", "lambdas/Dockerfile"}
    for dockerfile, directory in images.items():
        staged = {p.name for p in directory.iterdir()}
        assert {"xvaflow", "pyproject.toml", "README.md"} <= staged
        assert not staged & {"tests", "node_modules", "cdk.out", ".git", "infra", "benchmarks"}
        assert (directory / dockerfile).is_file()
        assert not list(directory.rglob("__pycache__"))


def test_failed_executions_alarm(template: Template) -> None:
    template.has_resource_properties("AWS::CloudWatch::Alarm", {
        "MetricName": "ExecutionsFailed", "Namespace": "AWS/States", "Statistic": "Sum",
        "Threshold": 1, "EvaluationPeriods": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching",
        "Dimensions": [{"Name": "StateMachineArn", "Value": {"Ref": Match.any_value()}}],
    })


def test_network_flow_logs_and_private_tasks(template: Template) -> None:
    template.resource_count_is("AWS::EC2::VPC", 1)
    template.resource_count_is("AWS::EC2::FlowLog", 1)
    template.has_resource_properties("AWS::EC2::VPCEndpoint", {
        "VpcEndpointType": "Gateway"})
    template.has_resource_properties("AWS::EC2::SecurityGroup", {
        "SecurityGroupIngress": Match.absent()})
    # availability: one NAT gateway per AZ (an AZ outage leaves the other AZ's egress), no
    # interface endpoints unless asked
    template.resource_count_is("AWS::EC2::NatGateway", 2)
    template.resource_count_is("AWS::EC2::VPCEndpoint", 1)


def vpc_lookup_cache(vpc_id: str, account: str, region: str) -> dict[str, Any]:
    """What ``cdk.context.json`` holds after the CLI looked ``vpc_id`` up (two AZs, public and
    private subnets)."""
    key = (f"vpc-provider:account={account}:filter.vpc-id={vpc_id}:region={region}"
           ":returnAsymmetricSubnets=true")

    def subnet(i: int, az: str) -> dict[str, str]:
        return {"subnetId": f"subnet-0{i}{'a' * 15}", "cidr": f"10.0.{i}.0/24",
                "availabilityZone": az, "routeTableId": f"rtb-0{i}{'b' * 15}"}

    return {key: {
        "vpcId": vpc_id, "vpcCidrBlock": "10.0.0.0/16", "ownerAccountId": account,
        "availabilityZones": [],
        "subnetGroups": [
            {"name": "Public", "type": "Public",
             "subnets": [subnet(1, f"{region}a"), subnet(2, f"{region}b")]},
            {"name": "Private", "type": "Private",
             "subnets": [subnet(3, f"{region}a"), subnet(4, f"{region}b")]}]}}


def test_context_selects_existing_vpc_and_gpu_type(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    account, region, vpc_id = "123456789012", "eu-west-1", "vpc-0123456789abcdef0"
    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", account)
    monkeypatch.setenv("CDK_DEFAULT_REGION", region)
    context = {**cdk_json_context(), **vpc_lookup_cache(vpc_id, account, region),
               "vpc_id": vpc_id, "gpu_instance_type": "g6.2xlarge", "gpu_max_instances": "2"}
    _, stack = build_app(context=context, outdir=str(tmp_path), nag=False)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::EC2::VPC", 0)
    template.has_resource_properties("AWS::EC2::SecurityGroup", {"VpcId": vpc_id})
    template.has_resource_properties("AWS::EC2::LaunchTemplate", {
        "LaunchTemplateData": Match.object_like({"InstanceType": "g6.2xlarge"})})
    template.has_resource_properties("AWS::AutoScaling::AutoScalingGroup", {
        "MaxSize": "2", "VPCZoneIdentifier": [f"subnet-03{'a' * 15}", f"subnet-04{'a' * 15}"]})
    (machine,) = template.find_resources("AWS::StepFunctions::StateMachine").values()
    subnets = machine["Properties"]["DefinitionSubstitutions"]["SubnetIds"]
    assert subnets == f"subnet-03{'a' * 15},subnet-04{'a' * 15}"
