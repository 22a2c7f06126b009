"""BA-CVA (Basel MAR50) against hand calculations of each formula.

Reduced version (MAR50.14-16): SCVA_c = RW_c / 1.4 x sum_NS M_NS EAD_NS DF_NS,
K_reduced = sqrt((0.5 sum SCVA)^2 + 0.75 sum SCVA^2), capital 0.65 K_reduced. Full version
(MAR50.20-24) with single-name and index hedges: K_hedged, K_full = 0.25 K_reduced + 0.75
K_hedged, capital 0.65 K_full. Risk weights of MAR50.16 table 1; DF = (1 - e^{-0.05 M}) /
(0.05 M) (MAR50.15, .23). The SA-CCR EADs are those of results.json (validated in
test_saccr.py); everything after them is recomputed here from the trades.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import shutil
from pathlib import Path
from typing import Any

import pytest
from test_saccr import AS_OF, _capital, _years, hand_portfolio

from xvaflow.io.portfolio import load_portfolio
from xvaflow.portfolio import Portfolio
from xvaflow.regulatory.bacva import (
    is_investment_grade,
    k_reduced,
    risk_weight,
    sector_bucket,
)


@pytest.mark.parametrize(("sector", "rating", "expected"), [
    ("Sovereigns", "AA", 0.005), ("sovereigns", "BB+", 0.02),
    ("Financials", "A", 0.05), ("BANKS", "BBB-", 0.05), ("Banks", "BB+", 0.12),
    ("Industrials", "Baa3", 0.03), ("Energy", "NR", 0.07), ("basic materials", "A-", 0.03),
    ("Consumer", "BBB", 0.03), ("Consumer", "B", 0.085),
    ("Technology", "A+", 0.02), ("telecom", "CCC", 0.055),
    ("Health", "AAA", 0.015), ("Utilities", "", 0.05),
    ("Shipping", "A", 0.05), ("", "", 0.12),
])
def test_risk_weights_by_sector_and_quality(sector: str, rating: str, expected: float) -> None:
    """MAR50.16 table 1; investment grade = BBB- (Baa3) or better, an empty rating is not."""
    assert risk_weight(sector, rating) == expected


def test_sector_and_rating_mapping() -> None:
    assert sector_bucket("  Telecom ") == "technology"
    assert sector_bucket("Real estate") == "other"
    assert [is_investment_grade(r) for r in ("BBB-", "BB+", "baa3", "Ba1", "", "NR")] == \
        [True, False, True, False, False, False]


def test_k_reduced_by_hand() -> None:
    """Two counterparties with SCVA 3 and 4: sqrt((0.5 x 7)^2 + 0.75 x 25) = sqrt(31)."""
    assert k_reduced([3.0, 4.0]) == pytest.approx(math.sqrt(31.0), rel=1e-15)


def _df(m: float) -> float:
    return (1.0 - math.exp(-0.05 * m)) / (0.05 * m)


def _scva_by_hand(cap: dict[str, Any]) -> dict[str, float]:
    """SCVA_c of the hand portfolio of test_saccr.py, from its trades' notionals and remaining
    maturities (effective maturity: notional-weighted, floored at 1 year, no cap)."""
    y = _years
    m_ir = (1e6 * y("2027-05-20") + 2e6 * y("2029-11-20") + 3e6 * y("2033-11-21")) / 6e6
    # FX: the FX adjusted notionals; the option weighs at its settlement
    m_fx = ((1.25e6 * y("2027-05-21") + 1.25e6 * y("2028-11-20") + 1.4375e6 * y("2027-11-22")
             + 1.25e6 * y("2027-11-24")) / (3 * 1.25e6 + 1.4375e6))
    # equity: quantity x spot at the expiries
    m_eq = max(1.0, (500_000 * y("2028-11-20") + 100_000 * y("2027-05-20")
                     + 50_000 * y("2027-11-22")) / 650_000)
    m_ccs = y("2029-11-20")
    ead = {ns: r["ead"] for ns, r in cap["saccr"].items()}

    def term(m: float, ns: str) -> float:
        return m * ead[ns] * _df(m)

    return {"C1": 0.05 / 1.4 * term(m_ir, "NS_IR"),
            "C2": 0.07 / 1.4 * (term(m_fx, "NS_FX") + term(m_eq, "NS_EQ")),
            "C3": 0.12 / 1.4 * term(m_ccs, "NS_CCS")}


@pytest.fixture(scope="module")
def hand_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bacva") / "p"
    hand_portfolio(root)
    return root


def test_reduced_ba_cva(hand_dir: Path) -> None:
    """Counterparties A+ Banks (5%), BB Energy (7%, two netting sets), unrated without sector
    (12%); reduced = 0.65 sqrt((0.5 sum S)^2 + 0.75 sum S^2); no hedge file: full is null."""
    cap = _capital(load_portfolio(hand_dir))
    scva = _scva_by_hand(cap)
    ba = cap["ba_cva"]
    assert list(ba["by_counterparty"]) == ["C1", "C2", "C3"]
    for c, value in scva.items():
        assert ba["by_counterparty"][c] == pytest.approx(value, rel=1e-13)
    total, squares = sum(scva.values()), sum(v * v for v in scva.values())
    assert ba["reduced"] == pytest.approx(0.65 * math.sqrt(0.25 * total**2 + 0.75 * squares),
                                          rel=1e-13)
    assert ba["full"] is None


def _with_hedges(hand_dir: Path, target: Path, rows: list[list[str]]) -> Portfolio:
    shutil.copytree(hand_dir, target)
    with (target / "cva_hedges.csv").open("w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(
            [["hedge_id", "type", "counterparty_id", "relation", "reference", "notional",
              "currency", "maturity_date", "sector", "rating"], *rows])
    return load_portfolio(target)


def test_full_ba_cva_with_single_name_and_index_hedges(hand_dir: Path, tmp_path: Path) -> None:
    """H1: 100,000 USD on C1 itself (r 100%, the counterparty's 5%), 5 years; H2: 200,000
    EUR (x 1.25) on a same-sector-and-region AA technology name for C2 (r 50%, RW 2%), 3
    years; H3: an index of BBB industrials, 300,000 EUR (x 1.25), RW 0.7 x 3%, 5 years.
    SNH_c = r RW M B DF, HMA_c = (1 - r^2)(RW M B DF)^2, IH = RW M B DF (MAR50.23-24)."""
    pf = _with_hedges(hand_dir, tmp_path / "h", [
        ["H1", "single_name", "C1", "direct", "C1 CDS", "100000", "USD", "2031-11-20", "", ""],
        ["H2", "single_name", "C2", "sector_region", "Tech", "200000", "EUR", "2029-11-20",
         "Technology", "AA"],
        ["H3", "index", "", "", "Industrials IG", "300000", "EUR", "2031-11-20", "Industrials",
         "BBB"],
    ])
    cap = _capital(pf)
    scva = _scva_by_hand(cap)
    m5 = (dt.date(2031, 11, 20) - AS_OF).days / 365.0
    m3 = (dt.date(2029, 11, 20) - AS_OF).days / 365.0
    h1 = 0.05 * m5 * 1e5 * _df(m5)
    h2 = 0.02 * m3 * 2.5e5 * _df(m3)
    ih = 0.7 * 0.03 * m5 * 3.75e5 * _df(m5)
    snh = {"C1": 1.0 * h1, "C2": 0.5 * h2, "C3": 0.0}
    hma = (1 - 0.5**2) * h2**2
    net = [scva[c] - snh[c] for c in ("C1", "C2", "C3")]
    k_hedged = math.sqrt((0.5 * sum(net) - ih) ** 2 + 0.75 * sum(x * x for x in net) + hma)
    total, squares = sum(scva.values()), sum(v * v for v in scva.values())
    k_red = math.sqrt(0.25 * total**2 + 0.75 * squares)
    ba = cap["ba_cva"]
    assert ba["reduced"] == pytest.approx(0.65 * k_red, rel=1e-13)
    assert ba["full"] == pytest.approx(0.65 * (0.25 * k_red + 0.75 * k_hedged), rel=1e-13)
    assert ba["full"] < ba["reduced"]


def test_empty_hedge_file_gives_full_equal_to_reduced(hand_dir: Path, tmp_path: Path) -> None:
    """Without hedges K_hedged = K_reduced, so K_full = K_reduced (MAR50.21)."""
    ba = _capital(_with_hedges(hand_dir, tmp_path / "e", []))["ba_cva"]
    assert ba["full"] == pytest.approx(ba["reduced"], rel=1e-14)
