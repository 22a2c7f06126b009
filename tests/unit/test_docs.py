"""The reference docs match the code: docs/inputs.md documents every column and key the loaders
accept, docs/outputs.md every field the commands write (from a small real run of examples/demo),
and neither documents a column, key or field the code does not know.

The docs' tables are the contract of this test: in a table whose header's first cell is
``column``, ``key`` or ``field``, the first cell of each row is one name in backticks (a column,
or a dotted JSON path in which ``<...>`` stands for an id and ``[]`` for list elements).
"""

from __future__ import annotations

import ast
import csv
import dataclasses
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import xvaflow
from xvaflow.cli import main
from xvaflow.io import market_json
from xvaflow.io.hedges import HEDGE_COLUMNS
from xvaflow.io.portfolio import CPTY_COLUMNS, CSA_COLUMNS, NETTING_COLUMNS
from xvaflow.portfolio import RunConfig
from xvaflow.products.registry import ALL_TRADE_COLUMNS, COMMON_COLUMNS, PRODUCTS
from xvaflow.report.tables import EXPOSURE_COLUMNS, STRESS_COLUMNS, TRADE_COLUMNS

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
DEMO = ROOT / "examples" / "demo"
PACKAGE = Path(xvaflow.__file__).parent
NAME_HEADERS = ("column", "key", "field")
NEW_TRADE = ("trade_id,netting_set_id,product,direction,notional,currency,start_date,"
             "maturity_date,fixed_rate,fixed_frequency,fixed_daycount,float_index,"
             "float_frequency,float_spread,float_daycount\n"
             "N1,NS_ACME,IRS,receiver,50000000,USD,2026-11-24,2033-11-24,0.036,annual,ACT/360,"
             "USD-SOFR,annual,0,ACT/360\n")

Table = tuple[list[str], list[list[str]]]


# ---------------------------------------------------------------------------------------------
# reading the docs
# ---------------------------------------------------------------------------------------------
def _section(doc: str, title: str) -> str:
    """The text under the ``## <title>`` heading (its ``###`` subsections included)."""
    text = (DOCS / doc).read_text(encoding="utf-8")
    parts = re.split(r"^## ", text, flags=re.MULTILINE)
    found = [p for p in parts[1:] if p.splitlines()[0].strip() == title]
    assert len(found) == 1, f"docs/{doc} needs exactly one '## {title}' section"
    return found[0]


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _tables(text: str) -> Iterator[Table]:
    """Markdown tables of ``text``: (header cells, rows of cells)."""
    block: list[str] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            block.append(line)
            continue
        if len(block) >= 2:
            yield _cells(block[0]), [_cells(b) for b in block[2:]]
        block = []


def _name(cell: str) -> str:
    m = re.fullmatch(r"`([^`]+)`", cell)
    assert m, f"first cell {cell!r} must be one name in backticks"
    return m.group(1)


def _names(doc: str, title: str) -> list[str]:
    """The names (first cells) of the ``column``/``key``/``field`` tables of a section."""
    out = [_name(row[0]) for header, rows in _tables(_section(doc, title))
           if header[0] in NAME_HEADERS for row in rows]
    duplicated = sorted({n for n in out if out.count(n) > 1})
    assert not duplicated, f"docs/{doc} '{title}' documents {duplicated} twice"
    return out


def _ticked(cell: str) -> set[str]:
    return set(re.findall(r"`([^`]+)`", cell))


# ---------------------------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("title", "columns"), [
    ("trades.csv", ALL_TRADE_COLUMNS),
    ("netting_sets.csv", NETTING_COLUMNS),
    ("counterparties.csv", CPTY_COLUMNS),
    ("csas.csv", CSA_COLUMNS),
    ("cva_hedges.csv", HEDGE_COLUMNS),
    ("run.json", tuple(f.name for f in dataclasses.fields(RunConfig))),
])
def test_every_accepted_column_is_documented(title: str, columns: Any) -> None:
    documented = set(_names("inputs.md", title))
    assert documented - set(columns) == set(), "documented but unknown to the loader"
    assert set(columns) - documented == set(), "accepted by the loader but not documented"


def test_every_product_lists_the_columns_it_reads() -> None:
    rows = {_name(r[0]): r for header, body in _tables(_section("inputs.md", "trades.csv"))
            if header[0] == "product" for r in body}
    assert set(rows) == set(PRODUCTS)
    for product, row in rows.items():
        named = _ticked(row[3]) | _ticked(row[4])
        assert named <= ALL_TRADE_COLUMNS, f"{product}: unknown {named - ALL_TRADE_COLUMNS}"
        assert named - set(COMMON_COLUMNS) == set(PRODUCTS[product].columns), product


def _market_keys_in_code() -> set[str]:
    """The JSON keys market_json.py reads: ``x.get("k")``, ``x["k"]`` and ``"k" in x``."""
    tree = ast.parse(Path(market_json.__file__).read_text(encoding="utf-8"))
    keys: set[str] = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "get" and node.args
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            keys.add(node.args[0].value)
        elif (isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant)
              and isinstance(node.slice.value, str)):
            keys.add(node.slice.value)
        elif (isinstance(node, ast.Compare) and isinstance(node.left, ast.Constant)
              and isinstance(node.left.value, str)
              and all(isinstance(op, ast.In | ast.NotIn) for op in node.ops)):
            keys.add(node.left.value)
    return keys


def _segments(path: str) -> list[str]:
    """``a.b.<id>[].c`` -> ``["a", "b", "<id>", "[]", "c"]``."""
    out: list[str] = []
    for part in path.split("."):
        name = part.removesuffix("[]")
        if name:
            out.append(name)
        if part.endswith("[]"):
            out.append("[]")
    return out


def test_every_market_key_is_documented() -> None:
    paths = _names("inputs.md", "market.json")
    top = {_segments(p)[0] for p in paths}
    assert top == set(market_json.KNOWN_KEYS)
    literal = {s for p in paths for s in _segments(p) if not s.startswith("<") and s != "[]"}
    code = _market_keys_in_code()
    assert literal - code == set(), "documented but not read by xvaflow/io/market_json.py"
    assert code - literal == set(), "read by xvaflow/io/market_json.py but not documented"


# ---------------------------------------------------------------------------------------------
# outputs: a small real run of the demo
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``run --stress --sensitivities --allocation``, ``capital``, ``whatif`` and ``price`` of
    the demo."""
    tmp = tmp_path_factory.mktemp("docs")
    demo = Path(shutil.copytree(DEMO, tmp / "demo"))
    new = tmp / "new.csv"
    new.write_text(NEW_TRADE, encoding="utf-8")
    small = ["--paths", "64", "--grid", "6M:1Y"]
    out = {name: tmp / name for name in ("run", "capital", "whatif", "price", "margin")}
    assert main(["run", str(demo), "--out", str(out["run"]), *small, "--stress",
                 "--sensitivities", "--allocation", "--workers", "1", "--partitions", "1"]) == 0
    assert main(["capital", str(demo), "--out", str(out["capital"])]) == 0
    assert main(["whatif", str(demo), "--trades", str(new), "--out", str(out["whatif"]),
                 *small]) == 0
    assert main(["price", str(demo), "--out", str(out["price"])]) == 0
    assert main(["margin", str(demo), "--out", str(out["margin"])]) == 0
    return out


def _paths(value: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], bool]]:
    """Every node of a JSON document as (path, is_leaf); lists of objects are descended
    with a ``[]`` segment, other lists and empty objects are leaves."""
    if isinstance(value, dict) and value:
        yield prefix, False
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list) and any(isinstance(v, dict) for v in value):
        yield prefix, False
        for v in value:
            yield from _paths(v, (*prefix, "[]"))
    else:
        yield prefix, True


def _matches(pattern: list[str], path: tuple[str, ...]) -> bool:
    return len(pattern) == len(path) and all(
        p == s or (p.startswith("<") and s != "[]") for p, s in zip(pattern, path, strict=True))


def _source_words() -> set[str]:
    return {w for f in PACKAGE.rglob("*.py")
            for w in re.findall(r"\w+", f.read_text(encoding="utf-8"))}


def _check_json(documented: list[str], documents: list[Any], where: str) -> None:
    patterns = [_segments(p) for p in documented]
    nodes = {p for doc in documents for p in _paths(doc)}
    missing = sorted(".".join(path) for path, leaf in nodes
                     if leaf and path and not any(_matches(p, path) for p in patterns))
    assert not missing, f"{where}: written but not documented in docs/outputs.md: {missing}"
    words = _source_words()
    unknown = [".".join(p) for p in patterns
               if not any(_matches(p, path) for path, _ in nodes)
               and [s for s in p if not s.startswith("<") and s != "[]"][-1] not in words]
    assert not unknown, f"{where}: documented in docs/outputs.md, unknown to the code: {unknown}"


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def test_every_results_field_is_documented(outputs: dict[str, Path]) -> None:
    documents = [_json(outputs[name] / "results.json")
                 for name in ("run", "capital", "whatif", "price", "margin")]
    run = documents[0]
    assert run["stress"] is not None
    assert run["sensitivities"] is not None
    _check_json(_names("outputs.md", "results.json"), documents, "results.json")


def test_every_diagnostics_field_is_documented(outputs: dict[str, Path]) -> None:
    _check_json(_names("outputs.md", "diagnostics.json"),
                [_json(outputs["run"] / "diagnostics.json")], "diagnostics.json")


@pytest.mark.parametrize(("file", "columns"), [("exposure.csv", EXPOSURE_COLUMNS),
                                               ("trades.csv", TRADE_COLUMNS),
                                               ("stress.csv", STRESS_COLUMNS)])
def test_every_csv_column_is_documented(outputs: dict[str, Path], file: str,
                                        columns: tuple[str, ...]) -> None:
    with (outputs["run"] / file).open(newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    assert tuple(header) == columns
    assert _names("outputs.md", file) == list(columns), "documented in the file's column order"


def test_docs_are_linked(capsys: pytest.CaptureFixture[str]) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for page in ("docs/inputs.md", "docs/outputs.md", "docs/tutorial.md"):
        assert f"]({page})" in readme, f"README.md does not link {page}"
    with pytest.raises(SystemExit):
        main(["--help"])
    help_text = capsys.readouterr().out
    assert "CONTRACT.md" not in help_text
    assert "docs/inputs.md" in help_text
    assert "docs/outputs.md" in help_text


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_links_between_docs_resolve() -> None:
    pages = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
    bad = []
    for page in pages:
        for target, anchor in re.findall(r"\]\(([\w./-]*\.md|)(?:#([\w-]+))?\)",
                                         page.read_text(encoding="utf-8")):
            file = (page.parent / target).resolve() if target else page
            if not file.is_file():
                bad.append(f"{page.name}: {target}")
                continue
            if anchor:
                headings = re.findall(r"^#+ (.+)$", file.read_text(encoding="utf-8"),
                                      flags=re.MULTILINE)
                if anchor not in {_slug(h) for h in headings}:
                    bad.append(f"{page.name}: {target}#{anchor}")
    assert not bad, f"links to missing files or headings: {bad}"

