"""``xvaflow status`` on a failed Distributed Map: naming the failed partitions.

AWS fails a Distributed Map whose iteration failed with ``States.ExceedToleratedFailureThreshold``
and a generic cause; the partition and its reason are only in the failed child execution.
moto 5.2.5 lists no map runs, so these tests answer the three Step Functions calls with the
response shapes of the AWS API reference (ListMapRuns, ListExecutions, DescribeExecution).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

pytest.importorskip("botocore", reason="install the [dev] extra (boto3)")

from botocore.exceptions import ClientError

from xvaflow.pipeline.remote import MAP_FAILED, RunStatus, failed_map_items

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
