"""An output directory: its lock and its output set published as one unit."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from xvaflow.cli import main
from xvaflow.core.errors import InputError
from xvaflow.pipeline.publish import OUTPUT_FILES, new_run_id, output_lock, publish_outputs
from xvaflow.pipeline.stages import run_prefix

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"


def _visible(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if not p.name.startswith(".")}


def _set(tag: str, names: tuple[str, ...] = OUTPUT_FILES) -> dict[str, bytes]:
    return {name: f"{name} {tag}".encode() for name in names}


def test_the_set_switches_as_a_unit(tmp_path: Path) -> None:
    """Each visible name links through .current, the one link switched; older sets go; a
    regular file of an older layout is replaced; names not in the new set disappear."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text("older layout")
    (out / "notes.txt").write_text("the user's")
    publish_outputs(out, "r1", _set("r1"))
    assert _visible(out) == {**_set("r1"), "notes.txt": b"the user's"}
    assert {n: os.readlink(out / n) for n in OUTPUT_FILES} == {
        n: f".current/{n}" for n in OUTPUT_FILES}
    assert os.readlink(out / ".current") == ".runs/r1"

    assert publish_outputs(out, "r2", _set("r2", ("results.json",))) == [out / "results.json"]
    assert _visible(out) == {**_set("r2", ("results.json",)), "notes.txt": b"the user's"}
    assert os.readlink(out / ".current") == ".runs/r2"
    assert [p.name for p in (out / ".runs").iterdir()] == ["r2"]


def test_a_republished_id_does_not_touch_the_live_set(tmp_path: Path) -> None:
    out = tmp_path / "out"
    publish_outputs(out, "r1", _set("first"))
    publish_outputs(out, "r1", _set("second"))
    assert _visible(out) == _set("second")
    (live,) = (out / ".runs").iterdir()
    assert os.readlink(out / ".current") == f".runs/{live.name}"
    assert live.name.startswith("r1~")


def test_a_failed_publish_leaves_the_previous_set(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    publish_outputs(out, "r1", _set("r1"))

    def full_disk(path: Path, data: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("xvaflow.pipeline.publish._write_file", full_disk)
    with pytest.raises(OSError, match="No space left"):
        publish_outputs(out, "r2", _set("r2"))
    monkeypatch.undo()
    assert _visible(out) == _set("r1")
    assert [p.name for p in (out / ".runs").iterdir()] == ["r1"]  # no half-written set


def test_the_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    out = tmp_path / "new" / "out"  # created
    with output_lock(out), pytest.raises(InputError, match="another xvaflow run is writing"), \
            output_lock(out):
        pass
    with pytest.raises(RuntimeError), output_lock(out):
        raise RuntimeError("a command failing while it holds the lock")
    with output_lock(out):  # released on both ways out
        pass


def test_run_ids_are_fresh_and_valid() -> None:
    ids = {new_run_id("local") for _ in range(2)}
    assert len(ids) == 2
    for run_id in ids:
        run_prefix(run_id)
        assert run_id.startswith("local-")


def test_price_into_a_run_directory_leaves_only_its_results(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    publish_outputs(out, "local-run", _set("of a run"))
    assert main(["price", str(DEMO), "--out", str(out)]) == 0
    capsys.readouterr()
    assert list(_visible(out)) == ["results.json"]
    run = json.loads((out / "results.json").read_text())["run"]
    assert run["command"] == "price"
    assert os.readlink(out / ".current") == f".runs/{run['run_id']}"
    assert [p.name for p in (out / ".runs").iterdir()] == [run["run_id"]]
