"""BA-CVA: the basic approach to CVA capital (Basel Framework MAR50, effective 1 January 2023).

Reduced version (MAR50.14-16)::

    SCVA_c    = (1 / alpha) RW_c sum_NS M_NS EAD_NS DF_NS,      alpha = 1.4
    K_reduced = sqrt((rho sum_c SCVA_c)^2 + (1 - rho^2) sum_c SCVA_c^2),   rho = 50%
    capital   = DS x K_reduced,                                  DS = 0.65

with EAD_NS the SA-CCR exposure of the netting set, M_NS its effective maturity (here the
notional-weighted remaining maturity, floored at 1 year and, as MAR50.15 says, not capped at 5)
and DF = (1 - exp(-0.05 M)) / (0.05 M) the supervisory discount factor (MAR50.15).

Full version with eligible hedges (MAR50.20-24)::

    K_hedged = sqrt((rho sum_c (SCVA_c - SNH_c) - IH)^2 + (1 - rho^2) sum_c (SCVA_c - SNH_c)^2
                    + sum_c HMA_c)
    SNH_c    = sum_{h in c} r_hc RW_h M_h B_h DF_h
    HMA_c    = sum_{h in c} (1 - r_hc^2) (RW_h M_h B_h DF_h)^2
    IH       = sum_i RW_i M_i B_i DF_i
    K_full   = beta K_reduced + (1 - beta) K_hedged,   beta = 0.25
    capital  = DS x K_full

r_hc is 100% for a hedge referencing the counterparty, 80% a legally related entity, 50% one
sharing its sector and region (MAR50.23); index risk weights are the table's times 0.7
(MAR50.24). Risk weights by sector and credit quality: MAR50.16, table 1.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from xvaflow.market.market import Market
from xvaflow.portfolio.records import CvaHedge

ALPHA = 1.4
"""MAR50.14: alpha dividing the netting sets' sum in SCVA_c."""
RHO = 0.5
"""MAR50.14: correlation of the systematic factor."""
DS = 0.65
"""MAR50.14, .20: discount scalar DS_BA-CVA."""
BETA = 0.25
"""MAR50.21: weight of K_reduced in K_full."""
INDEX_SCALE = 0.7
"""MAR50.24: index hedge risk weights are the sector weights times 0.7."""
HEDGE_CORRELATION = {"direct": 1.0, "legally_related": 0.8, "sector_region": 0.5}
"""MAR50.23: r_hc by the hedge's reference entity's relation to the counterparty."""
DF_RATE = 0.05
"""MAR50.15, .23: the 5% rate of the supervisory discount factor."""
MIN_MATURITY = 1.0
"""Effective maturity floor of a netting set, years (MAR50.15 via CRE32.47; no 5-year cap)."""

SECTORS = ("sovereigns", "financials", "industrials", "consumer", "technology", "health",
           "other")
"""The sector buckets this implementation uses (MAR50.16 table 1, without the local-government
bucket, which no input names)."""
RISK_WEIGHTS: dict[str, tuple[float, float]] = {
    "sovereigns": (0.005, 0.020),
    "financials": (0.050, 0.120),
    "industrials": (0.030, 0.070),
    "consumer": (0.030, 0.085),
    "technology": (0.020, 0.055),
    "health": (0.015, 0.050),
    "other": (0.050, 0.120),
}
"""MAR50.16 table 1: (investment grade, high yield and not rated) risk weights per bucket:
sovereigns incl. central banks and MDBs; financials incl. government-backed financials; basic
materials, energy, industrials, agriculture, manufacturing, mining and quarrying; consumer goods
and services, transportation and storage, administrative and support services; technology,
telecommunications; health care, utilities, professional and technical activities; other."""
SECTOR_NAMES = {
    "sovereigns": "sovereigns", "financials": "financials", "banks": "financials",
    "industrials": "industrials", "energy": "industrials", "basic materials": "industrials",
    "consumer": "consumer", "technology": "technology", "telecom": "technology",
    "health": "health", "utilities": "health",
}
"""counterparties.csv ``sector`` (case-insensitive) -> bucket; any other name is ``other``."""
INVESTMENT_GRADE = frozenset(
    {"AAA", "AA+", "AA", "AA-", "A+", "A", "A-", "BBB+", "BBB", "BBB-",
     "AA1", "AA2", "AA3", "A1", "A2", "A3", "BAA1", "BAA2", "BAA3"})
"""Ratings of investment grade, BBB- / Baa3 or better (S&P / Fitch and Moody's scales,
case-insensitive); anything else, an empty rating included, is not investment grade."""


def sector_bucket(sector: str) -> str:
    """The MAR50.16 bucket of a sector name (case-insensitive; unknown names: ``other``)."""
    return SECTOR_NAMES.get(sector.strip().lower(), "other")


def is_investment_grade(rating: str) -> bool:
    """BBB- or better (Moody's: Baa3 or better); empty or unknown ratings are not."""
    return rating.strip().upper() in INVESTMENT_GRADE


def risk_weight(sector: str, rating: str) -> float:
    """RW of MAR50.16 table 1 for a counterparty or single-name hedge reference."""
    ig, hy = RISK_WEIGHTS[sector_bucket(sector)]
    return ig if is_investment_grade(rating) else hy


def discount_factor(maturity: float | np.ndarray) -> float | np.ndarray:
    """DF = (1 - exp(-0.05 M)) / (0.05 M) (MAR50.15), M in years (> 0)."""
    m = np.asarray(maturity, dtype=float)
    out = -np.expm1(-DF_RATE * m) / (DF_RATE * m)
    return out if out.ndim else float(out)


def effective_maturity(weights: np.ndarray, maturities: np.ndarray) -> float:
    """M_NS = max(1, sum w_i M_i / sum w_i): notional-weighted remaining maturity of a netting
    set's trades, floored at 1 year, not capped (MAR50.15); 1 without live trades."""
    total = float(np.sum(weights))
    if total <= 0.0:
        return MIN_MATURITY
    return max(MIN_MATURITY, float(np.sum(weights * maturities)) / total)


def standalone_cva(risk_weight_c: float, terms: Iterable[float]) -> float:
    """SCVA_c = RW_c / alpha x sum over the counterparty's netting sets of M EAD DF
    (MAR50.14); ``terms`` are the netting sets' M_NS EAD_NS DF_NS."""
    return risk_weight_c / ALPHA * math.fsum(terms)


def k_reduced(scva: Iterable[float]) -> float:
    """K_reduced = sqrt((rho sum SCVA_c)^2 + (1 - rho^2) sum SCVA_c^2) (MAR50.14)."""
    values = list(scva)
    return math.sqrt((RHO * math.fsum(values)) ** 2
                     + (1.0 - RHO * RHO) * math.fsum(v * v for v in values))


@dataclass(frozen=True)
class HedgeTerms:
    """The hedges' part of K_hedged (MAR50.22-24), in base currency.

    Attributes:
        snh: counterparty -> SNH_c = sum r_hc RW_h M_h B_h DF_h.
        hma: counterparty -> HMA_c = sum (1 - r_hc^2) (RW_h M_h B_h DF_h)^2.
        ih: IH = sum over index hedges of RW_i M_i B_i DF_i.
    """

    snh: dict[str, float]
    hma: dict[str, float]
    ih: float

    def to_json(self) -> dict[str, object]:
        return {"snh": self.snh, "hma": self.hma, "ih": self.ih}

    @classmethod
    def from_json(cls, d: Mapping[str, object]) -> HedgeTerms:
        snh, hma = d["snh"], d["hma"]
        if not isinstance(snh, dict) or not isinstance(hma, dict):
            raise ValueError("hedge terms need snh and hma objects")
        return cls({str(k): float(v) for k, v in snh.items()},
                   {str(k): float(v) for k, v in hma.items()}, float(str(d["ih"])))


def hedge_terms(hedges: Iterable[CvaHedge], market: Market) -> HedgeTerms:
    """SNH_c, HMA_c and IH of eligible hedges (MAR50.23-24).

    B is the notional at spot in base currency; M the remaining maturity (ACT/365F from
    as_of); DF the supervisory discount factor of M; RW_h from the reference's sector and
    rating; RW_i of an index from ``risk_weight`` when given, else its sector and rating, times
    0.7.
    """
    snh: dict[str, float] = {}
    hma: dict[str, float] = {}
    ih = 0.0
    for h in hedges:
        m = (h.maturity - market.as_of).days / 365.0
        b = h.notional * market.fx_rate(h.currency, market.base_currency)
        scale = m * b * float(discount_factor(m))
        if h.kind == "index":
            rw = INDEX_SCALE * (h.risk_weight if h.risk_weight is not None
                                else risk_weight(h.sector, h.rating))
            ih += rw * scale
            continue
        if h.counterparty_id is None or h.relation is None:
            raise ValueError(f"single-name hedge {h.hedge_id} without counterparty or relation")
        r = HEDGE_CORRELATION[h.relation]
        term = risk_weight(h.sector, h.rating) * scale
        snh[h.counterparty_id] = snh.get(h.counterparty_id, 0.0) + r * term
        hma[h.counterparty_id] = hma.get(h.counterparty_id, 0.0) + (1.0 - r * r) * term * term
    return HedgeTerms(snh, hma, ih)


def k_hedged(scva: Mapping[str, float], hedges: HedgeTerms) -> float:
    """K_hedged of MAR50.21 over the counterparties of ``scva`` and of the hedges."""
    names = set(scva) | set(hedges.snh)
    net = [scva.get(c, 0.0) - hedges.snh.get(c, 0.0) for c in sorted(names)]
    systematic = RHO * math.fsum(net) - hedges.ih
    return math.sqrt(systematic * systematic + (1.0 - RHO * RHO) * math.fsum(x * x for x in net)
                     + math.fsum(hedges.hma.values()))


def k_full(scva: Mapping[str, float], hedges: HedgeTerms) -> float:
    """K_full = beta K_reduced + (1 - beta) K_hedged (MAR50.21)."""
    return BETA * k_reduced(scva.values()) + (1.0 - BETA) * k_hedged(scva, hedges)


@dataclass(frozen=True)
class BaCvaResult:
    """BA-CVA capital (base currency).

    Attributes:
        reduced: DS x K_reduced.
        full: DS x K_full, None without a hedge file.
        by_counterparty: SCVA_c (before DS).
    """

    reduced: float
    full: float | None
    by_counterparty: dict[str, float]


def ba_cva(scva: Mapping[str, float], hedges: HedgeTerms | None) -> BaCvaResult:
    """Reduced and (with hedges) full BA-CVA from the counterparties' SCVA_c."""
    return BaCvaResult(DS * k_reduced(scva.values()),
                       None if hedges is None else DS * k_full(scva, hedges), dict(scva))
