"""Market sensitivities (IR delta and gamma, FX and equity delta, vega) against bump-and-rerun.

examples/demo (Hull-White parameters given in market.json, so a rerun on a bumped file has
the same dynamics) is run once with ``sensitivities``: every bumped market of
:mod:`xvaflow.xva.bumps` is valued on the base run's simulated states. Each must equal an
independent ``run_partition`` of the portfolio with market.json changed as a user would change
it (one par quote +1bp; every pillar of a curve +-1bp; a spot x 1.01), same seed and grid, to
1e-10 relative for every metric of every netting set (totals and batch sums): the states are
the same numbers, only the deterministic parts of the model move. The bumps must also move the
figures (power), and the bump list covers every curve pillar of the simulated currencies, every
FX spot between them and every equity.

Vega (Hull-White sigma +1bp, FX vol and equity vol +0.01 at every tenor) moves the dynamics:
each netting set is run alone with ``sensitivities=("vega",)`` (a partition of one, so the
bumps of factors it does not hold take the base figures without a rerun) and each variant must
equal its column of an independent whole-book rerun on the bumped market.json to the same
1e-10, and where a netting set does not hold the bumped factor (the base figures, no rerun)
to 1e-7: the rerun moves such a netting set by rounding only (the matrix exponentials of the
model's transitions see the whole generator; measured 1.4e-8 relative).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from xvaflow.io.portfolio import load_portfolio
from xvaflow.xva.bumps import market_bumps, read_market_document, vol_bumps
from xvaflow.xva.engine import PartitionResult, RunSettings, run_partition, simulation_setup
from xvaflow.xva.risk import variant

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"
SETTINGS = RunSettings(paths=400, seed=21, grid="3M:4Y")
RTOL = 1e-10
SKIP_RTOL = 1e-7


def _par(ccy: str, tenor: str, shift: float) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        for q in doc["curves"][ccy]["par_quotes"]:
            if tenor in ("*", q["tenor"]):
                q["rate"] += shift
    return change


def _spot(kind: str, name: str) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        if kind == "fx":
            doc["fx_spots"][name] *= 1.01
        else:
            doc["equities"][name]["spot"] *= 1.01
    return change


def _vol(path: tuple[str, ...], shift: float) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        *parents, leaf = path
        holder = doc
        for key in parents:
            holder = holder[key]
        value = holder[leaf]
        holder[leaf] = ({k: v + shift for k, v in value.items()} if isinstance(value, dict)
                        else value + shift)
    return change


VEGA_RERUNS = {
    "irv:USD": _vol(("hull_white", "USD", "volatility"), 1e-4),
    "irv:EUR": _vol(("hull_white", "EUR", "volatility"), 1e-4),
    "fxv:EURUSD": _vol(("fx_vols", "EURUSD"), 0.01),
    "eqv:SPX": _vol(("equities", "SPX", "vol"), 0.01),
    "eqv:EUROSTOXX": _vol(("equities", "EUROSTOXX", "vol"), 0.01),
}

RERUNS = {
    "ir:USD:5Y": _par("USD", "5Y", 1e-4),
    "ir:EUR:3M": _par("EUR", "3M", 1e-4),
    "irp:USD:+": _par("USD", "*", 1e-4),
    "irp:EUR:-": _par("EUR", "*", -1e-4),
    "fx:EURUSD": _spot("fx", "EURUSD"),
    "eq:SPX": _spot("eq", "SPX"),
}


@pytest.fixture(scope="module")
def full() -> PartitionResult:
    portfolio = load_portfolio(DEMO)
    settings = RunSettings(paths=SETTINGS.paths, seed=SETTINGS.seed, grid=SETTINGS.grid,
                           sensitivities=("ir", "fx", "eq"))
    return run_partition(portfolio, list(portfolio.compiled.netting_set_ids), settings)


def test_every_input_is_bumped() -> None:
    portfolio = load_portfolio(DEMO)
    model, _ = simulation_setup(portfolio, SETTINGS)
    raw = read_market_document(portfolio)
    names = {b.name for b in market_bumps(raw, model.currencies, model.equities)}
    for ccy in model.currencies:
        for q in raw["curves"][ccy]["par_quotes"]:
            assert f"ir:{ccy}:{q['tenor']}" in names
        assert {f"irp:{ccy}:+", f"irp:{ccy}:-"} <= names
    assert {f"eq:{e}" for e in model.equities} <= names
    assert "fx:EURUSD" in names


def _rerun(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> PartitionResult:
    """The whole book on market.json changed by ``change``."""
    root = tmp_path / "book"
    shutil.copytree(DEMO, root)
    (root / "run.json").unlink(missing_ok=True)
    doc = json.loads((root / "market.json").read_text(encoding="utf-8"))
    change(doc)
    (root / "market.json").write_text(json.dumps(doc), encoding="utf-8")
    portfolio = load_portfolio(root)
    return run_partition(portfolio, list(portfolio.compiled.netting_set_ids), SETTINGS)


@pytest.mark.parametrize("scenario", list(RERUNS))
def test_bumped_book_equals_rerun(full: PartitionResult, tmp_path: Path, scenario: str
                                  ) -> None:
    rerun = _rerun(tmp_path, RERUNS[scenario])
    assert rerun.netting_sets == full.netting_sets
    moved = False
    for m in ("cva", "dva", "fca", "fba"):
        total, batches = full.xva[variant(m, scenario)]
        for got, ref in ((total, rerun.xva[m][0]), (batches, rerun.xva[m][1])):
            scale = float(np.abs(ref).max())
            assert float(np.abs(got - ref).max()) <= RTOL * scale, (scenario, m)
        moved |= bool(np.any(total != full.xva[m][0]))
    assert moved, scenario


@pytest.fixture(scope="module")
def alone() -> dict[str, PartitionResult]:
    """Each netting set run alone with the vega bumps."""
    portfolio = load_portfolio(DEMO)
    settings = RunSettings(paths=SETTINGS.paths, seed=SETTINGS.seed, grid=SETTINGS.grid,
                           sensitivities=("vega",))
    return {ns: run_partition(portfolio, [ns], settings)
            for ns in portfolio.compiled.netting_set_ids}


def test_every_vol_is_bumped() -> None:
    portfolio = load_portfolio(DEMO)
    model, _ = simulation_setup(portfolio, SETTINGS)
    names = {b.name for b in vol_bumps(read_market_document(portfolio), model.currencies,
                                       model.equities)}
    assert names == set(VEGA_RERUNS)


@pytest.mark.slow
def test_vega_equals_rerun(alone: dict[str, PartitionResult], tmp_path: Path) -> None:
    skipped = moved = 0
    for scenario, change in VEGA_RERUNS.items():
        rerun = _rerun(tmp_path / scenario.replace(":", "_"), change)
        for j, ns in enumerate(rerun.netting_sets):
            result = alone[ns]
            for m in ("cva", "dva", "fca", "fba"):
                total, batches = result.xva[variant(m, scenario)]
                same = bool(np.array_equal(total, result.xva[m][0]))
                skipped += same
                moved += not same
                # a factor not held: the rerun moves by rounding only (the transition
                # matrices' exponentials see the whole generator): measured 1.4e-8
                tolerance = SKIP_RTOL if same else RTOL
                for got, ref in ((total[0], rerun.xva[m][0][j]),
                                 (batches[:, 0], rerun.xva[m][1][:, j])):
                    scale = float(np.abs(rerun.xva[m][0]).max())
                    assert float(np.abs(got - ref).max()) <= tolerance * scale, (scenario, ns, m)
    assert skipped > 0  # both paths taken: factors not held ...
    assert moved > 0  # ... and reruns
