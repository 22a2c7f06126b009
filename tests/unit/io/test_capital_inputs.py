"""Validation of the capital inputs: csas.csv ``collateral_balance`` and cva_hedges.csv.

Each mistake is reported once, naming file, row and field, like every other input
(docs/conventions.md, "Regulatory capital").
"""

from __future__ import annotations

import datetime as _dt

import pytest

from .conftest import PortfolioDir

HEDGES = "cva_hedges.csv"
HEADER = ["hedge_id", "type", "counterparty_id", "relation", "reference", "notional", "currency",
          "maturity_date", "sector", "rating", "risk_weight"]
GOOD = [
    ["H1", "single_name", "CP_ACME", "direct", "Acme CDS", "5000000", "USD", "2031-12-20", "", "",
     ""],
    ["H2", "index", "", "", "CDX IG", "20000000", "EUR", "2031-12-20", "Industrials", "BBB", ""],
    ["H3", "index", "", "", "CDX mixed", "1000000", "USD", "2029-12-20", "", "", "0.06"],
]


@pytest.fixture
def hedged(pf: PortfolioDir) -> PortfolioDir:
    pf.write_rows(HEDGES, [HEADER, *GOOD])
    return pf


def test_collateral_balance_defaults_to_zero_and_is_read(pf: PortfolioDir) -> None:
    assert pf.load().csas["CSA_NORDBANK"].collateral_balance == 0.0
    pf.add_column("csas.csv", "collateral_balance", "-1250000.5")
    assert pf.load().csas["CSA_NORDBANK"].collateral_balance == -1250000.5


def test_collateral_balance_must_be_a_number(pf: PortfolioDir) -> None:
    pf.add_column("csas.csv", "collateral_balance", "lots")
    problem = pf.errors().only("csas.csv", 2, "collateral_balance")
    assert problem.message == "'lots' is not a number"
    assert problem.key == "CSA_NORDBANK"


def test_hedges_file_is_optional(pf: PortfolioDir) -> None:
    assert pf.load().cva_hedges is None


def test_valid_hedges_are_read_with_counterparty_defaults(hedged: PortfolioDir) -> None:
    hedges = hedged.load().cva_hedges
    assert hedges is not None
    assert [h.hedge_id for h in hedges] == ["H1", "H2", "H3"]
    h1, h2, h3 = hedges
    assert (h1.kind, h1.counterparty_id, h1.relation) == ("single_name", "CP_ACME", "direct")
    # an empty sector / rating of a single-name hedge is the counterparty's
    assert (h1.sector, h1.rating) == ("Industrials", "BBB")
    assert (h1.maturity, h1.notional) == (_dt.date(2031, 12, 20), 5e6)
    assert (h2.counterparty_id, h2.relation, h2.risk_weight) == (None, None, None)
    assert h3.risk_weight == 0.06


@pytest.mark.parametrize(("row", "column", "value", "message"), [
    ("H1", "type", "bond", "unknown hedge type 'bond'; expected one of index, single_name"),
    ("H1", "counterparty_id", "CP_NOBODY", "'CP_NOBODY' is not in counterparties.csv"),
    ("H1", "counterparty_id", "", "is required but empty"),
    ("H1", "relation", "cousin", "unknown relation 'cousin'; expected one of direct, "
     "legally_related, sector_region"),
    ("H1", "notional", "-5", "must be positive, got -5"),
    ("H1", "currency", "XXX", "unknown currency 'XXX'; expected one of "),
    ("H1", "maturity_date", "2026-11-20", "2026-11-20 is on or before as_of 2026-11-20: the "
     "protection has expired"),
    ("H1", "maturity_date", "20/12/2031", ""),
    ("H1", "risk_weight", "0.05", "must be empty for a single-name hedge (its weight follows "
     "from sector and rating)"),
    ("H2", "relation", "direct", "must be empty for an index hedge (it hedges no single "
     "counterparty)"),
    ("H2", "counterparty_id", "CP_ACME", "must be empty for an index hedge (it hedges no "
     "single counterparty)"),
    ("H3", "risk_weight", "1.5", "must be at most 1, got 1.5"),
])
def test_one_problem_per_bad_hedge_field(hedged: PortfolioDir, row: str, column: str,
                                         value: str, message: str) -> None:
    number = hedged.set_cell(HEDGES, row, column, value)
    problem = hedged.errors().only(HEDGES, number, column)
    assert problem.message.startswith(message)
    assert problem.key == row


def test_hedge_currency_needs_an_fx_spot(hedged: PortfolioDir) -> None:
    number = hedged.set_cell(HEDGES, "H2", "currency", "GBP")
    assert "no FX spot linking GBP" in hedged.errors().only(HEDGES, number, "currency").message


def test_duplicate_hedge_id(hedged: PortfolioDir) -> None:
    number = hedged.append_copy(HEDGES, "H3")
    problem = hedged.errors().only(HEDGES, number, "hedge_id")
    assert problem.message == "duplicate id 'H3' (first on row 4)"


def test_missing_required_hedge_column(hedged: PortfolioDir) -> None:
    hedged.drop_column(HEDGES, "notional")
    assert hedged.errors().only(HEDGES, 1, "notional").message == \
        "required column is missing from the header"
