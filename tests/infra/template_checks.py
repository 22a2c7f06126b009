"""Reading a synthesised CloudFormation template the way IAM and cdk-nag read it: rendered
resource ARNs, IAM wildcard matching, the statements of a role, the run-data key layout."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk.assertions import Template
from constructs import IConstruct

from infra.app import build_app, cdk_json_context
from infra.constructs.nag import ACK_METADATA, NO_ACKNOWLEDGEMENTS
from infra.stacks.xva_pipeline_stack import XvaPipelineStack

#: Every option flag on (the flagged synthesis checks what the options add), as ``-c`` would
#: pass them (strings) or cdk.json (JSON values).
FLAGS: dict[str, Any] = {"kms_key": "true", "vpc_endpoints": True, "log_execution_data": "true",
                         "lambda_log_level": "DEBUG", "input_expiry_days": "3"}


@dataclass
class Synthesis:
    stack: XvaPipelineStack
    outdir: Path
    template: Template
    resources: dict[str, Any]
    report: dict[str, Any]  # cdk-nag's validation report


def synthesize(outdir: Path, nag: bool = True, **context: Any) -> Synthesis:
    """Synthesise the app with cdk.json's context plus ``context``; cdk-nag registered (a
    finding fails the synthesis unless the no-acknowledgements key is set)."""
    app, stack = build_app(context={**cdk_json_context(), **context}, outdir=str(outdir),
                           nag=nag)
    failed = None
    try:
        app.synth()
    except Exception as exc:  # jsii's ValidationFailed: read the report
        failed = exc
    report_file = outdir / "validation-report.json"
    report = json.loads(report_file.read_text()) if report_file.exists() else {}
    if failed is not None:
        if not context.get(NO_ACKNOWLEDGEMENTS):
            raise failed
        # validation failed as intended: the report is what counts (Template.from_stack would
        # synthesise, and fail, again)
        return Synthesis(stack, outdir, Template.from_json({"Resources": {}}), {}, report)
    template = Template.from_stack(stack)
    return Synthesis(stack, outdir, template, template.to_json()["Resources"], report)


def of_type(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in resources.items() if v["Type"] == kind}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def render(value: Any) -> str:
    """A resource value as cdk-nag writes it in finding ids: ``<Logical.Arn>``, ``<Logical>``,
    ``<AWS::Region>``, joins concatenated."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(render(p) for p in parts)
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return "<{}.{}>".format(*value["Fn::GetAtt"])
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::Sub" in value:
        return str(value["Fn::Sub"])
    raise AssertionError(f"cannot render {value!r}")


def iam_match(pattern: str, text: str) -> bool:
    """IAM's wildcard match (case-sensitive): ``*`` any run of characters (``/`` included),
    ``?`` one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, flags=re.DOTALL) is not None


def role_statements(resources: dict[str, Any], role: str) -> list[dict[str, Any]]:
    """Every statement of every policy attached to the role with logical id ``role``. Managed
    policies are not visible here: the only one allowed is AWSLambdaBasicExecutionRole (CloudWatch
    Logs only), which CDK's custom-resource provider of the VPC uses."""
    props = resources[role]["Properties"]
    for arn in props.get("ManagedPolicyArns", []):
        assert render(arn).endswith(":iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"), \
            f"{role} has the managed policy {arn}"
    found: list[dict[str, Any]] = []
    for inline in props.get("Policies", []):
        found += inline["PolicyDocument"]["Statement"]
    for policy in of_type(resources, "AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"].get("Roles", []):
            found += policy["Properties"]["PolicyDocument"]["Statement"]
    return found


def statements_on(statements: list[dict[str, Any]], resource: str) -> list[dict[str, Any]]:
    """The statements naming ``resource`` (rendered) exactly."""
    return [s for s in statements if resource in (render(r) for r in as_list(s["Resource"]))]


def allows(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    """Whether an unconditional Allow statement grants ``action`` on ``resource`` (rendered)
    (there are no Deny statements in this stack)."""
    for s in statements:
        assert s["Effect"] == "Allow"
        if "Condition" in s:
            continue
        if any(iam_match(a, action) for a in as_list(s["Action"])) and any(
                iam_match(render(r), resource) for r in as_list(s["Resource"])):
            return True
    return False


def construct_at(root: IConstruct, path: str) -> IConstruct:
    """The construct at ``path`` (``Stack/Child/...``) below ``root`` (the stack)."""
    parts = path.split("/")
    assert parts[0] == root.node.id, path
    node = root
    for part in parts[1:]:
        node = node.node.find_child(part)
    return node


def acknowledgements(root: IConstruct) -> list[tuple[str, str, str]]:
    """(construct path, rule, reason) of every acknowledgement below ``root``."""
    found = []
    for construct in root.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == ACK_METADATA:
                found.append((construct.node.path, entry.data["rule"], entry.data["reason"]))
    return found


def run_keys(run_id: str) -> dict[str, str]:
    """One key of each kind a run has (xvaflow/pipeline/stages.py's layout)."""
    run = f"runs/{run_id}/"
    return {
        "submitted": f"inputs/{run_id}/trades.csv",
        "inputs": run + "inputs/trades.csv", "market": run + "inputs/market.json",
        "spec": run + "spec.json", "manifest": run + "manifest.json",
        "trades": run + "trades.json", "attributes": run + "attributes.json",
        "part_json": run + "results/part-0.json", "part_npz": run + "results/part-0.npz",
        "results": run + "output/results.json", "exposure": run + "output/exposure.csv",
        "exposure_parquet": run + "output/exposure.parquet",
        "diagnostics": run + "output/diagnostics.json", "report": run + "output/report.html",
    }
