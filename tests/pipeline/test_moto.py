"""The deployed workflow definition run by moto's Step Functions interpreter, not ours.

An independent check of statemachine/xva_pipeline.asl.json and of our interpreter
(:mod:`xvaflow.pipeline.asl`): moto executes the same definition, with the real Lambda
handlers and the ECS worker entry point plugged into its lambda:invoke and ecs:runTask.sync
integrations against a moto S3 bucket, and must publish the same numbers as ``xvaflow run``.
Then a failing worker, and ``xvaflow submit`` / ``status`` against moto. The hooks into moto's
internals, and why each is needed, are in :mod:`.moto_sfn`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("boto3", reason="install the [dev] extra (boto3, moto)")
pytest.importorskip("moto.stepfunctions.parser", reason="install the [dev] extra (moto)")

import boto3
from botocore.awsrequest import AWSResponse
from moto import mock_aws
from threadpoolctl import threadpool_limits

from xvaflow import cli
from xvaflow.pipeline import runtime
from xvaflow.pipeline.local import _task_environment, run_pipeline, run_worker_task

from .moto_sfn import (
    EXCEEDED,
    FakeCloudFormation,
    Hooks,
    deploy,
    function_arn,
    keys,
    lambda_handlers,
    substitutions,
    upload_portfolio,
    wait,
)

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"
SETTINGS = {"paths": 256, "grid": "6M:2Y", "partitions": 2, "seed": 7}
RUN_ID = "r1"
BUCKET = "xvaflow-moto-test"
STACK = "XvaPipelineTest"
OUTPUTS = ("results.json", "exposure.csv", "diagnostics.json")


@dataclass
class Moto:
    """A moto account with the bucket and the state machine deployed, and the hooks."""

    s3: Any
    sfn: Any
    state_machine_arn: str
    hooks: Hooks

    def start(self, run_id: str = RUN_ID, settings: Mapping[str, Any] = SETTINGS,
              max_concurrency: int = 0) -> dict[str, Any]:
        """Upload the demo and run one execution named ``run_id`` to its end."""
        prefix = f"inputs/{run_id}/"
        upload_portfolio(self.s3, BUCKET, DEMO, prefix)
        document = {"run_id": run_id, "input_prefix": prefix, "settings": dict(settings),
                    "max_concurrency": max_concurrency}
        arn = self.sfn.start_execution(stateMachineArn=self.state_machine_arn, name=run_id,
                                       input=json.dumps(document))["executionArn"]
        return wait(self.sfn, arn)

    def get(self, key: str) -> bytes:
        data: bytes = self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        return data


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[Moto]:
    """Fake credentials and region, a fresh store cache (no boto3 client survives a mock),
    the moto hooks, one BLAS thread (as in ``xvaflow run``'s worker processes)."""
    for name, value in {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
                        "XVAFLOW_BUCKET": BUCKET}.items():  # the Lambdas' environment
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setattr(runtime, "_STORES", {})
    with (mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
          threadpool_limits(limits=1, user_api="blas")):
        s3, sfn = boto3.client("s3"), boto3.client("stepfunctions")
        s3.create_bucket(Bucket=BUCKET)
        hooks = Hooks(lambda_handlers())
        hooks.install(monkeypatch)
        yield Moto(s3, sfn, deploy(sfn, BUCKET), hooks)
        hooks.drain()
    assert not hooks.crashes, hooks.crashes


@pytest.fixture
def stack(moto: Moto, monkeypatch: pytest.MonkeyPatch) -> FakeCloudFormation:
    """The deployed stack's outputs (BucketName, StateMachineArn), answered to DescribeStacks
    on the CloudFormation client that ``cli._aws`` makes (moto's own CloudFormation needs
    ``moto[cloudformation]``); ``asked`` lists the stacks looked up."""
    cloudformation = FakeCloudFormation({STACK: {"BucketName": BUCKET,
                                                 "StateMachineArn": moto.state_machine_arn}})
    make_clients = cli._aws

    def clients(region: str | None) -> tuple[Any, Any, Any]:
        made = make_clients(region)
        cloudformation.attach(made[0])
        _refuse_map_run_listing(made[1])
        return made

    monkeypatch.setattr(cli, "_aws", clients)
    return cloudformation


def _refuse_map_run_listing(sfn: Any) -> None:
    """moto 5.2.5 crashes (TypeError) on ListExecutions by mapRunArn: the client gets an error
    instead, as from AWS without the permission, so ``status`` shows its fallback line."""
    by_map_run = [False]

    def capture(params: dict[str, Any], **_: Any) -> None:
        by_map_run[0] = "mapRunArn" in params

    def answer(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if not by_map_run[0]:
            return None  # moto answers
        return AWSResponse(None, 400, {}, None), {
            "Error": {"Code": "ValidationException",
                      "Message": "moto lists no executions of a map run"},
            "ResponseMetadata": {"HTTPStatusCode": 400}}

    sfn.meta.events.register("before-parameter-build.sfn.ListExecutions", capture)
    sfn.meta.events.register("before-call.sfn.ListExecutions", answer)


def _submit(out: Path, portfolio: Path = DEMO) -> int:
    """``xvaflow submit`` of run r1 with SETTINGS. ``--poll 0.02`` rather than 0: polling
    without a pause would hold the GIL against moto's worker threads; and the sleep cannot be
    patched through ``xvaflow.pipeline.remote.time.sleep``, as ``wait_for_run`` binds
    ``time.sleep`` as its default argument when the module is imported."""
    return cli.main(["submit", str(portfolio), "--stack", STACK, "--run-id", RUN_ID,
                     "--paths", "256", "--grid", "6M:2Y", "--partitions", "2", "--seed", "7",
                     "--poll", "0.02", "--out", str(out)])


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``xvaflow run``'s store outputs (our interpreter) for the same inputs and run id."""
    out = tmp_path_factory.mktemp("local") / "out"
    run_pipeline(DEMO, out, SETTINGS, workers=2, run_id=RUN_ID, log=lambda _: None)
    return out / ".store" / "runs" / RUN_ID / "output"


def _numbers(document: dict[str, Any]) -> dict[str, Any]:
    """results.json without its wall-clock fields."""
    document = json.loads(json.dumps(document))
    for key in ("stage_seconds", "wall_seconds", "workers"):
        document["run"].pop(key, None)
    return document


def _broken_partition_one(params: Mapping[str, Any]) -> int:
    """The worker container of partition 1 exits with 3, every time."""
    if _task_environment(params)["XVAFLOW_PARTITION"] == "1":
        return 3
    return run_worker_task(params)


def test_moto_publishes_the_numbers_of_our_interpreter(moto: Moto, reference: Path) -> None:
    """moto runs the deployed definition to SUCCEEDED, with the data flow the definition says,
    and the published results.json (every number), exposure.csv and diagnostics.json are
    exactly those of ``xvaflow run`` (our interpreter) on the same inputs and settings."""
    execution = moto.start(max_concurrency=2)
    assert execution["status"] == "SUCCEEDED", execution
    prefix = f"runs/{RUN_ID}/"
    assert json.loads(execution["output"]) == {
        "run_id": RUN_ID, "input_prefix": f"inputs/{RUN_ID}/", "settings": SETTINGS,
        "max_concurrency": 2,
        "partitioned": {"manifest_key": f"{prefix}manifest.json", "partitions": 2,
                        "max_concurrency": 2, "compute": "cpu"},
        "aggregated": {"results_key": f"{prefix}output/results.json",
                       "exposure_key": f"{prefix}output/exposure.csv"},
        "optimised": {"diagnostics_key": f"{prefix}output/diagnostics.json"}}
    hooks = moto.hooks
    assert hooks.invocations == [function_arn("partition"), function_arn("aggregate"),
                                 function_arn("optimise")]
    places = substitutions(BUCKET)
    assert sorted(_task_environment(t)["XVAFLOW_PARTITION"] for t in hooks.tasks) == ["0", "1"]
    for task in hooks.tasks:
        assert task["TaskDefinition"] == places["CpuTaskDefinitionArn"]
        assert task["Cluster"] == places["ClusterArn"]
        assert task["NetworkConfiguration"]["AwsvpcConfiguration"]["Subnets"] == [
            "subnet-0a", "subnet-0b"]
        assert _task_environment(task)["XVAFLOW_BUCKET"] == BUCKET
        assert _task_environment(task)["XVAFLOW_RUN_ID"] == RUN_ID
    assert hooks.exit_codes == [0, 0]
    assert hooks.waits == []

    ours = json.loads((reference / "results.json").read_text())
    theirs = json.loads(moto.get(f"{prefix}output/results.json"))
    assert _numbers(theirs) == _numbers(ours)
    assert theirs["totals"] == ours["totals"]
    assert theirs["totals"]["cva"] > 0.0
    assert moto.get(f"{prefix}output/exposure.csv").decode() == (
        reference / "exposure.csv").read_text()
    assert json.loads(moto.get(f"{prefix}output/diagnostics.json")) == json.loads(
        (reference / "diagnostics.json").read_text())


def test_a_worker_always_failing_fails_the_execution_without_results(
        moto: Moto, stack: FakeCloudFormation, capsys: pytest.CaptureFixture[str]) -> None:
    """Partition 1's container exits non-zero on both attempts: the task fails with
    States.TaskFailed, is retried once after 30 s, its child execution ends in WorkerFailed
    naming the partition, the Map Run fails (AWS: States.ExceedToleratedFailureThreshold), the
    execution ends in WorkersFailed, and nothing is published. As on AWS, the execution's
    cause does not name the partition; only the child does."""
    moto.hooks.worker = _broken_partition_one
    execution = moto.start(max_concurrency=1)  # partition 0 first: no sibling left running
    assert execution["status"] == "FAILED"
    assert execution["error"] == "XvaPipeline.WorkersFailed"
    assert execution["cause"] == (
        f"CalculatePartitionedXVA failed: States.ExceedToleratedFailureThreshold: {EXCEEDED}")
    [child] = moto.hooks.child_failures
    assert child["index"] == 1
    assert child["item"] == {"run_id": RUN_ID, "partition": 1}
    assert child["error"] == "XvaPipeline.WorkerFailed"
    assert child["cause"].startswith(f"partition 1 of run {RUN_ID} failed: States.TaskFailed: ")
    task = json.loads(child["cause"].split(": States.TaskFailed: ", 1)[1])
    assert task["Containers"][0]["ExitCode"] == 3
    assert moto.hooks.exit_codes == [0, 3, 3]
    assert moto.hooks.waits == [30.0]  # the definition's retry of States.TaskFailed
    assert moto.hooks.invocations == [function_arn("partition")]  # no aggregation
    assert keys(moto.s3, BUCKET, f"runs/{RUN_ID}/output/") == []
    assert keys(moto.s3, BUCKET, f"runs/{RUN_ID}/results/") == [
        f"runs/{RUN_ID}/results/part-0.json", f"runs/{RUN_ID}/results/part-0.npz"]

    assert cli.main(["status", RUN_ID, "--stack", STACK]) == 1
    out, err = capsys.readouterr()
    assert out.startswith(f"run {RUN_ID}: FAILED (")
    assert "partitions 1/2 done; XvaPipeline.WorkersFailed: CalculatePartitionedXVA" in out
    assert err.strip() == (f"error: run {RUN_ID} failed: XvaPipeline.WorkersFailed: "
                           f"{execution['cause']}")
    # The partition is named from the failed child executions, which moto cannot list
    # (tests/pipeline/test_remote.py checks that path with AWS's responses): the line says so.
    assert "\n  failed: (could not list the failed partitions: " in out


def test_moto_alone_lets_a_distributed_map_with_a_failed_child_succeed(moto: Moto) -> None:
    """Why the Map hook exists: without it moto 5.2.5 ignores the failed child execution
    (under tolerance 0) and the run only fails later, when aggregation finds partition 1
    missing. When this fails, moto has changed: drop or revise hook 3 in moto_sfn."""
    moto.hooks.fail_map_runs = False
    moto.hooks.worker = _broken_partition_one
    execution = moto.start(max_concurrency=1)
    assert execution["status"] == "FAILED"
    assert execution["error"] == "XvaPipeline.AggregationFailed"
    assert "no result for partition(s) 1" in execution["cause"]
    assert moto.hooks.child_failures == []


# ---------------------------------------------------------------------------------------------
# xvaflow submit / status
# ---------------------------------------------------------------------------------------------
def test_submit_and_status_against_moto(moto: Moto, stack: FakeCloudFormation, reference: Path,
                                        tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    """``submit`` uploads, starts, follows and downloads the three outputs, equal to the
    bucket's and (in numbers) to ``xvaflow run``'s; ``status`` says SUCCEEDED; a second submit
    of the run id is refused before anything is uploaded; an unknown run is a clear error."""
    assert _submit(tmp_path / "out") == 0
    out, err = capsys.readouterr()
    assert "NS_NORDBANK" in out
    assert f"run {RUN_ID}: SUCCEEDED" in err
    prefix = f"runs/{RUN_ID}/output/"
    for name in OUTPUTS:
        assert (tmp_path / "out" / name).read_bytes() == moto.get(prefix + name)
    ours = json.loads((reference / "results.json").read_text())
    assert _numbers(json.loads((tmp_path / "out" / "results.json").read_text())) == _numbers(ours)
    started = moto.sfn.list_executions(stateMachineArn=moto.state_machine_arn)["executions"]
    assert [e["name"] for e in started] == [RUN_ID]

    assert cli.main(["status", RUN_ID, "--stack", STACK]) == 0
    out, _ = capsys.readouterr()
    assert out.startswith(f"run {RUN_ID}: SUCCEEDED (")
    assert "partitions 2/2 done" in out

    changed = tmp_path / "changed"
    shutil.copytree(DEMO, changed)
    (changed / "run.json").write_text(json.dumps({"paths": 300, "seed": 1, "grid": "6M:2Y"}))
    run_json = moto.get(f"inputs/{RUN_ID}/run.json")
    assert _submit(tmp_path / "again", portfolio=changed) == 1
    _, err = capsys.readouterr()
    assert f"run id '{RUN_ID}' was already used on stack '{STACK}'" in err
    assert moto.get(f"inputs/{RUN_ID}/run.json") == run_json  # the first run's inputs kept
    assert not (tmp_path / "again").exists()

    assert cli.main(["status", "nosuch", "--stack", STACK]) == 1
    _, err = capsys.readouterr()
    assert err.strip() == f"error: no run 'nosuch' on stack '{STACK}'"
    assert stack.asked == [STACK] * 4


def test_submit_refuses_a_bad_portfolio_before_touching_aws(
        moto: Moto, stack: FakeCloudFormation, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A bad portfolio: exit 2, one line per problem, no AWS call, nothing uploaded or run."""
    bad = tmp_path / "bad"
    shutil.copytree(DEMO, bad)
    trades = (bad / "trades.csv").read_text()
    (bad / "trades.csv").write_text(trades.replace("IRS,payer,100000000,", "IRS,payer,lots,"))
    assert _submit(tmp_path / "out", portfolio=bad) == 2
    _, err = capsys.readouterr()
    assert "error: trades.csv row 2 (T001), notional: 'lots' is not a number" in err
    assert stack.asked == []
    assert keys(moto.s3, BUCKET) == []
    assert moto.sfn.list_executions(stateMachineArn=moto.state_machine_arn)["executions"] == []


def test_a_missing_stack_is_a_clear_error(moto: Moto, stack: FakeCloudFormation, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """``--stack`` naming no stack: the CloudFormation message and the hint to deploy, exit 1,
    nothing uploaded or started."""
    for argv in (["submit", str(DEMO), "--stack", "nosuch", "--run-id", RUN_ID,
                  "--out", str(tmp_path / "out")],
                 ["status", RUN_ID, "--stack", "nosuch"]):
        assert cli.main(argv) == 1
        _, err = capsys.readouterr()
        assert err.strip() == ("error: stack 'nosuch': Stack with id nosuch does not exist "
                               "(deploy it with `npx cdk deploy`, see README)")
    assert stack.asked == ["nosuch", "nosuch"]
    assert keys(moto.s3, BUCKET) == []
    assert moto.sfn.list_executions(stateMachineArn=moto.state_machine_arn)["executions"] == []
