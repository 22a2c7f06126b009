"""Progress of a local run: the workers' steps reach the parent through a pipe, one bar sums
them up with an ETA, log lines scroll above it, ``--quiet`` silences it; deployed workers
write JSON progress lines instead."""

from __future__ import annotations

import io
import json
import logging
import re
from pathlib import Path

import pytest

from xvaflow.cli import main
from xvaflow.pipeline import runtime
from xvaflow.pipeline.local import run_pipeline
from xvaflow.pipeline.progress import Board, TerminalBar

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"
SMALL = {"paths": 512, "grid": "3M:5Y", "partitions": 3}


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_board_sums_partitions_and_estimates_what_is_left() -> None:
    clock = _Clock()
    board = Board(clock=clock)
    board.expect(4)
    assert board.fraction() == 0.0
    assert board.eta() is None
    board.started("0")
    board.started("1")
    clock.now += 30.0
    board.step("0", 50, 100)
    board.step("1", 25, 100)
    assert board.fraction() == pytest.approx(0.75 / 4)
    # 30 s for 18.75%: 130 s more at the same pace
    assert board.eta() == pytest.approx(30.0 * (1 - 0.1875) / 0.1875)
    board.finished("0", ok=True)
    board.finished("1", ok=False)  # retried by the workflow: starts again from 0
    assert board.fraction() == pytest.approx(0.25)
    line = board.line()
    assert line.startswith("[#####...............]  25%  ETA ")
    assert "1/4 done, 0 running, 1 to retry" in line
    board.started("10")
    board.started("2")
    board.step("2", 1, 2)
    assert "(p2 50%, p10 0%)" in board.line()
    assert len(board.line(width=30)) == 30


def test_terminal_bar_keeps_log_lines_above_it() -> None:
    stream = io.StringIO()
    bar = TerminalBar(stream, hz=1e9)
    bar.log("starting")  # nothing to draw yet
    bar.board.expect(2)
    bar.board.started("0")
    bar.update()
    bar.log("  partition 0 started")
    bar.board.step("0", 1, 1)
    bar.update()
    bar.close()
    bar.log("done")
    text = stream.getvalue()
    assert text.startswith("starting\n\r[")
    assert "\r\x1b[K  partition 0 started\n\r[" in text
    assert "[##########..........]  50%" in text
    assert text.endswith("\r\x1b[Kdone\n")  # closed: the bar is gone, lines print plainly


class _Recorder(TerminalBar):
    def __init__(self) -> None:
        super().__init__(io.StringIO(), hz=1e9)
        self.lines: list[str] = []

    def update(self, force: bool = False) -> None:
        self.lines.append(self.board.line(200))
        super().update(force)


def test_workers_report_their_steps_to_the_parent(tmp_path: Path) -> None:
    bar = _Recorder()
    run_pipeline(DEMO, tmp_path / "out", SMALL, workers=2, log=bar.log, progress=bar)
    assert bar.board.expected == 3
    assert all(p.state == "done" for p in bar.board.partitions.values())
    assert len(bar.board.partitions) == 3
    # mid-run figures came from inside the workers, not only the start and end of each
    middle = [int(m) for line in bar.lines for m in re.findall(r"p\d (\d+)%", line)]
    assert any(0 < m < 100 for m in middle)
    assert bar.lines[-1].startswith("[####################] 100%")
    assert bar.closed


def test_quiet_prints_no_progress(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["run", str(DEMO), "--out", str(tmp_path / "out"), "--paths", "256", "--grid",
            "6M:2Y", "--workers", "1"]
    assert main([*args, "--quiet"]) == 0
    quiet = capsys.readouterr()
    assert "partition" not in quiet.err
    assert "warning: " in quiet.err  # the short grid is still warned about
    assert "total" in quiet.out
    assert main(args) == 0
    assert "partition 0 started" in capsys.readouterr().err  # not a terminal: plain lines


def test_a_deployed_worker_logs_json_progress(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="xvaflow.pipeline"):
        report = runtime._progress("run-1", 4)
        for done in range(0, 101):
            report(done, 100)
    events = [json.loads(r.getMessage()) for r in caplog.records]
    assert [e["percent"] for e in events] == list(range(10, 101, 10))
    assert {(e["partition"], e["event"], e["run_id"]) for e in events} == {(4, "progress",
                                                                             "run-1")}
