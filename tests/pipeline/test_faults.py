"""Issue 9, faults of the local runner and publishing: a killed worker, a killed command, a full
disk, the user's umask. (Concurrent runs into one --out: test_publish.py
test_the_lock_is_exclusive_and_released and test_local.py
test_a_run_into_a_locked_out_fails_at_once.)"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from xvaflow.cli import main
from xvaflow.pipeline import publish
from xvaflow.pipeline.local import _task_environment, run_in_process, run_pipeline, run_worker_task
from xvaflow.pipeline.publish import OUTPUT_FILES, publish_outputs
from xvaflow.pipeline.store import LocalStore

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"
SMALL = {"paths": 64, "grid": "3M:1Y", "partitions": 3}
MARKERS = "XVAFLOW_TEST_MARKERS"  # inherited by the forked worker processes


def _killed_once(params: Mapping[str, Any]) -> int:
    """Partition 1's first attempt is SIGKILLed (as the out-of-memory killer would)."""
    marker = Path(os.environ[MARKERS]) / f"p{_task_environment(params)['XVAFLOW_PARTITION']}"
    if marker.name == "p1" and not marker.exists():
        marker.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return run_worker_task(params)


def _published(out: Path) -> dict[str, Any]:
    return {"current": os.readlink(out / ".current"),
            "runs": sorted(p.name for p in (out / ".runs").iterdir()),
            **{p.name: p.read_bytes() for p in out.iterdir() if not p.name.startswith(".")}}


def test_a_killed_task_process_reports_128_plus_the_signal() -> None:
    def die(params: Mapping[str, Any]) -> int:
        os.kill(os.getpid(), signal.SIGKILL)
        return 0

    assert run_in_process(die, {}) == 128 + signal.SIGKILL
    assert run_in_process(lambda params: 3, {}) == 3


def test_a_task_raising_exits_1_with_one_line(capfd: pytest.CaptureFixture[str]) -> None:
    def broken(params: Mapping[str, Any]) -> int:
        raise RuntimeError("boom")

    assert run_in_process(broken, {}) == 1
    err = capfd.readouterr().err
    assert err == "worker failed: RuntimeError: boom\n"


def test_a_sigkilled_worker_is_retried_and_its_siblings_finish(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With one shared process pool the kill broke the pool: the retry and the healthy
    partitions failed with BrokenProcessPool. Each task now has its own process."""
    monkeypatch.setenv(MARKERS, str(tmp_path))
    waits: list[float] = []
    lines: list[str] = []
    summary = run_pipeline(DEMO, tmp_path / "out", SMALL, workers=3, log=lines.append,
                           worker_task=_killed_once, sleep=waits.append)
    assert (tmp_path / "p1").exists()
    assert waits == [30.0]  # one retry, of partition 1 only
    assert "  partition 1 killed by signal 9" in lines
    assert sum(line.endswith(" done") for line in lines) == 3
    assert summary.document["run"]["partitions"] == 3
    assert summary.document["totals"]["cva"] > 0.0


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie waiting to be reaped is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")
def test_killing_the_command_kills_its_workers(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    script = textwrap.dedent(f"""
        import os, time
        from pathlib import Path
        from xvaflow.pipeline.local import run_pipeline

        def hang(params):
            (Path({str(pids)!r}) / str(os.getpid())).touch()
            time.sleep(600)
            return 0

        run_pipeline({str(DEMO)!r}, {str(tmp_path / "out")!r},
                     {{"paths": 64, "grid": "3M:1Y", "partitions": 2}}, workers=2,
                     worker_task=hang, log=lambda s: None)
    """)
    command = subprocess.Popen([sys.executable, "-c", script])  # noqa: S603 (our script)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while len(workers) < 2 and time.monotonic() < deadline:
            assert command.poll() is None, "the command ended before its workers started"
            time.sleep(0.2)
            workers = [int(p.name) for p in pids.iterdir()]
        assert len(workers) == 2, "the workers did not start"
        assert all(_alive(pid) for pid in workers)
        command.send_signal(signal.SIGKILL)
        command.wait(timeout=30)
        deadline = time.monotonic() + 20
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in workers), "orphaned workers still running"
    finally:
        if command.poll() is None:
            command.kill()
            command.wait()
        for pid in workers:  # ours: never leave them behind, even when the test fails
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _full_disk_after(n: int) -> Any:
    """A publish write that fills the disk after ``n`` files (a partial set on disk)."""
    written: list[Path] = []
    real = publish._write_file

    def write(path: Path, data: bytes) -> None:
        if len(written) >= n:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(path, data)
        written.append(path)

    return write


def test_a_full_disk_while_publishing_keeps_the_previous_set(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    publish_outputs(out, "r1", {name: f"r1 {name}".encode() for name in OUTPUT_FILES})
    before = _published(out)
    monkeypatch.setattr(publish, "_write_file", _full_disk_after(2))
    with pytest.raises(OSError, match="No space left on device"):
        publish_outputs(out, "r2", {name: f"r2 {name}".encode() for name in OUTPUT_FILES})
    assert _published(out) == before  # and the half-written r2 set is gone


def test_run_on_a_full_disk_is_one_line_and_keeps_the_previous_outputs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    publish_outputs(out, "earlier", {name: f"earlier {name}".encode()
                                     for name in OUTPUT_FILES})
    before = _published(out)
    monkeypatch.setattr(publish, "_write_file", _full_disk_after(1))
    code = main(["run", str(DEMO), "--out", str(out), "--paths", "64", "--grid", "3M:1Y",
                 "--partitions", "1", "--workers", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert errors == [f"error: command line: --out {out}: cannot publish the outputs: No space "
                      "left on device; the previous outputs are unchanged"]
    assert _published(out) == before


def test_outputs_follow_the_users_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        publish_outputs(tmp_path / "out", "r1", {"results.json": b"{}"})
    finally:
        os.umask(old)
    mode = (tmp_path / "out" / ".runs" / "r1" / "results.json").stat().st_mode & 0o777
    assert mode == 0o640  # 0666 less the umask; mkstemp would have made it 0600


def test_store_objects_follow_the_users_umask(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    LocalStore(tmp_path).put_bytes("runs/r/x.json", b"{}")
    assert (tmp_path / "runs" / "r" / "x.json").stat().st_mode & 0o777 == 0o666 & ~umask


def test_run_publishes_with_the_users_umask(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    old = os.umask(0o002)
    try:
        assert main(["run", str(DEMO), "--out", str(tmp_path / "out"), "--paths", "64",
                     "--grid", "3M:1Y", "--partitions", "1", "--workers", "1"]) == 0
    finally:
        os.umask(old)
    capsys.readouterr()
    for name in OUTPUT_FILES:
        assert (tmp_path / "out" / name).stat().st_mode & 0o777 == 0o664, name
    json.loads((tmp_path / "out" / "results.json").read_text())
