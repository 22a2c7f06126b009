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
