"""Every cdk-nag acknowledgement answers a real finding, and its reason is true of the
synthesised template: one claim check per acknowledgement (:data:`CLAIMS`).

The acknowledgements are read from the construct tree (``infra.constructs.nag.acknowledge``
records each as metadata), so a new acknowledgement without a claim check fails
``test_every_acknowledgement_has_a_claim_check``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from template_checks import (
    Synthesis,
    acknowledgements,
    as_list,
    construct_at,
    iam_match,
    of_type,
    render,
    role_statements,
    run_keys,
    statements_on,
    synthesize,
)

from infra.constructs.cluster import ECS_AGENT_CONFIG
from infra.constructs.nag import NO_ACKNOWLEDGEMENTS, logical_id
from infra.constructs.storage import ACCESS, RUN

ASL = Path(__file__).resolve().parents[2] / "statemachine" / "xva_pipeline.asl.json"


@dataclass(frozen=True)
class Ack:
    path: str
    rule: str
    reason: str
    synth: Synthesis

    @property
    def logical_id(self) -> str:
        return logical_id(construct_at(self.synth.stack, self.path))

    def statements(self) -> list[dict[str, Any]]:
        return role_statements(self.synth.resources, self.logical_id)


Check = Callable[[Ack], None]


@dataclass(frozen=True)
class Claim:
    path: str  # regex on the construct path (after the stack's name)
    rule: str  # regex on the rule id
    check: Check


def wildcard_actions(statements: list[dict[str, Any]]) -> set[str]:
    """Actions granted on ``*`` without a condition."""
    return {a for s in statements if "*" in as_list(s["Resource"]) and "Condition" not in s
            for a in as_list(s["Action"])}


# ---------------------------------------------------------------------------------------------
# The claims, in the order of the constructs


def gpu_instance_role(ack: Ack) -> None:
    """Only the ECS agent's unscoped actions on *, Poll/StartTelemetrySession conditioned on
    this cluster, no CloudWatch Logs, tasks cut off from the instance metadata, IMDSv2 only."""
    resources = ack.synth.resources
    statements = ack.statements()
    assert wildcard_actions(statements) == {"ecr:GetAuthorizationToken",
                                            "ecs:DiscoverPollEndpoint"}
    (cluster,) = of_type(resources, "AWS::ECS::Cluster")
    conditioned = [s for s in statements if "*" in as_list(s["Resource"]) and "Condition" in s]
    assert len(conditioned) == 1
    assert set(as_list(conditioned[0]["Action"])) == {"ecs:Poll", "ecs:StartTelemetrySession"}
    assert conditioned[0]["Condition"] == {"ArnEquals": {
        "ecs:cluster": {"Fn::GetAtt": [cluster, "Arn"]}}}
    for s in statements:
        assert not any(a.startswith("logs:") for a in as_list(s["Action"])), s
        assert all(render(r) in ("*", f"<{cluster}.Arn>") for r in as_list(s["Resource"])), s
    (launch,) = of_type(resources, "AWS::EC2::LaunchTemplate").values()
    data = launch["Properties"]["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    profile = next(iter(of_type(resources, "AWS::IAM::InstanceProfile").values()))
    assert profile["Properties"]["Roles"] == [{"Ref": ack.logical_id}]
    user_data = render(data["UserData"]["Fn::Base64"])
    assert "echo ECS_AWSVPC_BLOCK_IMDS=true >> /etc/ecs/ecs.config" in user_data
    assert "ECS_AWSVPC_BLOCK_IMDS=true" in ECS_AGENT_CONFIG
    for task in of_type(resources, "AWS::ECS::TaskDefinition").values():
        assert task["Properties"]["NetworkMode"] == "awsvpc"  # what BLOCK_IMDS covers


def gpu_scaling(ack: Ack) -> None:
    """Scaling driven by the capacity provider's managed scaling, from zero; failed worker
    tasks surface through the failed-executions alarm."""
    resources = ack.synth.resources
    group = resources[ack.logical_id]["Properties"]
    assert group["MinSize"] == "0"
    (provider,) = of_type(resources, "AWS::ECS::CapacityProvider").values()
    asg = provider["Properties"]["AutoScalingGroupProvider"]
    assert asg["AutoScalingGroupArn"] == {"Ref": ack.logical_id}
    assert asg["ManagedScaling"]["Status"] == "ENABLED"
    (alarm,) = of_type(resources, "AWS::CloudWatch::Alarm").values()
    assert alarm["Properties"]["MetricName"] == "ExecutionsFailed"


def execution_role(ack: Ack) -> None:
    """Only ecr:GetAuthorizationToken on *; pulls limited to the asset repository, logging to
    the workers' log group."""
    statements = ack.statements()
    assert wildcard_actions(statements) == {"ecr:GetAuthorizationToken"}
    (log_group,) = [k for k in of_type(ack.synth.resources, "AWS::Logs::LogGroup")
                    if k.startswith("WorkerLogs")]
    for s in statements:
        resources = [render(r) for r in as_list(s["Resource"])]
        if resources == ["*"]:
            continue
        actions = set(as_list(s["Action"]))
        if actions <= {"ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage",
                       "ecr:GetDownloadUrlForLayer"}:
            assert len(resources) == 1
            assert ":repository/cdk-" in resources[0]
            assert "container-assets" in resources[0]
        else:
            assert actions == {"logs:CreateLogStream", "logs:PutLogEvents"}
            assert resources == [f"<{log_group}.Arn>"]


def gpu_task_environment(ack: Ack) -> None:
    """The only environment variable is AWS_REGION; run settings come as RunTask overrides."""
    props = ack.synth.resources[ack.logical_id]["Properties"]
    (container,) = props["ContainerDefinitions"]
    assert [e["Name"] for e in container.get("Environment", [])] in ([], ["AWS_REGION"])
    definition = ASL.read_text()
    for name in ("XVAFLOW_BUCKET", "XVAFLOW_RUN_ID", "XVAFLOW_PARTITION"):
        assert f'"Name": "{name}"' in definition


def stage_role_xray(ack: Ack) -> None:
    """X-Ray's PutTraceSegments/PutTelemetryRecords are the only actions on *."""
    assert wildcard_actions(ack.statements()) == {"xray:PutTraceSegments",
                                                 "xray:PutTelemetryRecords"}
    function = next(v for v in of_type(ack.synth.resources, "AWS::Lambda::Function").values()
                    if v["Properties"].get("Role") == {"Fn::GetAtt": [ack.logical_id, "Arn"]})
    assert function["Properties"]["TracingConfig"] == {"Mode": "Active"}


def state_machine_tasks(ack: Ack) -> None:
    """ecs:DescribeTasks/StopTask only, on tasks of this cluster."""
    resource = ack.rule.split("Resource::", 1)[1][:-1]
    (cluster,) = of_type(ack.synth.resources, "AWS::ECS::Cluster")
    assert resource.endswith(f":task/<{cluster}>/*")
    (statement,) = statements_on(ack.statements(), resource)
    assert set(as_list(statement["Action"])) == {"ecs:DescribeTasks", "ecs:StopTask"}


def state_machine_children(ack: Ack) -> None:
    """DescribeExecution/StopExecution on executions of this state machine only."""
    resource = ack.rule.split("Resource::", 1)[1][:-1]
    (machine,) = of_type(ack.synth.resources, "AWS::StepFunctions::StateMachine").values()
    name = machine["Properties"]["StateMachineName"]
    assert resource.endswith(f":execution:{name}/*")
    (statement,) = statements_on(ack.statements(), resource)
    assert set(as_list(statement["Action"])) == {"states:DescribeExecution",
                                                 "states:StopExecution"}
    assert "ItemProcessor" in ASL.read_text()
    assert '"DISTRIBUTED"' in ASL.read_text()


def state_machine_unscoped(ack: Ack) -> None:
    """The only actions on * are the vended-log delivery and X-Ray actions named."""
    assert wildcard_actions(ack.statements()) <= {
        "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
        "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
        "xray:GetSamplingTargets"}
    assert not [s for s in ack.statements()
                if "*" in as_list(s["Resource"]) and "Condition" in s]


ROLE_ACCESS = {r"Worker/(Cpu|Gpu)/TaskRole": "worker", r"PartitionStage/Role": "partition",
               r"AggregateStage/Role": "aggregate", r"OptimiseStage/Role": "optimise",
               r"Pipeline/Role": "state_machine"}
RUN_IDS = ("r1", "results", "output", "inputs", "spec.json", "part-0", "run-20260101T000000Z-1")


def s3_objects(ack: Ack) -> None:
    """The role reads or writes exactly this pattern (GetObject or PutObject, no condition);
    it is in the role's ACCESS; only the run-id segment (and the name in a folder) is a
    wildcard; of a run's keys it matches only the ones its purpose names; only the partition
    stage can read inputs/."""
    relative = ack.path.split("/", 1)[1]
    role = next(v for k, v in ROLE_ACCESS.items() if re.fullmatch(k, relative))
    access = ACCESS[role]
    resource = ack.rule.split("Resource::", 1)[1][:-1]
    bucket, pattern = resource.split("/", 1)
    assert re.fullmatch(r"<RunDataBucket\w+\.Arn>", bucket)
    statements = statements_on(ack.statements(), resource)
    assert statements
    verbs = set()
    for s in statements:
        assert "Condition" not in s
        actions = set(as_list(s["Action"]))
        assert actions in ({"s3:GetObject"}, {"s3:PutObject"})
        verbs |= actions
    assert verbs == ({"s3:GetObject"} if pattern in access.read else {"s3:PutObject"})
    assert (pattern in access.read) != (pattern in access.write)
    purpose = {**access.read, **access.write}[pattern]
    assert pattern in ack.reason
    assert purpose in ack.reason
    if pattern == "inputs/*":
        assert role == "partition"
        readers = {k for k, v in of_type(ack.synth.resources, "AWS::IAM::Role").items()
                   if any(iam_match(render(r).split("/", 1)[-1], "inputs/r1/trades.csv")
                          for s in role_statements(ack.synth.resources, k)
                          if "s3:GetObject" in as_list(s["Action"])
                          for r in as_list(s["Resource"]))}
        assert readers == {ack.logical_id}
        return
    assert pattern.startswith(RUN)
    rest = pattern[len(RUN):]
    assert "*" not in rest.rstrip("*"), "a wildcard other than the run id and a folder's name"
    matched = {kind for run_id in RUN_IDS for kind, key in run_keys(run_id).items()
               if iam_match(pattern, key) and key.startswith(f"runs/{run_id}/")}
    expected: set[str] | None = {
        "inputs/*": {"inputs", "market"}, "spec.json": {"spec"},
        "manifest.json": {"manifest"}, "trades.json": {"trades"},
        "attributes.json": {"attributes"}, "results/part-*": {"part_json", "part_npz"},
        "output/*": {"results", "exposure", "exposure_parquet", "diagnostics", "report"},
        "output/results.json": {"results"}, "output/diagnostics.json": {"diagnostics"},
        "output/exposure.csv": {"exposure"}, "output/exposure.parquet": {"exposure_parquet"},
        "output/report.html": {"report"},
    }.get(rest)
    assert expected is not None, f"{pattern} is not a file or folder of a run's layout"
    assert matched == expected
    # no run's key of another kind matches, whatever its run id
    for run_id in RUN_IDS:
        for kind, key in run_keys(run_id).items():
            assert iam_match(pattern, key) == (kind in expected), (pattern, key)


STAGE_ROLES = r"(Partition|Aggregate|Optimise)Stage/Role"
CLAIMS: dict[str, Claim] = {
    "gpu instance role": Claim(r"Compute/GpuInstanceRole", r"AwsSolutions-IAM5\[Resource::\*\]",
                               gpu_instance_role),
    "gpu scaling": Claim(r"Compute/GpuInstances", r"AwsSolutions-AS3", gpu_scaling),
    "execution roles": Claim(r"Worker/(Cpu|Gpu)/ExecutionRole",
                             r"AwsSolutions-IAM5\[Resource::\*\]", execution_role),
    "gpu environment": Claim(r"Worker/Gpu", r"AwsSolutions-ECS2", gpu_task_environment),
    "stage x-ray": Claim(STAGE_ROLES, r"AwsSolutions-IAM5\[Resource::\*\]", stage_role_xray),
    "state machine tasks": Claim(r"Pipeline/Role", r"AwsSolutions-IAM5\[Resource::arn:.*:task/.*",
                                 state_machine_tasks),
    "state machine children": Claim(r"Pipeline/Role",
                                    r"AwsSolutions-IAM5\[Resource::arn:.*:execution:.*",
                                    state_machine_children),
    "state machine unscoped": Claim(r"Pipeline/Role", r"AwsSolutions-IAM5\[Resource::\*\]",
                                    state_machine_unscoped),
    "s3 objects": Claim("|".join(ROLE_ACCESS),
                        r"AwsSolutions-IAM5\[Resource::<RunDataBucket\w+\.Arn>/.*\]", s3_objects),
}


def claims_of(path: str, rule: str) -> list[str]:
    relative = path.split("/", 1)[1]
    return [name for name, c in CLAIMS.items()
            if re.fullmatch(c.path, relative) and re.fullmatch(c.rule, rule)]


def acks(synth: Synthesis) -> list[Ack]:
    return [Ack(path, rule, reason, synth)
            for path, rule, reason in acknowledgements(synth.stack)]


# ---------------------------------------------------------------------------------------------


def test_every_acknowledgement_has_a_claim_check(default_synth: Synthesis,
                                                 flagged_synth: Synthesis) -> None:
    found = acks(default_synth)
    assert len(found) >= len(CLAIMS)
    for ack in found:
        assert len(claims_of(ack.path, ack.rule)) == 1, (ack.path, ack.rule)
        assert len(ack.reason) > 40
    used = {name for ack in found for name in claims_of(ack.path, ack.rule)}
    assert used == set(CLAIMS)
    # the options add no acknowledgement (so the unacknowledged synthesis below covers both)
    assert sorted((a.path, a.rule) for a in acks(flagged_synth)) == \
        sorted((a.path, a.rule) for a in found)


def test_acknowledgement_claims_hold(any_synth: Synthesis) -> None:
    for ack in acks(any_synth):
        (name,) = claims_of(ack.path, ack.rule)
        try:
            CLAIMS[name].check(ack)
        except AssertionError as exc:
            raise AssertionError(f"{ack.path} {ack.rule}: claim {name!r} is false: "
                                 f"{exc}") from exc


@pytest.fixture(scope="module")
def unacknowledged(tmp_path_factory: pytest.TempPathFactory) -> Synthesis:
    """The default synthesis with every acknowledgement recorded but not applied."""
    return synthesize(tmp_path_factory.mktemp("cdk.out.noack"), **{NO_ACKNOWLEDGEMENTS: True})


def test_each_acknowledgement_answers_a_finding_and_nothing_else_is_found(
        unacknowledged: Synthesis) -> None:
    findings = {(v["ruleName"], c["constructPath"])
                for report in unacknowledged.report["pluginReports"]
                for v in report["violations"] for c in v["violatingConstructs"]}
    assert findings
    found = acks(unacknowledged)

    def covers(ack: Ack, rule: str, path: str) -> bool:
        return rule == ack.rule and (path == ack.path or path.startswith(ack.path + "/"))

    for ack in found:
        assert any(covers(ack, rule, path) for rule, path in findings), \
            f"stale acknowledgement: {ack.path} {ack.rule}"
    for rule, path in findings:
        assert any(covers(ack, rule, path) for ack in found), f"unacknowledged: {path} {rule}"

