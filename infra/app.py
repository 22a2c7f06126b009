"""The CDK app: ``python3 -m infra.app`` (what cdk.json runs).

Offline synthesis from the repository root (no AWS account, no Docker engine: container assets
are only staged)::

    PATH=/path/to/venv/bin:$PATH npx cdk synth --no-notices --quiet

cdk-nag's AwsSolutions pack runs as a CDK validation plugin: a violation fails synthesis and is
listed in cdk.out/policy-validation-report.json. Every acknowledged finding carries its reason
next to the resource it concerns (infra/constructs/*.py).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.settings import REPO_ROOT, PipelineSettings
from infra.stacks.xva_pipeline_stack import XvaPipelineStack


def cdk_json_context() -> dict[str, Any]:
    """The ``context`` of cdk.json (feature flags and defaults), as the CLI would pass it."""
    document = json.loads((REPO_ROOT / "cdk.json").read_text(encoding="utf-8"))
    context: dict[str, Any] = document.get("context", {})
    return context


def build_app(*, context: Mapping[str, Any] | None = None, outdir: str | None = None,
              nag: bool = True) -> tuple[cdk.App, XvaPipelineStack]:
    """Build the app and its one stack.

    ``context`` replaces what the CLI would pass (use :func:`cdk_json_context` in tests: a plain
    ``cdk.App()`` outside the CLI does not read cdk.json). ``nag`` registers the cdk-nag
    AwsSolutions checks.
    """
    app = cdk.App(context=dict(context) if context is not None else None, outdir=outdir)
    settings = PipelineSettings.from_context(app.node)
    env = None
    if settings.account and settings.region:
        env = cdk.Environment(account=settings.account, region=settings.region)
    stack = XvaPipelineStack(app, settings.stack_name, settings=settings, env=env,
                             description="xvaflow serverless XVA pipeline: Step Functions, "
                                         "ECS (Fargate and GPU EC2), Lambda, S3")
    if nag:
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack


def main() -> None:
    try:
        app, _ = build_app()
    except ValueError as exc:  # a bad context value: one line naming the key
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    app.synth()


if __name__ == "__main__":
    main()
