"""report.html: published with every run, re-rendered by ``xvaflow report``, self-contained,
showing what results.json and exposure.csv say, escaping what the inputs say, and rendering in a
real headless browser (Debian's chromium; the test is skipped, with the reason, without one).

The browser test keeps its screenshot in ``$XVAFLOW_TEST_ARTIFACTS`` (default
``test-artifacts/`` at the repository root) for a person to look at.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from xvaflow.cli import main
from xvaflow.pipeline.local import run_pipeline
from xvaflow.report.charts import nice_ticks
from xvaflow.report.html import (
    PROFILE_CHARTS,
    profiles,
    render_report,
    report_html,
    term_structure,
)
from xvaflow.report.tables import read_columns

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "demo"
SETTINGS = {"paths": 200, "grid": "3M:1Y,1Y:10Y", "seed": 5, "stress": True,
            "sensitivities": ["credit", "fx"], "allocation": True}
SECTIONS = ("summary", "exposure", "term", "counterparties", "netting-sets", "desks", "capital",
            "stress", "sensitivities", "trades")


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("report") / "out"
    run_pipeline(DEMO, directory, SETTINGS, workers=1, log=lambda _: None)
    return directory


def _files(directory: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in directory.iterdir()
            if f.is_file() and not f.name.startswith(".")}


def test_nice_ticks_cover_the_range_in_round_steps() -> None:
    for lo, hi in ((0.0, 20.3), (-1.2e7, 3.1e7), (0.0, 0.7), (5.0, 5.0), (-3.0, -1.0)):
        ticks = nice_ticks(lo, hi)
        assert ticks[0] <= lo
        assert ticks[-1] >= hi
        if len(ticks) > 1:
            steps = {round(b - a, 9) for a, b in itertools.pairwise(ticks)}
            assert len(steps) == 1
            mantissa = steps.pop() / 10 ** math.floor(math.log10(ticks[1] - ticks[0]))
            assert any(math.isclose(mantissa, m) for m in (1, 2, 2.5, 5))
            assert 3 <= len(ticks) <= 8


def test_the_run_publishes_the_report_with_its_set(out: Path) -> None:
    page = (out / "report.html").read_text(encoding="utf-8")
    assert (out / "report.html").is_symlink()  # one unit with results.json (the .current set)
    for section in SECTIONS:
        assert f'<section id="{section}">' in page, section
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert doc["run"]["run_id"] in page
    # nothing is fetched: no external script, stylesheet, image or font
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page)
    assert "<script" not in page
    charts = re.findall(r'<svg class="chart"', page)
    n_sets = len(doc["netting_sets"])
    assert len(charts) == 3 + min(PROFILE_CHARTS, n_sets)  # portfolio, term, bars, profiles


def test_the_term_structure_ends_at_the_totals(out: Path) -> None:
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    exposure = profiles(read_columns((out / "exposure.csv").read_bytes(), "csv"))
    curves = term_structure(exposure["PORTFOLIO"])
    assert set(curves) == {"cva", "dva", "fca", "fba"}
    for metric, cumulative in curves.items():
        assert math.isclose(cumulative[-1], doc["totals"][metric], rel_tol=1e-9), metric
        assert len(cumulative) == doc["run"]["exposure_dates"]


def test_tables_show_the_published_figures(out: Path) -> None:
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    page = (out / "report.html").read_text(encoding="utf-8")
    for key in ("cva", "dva", "fca", "fba", "kva"):
        assert f"{doc['totals'][key]:,.0f}" in page, key
    for ns, entry in doc["netting_sets"].items():
        assert f"<td>{ns}</td>" in page
        assert f"{entry['cva']:,.0f}" in page
    for entry in doc["capital"]["saccr"].values():
        assert f"{entry['ead']:,.0f}" in page


def test_text_from_the_inputs_is_escaped(out: Path) -> None:
    files = _files(out)
    doc = json.loads(files["results.json"])
    hostile = '<script>alert("x")</script>&'
    ns = next(iter(doc["netting_sets"]))
    doc["netting_sets"][hostile] = {**doc["netting_sets"].pop(ns), "counterparty_id": hostile}
    exposure = profiles(read_columns(files["exposure.csv"], "csv"))
    exposure[hostile] = exposure.pop(ns)
    page = render_report(doc, exposure, json.loads(files["diagnostics.json"]))
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;" in page


def test_xvaflow_report_renders_it_again_as_one_set(out: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(out, copy, symlinks=True)
    before = _files(copy)
    (copy / ".current" / "report.html").unlink()  # e.g. lost, or written by an older version
    assert main(["report", str(copy)]) == 0
    after = _files(copy)
    assert after == before  # the same page, and the other files of the set unchanged
    assert len(list((copy / ".runs").iterdir())) == 1
    assert report_html(before) == before["report.html"]

    empty = tmp_path / "empty"
    empty.mkdir()
    capsys.readouterr()
    assert main(["report", str(empty)]) == 2
    err = capsys.readouterr().err
    assert "no results.json and exposure table there" in err
    assert "Traceback" not in err


# ---------------------------------------------------------------------------------------------
# a real browser
# ---------------------------------------------------------------------------------------------
PROBE = """<pre id="probe"></pre><script>
const charts = [...document.querySelectorAll("svg.chart")].map(svg => {
  const box = svg.getBoundingClientRect();
  const shapes = [...svg.querySelectorAll("path.series, path.band, rect.bar")].map(el => {
    const b = el.getBBox();
    return {cls: el.getAttribute("class"), name: el.dataset.series, w: b.width, h: b.height,
            length: el.tagName === "path" ? el.getTotalLength() : 0};
  });
  return {label: svg.getAttribute("aria-label"),
          visible: svg.closest("details:not([open])") === null,
          w: box.width, h: box.height, shapes};
});
document.getElementById("probe").textContent = JSON.stringify(charts);
</script>"""


def _chromium() -> str | None:
    return os.environ.get("XVAFLOW_CHROMIUM") or next(
        (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p),
        None)


def _browser(args: list[str], page: Path) -> str:
    browser = _chromium()
    assert browser is not None
    run = subprocess.run(  # noqa: S603 - a browser binary found on PATH, fixed arguments
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--no-first-run", "--disable-extensions", *args, page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout


@pytest.mark.skipif(_chromium() is None, reason="no chromium on PATH (make test installs "
                    "Debian's chromium where it can; or set XVAFLOW_CHROMIUM)")
def test_the_report_renders_in_a_headless_browser(out: Path, tmp_path: Path) -> None:
    page = (out / "report.html").read_text(encoding="utf-8")
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = _browser(["--virtual-time-budget=5000", "--dump-dom"], probed)
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    charts: list[dict[str, Any]] = json.loads(found.group(1).replace("&amp;", "&")
                                             .replace("&lt;", "<").replace("&gt;", ">")
                                             .replace("&quot;", '"'))
    visible = [c for c in charts if c["visible"]]
    labels = [c["label"] for c in visible]
    # portfolio, term structure, bars and the first (open) netting set; the others are folded
    assert labels[:3] == ["Portfolio exposure", "Cumulative XVA by horizon",
                          next(lb for lb in labels if lb.startswith("CVA by counterparty"))]
    assert len(visible) == 4
    for chart in visible:
        assert chart["w"] > 300, chart["label"]
        assert chart["h"] > 100, chart["label"]
        assert chart["shapes"], chart["label"]
        for shape in chart["shapes"]:
            if shape["cls"] == "series":  # a drawn line across most of the plot
                assert shape["length"] > 200, (chart["label"], shape)
                assert shape["w"] > 400, (chart["label"], shape)
            else:
                assert shape["w"] > 0, (chart["label"], shape)
                assert shape["h"] > 0, (chart["label"], shape)
    portfolio = {s["name"] for s in visible[0]["shapes"]}
    assert {"EPE", "ENE", "PFE 97.5%", "PFE 95%-99%"} <= portfolio

    artifacts = Path(os.environ.get("XVAFLOW_TEST_ARTIFACTS", REPO / "test-artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / "report.png"
    shot.unlink(missing_ok=True)
    _browser(["--window-size=1200,2400", f"--screenshot={shot}"], out / "report.html")
    with Image.open(shot) as image:
        assert image.size == (1200, 2400)
        colours = image.convert("RGB").getcolors(maxcolors=1 << 24)
    # the charts' first colour (EPE, CVA, the bars) is on the screen, not only in the file
    blue = sum(n for n, rgb in colours if rgb == (0x1F, 0x77, 0xB4))
    assert blue > 2000, blue


def test_a_parquet_run_publishes_the_same_tables_in_parquet(out: Path, tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    pytest.importorskip("pandas")
    import xvaflow

    directory = tmp_path / "pq"
    run_pipeline(DEMO, directory, {**SETTINGS, "format": "parquet"}, workers=1,
                 log=lambda _: None)
    names = {f.name for f in (directory / ".current").iterdir()}
    assert names == {"results.json", "exposure.parquet", "trades.parquet", "stress.parquet",
                     "diagnostics.json", "report.html"}
    parquet, csv_run = xvaflow.read_results(directory), xvaflow.read_results(out)
    assert parquet.document["run"]["format"] == "parquet"
    assert csv_run.document["run"]["format"] == "csv"
    # the same seed and settings: the same figures, whichever the file format
    for frame in ("exposure", "trades", "stress"):
        a, b = getattr(parquet, frame)(), getattr(csv_run, frame)()
        assert list(a.columns) == list(b.columns)
        assert list(a.index) == list(b.index)
        numeric = a.select_dtypes("number").columns
        assert numeric.size > 0
        assert np.allclose(a[numeric], b[numeric], rtol=1e-12, atol=5e-7, equal_nan=True)
    page = (directory / "report.html").read_bytes()
    assert page == report_html(_files(directory))
    assert b'<path class="series" data-series="EPE"' in page


def test_a_bad_format_is_one_clear_error(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "demo"
    shutil.copytree(DEMO, root)
    (root / "run.json").write_text('{"format": "xlsx"}')
    assert main(["validate", str(root)]) == 2
    err = capsys.readouterr().err
    assert "run.json, format: must be one of csv, parquet, got 'xlsx'" in err
    with pytest.raises(SystemExit) as usage:  # argparse: exit 2 with the usage
        main(["run", str(DEMO), "--out", str(tmp_path / "o"), "--format", "json"])
    assert usage.value.code == 2
    assert "argument --format: invalid choice: 'json'" in capsys.readouterr().err


def test_the_format_flag_offers_every_output_format() -> None:
    from xvaflow.cli import _parser
    from xvaflow.portfolio import OUTPUT_FORMATS

    run = _parser()._subparsers._group_actions[0].choices["run"]  # type: ignore[union-attr]
    (action,) = [a for a in run._actions if a.dest == "format"]
    assert tuple(action.choices) == OUTPUT_FORMATS
