#!/bin/sh
# Infrastructure checks, offline (no AWS account, no Docker engine), from the repository root:
#   1. the workflow definition: asl-validator + statelint (npm, pinned) + xvaflow's interpreter
#   2. `cdk synth` with the pinned CLI (cdk-nag AwsSolutions runs as a validation plugin)
#   3. cfn-lint on the synthesised template
# Needs: node/npm, and python3 on PATH with the [dev] extra installed (e.g. an activated venv).
set -eu
cd "$(dirname "$0")/.."
[ -x node_modules/.bin/cdk ] || npm ci --no-audit --no-fund
export CDK_DISABLE_CLI_TELEMETRY=true CDK_DISABLE_VERSION_CHECK=1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
python3 -m infra.lint_asl statemachine/xva_pipeline.asl.json
node_modules/.bin/cdk synth --no-notices --quiet
cfn-lint cdk.out/XvaflowPipeline.template.json --ignore-checks W3005
echo "infra checks passed"
