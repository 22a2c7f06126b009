"""``xvaflow status`` on a failed Distributed Map: naming the failed partitions; ``submit`` and
``status`` without AWS configuration: one line saying what to set.

AWS fails a Distributed Map whose iteration failed with ``States.ExceedToleratedFailureThreshold``
and a generic cause; the partition and its reason are only in the failed child execution.
moto 5.2.5 lists no map runs, so these tests answer the three Step Functions calls with the
response shapes of the AWS API reference (ListMapRuns, ListExecutions, DescribeExecution).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("botocore", reason="install the [dev] extra (boto3)")

from botocore.exceptions import ClientError

from xvaflow.pipeline.remote import (
    MAP_FAILED,
    SET_CREDENTIALS,
    SET_REGION,
    RunStatus,
    aws_errors,
    failed_map_items,
)

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:XvaPipeline:r1"
MAP_RUN = "arn:aws:states:us-east-1:123456789012:mapRun:XvaPipeline/Partitions:7f3a"
CHILD = "arn:aws:states:us-east-1:123456789012:execution:XvaPipeline/Partitions:7f3a:c1"
CHILD_CAUSE = ('partition 1 of run r1 failed: States.TaskFailed: '
               '{"StopCode": "EssentialContainerExited"}')


class FakeStepFunctions:
    """The three calls, answering as AWS does for one failed iteration."""

    class exceptions:  # as boto3 clients expose them
        ClientError = ClientError

    def __init__(self, denied: bool = False) -> None:
        self.denied = denied
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def list_map_runs(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("ListMapRuns", kw))
        if self.denied:
            raise ClientError({"Error": {"Code": "AccessDeniedException",
                                                  "Message": "not authorized"}}, "ListMapRuns")
        return {"mapRuns": [{"executionArn": EXECUTION, "mapRunArn": MAP_RUN,
                             "stateMachineArn": "arn:...", "startDate": dt.datetime.now()}]}

    def list_executions(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("ListExecutions", kw))
        return {"executions": [{"executionArn": CHILD, "status": "FAILED", "name": "c1",
                                "mapRunArn": MAP_RUN}]}

    def describe_execution(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("DescribeExecution", kw))
        return {"executionArn": CHILD, "status": "FAILED", "error": "XvaPipeline.WorkerFailed",
                "cause": CHILD_CAUSE}


def test_failed_partitions_are_named_from_the_child_executions() -> None:
    sfn = FakeStepFunctions()
    assert failed_map_items(sfn, EXECUTION) == (f"XvaPipeline.WorkerFailed: {CHILD_CAUSE}",)
    assert sfn.calls == [
        ("ListMapRuns", {"executionArn": EXECUTION}),
        ("ListExecutions", {"mapRunArn": MAP_RUN, "statusFilter": "FAILED", "maxResults": 5}),
        ("DescribeExecution", {"executionArn": CHILD})]
    started = dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.UTC)
    status = RunStatus("r1", "FAILED", started, started + dt.timedelta(seconds=95),
                       "XvaPipeline.WorkersFailed",
                       f"CalculatePartitionedXVA failed: {MAP_FAILED}: threshold exceeded",
                       1, 2, failed_map_items(sfn, EXECUTION))
    assert status.line().splitlines() == [
        "run r1: FAILED (95s since 10:00:00), partitions 1/2 done; XvaPipeline.WorkersFailed: "
        f"CalculatePartitionedXVA failed: {MAP_FAILED}: threshold exceeded",
        f"  failed: XvaPipeline.WorkerFailed: {CHILD_CAUSE}"]


def test_without_permission_to_list_the_reason_is_said() -> None:
    (line,) = failed_map_items(FakeStepFunctions(denied=True), EXECUTION)
    assert line.startswith("(could not list the failed partitions: ")
    assert "AccessDeniedException" in line


# ---------------------------------------------------------------------------------------------
# Without a region or credentials: one line saying what to set, exit status 2, no traceback


@pytest.fixture
def bare_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> pytest.MonkeyPatch:
    """No AWS configuration at all: no variables, no config or credentials file, no instance
    metadata (botocore would otherwise try 169.254.169.254)."""
    import os

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    from xvaflow.cli import main

    code = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "botocore" not in err
    return code, err.splitlines()


def test_status_without_region_says_what_to_set(bare_aws_env: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = run_cli(["status", "r1", "--stack", "XvaflowPipeline"], capsys)
    assert code == 2
    assert lines == [f"error: no AWS region is configured: {SET_REGION}"]


def test_status_without_credentials_says_what_to_set(bare_aws_env: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    bare_aws_env.setenv("AWS_REGION", "eu-west-1")
    code, lines = run_cli(["status", "r1", "--stack", "XvaflowPipeline"], capsys)
    assert code == 2
    assert lines == [f"error: no AWS credentials were found: {SET_CREDENTIALS}"]


def test_unknown_profile_says_what_to_set(bare_aws_env: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    bare_aws_env.setenv("AWS_PROFILE", "nosuchprofile")
    code, lines = run_cli(["status", "r1", "--stack", "XvaflowPipeline", "--region",
                           "eu-west-1"], capsys)
    assert code == 2
    assert lines == ["error: AWS profile 'nosuchprofile' is not configured: "
                     f"{SET_CREDENTIALS}"]


def test_submit_without_region_uploads_nothing(bare_aws_env: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from xvaflow.pipeline import remote

    def no_upload(*args: Any, **kwargs: Any) -> str:
        raise AssertionError("uploaded without a region")

    bare_aws_env.setattr(remote, "upload_inputs", no_upload)
    demo = Path(__file__).resolve().parents[2] / "examples" / "demo"
    code, lines = run_cli(["submit", str(demo), "--stack", "XvaflowPipeline", "--no-wait"],
                          capsys)
    assert code == 2
    assert lines[-1] == f"error: no AWS region is configured: {SET_REGION}"
    assert sum(line.startswith("error:") for line in lines) == 1


@pytest.mark.parametrize(("raised", "start"), [
    (lambda bx: bx.NoCredentialsError(), "error: AWS credentials are missing or expired"),
    (lambda bx: bx.NoRegionError(), "error: no AWS region is configured"),
    (lambda bx: bx.EndpointConnectionError(endpoint_url="https://states.xx-nowhere-1.aws"),
     "error: cannot reach https://states.xx-nowhere-1.aws"),
    (lambda bx: ClientError({"Error": {"Code": "ExpiredToken", "Message": "expired"}},
                            "DescribeStacks"), "error: AWS refused the credentials"),
])
def test_botocore_errors_during_a_call_are_one_line(
        raised: Any, start: str, bare_aws_env: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from botocore import exceptions as bx

    from xvaflow import cli

    class CloudFormation:
        exceptions = FakeStepFunctions.exceptions

        def describe_stacks(self, **kw: Any) -> Any:
            raise raised(bx)

    bare_aws_env.setattr(cli, "_aws", lambda region: (CloudFormation(), None, None))
    code, lines = run_cli(["status", "r1", "--stack", "XvaflowPipeline"], capsys)
    assert code == 2
    (line,) = lines
    assert line.startswith(start), line


def test_other_client_errors_are_not_mistaken_for_configuration() -> None:
    error = ClientError({"Error": {"Code": "ValidationError", "Message": "no stack"}},
                        "DescribeStacks")
    with pytest.raises(ClientError), aws_errors():
        raise error


def test_run_id_with_a_trailing_newline_is_refused() -> None:
    from xvaflow.core.errors import PipelineError
    from xvaflow.pipeline.stages import run_prefix

    assert run_prefix("r1") == "runs/r1/"
    for bad in ("r1\n", "r1\r\n", "\nr1", "r1/x", "", "r" * 81):
        with pytest.raises(PipelineError, match="run id"):
            run_prefix(bad)
