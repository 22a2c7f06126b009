"""A local run's progress: the partitions' states and one overall bar with an ETA.

The worker processes report ``(done, total)`` simulation steps to the parent through a pipe
(:func:`set_sink` in the worker, :func:`xvaflow.pipeline.local.run_in_process` in the parent);
the parent keeps a :class:`Board` of every partition and, on a terminal, :class:`TerminalBar`
draws it on one line that log lines scroll above::

    [#########...........]  45%  ETA 1:05  partitions: 2/6 done, 2 running (p2 80%, p3 10%)

Without a terminal (a file, CI, a pipe) the command prints its usual lines instead; deployed,
the worker writes JSON progress lines for CloudWatch (:mod:`xvaflow.pipeline.runtime`).
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import TextIO

_SINK: Connection | None = None


def set_sink(conn: Connection | None) -> None:
    """In a worker process: send progress to the parent through ``conn`` (None: do not)."""
    global _SINK
    _SINK = conn


def sink() -> Connection | None:
    """The connection set by :func:`set_sink` in this process, if any."""
    return _SINK


@dataclass
class _Partition:
    state: str = "queued"  # queued, running, done, failed (retried by the workflow)
    fraction: float = 0.0


@dataclass
class Board:
    """Every partition's state; the overall fraction is their mean (a done partition counts
    1, a queued one 0), the ETA the elapsed time scaled by what is left."""

    clock: Callable[[], float] = time.monotonic
    expected: int = 0
    partitions: dict[str, _Partition] = field(default_factory=dict)
    first_start: float | None = None

    def expect(self, n: int) -> None:
        """The run has ``n`` partitions (known once the portfolio is partitioned)."""
        self.expected = max(self.expected, n)

    def started(self, k: str) -> None:
        self.partitions[k] = _Partition("running")
        if self.first_start is None:
            self.first_start = self.clock()

    def step(self, k: str, done: int, total: int) -> None:
        p = self.partitions.setdefault(k, _Partition("running"))
        p.fraction = min(max(done / total, 0.0), 1.0) if total > 0 else 0.0

    def finished(self, k: str, ok: bool) -> None:
        self.partitions[k] = _Partition("done", 1.0) if ok else _Partition("failed")

    def fraction(self) -> float:
        n = max(self.expected, len(self.partitions), 1)
        return sum(p.fraction for p in self.partitions.values()) / n

    def eta(self) -> float | None:
        """Seconds left, once 2% is done (earlier estimates are mostly start-up)."""
        f = self.fraction()
        if self.first_start is None or f < 0.02:
            return None
        return (self.clock() - self.first_start) * (1.0 - f) / f

    def line(self, width: int = 100) -> str:
        """The one-line summary, cut to ``width`` characters."""
        f = self.fraction()
        filled = round(20 * f)
        eta = self.eta()
        states = [p.state for p in self.partitions.values()]
        n = max(self.expected, len(self.partitions))
        running = sorted(((k, p) for k, p in self.partitions.items() if p.state == "running"),
                         key=lambda kp: (len(kp[0]), kp[0]))  # p2 before p10
        detail = ", ".join(f"p{k} {p.fraction:.0%}" for k, p in running)
        text = (f"[{'#' * filled}{'.' * (20 - filled)}] {f:4.0%}  ETA "
                f"{_clock(eta) if eta is not None else '-:--'}  partitions: "
                f"{states.count('done')}/{n} done, {len(running)} running"
                + (f" ({detail})" if detail else "")
                + (f", {states.count('failed')} to retry" if "failed" in states else ""))
        return text if len(text) <= width else text[: width - 1] + "…"


class TerminalBar:
    """Draws a :class:`Board` on the terminal's last line; :meth:`log` prints a line above it.

    Redraws at most ``hz`` times a second (progress arrives after every simulation step of
    every worker). Thread-safe: the workflow's Map runs partitions in threads."""

    def __init__(self, stream: TextIO, hz: float = 5.0) -> None:
        self.stream = stream
        self.board = Board()
        self.interval = 1.0 / hz
        self.drawn = ""
        self.last = 0.0
        self.closed = False
        self.lock = threading.Lock()

    def log(self, line: str) -> None:
        with self.lock:
            self._clear()
            print(line, file=self.stream, flush=True)
            self._draw()

    def update(self, force: bool = False) -> None:
        with self.lock:
            now = time.monotonic()
            if force or now - self.last >= self.interval:
                self.last = now
                self._draw()

    def close(self) -> None:
        """Remove the bar; later :meth:`log` lines print plainly."""
        with self.lock:
            self._clear()
            self.closed = True

    def _draw(self) -> None:
        if self.closed or (not self.board.partitions and not self.board.expected):
            return
        width = shutil.get_terminal_size((100, 24)).columns - 1
        self.drawn = self.board.line(width)
        self.stream.write("\r" + self.drawn + "\x1b[K")
        self.stream.flush()

    def _clear(self) -> None:
        if self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.drawn = ""


def _clock(seconds: float) -> str:
    s = round(seconds)
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
