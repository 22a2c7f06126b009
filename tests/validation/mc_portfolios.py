"""Shared pieces of the Monte Carlo validation suite (tests/validation/test_mc_*.py).

- :data:`MARKET`: a market.json document (USD base, EUR, GBP; zero-rate curves whose pillars
  are whole days after as_of, so QuantLib copies of them are exact; Hull-White parameters,
  FX and equity vols, correlations that exercise every quanto drift).
- :func:`write_portfolio`: a portfolio directory (trades.csv, netting_sets.csv,
  counterparties.csv, csas.csv, market.json, run.json) written from plain dicts, as a user
  would write it (CONTRACT.md), loaded with ``load_portfolio``.
- :func:`run_with_paths`: ``run_partition`` with a spy on :meth:`ExposureProfile.add` that
  keeps, per exposure date and path, the netting-set values, collateral, numeraire and deflated
  exposures the engine used, so that a test can attach a standard error to every EPE(t) the
  engine reports (it reports means only) and check collateral rules path by path.
- :func:`mean_and_stderr`, :func:`z_tolerance`, :class:`Deviations`: Monte Carlo statistics
  (antithetic pairs are averaged before the variance is taken) and the bookkeeping of
  comparisons in standard errors (worst case printed with ``pytest -s``).
"""

from __future__ import annotations

import copy
import csv
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.stats import norm

from xvaflow.exposure.profile import DateExposure, ExposureProfile
from xvaflow.io.portfolio import load_portfolio
from xvaflow.portfolio import Portfolio
from xvaflow.xva.engine import PartitionResult, RunSettings, run_partition

AS_OF = "2026-11-20"  # a Friday, a business day in every currency below (no holidays)

MARKET: dict[str, Any] = {
    "as_of": AS_OF,
    "base_currency": "USD",
    "curves": {
        "USD": {"zero_rates": {"1M": 0.0431, "6M": 0.0405, "1Y": 0.0388, "2Y": 0.0362,
                               "5Y": 0.0351, "10Y": 0.0368, "30Y": 0.0391}},
        "EUR": {"zero_rates": {"1M": 0.0195, "1Y": 0.0207, "3Y": 0.0222, "7Y": 0.0251,
                               "15Y": 0.0283, "30Y": 0.0279}},
        "GBP": {"zero_rates": {"3M": 0.0452, "2Y": 0.0410, "10Y": 0.0425, "30Y": 0.0440}},
    },
    "fx_spots": {"EURUSD": 1.08, "GBPUSD": 1.27},
    "fx_vols": {"EURUSD": 0.09, "GBPUSD": 0.11},
    "equities": {"SPX": {"spot": 5900.0, "currency": "USD", "dividend_yield": 0.013,
                         "vol": 0.18},
                 "SX5E": {"spot": 5100.0, "currency": "EUR", "dividend_yield": 0.028,
                          "vol": 0.21}},
    "hull_white": {"USD": {"mean_reversion": 0.03, "volatility": 0.0095},
                   "EUR": {"mean_reversion": 0.05, "volatility": 0.0080},
                   "GBP": {"mean_reversion": 0.01, "volatility": 0.0110}},
    "correlations": {"IR_USD:IR_EUR": 0.6, "IR_USD:IR_GBP": 0.5, "IR_EUR:IR_GBP": 0.45,
                     "IR_USD:FX_EURUSD": -0.2, "IR_EUR:FX_EURUSD": 0.3,
                     "IR_GBP:FX_GBPUSD": -0.3, "FX_EURUSD:FX_GBPUSD": 0.5,
                     "EQ_SPX:EQ_SX5E": 0.6, "FX_EURUSD:EQ_SX5E": -0.3, "IR_USD:EQ_SPX": 0.1,
                     "IR_EUR:EQ_SX5E": -0.1},  # positive definite (smallest eigenvalue 0.09)
}

TRADE_COLUMNS = (
    "trade_id", "version", "netting_set_id", "product", "direction", "notional", "currency",
    "start_date", "maturity_date", "fixed_rate", "fixed_frequency", "fixed_daycount",
    "float_index", "float_frequency", "float_spread", "float_daycount", "last_fixing",
    "buy_currency", "buy_amount", "sell_currency", "sell_amount", "expiry_date", "settlement",
    "direction_underlying", "underlying", "quantity", "strike", "option_type")
CSA_HEADER = ("csa_id", "threshold_cpty", "threshold_own", "mta", "independent_amount",
              "mpor_days", "currency", "im_model", "call_frequency", "rounding")


def deterministic_rates(doc: dict[str, Any], vol: float = 1e-6) -> dict[str, Any]:
    """The market with (near) deterministic rates: Hull-White vol ``vol`` in every currency."""
    out = copy.deepcopy(doc)
    for params in out["hull_white"].values():
        params["volatility"] = vol
    return out


@dataclass(frozen=True)
class NettingSet:
    """A netting set, its counterparty (flat hazard rate) and optional CSA row."""

    netting_set_id: str
    hazard_rate: float = 0.02
    recovery: float = 0.4
    csa: dict[str, Any] | None = None


def write_portfolio(root: Path, trades: Sequence[dict[str, Any]],
                    netting_sets: Sequence[NettingSet], market: dict[str, Any],
                    run: dict[str, Any] | None = None) -> Path:
    """Write a portfolio directory; trade dicts name CSV columns (``trade_id`` defaults to
    ``T<i>``, ``version`` to 1). Each netting set has its own counterparty ``CP_<ns>``."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "trades.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, TRADE_COLUMNS, restval="")
        w.writeheader()
        for i, row in enumerate(trades):
            w.writerow({"trade_id": f"T{i}", "version": "1", **row})
    ns_lines = ["netting_set_id,counterparty_id,csa_id"]
    cp_lines = ["counterparty_id,name,recovery,rating,sector,hazard_rate"]
    csa_rows = []
    for ns in netting_sets:
        csa_id = f"CSA_{ns.netting_set_id}" if ns.csa is not None else ""
        ns_lines.append(f"{ns.netting_set_id},CP_{ns.netting_set_id},{csa_id}")
        cp_lines.append(f"CP_{ns.netting_set_id},Cpty {ns.netting_set_id},{ns.recovery},BBB,"
                        f"Corp,{ns.hazard_rate}")
        if ns.csa is not None:
            csa_rows.append({"csa_id": csa_id, "im_model": "none", "independent_amount": 0,
                             "currency": "USD", **ns.csa})
    (root / "netting_sets.csv").write_text("\n".join(ns_lines) + "\n", encoding="utf-8")
    (root / "counterparties.csv").write_text("\n".join(cp_lines) + "\n", encoding="utf-8")
    if csa_rows:
        with open(root / "csas.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, CSA_HEADER)
            w.writeheader()
            w.writerows(csa_rows)
    (root / "market.json").write_text(json.dumps(market, indent=1), encoding="utf-8")
    if run is not None:
        (root / "run.json").write_text(json.dumps(run), encoding="utf-8")
    return root


def load(root: Path, trades: Sequence[dict[str, Any]], netting_sets: Sequence[NettingSet],
         market: dict[str, Any], run: dict[str, Any] | None = None) -> Portfolio:
    return load_portfolio(write_portfolio(root, trades, netting_sets, market, run))


@dataclass
class PathRun:
    """A partition run and, per exposure date, the deflated exposures of every path.

    Attributes:
        result: what ``run_partition`` returned.
        pos: ``[dates, netting sets, paths]`` max(V - C, 0) / N.
        neg: ``[dates, netting sets, paths]`` max(C - V, 0) / N.
        value: ``[dates, netting sets, paths]`` V (base currency, undeflated).
        collateral: ``[dates, netting sets, paths]`` C (base currency, undeflated).
        numeraire: ``[dates, paths]`` N.
        interval_pos, interval_neg: as pos and neg for the interval portfolio (the flows paid
            since the previous exposure date kept in their bank accounts).
        antithetic: whether paths 2k, 2k+1 are antithetic pairs.
    """

    result: PartitionResult
    pos: np.ndarray
    neg: np.ndarray
    value: np.ndarray
    collateral: np.ndarray
    numeraire: np.ndarray
    antithetic: bool
    interval_pos: np.ndarray
    interval_neg: np.ndarray

    def epe(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean, standard error) ``[dates, netting sets]`` of the deflated EPE per path."""
        return mean_and_stderr(self.pos, self.antithetic)


def run_with_paths(monkeypatch: pytest.MonkeyPatch, portfolio: Portfolio,
                   netting_sets: Sequence[str], settings: RunSettings) -> PathRun:
    """``run_partition`` recording the deflated exposures of each path (one chunk only)."""
    recorded: list[tuple[np.ndarray, ...]] = []
    original = ExposureProfile.add

    def spy(self: ExposureProfile, k: int, value: Any, collateral: Any, numeraire: Any,
            interval: Any = None, first_path: int = 0) -> tuple[DateExposure, DateExposure]:
        out = original(self, k, value, collateral, numeraire, interval, first_path)
        recorded.append((np.asarray(out[0].pos_deflated), np.asarray(out[0].neg_deflated),
                         np.array(value), np.array(collateral), np.array(numeraire),
                         np.asarray(out[1].pos_deflated), np.asarray(out[1].neg_deflated)))
        return out

    assert settings.path_chunk is None
    monkeypatch.setattr(ExposureProfile, "add", spy)
    try:
        result = run_partition(portfolio, netting_sets, settings)
    finally:
        monkeypatch.setattr(ExposureProfile, "add", original)
    pos, neg, value, collateral, numeraire, ipos, ineg = (np.stack(a) for a in zip(
        *recorded, strict=True))
    return PathRun(result, pos, neg, value, collateral, numeraire, settings.antithetic, ipos,
                   ineg)


def mean_and_stderr(samples: np.ndarray, antithetic: bool = False) -> tuple[Any, Any]:
    """Mean and standard error of the mean along the last axis (paths); antithetic pairs
    (2k, 2k+1) are averaged first, the pair means being the independent samples."""
    x = np.asarray(samples, dtype=np.float64)
    if antithetic:
        x = 0.5 * (x[..., 0::2] + x[..., 1::2])
    n = x.shape[-1]
    return x.mean(axis=-1), x.std(axis=-1, ddof=1) / math.sqrt(n)


def z_tolerance(comparisons: int, family_alpha: float = 0.01, floor: float = 3.0) -> float:
    """Number of standard errors a single comparison may deviate by: 3 (the issue's figure),
    raised where a test makes many comparisons to the Bonferroni bound that keeps the chance of
    a false alarm anywhere in the test below ``family_alpha`` (two-sided, Gaussian errors)."""
    return max(floor, float(norm.isf(family_alpha / (2.0 * comparisons))))


class Deviations:
    """Comparisons of Monte Carlo estimates with references, in standard errors.

    ``check`` records |estimate - reference| / (z s.e. + allowance); ``verify`` prints the
    worst deviation (visible with ``pytest -s``) and fails listing every comparison beyond its
    tolerance. ``allowance`` is an absolute error budget added to the statistical one (a
    stated approximation error of the reference).
    """

    def __init__(self, what: str, z: float) -> None:
        self.what, self.z = what, z
        self.rows: list[tuple[float, float, str]] = []  # (deviation in s.e., ratio to tol, where)

    def check(self, estimate: float, reference: float, stderr: float, where: str,
              allowance: float = 0.0) -> float:
        assert stderr > 0.0, f"{self.what} {where}: zero standard error"
        dev = abs(float(estimate) - float(reference))
        self.rows.append((dev / stderr, dev / (self.z * stderr + allowance),
                          f"{where}: estimate {float(estimate):.10g}, reference "
                          f"{float(reference):.10g}, s.e. {float(stderr):.3g}"))
        return dev / stderr

    @property
    def worst(self) -> float:
        return max(r[0] for r in self.rows)

    def verify(self) -> None:
        assert self.rows, f"{self.what}: nothing compared"
        worst = max(self.rows)
        print(f"{self.what}: {len(self.rows)} comparisons, worst {worst[0]:.2f} s.e. "
              f"(tolerance {self.z:.2f} s.e.) at {worst[2]}")
        bad = [f"{r[2]} ({r[0]:.2f} s.e.)" for r in self.rows if r[1] > 1.0]
        assert not bad, f"{self.what}: beyond {self.z:.2f} s.e.:\n" + "\n".join(bad)
