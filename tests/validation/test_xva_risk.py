"""Stress scenarios and credit sensitivities against bump-and-rerun on the same seed.

The book is examples/demo (three netting sets: CDS-curve counterparties, a flat hazard rate,
one CSA with a 10-day MPoR; own credit and funding spreads), with the counterparties' CDS
spreads raised by 100bp so that the -100bp scenario stays positive. One run with
``stress`` and ``sensitivities`` computes every variant on its own paths; each variant must
equal an independent ``run_partition`` of the portfolio with its inputs changed as a user
would change the files (counterparties.csv spreads or hazard rates, market.json funding,
netting_sets.csv without the CSA), with the same seed:

- credit +-100bp: every metric of every netting set, totals and batch sums, to 1e-12 relative
  (the paths, hence the exposures, are the same numbers; only the measures differ);
- funding +-50bp: FCA and FBA likewise (the shifted spreads floored at zero);
- CS01 of the 5Y and ``flat`` buckets: each variant equals the rerun with that input moved by
  +1bp, so CS01 = X(s + 1bp) - X(s) is exactly the rerun's difference from the base;
- coverage 100% is the base run itself, coverage 0% the run without the CSA (exactly the
  same exposures: the random numbers do not depend on the CSA's lag dates), and 50% lies
  between them;
- the base metrics do not change when the variants are added.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from xvaflow.io.portfolio import load_portfolio
from xvaflow.xva.engine import PartitionResult, RunSettings, run_partition
from xvaflow.xva.risk import FLAT, cs01_scenario_name, split_variant, variant

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"
SETTINGS = RunSettings(paths=1000, seed=5, grid="3M:4Y")
RTOL = 1e-12
CDS_COLUMNS = ("cds_6m", "cds_1y", "cds_2y", "cds_3y", "cds_5y", "cds_7y", "cds_10y")


def _write(root: Path, cds_shift_bp: float = 0.0, hazard_shift: float = 0.0,
           bucket: str | None = None, funding_shift_bp: float = 0.0,
           no_csa: bool = False) -> Path:
    """examples/demo with CDS spreads +100bp, then the given changes."""
    shutil.copytree(DEMO, root)
    (root / "run.json").unlink(missing_ok=True)
    path = root / "counterparties.csv"
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        for col in CDS_COLUMNS:
            if row[col]:
                moved = bucket is None or col == f"cds_{bucket.lower()}"
                row[col] = repr(float(row[col]) + 100.0 + (cds_shift_bp if moved else 0.0))
        if row["hazard_rate"] and (bucket is None or bucket == FLAT):
            row["hazard_rate"] = repr(float(row["hazard_rate"]) + hazard_shift
                                      / (1.0 - float(row["recovery"])))
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    market = json.loads((root / "market.json").read_text(encoding="utf-8"))
    market["funding"] = {k: max(v + funding_shift_bp, 0.0) for k, v in market["funding"].items()}
    (root / "market.json").write_text(json.dumps(market), encoding="utf-8")
    if no_csa:
        ns = root / "netting_sets.csv"
        lines = ns.read_text(encoding="utf-8").splitlines()
        ns.write_text("\n".join([lines[0], *(",".join(line.split(",")[:2]) + ","
                                             for line in lines[1:])]) + "\n", encoding="utf-8")
    return root


def _run(root: Path, settings: RunSettings = SETTINGS) -> PartitionResult:
    portfolio = load_portfolio(root)
    return run_partition(portfolio, list(portfolio.compiled.netting_set_ids), settings)


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> PartitionResult:
    root = _write(tmp_path_factory.mktemp("risk") / "book")
    return _run(root, RunSettings(paths=SETTINGS.paths, seed=SETTINGS.seed, grid=SETTINGS.grid,
                                  stress=True, sensitivities=("credit",)))


def _agree(a: Any, b: Any, what: str) -> None:
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = float(np.abs(x).max(initial=0.0))
    assert np.abs(x - y).max(initial=0.0) <= RTOL * scale, (what, x, y)


def _matches(full: PartitionResult, scenario: str, rerun: PartitionResult,
             metrics: tuple[str, ...] = ("cva", "dva", "fca", "fba")) -> None:
    assert rerun.netting_sets == full.netting_sets
    for m in metrics:
        total, batches = full.xva[variant(m, scenario)]
        _agree(total, rerun.xva[m][0], f"{scenario} {m}")
        _agree(batches, rerun.xva[m][1], f"{scenario} {m} batches")


def test_base_metrics_do_not_change(full: PartitionResult, tmp_path: Path) -> None:
    plain = _run(_write(tmp_path / "book"))
    assert {split_variant(k)[0] for k in full.xva} == set(plain.xva)
    for m, (total, batches) in plain.xva.items():
        assert np.array_equal(full.xva[m][0], total), m
        assert np.array_equal(full.xva[m][1], batches), m
    assert np.array_equal(full.profile.epe, plain.profile.epe)


@pytest.mark.parametrize("bp", [100.0, -100.0])
def test_credit_stress_equals_rerun(full: PartitionResult, tmp_path: Path, bp: float) -> None:
    rerun = _run(_write(tmp_path / "book", cds_shift_bp=bp, hazard_shift=bp * 1e-4))
    _matches(full, f"credit{bp:+g}bp", rerun)
    base, stressed = full.xva["cva"][0].sum(), full.xva[f"cva|credit{bp:+g}bp"][0].sum()
    assert (stressed - base) * bp > 0.0  # wider spreads, more CVA


@pytest.mark.parametrize("bp", [50.0, -50.0])
def test_funding_stress_equals_rerun(full: PartitionResult, tmp_path: Path, bp: float) -> None:
    rerun = _run(_write(tmp_path / "book", funding_shift_bp=bp))
    _matches(full, f"funding{bp:+g}bp", rerun, ("fca", "fba"))
    assert not any(k.startswith(("cva|funding", "dva|funding")) for k in full.xva)


@pytest.mark.parametrize("bucket", ["5Y", FLAT])
def test_cs01_variants_equal_reruns(full: PartitionResult, tmp_path: Path, bucket: str) -> None:
    up = _run(_write(tmp_path / "up", cds_shift_bp=1.0, hazard_shift=1e-4, bucket=bucket))
    _matches(full, cs01_scenario_name(bucket), up)
    moved = {"5Y": ["NS_ACME", "NS_NORDBANK"], FLAT: ["NS_HELIOS"]}[bucket]
    cva_up = full.xva[variant("cva", cs01_scenario_name(bucket))][0]
    for j, ns in enumerate(full.netting_sets):
        # only the netting sets of the counterparties with that input move
        assert (cva_up[j] != full.xva["cva"][0][j]) == (ns in moved), ns


def test_coverage_scenarios(full: PartitionResult, tmp_path: Path) -> None:
    for m in ("cva", "dva", "fca", "fba"):
        for which in (0, 1):
            _agree(full.xva[variant(m, "coverage100%")][which], full.xva[m][which],
                   f"coverage 100% {m}")
    uncollateralised = _run(_write(tmp_path / "book", no_csa=True))
    _matches(full, "coverage0%", uncollateralised)
    j = full.netting_sets.index("NS_NORDBANK")
    cva = {c: full.xva[variant("cva", f"coverage{c}%")][0][j] for c in (0, 50, 100)}
    assert cva[0] > cva[50] > cva[100] > 0.0
    for ns in ("NS_ACME", "NS_HELIOS"):  # no CSA: coverage changes nothing
        i = full.netting_sets.index(ns)
        assert full.xva[variant("cva", "coverage0%")][0][i] == full.xva["cva"][0][i]


def test_unbootstrappable_shift_falls_back_to_the_hazard_shift(tmp_path: Path) -> None:
    """A steeply inverted curve shifted down by 100bp needs a negative hazard: that name takes
    the parallel hazard shift -100bp / LGD (floored at zero) and is reported; the shift up
    bootstraps normally."""
    from xvaflow.xva.risk import shifted_credit

    root = _write(tmp_path / "book")
    path = root / "counterparties.csv"
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    inverted = dict(zip(CDS_COLUMNS, ("400", "250", "150", "120", "110", "105", "100"),
                        strict=True))
    rows[0].update(inverted)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    portfolio = load_portfolio(root)
    name = rows[0]["counterparty_id"]
    base = portfolio.credit[name]
    down, failed = shifted_credit(portfolio, [name], -0.01)
    assert failed == [name]
    expected = np.maximum(base.curve.hazards - 0.01 / (1.0 - base.recovery), 0.0)
    assert np.array_equal(down[name].curve.hazards, expected)
    up, failed = shifted_credit(portfolio, [name], 0.01)
    assert failed == []
    assert np.all(up[name].curve.hazards > base.curve.hazards - 1e-12)
