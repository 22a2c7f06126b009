"""Least privilege in the run-data bucket, read from the synthesised template with IAM's
wildcard semantics: which role may read and write which key of a run (issue 9: workers read
only their run's inputs and spec and write only results/, the partition stage writes
inputs|spec|manifest, aggregation writes output/, only the partition stage reads the submitted
inputs/); and the stages' real S3 calls, recorded on a small run, all allowed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from template_checks import (
    Synthesis,
    allows,
    as_list,
    construct_at,
    iam_match,
    of_type,
    render,
    role_statements,
    run_keys,
)

from infra.constructs.nag import logical_id
from infra.settings import REPO_ROOT
from xvaflow.pipeline import stages
from xvaflow.pipeline.store import LocalStore

#: (reads, writes) of each role: kinds of run_keys(); what issue 9 asks, written out here
#: independently of infra/constructs/storage.py's ACCESS. Workers also read the run's spec
#: (settings, partitions) and trades.json (t0 values for the capital terms): both written by
#: the partition stage, never by a worker.
EXPECTED: dict[str, tuple[set[str], set[str]]] = {
    "Worker/Cpu/TaskRole": ({"spec", "inputs", "market", "trades"}, {"part_json", "part_npz"}),
    "Worker/Gpu/TaskRole": ({"spec", "inputs", "market", "trades"}, {"part_json", "part_npz"}),
    "PartitionStage/Role": ({"submitted"},
                            {"inputs", "market", "spec", "manifest", "trades", "attributes"}),
    "AggregateStage/Role": ({"spec", "part_json", "part_npz", "trades"},
                            {"results", "exposure", "exposure_parquet", "diagnostics", "report"}),
    "OptimiseStage/Role": ({"results", "attributes", "exposure", "exposure_parquet"},
                           {"diagnostics", "report"}),
    "Pipeline/Role": ({"manifest"}, set()),
}


def role_id(synth: Synthesis, path: str) -> str:
    return logical_id(construct_at(synth.stack, f"{synth.stack.node.id}/{path}"))


def object_key(synth: Synthesis, key: str) -> str:
    (bucket,) = [k for k, v in of_type(synth.resources, "AWS::S3::Bucket").items()
                 if "LoggingConfiguration" in v["Properties"]]
    return f"<{bucket}.Arn>/{key}"


@pytest.mark.parametrize("run_id", ["r1", "results", "output", "inputs", "part-0"])
def test_each_role_reads_and_writes_exactly_its_keys(any_synth: Synthesis, run_id: str) -> None:
    keys = run_keys(run_id)
    for path, (reads, writes) in EXPECTED.items():
        statements = role_statements(any_synth.resources, role_id(any_synth, path))
        readable = {kind for kind, key in keys.items()
                    if allows(statements, "s3:GetObject", object_key(any_synth, key))}
        writable = {kind for kind, key in keys.items()
                    if allows(statements, "s3:PutObject", object_key(any_synth, key))}
        assert (readable, writable) == (reads, writes), path
        # nothing else of S3: no delete, no ACL, no bucket configuration
        actions = {a for s in statements for a in as_list(s["Action"]) if a.startswith("s3:")}
        assert actions <= {"s3:GetObject", "s3:PutObject", "s3:ListBucket"}, path


def test_no_other_role_touches_run_data(any_synth: Synthesis) -> None:
    expected = {role_id(any_synth, path) for path in EXPECTED}
    for role in of_type(any_synth.resources, "AWS::IAM::Role"):
        statements = role_statements(any_synth.resources, role)
        s3 = [s for s in statements if any(a.startswith("s3:") for a in as_list(s["Action"]))]
        assert bool(s3) == (role in expected), role


def test_listing_is_limited_to_the_prefixes_a_stage_checks(any_synth: Synthesis) -> None:
    lists = {path: sorted(p for s in role_statements(any_synth.resources,
                                                     role_id(any_synth, path))
                          if "s3:ListBucket" in as_list(s["Action"])
                          for p in s["Condition"]["StringLike"]["s3:prefix"])
             for path in EXPECTED}
    assert lists == {"Worker/Cpu/TaskRole": ["runs/*/inputs/*"],
                     "Worker/Gpu/TaskRole": ["runs/*/inputs/*"],
                     "PartitionStage/Role": ["inputs/*"], "AggregateStage/Role": [],
                     "OptimiseStage/Role": [], "Pipeline/Role": []}


def test_kms_use_only_through_s3_by_the_roles_that_touch_run_data(
        flagged_synth: Synthesis) -> None:
    (key,) = of_type(flagged_synth.resources, "AWS::KMS::Key")
    for path, (reads, writes) in EXPECTED.items():
        statements = role_statements(flagged_synth.resources, role_id(flagged_synth, path))
        (kms,) = [s for s in statements if any(a.startswith("kms:")
                                               for a in as_list(s["Action"]))]
        assert set(as_list(kms["Action"])) == ({"kms:Decrypt"} if reads else set()) | (
            {"kms:GenerateDataKey"} if writes else set()), path
        assert as_list(kms["Resource"]) == [{"Fn::GetAtt": [key, "Arn"]}]
        via = render(kms["Condition"]["StringEquals"]["kms:ViaService"])
        assert via == "s3.<AWS::Region>.<AWS::URLSuffix>"


# ---------------------------------------------------------------------------------------------
# The stages' own S3 calls, recorded on a small run


class RecordingStore(LocalStore):
    """A local store recording each call as the S3 request S3Store would make."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.calls: list[tuple[str, str]] = []

    def get_bytes(self, key: str) -> bytes:
        self.calls.append(("s3:GetObject", key))
        return super().get_bytes(key)

    def put_bytes(self, key: str, data: bytes) -> None:
        self.calls.append(("s3:PutObject", key))
        super().put_bytes(key, data)

    def exists(self, key: str) -> bool:  # S3Store: ListObjectsV2 with Prefix=key
        self.calls.append(("s3:ListBucket", key))
        return super().exists(key)

    def list(self, prefix: str) -> list[str]:
        self.calls.append(("s3:ListBucket", prefix))
        return super().list(prefix)


def permitted(statements: list[dict[str, Any]], action: str, key: str, bucket: str) -> bool:
    if action == "s3:ListBucket":
        return any("s3:ListBucket" in as_list(s["Action"])
                   and any(iam_match(p, key) for p in s["Condition"]["StringLike"]["s3:prefix"])
                   for s in statements)
    return allows(statements, action, f"{bucket}/{key}")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple[str, str]]]:
    """Each stage's calls on examples/demo (64 paths, 2 partitions), as `xvaflow submit`
    uploads it and the state machine runs it."""
    store = RecordingStore(tmp_path_factory.mktemp("bucket"))
    run_id = "run-20260101T000000Z-abc123"
    for path in sorted((REPO_ROOT / "examples" / "demo").iterdir()):
        store.put_bytes(f"inputs/{run_id}/{path.name}", path.read_bytes())
    calls: dict[str, list[tuple[str, str]]] = {}

    def record(name: str) -> None:
        calls[name] = store.calls
        store.calls = []

    store.calls = []
    out = stages.partition_stage(store, {"run_id": run_id, "input_prefix": f"inputs/{run_id}/",
                                         "settings": {"paths": 64, "partitions": 2}})
    record("PartitionStage/Role")
    # the Distributed Map's ItemReader (the state machine's role)
    json.loads(store.get_bytes(out["manifest_key"]))
    record("Pipeline/Role")
    for k in range(out["partitions"]):
        stages.worker_stage(store, run_id, k)
    record("Worker/Cpu/TaskRole")
    stages.aggregate_stage(store, {"run_id": run_id})
    record("AggregateStage/Role")
    stages.optimise_stage(store, {"run_id": run_id})
    record("OptimiseStage/Role")
    shutil.rmtree(store.root)
    return calls


def test_the_stages_calls_are_all_allowed(default_synth: Synthesis,
                                          recorded: dict[str, list[tuple[str, str]]]) -> None:
    bucket = object_key(default_synth, "").rstrip("/")
    for path, calls in recorded.items():
        assert calls, path
        statements = role_statements(default_synth.resources, role_id(default_synth, path))
        denied = [(a, k) for a, k in calls if not permitted(statements, a, k, bucket)]
        assert denied == [], f"{path} would be denied: {denied}"
    # the GPU worker runs the same stage: its role has the CPU worker's statements
    cpu, gpu = (role_statements(default_synth.resources, role_id(default_synth, path))
                for path in ("Worker/Cpu/TaskRole", "Worker/Gpu/TaskRole"))
    assert gpu == cpu
