"""An output directory (``--out DIR``): run ids, its lock, and publishing a set of outputs.

A command writes its outputs as one unit::

    DIR/.lock                        held (flock) by the command writing DIR
    DIR/.runs/<run_id>/              the set: results.json [, exposure.csv, trades.csv,
                                     diagnostics.json, report.html, stress.csv]
    DIR/.current -> .runs/<run_id>   switched atomically to the new set
    DIR/results.json -> .current/results.json    (likewise each name of the set)

so a reader sees the whole previous set or the whole new one, never a mix; a command that
fails before publishing leaves the previous set as it was.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from xvaflow.core.errors import InputError, Problem

OUTPUT_FILES = ("results.json", "exposure.csv", "trades.csv", "diagnostics.json",
                "report.html")
STRESS_FILE = "stress.csv"  # in the set when the run computed stress scenarios
TABLES = ("exposure", "trades", "stress")  # written as CSV or Parquet (run.json "format")


def run_output_files(results: Mapping[str, Any]) -> tuple[str, ...]:
    """The names of a run's output set, from its results.json document (the tables in the
    run's format)."""
    fmt = results.get("run", {}).get("format", "csv")
    names = OUTPUT_FILES + ((STRESS_FILE,) if results.get("stress") is not None else ())
    return tuple(f"{n.split('.')[0]}.{fmt}" if n.split(".")[0] in TABLES else n for n in names)
RUNS, CURRENT, LOCK = ".runs", ".current", ".lock"


def new_run_id(kind: str = "run", now: datetime | None = None) -> str:
    """A fresh run id: ``kind``, UTC time and 6 random hex digits, e.g.
    ``run-20261121T101500Z-3fa9c2`` (the random part keeps ids of one second apart)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{kind}-{stamp}-{secrets.token_hex(3)}"


@contextmanager
def output_lock(out_dir: Path) -> Iterator[None]:
    """Hold ``out_dir/.lock`` (created, with ``out_dir``, if needed) for the block.

    Raises:
        InputError: another command holds it (the lock is not waited for), or ``out_dir``
            cannot be created or written (one line naming it and the system's reason).
    """
    lock = out_dir / LOCK
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise InputError([Problem("command line", None, None, f"--out {out_dir}: cannot "
                                  f"write there: {exc.strerror or exc}")]) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError([Problem("command line", None, None, f"--out {out_dir}: another "
                                      f"xvaflow run is writing here (lock {lock})")]) from None
        yield
    finally:
        os.close(fd)  # releases the lock


def publish_or_refuse(out_dir: Path, run_id: str, files: Mapping[str, bytes]) -> list[Path]:
    """:func:`publish_outputs`, with a failure to write (disk full, permissions) turned into
    one line naming ``out_dir`` and the reason; the previous set stays published."""
    try:
        return publish_outputs(out_dir, run_id, files)
    except OSError as exc:
        raise InputError([Problem("command line", None, None, f"--out {out_dir}: cannot "
                                  f"publish the outputs: {exc.strerror or exc}; the previous "
                                  "outputs are unchanged")]) from None


def publish_outputs(out_dir: Path, run_id: str, files: Mapping[str, bytes]) -> list[Path]:
    """Publish ``files`` (name: content) as ``out_dir``'s output set; return the visible paths.

    The set is written to ``.runs/<run_id>`` (``<run_id>~<hex>`` when that directory exists:
    a republished id must not overwrite the live set), then ``.current`` is switched to it;
    the visible names of the set link to ``.current``, those of no longer published names are
    removed, and so are the older sets. Call it holding :func:`output_lock`.
    """
    runs = out_dir / RUNS
    runs.mkdir(parents=True, exist_ok=True)
    name = run_id if not (runs / run_id).exists() else f"{run_id}~{secrets.token_hex(3)}"
    (runs / name).mkdir()
    try:
        for file, data in files.items():
            _write_file(runs / name / file, data)
        for file in files:  # before the switch: a new name dangles (absent) until then
            _link(out_dir / file, f"{CURRENT}/{file}")
        _link(out_dir / CURRENT, f"{RUNS}/{name}")
    except BaseException:
        # e.g. the disk filled up: the live set is untouched (.current was not switched);
        # remove the half-written one so it does not hold the space
        shutil.rmtree(runs / name, ignore_errors=True)
        raise
    for entry in out_dir.iterdir():
        if entry.name not in files and _is_output(entry):
            entry.unlink()
    for entry in runs.iterdir():
        if entry.name == name:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    return [out_dir / file for file in files]


def _write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file whose permissions follow the user's umask (like any file
    the user creates), flushed to disk before the set is switched to."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _link(path: Path, target: str) -> None:
    """Make ``path`` the symlink ``-> target`` atomically (a temporary link renamed over it)."""
    if path.is_symlink() and os.readlink(path) == target:
        return
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    os.symlink(target, tmp)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _is_output(entry: Path) -> bool:
    """A visible output: a link into ``.current``, or an output file of an older version."""
    if entry.is_symlink():
        return os.readlink(entry).startswith(f"{CURRENT}/")
    stem, _, ext = entry.name.partition(".")
    return entry.is_file() and (entry.name in (*OUTPUT_FILES, STRESS_FILE)
                                or (stem in TABLES and ext == "parquet"))
