"""The CDK app lives in infra/ at the repository root (not an installed package): make it
importable, and skip these tests where the CDK libraries or node (jsii needs it) are missing."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

if shutil.which("node") is None:  # pragma: no cover - depends on the machine
    pytest.skip("the CDK (jsii) needs a node binary on PATH", allow_module_level=True)
pytest.importorskip("aws_cdk", reason="install the [dev] extra (aws-cdk-lib, cdk-nag)")
pytest.importorskip("cdk_nag", reason="install the [dev] extra (aws-cdk-lib, cdk-nag)")

from template_checks import FLAGS, Synthesis, synthesize  # noqa: E402  (after the skips)

# ----------------------------------------------------------------------------------------------
# Synthesised stacks shared by the test modules (each synthesis takes ~20 s).

@pytest.fixture(scope="session")
def default_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesis:
    """cdk.json's context, as `cdk synth` runs it."""
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def flagged_synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesis:
    """Every option flag on (:data:`FLAGS`), cdk-nag still clean."""
    return synthesize(tmp_path_factory.mktemp("cdk.out.flags"), **FLAGS)


@pytest.fixture(scope="session", params=["default", "flagged"])
def any_synth(request: pytest.FixtureRequest) -> Synthesis:
    """Both syntheses in turn."""
    synthesis: Synthesis = request.getfixturevalue(f"{request.param}_synth")
    return synthesis
