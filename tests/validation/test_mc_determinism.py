"""Reproducibility of Monte Carlo runs: the same seed gives the same numbers however the work is
split; different seeds give different numbers that agree within their standard errors.

The portfolio is examples/demo (IRS, CCS, FX forwards and options, swaptions physical and cash,
equity forwards and options; three netting sets, one with a CSA and a 10-day MPoR), on a
quarterly three-year grid with 1,000 paths (plus the grid's lag and expiry dates).

- Partitions: ``run_local`` with 1, 2 and 7 partitions (7 > 3 netting sets: empty partitions)
  on one worker; results.json (totals with their standard errors, every netting set, trades)
  and exposure.csv (every netting set's profile and the PORTFOLIO rows, whose PFE is the
  quantile of per-path sums across partitions) agree. ``run_partition`` on each netting set
  alone agrees with all at once, batch sums included.
- Path chunks: ``RunSettings.path_chunk`` None, 300, 512 and 999 (chunks that split random
  number blocks of 1,024 and, at 999, antithetic pairs), with and without antithetic
  variates: every profile (EPE, ENE, EE, PFE quantiles, collateral, Basel EE), EEPE and the
  XVA totals and batch sums agree.
- Seeds: two seeds give different CVA/DVA/FCA/FBA, each pair within
  4 sqrt(se_a^2 + se_b^2) (4 s.e. of the difference of independent estimates: the chance that
  noise exceeds it in one of the 16 comparisons is below 0.1%).

"Agree" means equal to 1e-12 relative to the largest magnitude of the quantity compared (the
order of floating-point summations differs between splits; nothing else may).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from xvaflow.io.portfolio import load_portfolio
from xvaflow.pipeline.local import run_pipeline
from xvaflow.portfolio import Portfolio
from xvaflow.xva.adjustments import METRICS, batch_stderr
from xvaflow.xva.engine import PartitionResult, RunSettings, run_partition

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"
PATHS = 1000
GRID = "3M:3Y"
RTOL = 1e-12


def assert_agree(a: Any, b: Any, what: str) -> None:
    """Equal to RTOL relative to the largest magnitude of ``a`` (NaN where both are NaN)."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert x.shape == y.shape, what
    assert np.array_equal(np.isnan(x), np.isnan(y)), what
    scale = float(np.nanmax(np.abs(x))) if x.size and not np.all(np.isnan(x)) else 0.0
    diff = float(np.nanmax(np.abs(x - y))) if x.size and not np.all(np.isnan(x)) else 0.0
    assert diff <= RTOL * scale, f"{what}: differs by {diff:.3g} (scale {scale:.3g})"


@pytest.fixture(scope="module")
def demo() -> Portfolio:
    return load_portfolio(DEMO)


# ---------------------------------------------------------------------------------------------
# partitions
# ---------------------------------------------------------------------------------------------
def _read_outputs(out: Path) -> tuple[dict[str, Any], dict[tuple[str, str], list[float]]]:
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    with open(out / "exposure.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    assert header[:3] == ["netting_set_id", "date", "time"]
    table = {(r[0], r[1]): [float(v) if v else math.nan for v in r[2:]] for r in rows[1:]}
    return doc, table


def _numbers(section: dict[str, Any]) -> dict[str, float]:
    """Flatten the numeric leaves of a results.json section (None -> NaN)."""
    out: dict[str, float] = {}
    for key, value in section.items():
        if isinstance(value, dict):
            out.update({f"{key}.{k}": v for k, v in _numbers(value).items()})
        elif value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
            out[key] = math.nan if value is None else float(value)
    return out


def test_run_local_does_not_depend_on_partitions(tmp_path: Path) -> None:
    """results.json and exposure.csv of 1, 2 and 7 partitions (one worker) agree."""
    outputs = []
    for k in (1, 2, 7):
        out = tmp_path / f"p{k}"
        summary = run_pipeline(DEMO, out, {"paths": PATHS, "grid": GRID, "partitions": k,
                                           "seed": 5}, workers=1, log=lambda _: None)
        assert summary.document["run"]["partitions"] == min(k, 3)
        outputs.append(_read_outputs(out))
    (doc_ref, table_ref), *others = outputs
    ref_numbers = {s: _numbers(doc_ref[s]) for s in ("totals", "netting_sets", "trades")}
    assert ref_numbers["totals"]["cva"] > 0.0
    assert len(table_ref) > 3 * 12
    for doc, table in others:
        for section, ref in ref_numbers.items():
            got = _numbers(doc[section])
            assert got.keys() == ref.keys(), section
            for key, value in ref.items():
                # each number against the largest of its kind (e.g. every netting set's cva)
                kind = key.rsplit(".", 1)[-1]
                scale = max((abs(v) for k, v in ref.items()
                             if k.rsplit(".", 1)[-1] == kind and not math.isnan(v)), default=0.0)
                assert (math.isnan(value) and math.isnan(got[key])) or \
                    abs(got[key] - value) <= RTOL * scale, (section, key, value, got[key])
        assert table.keys() == table_ref.keys()
        ref_rows = np.array(list(table_ref.values()))
        rows = np.array([table[key] for key in table_ref])
        for col in range(ref_rows.shape[1]):
            assert_agree(ref_rows[:, col], rows[:, col], f"exposure.csv column {col + 2}")


def test_run_partition_split_agrees_with_all_at_once(demo: Portfolio) -> None:
    """Each netting set alone (a partition of one) = its column of the run of all of them,
    profiles, XVA totals and batch sums included."""
    settings = RunSettings(paths=PATHS, seed=3, grid=GRID)
    ns_ids = list(demo.compiled.netting_set_ids)
    whole = run_partition(demo, ns_ids, settings)
    for j, ns in enumerate(ns_ids):
        alone = run_partition(demo, [ns], settings)
        _compare(alone, whole, f"{ns} alone", column=j)


def _compare(a: PartitionResult, b: PartitionResult, what: str,
             column: int | None = None) -> None:
    """Every number of ``a`` against ``b`` (``b``'s netting set ``column`` when given)."""
    sel: Any = slice(None) if column is None else slice(column, column + 1)
    assert np.array_equal(a.times, b.times)
    assert a.batch_size == b.batch_size
    for name in ("epe", "ene", "ee", "basel_ee", "collateral"):
        assert_agree(getattr(a.profile, name), getattr(b.profile, name)[:, sel],
                     f"{what} {name}")
    assert_agree(a.profile.pfe, b.profile.pfe[..., sel], f"{what} pfe")
    assert_agree(a.eepe, b.eepe[sel], f"{what} eepe")
    assert_agree(a.npv, b.npv[sel], f"{what} npv")
    assert a.xva.keys() == b.xva.keys()
    for m, (total, batches) in a.xva.items():
        assert_agree(total, b.xva[m][0][sel], f"{what} {m} total")
        assert_agree(batches, b.xva[m][1][:, sel], f"{what} {m} batch sums")
    if column is None:
        assert_agree(a.profile.portfolio_exposure, b.profile.portfolio_exposure,
                     f"{what} per-path portfolio exposure")


# ---------------------------------------------------------------------------------------------
# path chunks
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("antithetic", [False, True])
def test_results_do_not_depend_on_path_chunks(demo: Portfolio, antithetic: bool) -> None:
    """path_chunk None / 300 / 512 / 999 on 1,000 paths give the same results."""
    ns_ids = list(demo.compiled.netting_set_ids)
    base = RunSettings(paths=PATHS, seed=9, grid=GRID, antithetic=antithetic)
    ref = run_partition(demo, ns_ids, base)
    assert ref.xva["cva"][0].sum() > 0.0
    for chunk in (300, 512, 999):
        settings = RunSettings(paths=PATHS, seed=9, grid=GRID, antithetic=antithetic,
                               path_chunk=chunk)
        _compare(run_partition(demo, ns_ids, settings), ref, f"chunk {chunk}")


# ---------------------------------------------------------------------------------------------
# seeds
# ---------------------------------------------------------------------------------------------
def test_different_seeds_agree_within_standard_errors(demo: Portfolio) -> None:
    """Two seeds: every netting set's and the total CVA/DVA/FCA/FBA differ, by less than
    4 standard errors of the difference."""
    ns_ids = list(demo.compiled.netting_set_ids)
    runs = [run_partition(demo, ns_ids, RunSettings(paths=PATHS, seed=s, grid=GRID))
            for s in (101, 202)]
    worst = 0.0
    for m in METRICS:
        stats = []
        for r in runs:
            total, batches = r.xva[m]
            per_ns = (total / r.n_paths, batch_stderr(batches, r.batch_size))
            overall = (total.sum() / r.n_paths,
                       float(batch_stderr(batches.sum(axis=1)[:, None], r.batch_size)[0]))
            stats.append((np.r_[per_ns[0], overall[0]], np.r_[per_ns[1], overall[1]]))
        (va, sa), (vb, sb) = stats
        assert np.all(va != vb), m  # the seed changes the paths
        z = np.abs(va - vb) / np.sqrt(sa**2 + sb**2)
        worst = max(worst, float(z.max()))
        assert np.all(z < 4.0), (m, z)
    print(f"seeds: worst difference {worst:.2f} s.e.")
