"""Validate a workflow definition with both npm linters and with xvaflow's own interpreter.

    python3 -m infra.lint_asl [statemachine/xva_pipeline.asl.json ...]

1. ``asl-validator`` (npm, pinned in package.json) on the file as written.
2. ``statelint`` (npm ``@wmfs/statelint``, pinned; the only statelint implementation published
   on npm) on a copy from which the Map fields it does not know yet are removed: its schema
   (1.30.0, the latest release) predates Distributed Map and rejects ``ItemReader``,
   ``ResultWriter``, ``ItemBatcher``, ``Label``, ``MaxConcurrencyPath`` and the
   ``ToleratedFailure*`` fields. Which fields were removed from which state is printed; they are
   checked by asl-validator (step 1) and by step 3.
3. :func:`xvaflow.pipeline.asl.validate` on the definition with every ``${Placeholder}``
   replaced by a dummy value, i.e. what the local runner will execute (Task resources are not
   checked against bindings here).

Exit status 0 only if all three pass. The node tools are taken from ``node_modules/.bin``
(``npm ci`` first).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from xvaflow.pipeline.asl import placeholders, substitute, validate

REPO_ROOT = Path(__file__).resolve().parents[1]
NODE_BIN = REPO_ROOT / "node_modules" / ".bin"
DEFAULT_FILES = [REPO_ROOT / "statemachine" / "xva_pipeline.asl.json"]
STATELINT_UNKNOWN_MAP_FIELDS = ("ItemReader", "ResultWriter", "ItemBatcher", "Label",
                                "MaxConcurrencyPath", "ToleratedFailurePercentage",
                                "ToleratedFailurePercentagePath", "ToleratedFailureCount",
                                "ToleratedFailureCountPath")


def strip_for_statelint(machine: dict[str, Any], where: str = "") -> list[str]:
    """Remove (in place) the Map fields statelint does not know; return what was removed."""
    removed: list[str] = []
    for name, state in machine.get("States", {}).items():
        path = f"{where}{name}"
        if state.get("Type") == "Map":
            for field in STATELINT_UNKNOWN_MAP_FIELDS:
                if field in state:
                    del state[field]
                    removed.append(f"{path}.{field}")
            processor = state.get("ItemProcessor") or state.get("Iterator") or {}
            removed += strip_for_statelint(processor, f"{path}/")
        for i, branch in enumerate(state.get("Branches", [])):
            removed += strip_for_statelint(branch, f"{path}/Branches[{i}]/")
    return removed


def _run(command: list[str]) -> int:
    print("$", " ".join(command), flush=True)
    return subprocess.run(command, check=False).returncode  # noqa: S603 - fixed local tools


def lint(path: Path) -> bool:
    ok = _run([str(NODE_BIN / "asl-validator"), "--json-path", str(path)]) == 0
    definition = json.loads(path.read_text(encoding="utf-8"))
    stripped = json.loads(json.dumps(definition))
    removed = strip_for_statelint(stripped)
    if removed:
        print(f"statelint: checking a copy without {', '.join(removed)} (unknown to its schema)")
    with tempfile.NamedTemporaryFile("w", suffix=".asl.json", delete=False) as handle:
        json.dump(stripped, handle)
    try:
        ok = _run([str(NODE_BIN / "statelint"), handle.name]) == 0 and ok
    finally:
        Path(handle.name).unlink()
    dummy = {key: f"dummy-{key}" for key in placeholders(definition)}
    problems = validate(substitute(definition, dummy))
    for problem in problems:
        print(f"xvaflow.pipeline.asl: {problem}")
    if not problems:
        print(f"xvaflow.pipeline.asl: {path.name} can run locally")
    return ok and not problems


def main(argv: list[str] | None = None) -> int:
    files = [Path(a) for a in (argv if argv is not None else sys.argv[1:])] or DEFAULT_FILES
    results = [lint(path) for path in files]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
