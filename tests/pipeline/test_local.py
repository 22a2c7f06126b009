"""`xvaflow run`: the workflow definition executed locally, with faults."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from xvaflow.cli import main
from xvaflow.core.errors import InputError, PipelineError
from xvaflow.pipeline.local import _task_environment, run_pipeline, run_worker_task
from xvaflow.pipeline.publish import OUTPUT_FILES, output_lock, publish_outputs

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"
SETTINGS = {"paths": 512, "grid": "3M:3Y", "partitions": 3}
MARKERS = "XVAFLOW_TEST_MARKERS"  # inherited by the forked worker processes


def _flaky_task(params: Mapping[str, Any]) -> int:
    """Fails the first attempt of every partition, then runs it (module level: picklable)."""
    marker = Path(os.environ[MARKERS]) / f"p{_task_environment(params)['XVAFLOW_PARTITION']}"
    if not marker.exists():
        marker.touch()
        return 1
    return run_worker_task(params)


def _broken_partition_one(params: Mapping[str, Any]) -> int:
    if _task_environment(params)["XVAFLOW_PARTITION"] == "1":
        return 3
    return run_worker_task(params)


def _published(out: Path) -> dict[str, Any]:
    """What a reader of ``out`` sees: the visible files' contents and where .current points."""
    return {"current": os.readlink(out / ".current"),
            **{p.name: p.read_bytes() for p in out.iterdir() if not p.name.startswith(".")}}


def _numbers(doc: dict[str, Any]) -> dict[str, Any]:
    doc = json.loads(json.dumps(doc))
    for key in ("wall_seconds", "stage_seconds", "workers"):
        doc["run"].pop(key, None)
    return doc


def test_demo_runs_through_the_workflow(tmp_path: Path) -> None:
    summary = run_pipeline(DEMO, tmp_path / "out", SETTINGS, workers=2, log=lambda _: None)
    doc = summary.document
    assert doc["run"]["partitions"] == 3
    assert set(doc["netting_sets"]) == {"NS_NORDBANK", "NS_ACME", "NS_HELIOS"}
    assert doc["totals"]["cva"] > 0.0
    for name in OUTPUT_FILES:
        assert (tmp_path / "out" / name).is_file()


def test_a_worker_failing_once_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    monkeypatch.setenv(MARKERS, str(tmp_path))
    waits: list[float] = []
    summary = run_pipeline(DEMO, tmp_path / "out", SETTINGS, workers=2, log=lambda _: None,
                           worker_task=_flaky_task, sleep=waits.append)
    assert sorted(p.name for p in tmp_path.glob("p*")) == ["p0", "p1", "p2"]
    assert waits == [30.0, 30.0, 30.0]  # the definition's retry interval for a failed task
    assert summary.document["totals"]["cva"] > 0.0


def test_a_failed_run_leaves_the_published_set_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "out"
    publish_outputs(out, "before", {name: f"{name} of the run before".encode()
                                    for name in OUTPUT_FILES})
    before = _published(out)
    with pytest.raises(PipelineError) as err:
        run_pipeline(DEMO, out, SETTINGS, workers=2, run_id="r1", log=lambda _: None,
                     worker_task=_broken_partition_one, sleep=lambda _: None)
    message = str(err.value)
    assert "XvaPipeline.WorkersFailed" in message
    assert "CalculatePartitionedXVA failed" in message
    assert "partition 1 of run r1 failed" in message
    assert _published(out) == before
    with output_lock(out):  # released on failure too
        pass


def test_rerun_with_the_same_id_overwrites_identically(tmp_path: Path) -> None:
    first = run_pipeline(DEMO, tmp_path / "out", SETTINGS, workers=1, run_id="again",
                         log=lambda _: None)
    second = run_pipeline(DEMO, tmp_path / "out", SETTINGS, workers=2, run_id="again",
                          log=lambda _: None)
    assert _numbers(first.document) == _numbers(second.document)
    assert json.loads((tmp_path / "out" / "results.json").read_text()) == second.document


def test_a_rerun_reads_only_its_own_inputs(tmp_path: Path) -> None:
    """A portfolio without run.json, its trades in parquet, after one with both in the same
    --out: the second run has a fresh id, its own settings, and the store only its inputs."""
    first = Path(shutil.copytree(DEMO, tmp_path / "first"))
    (first / "run.json").write_text(json.dumps({"seed": 7}))
    second = Path(shutil.copytree(DEMO, tmp_path / "second"))
    (second / "run.json").unlink()
    trades = pacsv.read_csv(second / "trades.csv", convert_options=pacsv.ConvertOptions(
        column_types={"trade_id": pa.string()}))
    pq.write_table(trades, second / "trades.parquet")
    (second / "trades.csv").unlink()
    out, settings = tmp_path / "out", {"paths": 256, "grid": "6M:2Y", "partitions": 1}
    one = run_pipeline(first, out, settings, workers=1, log=lambda _: None).document["run"]
    two = run_pipeline(second, out, settings, workers=1, log=lambda _: None).document["run"]
    assert (one["seed"], two["seed"]) == (7, 42)  # 42: the default without run.json
    assert one["run_id"] != two["run_id"]
    assert two["run_id"].startswith("local-")
    assert json.loads((out / "results.json").read_text())["run"] == two
    assert sorted(p.name for p in (out / ".store" / "inputs").iterdir()) == [two["run_id"]]
    assert sorted(p.name for p in (out / ".store" / "inputs" / two["run_id"]).iterdir()) == [
        "counterparties.csv", "csas.csv", "market.json", "netting_sets.csv", "trades.parquet"]


def test_a_run_into_a_locked_out_fails_at_once(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    with output_lock(out):
        code = main(["run", str(DEMO), "--out", str(out), "--paths", "256", "--workers", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.splitlines() == [
        f"error: command line: --out {out}: another xvaflow run is writing here "
        f"(lock {out / '.lock'})", "1 problem(s); nothing was computed."]
    assert sorted(p.name for p in out.iterdir()) == [".lock"]


def test_bad_input_is_reported_before_the_workflow_starts(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="command line, paths"):
        run_pipeline(DEMO, tmp_path / "out", {"paths": 0}, log=lambda _: None)
    assert not (tmp_path / "out").exists()


def test_a_backend_unusable_here_is_an_input_error(tmp_path: Path) -> None:
    """Locally the workers run on this machine: --backend cupy without a usable GPU is refused
    before anything starts (a deployed GPU worker falls back instead, see test_stages)."""
    if importlib.util.find_spec("cupy") is not None:  # pragma: no cover - GPU machines
        pytest.skip("cupy is installed")
    with pytest.raises(InputError) as err:
        run_pipeline(DEMO, tmp_path / "out", {**SETTINGS, "backend": "cupy"}, workers=1,
                     log=lambda _: None)
    (problem,) = err.value.problems
    assert (problem.field, problem.message.split(" (")[0]) == (
        "backend", "backend 'cupy' is not usable here")
    assert not (tmp_path / "out").exists()


def test_cli_run_prints_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(DEMO), "--out", str(tmp_path / "out"), "--paths", "256",
                 "--grid", "6M:2Y", "--workers", "1"])
    out = capsys.readouterr().out
    assert code == 0
    assert "NS_NORDBANK" in out
    assert "diagnostics.json" in out


def test_a_grid_shorter_than_the_portfolio_is_warned_and_recorded(tmp_path: Path) -> None:
    """The demo's 20-year swap outlives 3M:3Y: one warning, results.json names the netting
    sets; the default grid covers the portfolio and lists none."""
    lines: list[str] = []
    doc = run_pipeline(DEMO, tmp_path / "out", SETTINGS, workers=1, log=lines.append).document
    warnings = [line for line in lines if "not counted" in line]
    assert len(warnings) == 1
    assert "NS_NORDBANK" in warnings[0]
    assert "NS_NORDBANK" in doc["run"]["horizon_short"]
    assert doc["run"]["grid"] == "3M:3Y"
    assert doc["run"]["grid_default"] is False
    default = run_pipeline(DEMO, tmp_path / "auto", {"paths": 256, "partitions": 1}, workers=1,
                           log=lines.append).document["run"]
    assert default["horizon_short"] == []
    assert default["grid_default"] is True
    assert default["grid"].startswith("1M:1Y,3M:")


@pytest.mark.parametrize(("flag", "bilateral"), [("--unilateral", False), ("--bilateral", True)])
def test_cli_chooses_unilateral_or_bilateral_xva(tmp_path: Path, flag: str, bilateral: bool,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = main(["run", str(DEMO), "--out", str(out), "--paths", "256", "--grid", "6M:2Y",
                 "--workers", "1", flag])
    capsys.readouterr()
    assert code == 0
    assert json.loads((out / "results.json").read_text())["run"]["bilateral"] is bilateral
