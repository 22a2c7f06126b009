"""Capital profiles and KVA (:mod:`xvaflow.xva.kva`).

- The IRB capital factor against the Basel II illustrative risk weights (Annex 5, corporate
  exposures, LGD 45%, M = 2.5 years: RW = 12.5 K): 19.65% at PD 0.05%, 29.65% at 0.10%,
  92.32% at 1%, 149.86% at 5%, 238.23% at 20%; a PD below the 0.05% floor (CRE32.37) takes the
  floor's (the table's 14.44% at 0.03% is not reached); the maturity adjustment is 1 at M = 1.
- From a run of examples/demo (three netting sets, one under a CSA), everything recomputed from
  the published files with code of its own: each date's EAD = 1.4 x EEPE looking one year
  ahead on exposure.csv's ``basel_ee`` (running maximum from the date, right-point rule, the
  window cut at the netting set's last exposure date), each date's capital from the formulas
  of docs/conventions.md with the counterparty's PD from its CDS or hazard input, and the KVA
  integral CoC sum C(t_j) dt_j P(0, t_j) S_C S_B from the published capital profile, to
  1e-9 relative; the total is the sum of the netting sets'.
- ``cost_of_capital`` scales the KVA and nothing else; a bad value is a clear error.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.stats import norm

from xvaflow.cli import main
from xvaflow.io.portfolio import load_portfolio
from xvaflow.regulatory.bacva import risk_weight
from xvaflow.xva.kva import irb_capital_factor

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"
SMALL = ["--paths", "400", "--grid", "1M:1Y,3M:4Y", "--workers", "1"]
RTOL = 1e-9


@pytest.mark.parametrize(("pd", "rw"), [(0.0005, 0.1965), (0.001, 0.2965), (0.01, 0.9232),
                                        (0.05, 1.4986), (0.20, 2.3823)])
def test_irb_factor_matches_basel_ii_illustrative_weights(pd: float, rw: float) -> None:
    assert 12.5 * float(irb_capital_factor(np.array(pd), 0.45, np.array(2.5))) == \
        pytest.approx(rw, abs=1e-4)  # the table prints 0.01%


def test_pd_floor() -> None:
    assert float(irb_capital_factor(np.array(0.0003), 0.45, np.array(2.5))) == \
        float(irb_capital_factor(np.array(0.0005), 0.45, np.array(2.5)))


def test_maturity_adjustment_is_one_at_one_year() -> None:
    pd, lgd = 0.01, 0.45
    f = (1 - math.exp(-50 * pd)) / (1 - math.exp(-50))
    r = 0.12 * f + 0.24 * (1 - f)
    plain = lgd * (norm.cdf((norm.ppf(pd) + math.sqrt(r) * norm.ppf(0.999))
                            / math.sqrt(1 - r)) - pd)
    assert float(irb_capital_factor(np.array(pd), lgd, np.array(1.0))) == \
        pytest.approx(plain, rel=1e-12)


def _run(tmp: Path, *extra: str) -> tuple[dict[str, Any], dict[str, list[dict[str, str]]]]:
    out = tmp / "out"
    assert main(["run", str(DEMO), "--out", str(out), *SMALL, *extra]) == 0
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    rows: dict[str, list[dict[str, str]]] = {}
    with open(out / "exposure.csv", newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            rows.setdefault(r["netting_set_id"], []).append(r)
    return doc, rows


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory
        ) -> tuple[dict[str, Any], dict[str, list[dict[str, str]]]]:
    return _run(tmp_path_factory.mktemp("kva"))


def _column(rows: list[dict[str, str]], name: str) -> np.ndarray:
    if name == "time":  # ACT/365F from the dates (the column is rounded to 6 decimals)
        days = np.array([r["date"] for r in rows], dtype="datetime64[D]") - \
            np.datetime64("2026-11-20")
        return days.astype(np.int64) / 365.0
    return np.array([float(r[name]) for r in rows])


def test_kva_is_the_integral_of_the_published_capital(run: tuple[dict[str, Any], Any]) -> None:
    doc, rows = run
    portfolio = load_portfolio(DEMO)
    market = portfolio.market
    own = market.own_credit
    assert own is not None
    total = 0.0
    for ns, entry in doc["netting_sets"].items():
        r = rows[ns]
        t = _column(r, "time")
        capital = _column(r, "capital_ccr") + _column(r, "capital_cva")
        assert capital.max() > 0.0
        spec = portfolio.credit[entry["counterparty_id"]]
        survival = spec.curve.survival(t) * own.curve.survival(t)
        dt = np.diff(np.r_[0.0, t])
        expected = 0.10 * float((capital * dt * market.discount("USD", t) * survival).sum())
        assert entry["kva"] == pytest.approx(expected, rel=RTOL), ns
        total += entry["kva"]
    assert doc["totals"]["kva"] == pytest.approx(total, rel=1e-12)
    portfolio_rows = rows["PORTFOLIO"]
    assert _column(portfolio_rows, "ead") == pytest.approx(
        sum(_column(rows[ns], "ead") for ns in doc["netting_sets"]), rel=1e-12)


def _eepe_ahead(t: np.ndarray, ee: np.ndarray, j: int, end: float) -> float:
    """EEPE from t_j over min(1Y, end - t_j), written out date by date."""
    window = min(1.0, end - t[j])
    if window <= 0.0:
        return 0.0
    running, acc, covered = ee[j], 0.0, 0.0
    for k in range(j + 1, len(t)):
        running = max(running, ee[k])
        lo, hi = t[k - 1] - t[j], min(t[k] - t[j], window)
        if hi <= lo:
            break
        acc += running * (hi - lo)
        covered += hi - lo
    return acc / covered if covered > 0.0 else float(ee[j])


def test_capital_profile_recomputed(run: tuple[dict[str, Any], Any]) -> None:
    doc, rows = run
    portfolio = load_portfolio(DEMO)
    ends = dict(zip(portfolio.compiled.netting_set_ids,
                    portfolio.compiled.netting_set_end_times(), strict=True))
    for ns, entry in doc["netting_sets"].items():
        r = rows[ns]
        t, ee, epe = _column(r, "time"), _column(r, "basel_ee"), _column(r, "epe")
        cpty = portfolio.counterparties[entry["counterparty_id"]]
        spec = portfolio.credit[cpty.counterparty_id]
        pd = max(1.0 - float(spec.curve.survival(1.0)), 0.0005)
        for j in range(len(t)):
            eepe = _eepe_ahead(t, ee, j, ends[ns])
            assert float(r[j]["ead"]) == pytest.approx(1.4 * eepe, rel=RTOL, abs=1e-6)
            ahead = t[j + 1:] - t[j]
            dt = np.diff(t)[j:]
            near = ahead <= 1.0 + 1e-9
            eee = np.maximum.accumulate(epe[j + 1:]) if ahead.size else np.zeros(0)
            den = float((eee * dt * near).sum())
            m = 1.0 + (float((epe[j + 1:] * dt * ~near).sum()) / den if den > 0 else 0.0)
            k = float(irb_capital_factor(np.array(pd), 1.0 - spec.recovery,
                                         np.array(min(m, 5.0))))
            assert float(r[j]["capital_ccr"]) == pytest.approx(1.4 * eepe * k, rel=RTOL,
                                                               abs=1e-6)
            cva = 0.65 * risk_weight(cpty.sector, cpty.rating) * m * eepe
            assert float(r[j]["capital_cva"]) == pytest.approx(cva, rel=RTOL, abs=1e-6)


def test_cost_of_capital_scales_kva(run: tuple[dict[str, Any], Any], tmp_path: Path) -> None:
    doc, _ = run
    root = tmp_path / "demo"
    shutil.copytree(DEMO, root)
    settings = json.loads((root / "run.json").read_text()) if (root / "run.json").exists() \
        else {}
    (root / "run.json").write_text(json.dumps({**settings, "cost_of_capital": 0.05}))
    out = tmp_path / "out"
    assert main(["run", str(root), "--out", str(out), *SMALL]) == 0
    half = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert half["totals"]["kva"] == pytest.approx(0.5 * doc["totals"]["kva"], rel=1e-12)
    assert half["totals"]["cva"] == doc["totals"]["cva"]


def test_bad_cost_of_capital_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    root = tmp_path / "demo"
    shutil.copytree(DEMO, root)
    (root / "run.json").write_text('{"cost_of_capital": 12}')
    assert main(["validate", str(root)]) == 2
    err = capsys.readouterr().err
    assert "run.json" in err
    assert "cost_of_capital: must be a number in [0, 1]" in err
