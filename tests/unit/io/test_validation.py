"""Complete validation of a portfolio directory (CONTRACT.md, "Portfolio directory").

Each test breaks one thing in a copy of the demo portfolio and checks that the load fails with a
typed :class:`~xvaflow.core.errors.InputError` whose problem names the file, the spreadsheet row
(header = 1) and the field, both in the structured record and in the rendered line. Most tests
also check that the problem is the only one, i.e. that one mistake is not echoed by later checks.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from xvaflow.core.errors import InputError, Problem
from xvaflow.io.portfolio import load_portfolio
from xvaflow.pricing.t0 import price_t0
from xvaflow.products.records import FixedLeg, SwapTrade

from .conftest import PortfolioDir

TRADES, NETTING, CPTY, CSAS, MARKET = (
    "trades.csv", "netting_sets.csv", "counterparties.csv", "csas.csv", "market.json")


def test_demo_loads_cleanly(pf: PortfolioDir) -> None:
    p = pf.load()
    assert len(p.trades) == 20
    assert p.warnings == ()
    assert [t.info.row for t in p.trades] == list(range(2, 22))


def test_input_error_is_typed_and_renders_one_line_per_problem(pf: PortfolioDir) -> None:
    pf.set_cell(TRADES, "T001", "notional", "-1")
    pf.set_cell(TRADES, "T002", "fixed_rate", "abc")
    rep = pf.errors()
    assert isinstance(rep.error, InputError)
    assert all(isinstance(p, Problem) for p in rep.problems)
    assert rep.lines == [
        "trades.csv row 2 (T001), notional: must be positive, got -1",
        "trades.csv row 3 (T002), fixed_rate: 'abc' is not a number",
    ]
    assert str(rep.error) == rep.lines[0] + " (and 1 more problems)"


# ---------------------------------------------------------------------------------------------
# Files and headers
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [TRADES, NETTING, CPTY, MARKET])
def test_required_file_missing(pf: PortfolioDir, name: str) -> None:
    (pf.path / name).unlink()
    p = pf.errors().at(name, None, None)
    assert "required file is missing" in p.message


def test_missing_portfolio_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_portfolio(tmp_path / "nowhere")
    assert len(info.value.problems) == 1
    assert "is not a directory" in info.value.problems[0].message


def test_csas_file_is_optional_but_a_reference_to_it_dangles(pf: PortfolioDir) -> None:
    (pf.path / CSAS).unlink()
    p = pf.errors().only(NETTING, 3, "csa_id")
    assert "'CSA_NORDBANK' is not in csas.csv" in p.message
    pf.set_cell(NETTING, "NS_NORDBANK", "csa_id", "")
    assert pf.load().csas == {}


@pytest.mark.parametrize(("name", "column"), [
    (TRADES, "trade_id"), (TRADES, "netting_set_id"), (TRADES, "product"),
    (TRADES, "maturity_date"), (NETTING, "netting_set_id"), (NETTING, "counterparty_id"),
    (CPTY, "counterparty_id"), (CPTY, "recovery"), (CSAS, "csa_id"), (CSAS, "currency"),
])
def test_missing_required_column(pf: PortfolioDir, name: str, column: str) -> None:
    pf.drop_column(name, column)
    p = pf.errors().at(name, 1, column)
    assert p.message.startswith("required column is missing from the header")


def test_missing_optional_column_is_reported_where_a_product_needs_it(pf: PortfolioDir) -> None:
    """A trades.csv without ``expiry_date`` is fine for swaps but not for the options in it."""
    pf.drop_column(TRADES, "expiry_date")
    rep = pf.errors()
    option_rows = [14, 15, 16, 17, 19, 20, 21]  # FXOPT, SWAPTION and EQOPT trades
    assert sorted(p.row or 0 for p in rep.problems) == option_rows
    for row in option_rows:
        p = rep.at(TRADES, row, "expiry_date")
        assert "column is missing" in p.message


def test_duplicate_column(pf: PortfolioDir) -> None:
    pf.add_column(NETTING, "csa_id")
    p = pf.errors().only(NETTING, 1, "csa_id")
    assert "appears twice" in p.message


def test_unknown_column_is_only_a_warning(pf: PortfolioDir) -> None:
    pf.add_column(TRADES, "desk", "rates")
    p = pf.load()
    assert len(p.trades) == 20
    assert len(p.warnings) == 1
    w = p.warnings[0]
    assert (w.file, w.row, w.field) == (TRADES, 1, "desk")
    assert str(w) == "trades.csv row 1, desk: unknown column, ignored"


def test_case_mismatch_of_optional_column_hints_at_the_name(pf: PortfolioDir) -> None:
    pf.keep_rows(TRADES, "T010")  # an FX forward: notional may be empty
    pf.rename_column(TRADES, "notional", "Notional")
    p = pf.load()
    assert [str(w) for w in p.warnings] == [
        "trades.csv row 1, Notional: unknown column, ignored (did you mean 'notional'? column "
        "names are case-sensitive)"]


def test_case_mismatch_of_required_column_hints_at_the_name(pf: PortfolioDir) -> None:
    pf.rename_column(CPTY, "recovery", "Recovery")
    p = pf.errors().only(CPTY, 1, "recovery")
    assert "required column is missing" in p.message
    assert "'Recovery'" in p.message
    assert "case-sensitive" in p.message


def test_unnamed_trailing_columns_are_ignored(pf: PortfolioDir) -> None:
    """Spreadsheet exports often end every line with empty cells under an empty header."""
    rows = pf.rows(NETTING)
    pf.write_rows(NETTING, [[*r, "", ""] for r in rows])
    p = pf.load()
    assert len(p.netting_sets) == 3
    assert [(w.file, w.row) for w in p.warnings] == [(NETTING, 1), (NETTING, 1)]
    assert all("no name" in w.message for w in p.warnings)


def test_empty_file(pf: PortfolioDir) -> None:
    (pf.path / CPTY).write_text("", encoding="utf-8")
    p = pf.errors().only(CPTY, None, None)
    assert "empty" in p.message


def test_row_with_more_cells_than_header(pf: PortfolioDir) -> None:
    rows = pf.rows(NETTING)
    rows[2].append("surplus")
    pf.write_rows(NETTING, rows)
    rep = pf.errors()
    p = rep.at(NETTING, 3, None)
    assert "4 cells but the header has 3 columns" in p.message


def test_short_row_reads_missing_cells_as_empty(pf: PortfolioDir) -> None:
    rows = pf.rows(NETTING)
    rows[1] = rows[1][:2]  # NS_ACME without the trailing (empty) csa_id
    pf.write_rows(NETTING, rows)
    assert pf.load().netting_sets["NS_ACME"].csa_id is None


def test_not_utf8(pf: PortfolioDir) -> None:
    data = (pf.path / CPTY).read_bytes().replace(b"Nordbank AG", b"Nordbank \xc4G")
    (pf.path / CPTY).write_bytes(data)
    p = pf.errors().only(CPTY, None, None)
    assert "UTF-8" in p.message


def test_utf8_byte_order_mark_is_accepted(pf: PortfolioDir) -> None:
    for name in (TRADES, MARKET):
        data = (pf.path / name).read_bytes()
        (pf.path / name).write_bytes(b"\xef\xbb\xbf" + data)
    assert len(pf.load().trades) == 20


# ---------------------------------------------------------------------------------------------
# Row numbers are spreadsheet rows
# ---------------------------------------------------------------------------------------------
def test_row_numbers_count_the_header_as_row_one(pf: PortfolioDir) -> None:
    pf.set_cell(TRADES, "T001", "notional", "0")
    pf.set_cell(TRADES, "T020", "strike", "0")
    rep = pf.errors()
    assert [(p.row, p.key) for p in rep.problems] == [(2, "T001"), (21, "T020")]


def test_row_numbers_count_blank_lines(pf: PortfolioDir) -> None:
    text = (pf.path / TRADES).read_text(encoding="utf-8").splitlines()
    text.insert(3, "")  # blank spreadsheet row 4; T003 moves to row 5
    (pf.path / TRADES).write_text("\n".join(text) + "\n", encoding="utf-8")
    pf.set_cell(TRADES, "T003", "fixed_rate", "x")
    pf.errors().only(TRADES, 5, "fixed_rate")


def test_row_numbers_with_a_multiline_cell_are_spreadsheet_rows(pf: PortfolioDir) -> None:
    """A quoted cell with a line break is one spreadsheet row (not two lines)."""
    pf.set_cell(CPTY, "CP_ACME", "name", "Acme\nManufacturing Inc")
    pf.set_cell(CPTY, "CP_HELIOS", "recovery", "1.5")
    pf.errors().only(CPTY, 4, "recovery")


# ---------------------------------------------------------------------------------------------
# trades.csv: values
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("trade", "column", "value", "expected"), [
    ("T001", "start_date", "2026-13-24", "is not a valid calendar date"),
    ("T001", "maturity_date", "24/11/2036", "is not a date (expected YYYY-MM-DD)"),
    ("T013", "expiry_date", "2027-02-30", "is not a valid calendar date"),
    ("T001", "fixed_frequency", "7X", "is not a coupon frequency"),
    ("T001", "float_frequency", "2W", "is not a coupon frequency"),
    ("T001", "fixed_rate", "3.65%", "'3.65%' is not a number"),
    ("T001", "notional", "1e8x", "is not a number"),
    ("T002", "last_fixing", "n/a", "is not a number"),
    ("T001", "float_spread", "nan", "is not a finite number"),
    ("T001", "version", "v2", "is not an integer"),
    ("T001", "version", "1.5", "is not an integer"),
    ("T001", "version", "-1", "must be at least 0"),
    ("T001", "fixed_rate", "3.65", "must be at most 1"),
    ("T017", "quantity", "lots", "is not a number"),
], ids=lambda v: v if isinstance(v, str) and len(v) < 16 else None)
def test_malformed_value(pf: PortfolioDir, trade: str, column: str, value: str,
                         expected: str) -> None:
    row = pf.set_cell(TRADES, trade, column, value)
    p = pf.errors().only(TRADES, row, column)
    assert expected in p.message
    assert p.key == trade


@pytest.mark.parametrize(("trade", "column", "value", "what"), [
    ("T001", "product", "BOND", "unknown product 'BOND'; expected one of CCS, EQFWD, EQOPT"),
    ("T001", "product", "irs", "unknown product 'irs'"),
    ("T001", "float_index", "USD-LIBOR", "unknown index 'USD-LIBOR'; expected one of"),
    ("T001", "currency", "XYZ", "unknown currency 'XYZ'"),
    ("T010", "buy_currency", "EURO", "unknown currency 'EURO'"),
    ("T008", "currency_2", "US", "unknown currency 'US'"),
    ("T001", "fixed_daycount", "ACT/364", "unknown day count 'ACT/364'"),
    ("T008", "float_daycount_2", "30E/360", "unknown day count '30E/360'"),
    ("T015", "settlement", "net", "unknown settlement 'net'"),
    ("T018", "option_type", "straddle", "unknown option type 'straddle'"),
])
def test_unknown_code(pf: PortfolioDir, trade: str, column: str, value: str, what: str) -> None:
    row = pf.set_cell(TRADES, trade, column, value)
    p = pf.errors().only(TRADES, row, column)
    assert what in p.message


def test_codes_other_than_currencies_and_products_ignore_case(pf: PortfolioDir) -> None:
    pf.set_cells(TRADES, "T001", direction="PAYER", float_index="usd-sofr",
                 fixed_daycount="act/360", fixed_frequency="Annual")
    trade = pf.load().trades[0]
    assert isinstance(trade, SwapTrade)
    assert trade.legs[1].index == "USD-SOFR"  # type: ignore[union-attr]
    assert trade.legs[0].daycount == "ACT/360"


def test_lower_case_currency_is_rejected_with_a_hint(pf: PortfolioDir) -> None:
    pf.set_cell(TRADES, "T001", "currency", "usd")
    p = pf.errors().only(TRADES, 2, "currency")
    assert "'usd'" in p.message
    assert "did you mean 'USD'" in p.message


@pytest.mark.parametrize(("trade", "start", "maturity"), [
    ("T001", "2026-11-24", "2026-11-24"),
    ("T001", "2036-11-24", "2026-11-24"),
    ("T010", "2027-06-01", "2027-05-20"),  # a start date given on an FX forward is checked too
])
def test_maturity_not_after_start(pf: PortfolioDir, trade: str, start: str,
                                  maturity: str) -> None:
    row = pf.set_cells(TRADES, trade, start_date=start, maturity_date=maturity)
    p = pf.errors().only(TRADES, row, "maturity_date")
    assert p.message == f"{maturity} is not after start_date {start}"


@pytest.mark.parametrize(("trade", "column", "value"), [
    ("T001", "notional", "0"),
    ("T001", "notional", "-100000000"),
    ("T008", "notional_2", "0"),
    ("T010", "buy_amount", "0"),
    ("T011", "sell_amount", "-12000000"),
    ("T010", "notional", "-5"),  # optional for FX, but positive when given
    ("T017", "quantity", "0"),
    ("T018", "strike", "-5200"),
])
def test_non_positive_amount(pf: PortfolioDir, trade: str, column: str, value: str) -> None:
    row = pf.set_cell(TRADES, trade, column, value)
    p = pf.errors().only(TRADES, row, column)
    assert p.message == f"must be positive, got {value}"


def test_dangling_netting_set(pf: PortfolioDir) -> None:
    pf.set_cell(TRADES, "T004", "netting_set_id", "NS_NOBODY")
    p = pf.errors().only(TRADES, 5, "netting_set_id")
    assert p.message == "'NS_NOBODY' is not in netting_sets.csv"


# ---------------------------------------------------------------------------------------------
# trades.csv: each product's required columns and rules
# ---------------------------------------------------------------------------------------------
REQUIRED = [
    ("T001", "IRS", c) for c in (
        "direction", "notional", "currency", "start_date", "maturity_date", "netting_set_id",
        "trade_id", "product", "fixed_rate", "fixed_frequency", "fixed_daycount", "float_index",
        "float_frequency", "float_daycount")
] + [
    ("T008", "CCS", c) for c in (
        "direction", "notional", "currency", "start_date", "currency_2", "notional_2",
        "float_frequency", "float_daycount", "float_frequency_2", "float_daycount_2")
] + [
    ("T009", "CCS", c) for c in ("fixed_frequency", "fixed_daycount", "fixed_frequency_2",
                                 "fixed_daycount_2")
] + [
    ("T010", "FXFWD", c) for c in ("buy_currency", "buy_amount", "sell_currency", "sell_amount",
                                   "maturity_date")
] + [
    ("T013", "FXOPT", c) for c in ("direction", "buy_currency", "buy_amount", "sell_currency",
                                   "sell_amount", "expiry_date")
] + [
    ("T015", "SWAPTION", c) for c in (
        "direction", "expiry_date", "settlement", "direction_underlying", "notional",
        "currency", "start_date", "fixed_rate", "fixed_frequency", "fixed_daycount",
        "float_index", "float_frequency", "float_daycount")
] + [
    ("T017", "EQFWD", c) for c in ("direction", "underlying", "quantity", "strike")
] + [
    ("T018", "EQOPT", c) for c in ("direction", "underlying", "quantity", "strike",
                                   "option_type", "expiry_date")
]


@pytest.mark.parametrize(("trade", "product", "column"), REQUIRED,
                         ids=[f"{p}-{c}" for _, p, c in REQUIRED])
def test_required_field_empty(pf: PortfolioDir, trade: str, product: str, column: str) -> None:
    row = pf.set_cell(TRADES, trade, column, "")
    p = pf.errors().only(TRADES, row, column)
    assert p.message == "is required but empty"
    assert p.key == (None if column == "trade_id" else trade)


@pytest.mark.parametrize(("trade", "column"), [
    ("T008", "float_index"), ("T008", "float_index_2"), ("T009", "fixed_rate"),
    ("T009", "fixed_rate_2")])
def test_ccs_leg_needs_a_fixed_rate_or_an_index(pf: PortfolioDir, trade: str,
                                                column: str) -> None:
    row = pf.set_cell(TRADES, trade, column, "")
    suffix = "_2" if column.endswith("_2") else ""
    # The remaining columns of the leg (frequency, day count, ...) are not echoed as problems.
    p = pf.errors().at(TRADES, row, "fixed_rate" + suffix)
    assert p.message == (f"give exactly one of fixed_rate{suffix} and float_index{suffix} for "
                         "this leg")


@pytest.mark.parametrize("suffix", ["", "_2"])
def test_ccs_leg_with_both_fixed_rate_and_index(pf: PortfolioDir, suffix: str) -> None:
    row = pf.set_cell(TRADES, "T008", "fixed_rate" + suffix, "0.02")
    p = pf.errors().only(TRADES, row, "fixed_rate" + suffix)
    assert "give exactly one of" in p.message


def test_ccs_fixed_leg_with_a_floating_column(pf: PortfolioDir) -> None:
    row = pf.set_cell(TRADES, "T009", "float_spread_2", "0.001")
    p = pf.errors().only(TRADES, row, "float_spread_2")
    assert p.message == "must be empty on a fixed leg"


@pytest.mark.parametrize(("trade", "column", "index", "leg_ccy"), [
    ("T001", "float_index", "EUR-ESTR", "USD"),
    ("T002", "float_index", "USD-TERM-3M", "EUR"),
    ("T015", "float_index", "EUR-ESTR", "USD"),
    ("T008", "float_index", "USD-SOFR", "EUR"),
    ("T008", "float_index_2", "EUR-ESTR", "USD"),
])
def test_index_of_another_currency(pf: PortfolioDir, trade: str, column: str, index: str,
                                   leg_ccy: str) -> None:
    row = pf.set_cell(TRADES, trade, column, index)
    p = pf.errors().only(TRADES, row, column)
    assert p.message.startswith(f"index {index} is in ")
    assert p.message.endswith(f"the leg is in {leg_ccy}")


def test_unknown_currency_does_not_echo_on_the_index(pf: PortfolioDir) -> None:
    pf.set_cell(TRADES, "T001", "currency", "XYZ")
    pf.set_cell(TRADES, "T008", "currency_2", "XYZ")
    rep = pf.errors()
    assert [(p.row, p.field) for p in rep.problems] == [(2, "currency"), (9, "currency_2")]


@pytest.mark.parametrize(("trade", "value", "expected"), [
    ("T001", "long", "unknown direction 'long'; expected one of payer, receiver"),
    ("T008", "buy", "unknown direction 'buy'; expected one of payer, receiver"),
    ("T013", "payer", "unknown direction 'payer'; expected one of long, short"),
    ("T015", "receiver", "unknown direction 'receiver'; expected one of long, short"),
    ("T018", "bought", "unknown direction 'bought'; expected one of long, short"),
    ("T010", "long", "must be empty for FXFWD (the bank buys buy_currency)"),
])
def test_direction_values(pf: PortfolioDir, trade: str, value: str, expected: str) -> None:
    row = pf.set_cell(TRADES, trade, "direction", value)
    assert pf.errors().only(TRADES, row, "direction").message == expected


def test_swaption_underlying_direction(pf: PortfolioDir) -> None:
    row = pf.set_cell(TRADES, "T015", "direction_underlying", "long")
    p = pf.errors().only(TRADES, row, "direction_underlying")
    assert "expected one of payer, receiver" in p.message


def test_fx_option_expiry_after_settlement(pf: PortfolioDir) -> None:
    row = pf.set_cell(TRADES, "T013", "expiry_date", "2027-11-23")
    p = pf.errors().only(TRADES, row, "expiry_date")
    assert p.message == "2027-11-23 is after the settlement date (maturity_date) 2027-11-22"


@pytest.mark.parametrize("trade", ["T017", "T018"])
def test_equity_expiry_after_maturity(pf: PortfolioDir, trade: str) -> None:
    maturity = pf.cell(TRADES, trade, "maturity_date")
    row = pf.set_cell(TRADES, trade, "expiry_date", "2029-01-05")
    p = pf.errors().only(TRADES, row, "expiry_date")
    assert p.message == f"2029-01-05 is after maturity_date {maturity}"


def test_swaption_expiry_after_underlying_start(pf: PortfolioDir) -> None:
    row = pf.set_cell(TRADES, "T015", "expiry_date", "2027-11-23")
    p = pf.errors().only(TRADES, row, "expiry_date")
    assert p.message == "2027-11-23 is after the underlying's start_date 2027-11-22"


@pytest.mark.parametrize(("trade", "expiry", "expected"), [
    ("T013", "2026-11-20", "book an exercised option as the FX forward it delivered"),
    ("T014", "2026-10-01", "book an exercised option as the FX forward it delivered"),
    ("T015", "2026-11-20", "an exercised swaption is booked as the IRS it delivered"),
    ("T018", "2026-11-20", "the option has expired"),
    ("T019", "2025-03-19", "the option has expired"),
])
def test_option_expired_at_as_of(pf: PortfolioDir, trade: str, expiry: str,
                                 expected: str) -> None:
    row = pf.set_cell(TRADES, trade, "expiry_date", expiry)
    p = pf.errors().only(TRADES, row, "expiry_date")
    assert p.message.startswith(f"{expiry} is on or before as_of 2026-11-20")
    assert expected in p.message
    assert p.key == trade


def test_expired_equity_forward_is_not_an_error(pf: PortfolioDir) -> None:
    pf.set_cells(TRADES, "T017", expiry_date="2026-06-18", maturity_date="2026-06-18")
    assert len(pf.load().trades) == 20


def test_fx_forward_buy_equals_sell_currency(pf: PortfolioDir) -> None:
    row = pf.set_cell(TRADES, "T010", "sell_currency", "EUR")
    p = pf.errors().only(TRADES, row, "sell_currency")
    assert p.message == "equals buy_currency EUR"


def test_fx_forward_report_currency_must_be_buy_or_sell(pf: PortfolioDir) -> None:
    row = pf.set_cell(TRADES, "T010", "currency", "JPY")
    p = pf.errors().only(TRADES, row, "currency")
    assert p.message == "JPY is neither the buy (EUR) nor the sell (USD) currency"


def test_equity_forward_with_option_type(pf: PortfolioDir) -> None:
    row = pf.set_cell(TRADES, "T017", "option_type", "call")
    assert pf.errors().only(TRADES, row, "option_type").message == "must be empty for EQFWD"


def test_equity_unknown_underlying(pf: PortfolioDir) -> None:
    row = pf.set_cell(TRADES, "T019", "underlying", "NIKKEI")
    p = pf.errors().only(TRADES, row, "underlying")
    assert p.message == "unknown underlying 'NIKKEI' (market.json equities: EUROSTOXX, SPX)"


def test_equity_currency_other_than_underlyings(pf: PortfolioDir) -> None:
    row = pf.set_cell(TRADES, "T019", "currency", "EUR")
    p = pf.errors().only(TRADES, row, "currency")
    assert "differs from the currency of SPX (USD)" in p.message


def test_all_problems_of_one_row_are_reported(pf: PortfolioDir) -> None:
    pf.set_cells(TRADES, "T001", notional="0", start_date="2026-11-31", fixed_rate="x",
                 float_index="USD-LIBOR", fixed_daycount="")
    rep = pf.errors()
    assert sorted(p.field for p in rep.problems) == [  # type: ignore[type-var]
        "fixed_daycount", "fixed_rate", "float_index", "notional", "start_date"]
    for field in ("notional", "start_date", "fixed_rate", "float_index", "fixed_daycount"):
        rep.at(TRADES, 2, field)


# ---------------------------------------------------------------------------------------------
# trades.csv: versions and duplicates
# ---------------------------------------------------------------------------------------------
def test_exact_duplicate_trade_is_an_error(pf: PortfolioDir) -> None:
    row = pf.append_copy(TRADES, "T004")
    p = pf.errors().only(TRADES, row, "version")
    assert p.message == "duplicate of row 5 (same trade_id and version 1)"
    assert p.key == "T004"


def test_same_version_with_different_terms_is_an_error(pf: PortfolioDir) -> None:
    row = pf.append_copy(TRADES, "T004", fixed_rate="0.04")
    assert "duplicate of row 5" in pf.errors().only(TRADES, row, "version").message


def test_duplicate_without_versions_is_an_error(pf: PortfolioDir) -> None:
    pf.set_cell(TRADES, "T004", "version", "")
    row = pf.append_copy(TRADES, "T004")
    p = pf.errors().only(TRADES, row, "version")
    assert "(same trade_id and version 0)" in p.message


@pytest.mark.parametrize("new_first", [False, True])
def test_highest_version_wins_with_a_warning(pf: PortfolioDir, new_first: bool) -> None:
    row = pf.append_copy(TRADES, "T003", version="3", fixed_rate="0.05")
    if new_first:  # the order of the rows does not matter
        rows = pf.rows(TRADES)
        rows.insert(1, rows.pop())
        pf.write_rows(TRADES, rows)
        old, row = 5, 2
    else:
        old = 4
    p = pf.load()
    t3 = [t for t in p.trades if t.info.trade_id == "T003"]
    assert len(t3) == 1
    assert len(p.trades) == 20
    assert t3[0].info.version == 3
    assert t3[0].info.row == row
    assert isinstance(t3[0], SwapTrade)
    assert isinstance(t3[0].legs[0], FixedLeg)
    assert t3[0].legs[0].rate == 0.05
    assert [str(w) for w in p.warnings] == [
        f"trades.csv row {old} (T003), version: version 1 superseded by version 3 on row {row}"]


def test_superseded_version_keeps_its_row_order(pf: PortfolioDir) -> None:
    pf.append_copy(TRADES, "T001", version="2")
    ids = [t.info.trade_id for t in pf.load().trades]
    assert ids == [f"T{i:03d}" for i in range(2, 21)] + ["T001"]


def test_duplicate_of_the_highest_version(pf: PortfolioDir) -> None:
    a = pf.append_copy(TRADES, "T003", version="2")
    b = pf.append_copy(TRADES, a, version="2")
    rep = pf.errors()
    assert rep.only(TRADES, b, "version").message == (
        f"duplicate of row {a} (same trade_id and version 2)")


@pytest.mark.parametrize(("name", "key", "column"), [
    (NETTING, "NS_ACME", "netting_set_id"), (CPTY, "CP_ACME", "counterparty_id"),
    (CSAS, "CSA_NORDBANK", "csa_id")])
def test_duplicate_ids_in_reference_files(pf: PortfolioDir, name: str, key: str,
                                          column: str) -> None:
    first = pf.row_number(name, key)
    row = pf.append_copy(name, key)
    p = pf.errors().only(name, row, column)
    assert p.message == f"duplicate id {key!r} (first on row {first})"


# ---------------------------------------------------------------------------------------------
# trades.csv: seasoned legs and market data in use
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("trade", "column"), [
    ("T002", "last_fixing"),  # term index
    ("T003", "last_fixing"),  # overnight index
    ("T006", "last_fixing"),
    ("T008", "last_fixing"),  # cross-currency legs
    ("T008", "last_fixing_2"),
])
def test_seasoned_floating_leg_without_last_fixing(pf: PortfolioDir, trade: str,
                                                   column: str) -> None:
    if trade == "T008":  # its quarterly periods roll on as_of itself: move them off it
        pf.set_cells(TRADES, trade, start_date="2025-10-15", maturity_date="2030-10-15")
    row = pf.set_cell(TRADES, trade, column, "")
    p = pf.errors().only(TRADES, row, column)
    assert p.message.startswith("is required: the floating period in progress at as_of "
                                "(2026-11-20) started before it")
    assert p.key == trade


def test_leg_without_a_period_in_progress_needs_no_fixing(pf: PortfolioDir) -> None:
    assert pf.cell(TRADES, "T001", "last_fixing") == ""  # forward starting
    pf.set_cell(TRADES, "T008", "last_fixing", "")  # a period starts on as_of
    pf.load()


def _gbp_swap(pf: PortfolioDir) -> int:
    return pf.set_cells(TRADES, "T005", currency="GBP", float_index="GBP-SONIA")


def test_curve_missing_for_a_trade_currency(pf: PortfolioDir) -> None:
    row = _gbp_swap(pf)
    p = pf.errors().only(TRADES, row, "currency")
    assert p.message == "no curve for GBP in market.json curves"


def test_curve_missing_for_ccs_second_leg(pf: PortfolioDir) -> None:
    row = pf.set_cells(TRADES, "T008", currency_2="CHF", float_index_2="CHF-SARON")
    p = pf.errors().only(TRADES, row, "currency_2")
    assert p.message == "no curve for CHF in market.json curves"


def test_curve_missing_for_an_fx_currency(pf: PortfolioDir) -> None:
    row = pf.set_cell(TRADES, "T011", "sell_currency", "JPY")
    p = pf.errors().only(TRADES, row, "sell_currency")
    assert p.message == "no curve for JPY in market.json curves"


def test_fx_spot_missing_for_a_currency_in_use(pf: PortfolioDir) -> None:
    pf.set_market("curves.GBP", {"zero_rates": {"1Y": 0.04, "10Y": 0.042}})
    row = _gbp_swap(pf)
    p = pf.errors().only(TRADES, row, "currency")
    assert p.message == ("no FX spot linking GBP to the base currency USD in market.json "
                         "fx_spots")
    pf.set_market("fx_spots.GBPUSD", 1.27)
    pf.load()


def test_fx_spot_reached_through_a_cross(pf: PortfolioDir) -> None:
    pf.set_market("curves.GBP", {"zero_rates": {"1Y": 0.04, "10Y": 0.042}})
    pf.set_market("fx_spots.EURGBP", 0.85)
    _gbp_swap(pf)
    p = pf.load()
    assert p.market.fx_rate("GBP", "USD") == pytest.approx(1.08 / 0.85, rel=1e-15)


def test_fx_spot_missing_for_a_pair_in_use(pf: PortfolioDir) -> None:
    """Both currencies of an FX trade need a route to the base currency."""
    pf.set_market("curves.GBP", {"zero_rates": {"1Y": 0.04, "10Y": 0.042}})
    row = pf.set_cell(TRADES, "T010", "buy_currency", "GBP")
    p = pf.errors().only(TRADES, row, "buy_currency")
    assert "no FX spot linking GBP" in p.message


def test_fx_option_without_vol(pf: PortfolioDir) -> None:
    pf.set_market("fx_vols", {})
    rep = pf.errors()
    assert len(rep) == 2
    for row in (14, 15):
        assert "fx_vols has no vol for" in rep.at(TRADES, row, "buy_currency").message


def test_swaption_without_hull_white_or_swaption_vols(pf: PortfolioDir) -> None:
    pf.del_market("hull_white.EUR")
    pf.del_market("swaption_vols.EUR")
    p = pf.errors().only(TRADES, 17, "currency")
    assert p.message == ("swaptions in EUR need market.json hull_white.EUR (mean_reversion, "
                         "volatility) or swaption_vols.EUR to calibrate them")


def test_swaption_with_swaption_vols_only_loads(pf: PortfolioDir) -> None:
    pf.del_market("hull_white.EUR")  # calibrated to swaption_vols.EUR instead
    assert pf.load().compiled.n_trades == 20


def test_term_index_without_basis_is_a_warning(pf: PortfolioDir) -> None:
    pf.del_market("index_basis.USD-TERM-3M")
    p = pf.load()
    assert [str(w) for w in p.warnings] == [
        "trades.csv row 5 (T004), float_index: no index_basis for USD-TERM-3M in market.json; "
        "using 0"]


def test_csa_currency_without_curve(pf: PortfolioDir) -> None:
    pf.set_cell(CSAS, "CSA_NORDBANK", "currency", "GBP")
    p = pf.errors().only(CSAS, 2, "currency")
    assert p.message == "no curve for GBP in market.json curves"


# ---------------------------------------------------------------------------------------------
# counterparties.csv, csas.csv, netting_sets.csv
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "expected"), [
    ("1.0", "must be at most 0.99, got 1.0"),
    ("-0.1", "must be at least 0, got -0.1"),
    ("40%", "'40%' is not a number"),
    ("", "is required but empty"),
])
def test_counterparty_recovery(pf: PortfolioDir, value: str, expected: str) -> None:
    pf.set_cell(CPTY, "CP_HELIOS", "recovery", value)
    assert pf.errors().only(CPTY, 4, "recovery").message == expected


def test_counterparty_with_both_hazard_rate_and_cds(pf: PortfolioDir) -> None:
    pf.set_cell(CPTY, "CP_HELIOS", "cds_5y", "150")
    p = pf.errors().only(CPTY, 4, "hazard_rate")
    assert p.message == "give either hazard_rate or CDS spreads, not both"
    assert p.key == "CP_HELIOS"


def test_counterparty_with_neither_hazard_rate_nor_cds(pf: PortfolioDir) -> None:
    pf.set_cell(CPTY, "CP_HELIOS", "hazard_rate", "")
    p = pf.errors().only(CPTY, 4, "hazard_rate")
    assert p.message.startswith("give hazard_rate or at least one CDS spread (cds_6m, cds_1y")


@pytest.mark.parametrize(("column", "value", "expected"), [
    ("hazard_rate", "-0.01", "must be at least 0"),
    ("cds_5y", "0", "must be positive"),
    ("cds_1y", "-26", "must be positive"),
    ("cds_10y", "78bp", "is not a number"),
])
def test_counterparty_bad_credit_numbers(pf: PortfolioDir, column: str, value: str,
                                         expected: str) -> None:
    key = "CP_HELIOS" if column == "hazard_rate" else "CP_NORDBANK"
    row = pf.set_cell(CPTY, key, column, value)
    assert expected in pf.errors().only(CPTY, row, column).message


def test_counterparty_with_some_cds_tenors_only(pf: PortfolioDir) -> None:
    for col in ("cds_6m", "cds_2y", "cds_7y", "cds_10y"):
        pf.set_cell(CPTY, "CP_ACME", col, "")
    assert "CP_ACME" in pf.load().credit


def test_cds_spreads_that_need_a_negative_hazard(pf: PortfolioDir) -> None:
    pf.set_cells(CPTY, "CP_ACME", cds_2y="300", cds_3y="20")
    p = pf.errors().only(CPTY, 2, "cds_3y")
    assert "CDS 3Y spread 20bp cannot be matched with a non-negative hazard rate" in p.message
    assert p.key == "CP_ACME"


@pytest.mark.parametrize(("column", "value", "expected"), [
    ("threshold_cpty", "-1", "must not be negative, got -1"),
    ("threshold_own", "-1e6", "must not be negative, got -1e6"),
    ("mta", "lots", "'lots' is not a number"),
    ("mpor_days", "-2", "must be at least 0, got -2"),
    ("mpor_days", "10.5", "'10.5' is not an integer"),
    ("im_model", "grid",
     "unknown initial margin model 'grid'; expected one of ccp_hvar, none, simm"),
    ("currency", "XYZ", "unknown currency 'XYZ'"),
    ("currency", "", "is required but empty"),
    ("call_frequency", "hourly",
     "unknown margin call frequency 'hourly'; expected one of daily, monthly, weekly"),
    ("rounding", "-5", "must not be negative, got -5"),
    ("collateral_spread_bp", "1500", "must be at most 1000"),
])
def test_csa_values(pf: PortfolioDir, column: str, value: str, expected: str) -> None:
    pf.set_cell(CSAS, "CSA_NORDBANK", column, value)
    assert expected in pf.errors().only(CSAS, 2, column).message


def test_csa_im_model_ignores_case_and_defaults(pf: PortfolioDir) -> None:
    pf.set_cell(CSAS, "CSA_NORDBANK", "im_model", "SIMM")
    loaded = pf.load()
    assert loaded.csas["CSA_NORDBANK"].im_model == "simm"
    # initial margin is not modelled: said once, so the VM-only exposure is not a surprise
    (warning,) = [w for w in loaded.warnings if w.field == "im_model"]
    assert warning.file == CSAS
    assert "1 CSA(s) with im_model simm (CSA_NORDBANK)" in warning.message
    assert "not modelled" in warning.message
    pf.set_cells(CSAS, "CSA_NORDBANK", im_model="", mpor_days="")
    csa = pf.load().csas["CSA_NORDBANK"]
    assert (csa.im_model, csa.mpor_days) == ("none", 10)


def test_netting_set_unknown_counterparty(pf: PortfolioDir) -> None:
    pf.set_cell(NETTING, "NS_HELIOS", "counterparty_id", "CP_NOBODY")
    p = pf.errors().only(NETTING, 4, "counterparty_id")
    assert p.message == "'CP_NOBODY' is not in counterparties.csv"
    assert p.key == "NS_HELIOS"


def test_netting_set_unknown_csa(pf: PortfolioDir) -> None:
    pf.set_cell(NETTING, "NS_ACME", "csa_id", "CSA_ACME")
    p = pf.errors().only(NETTING, 2, "csa_id")
    assert p.message == "'CSA_ACME' is not in csas.csv"


def test_bad_counterparty_row_is_not_echoed_by_netting_sets_and_trades(
        pf: PortfolioDir) -> None:
    pf.set_cell(CPTY, "CP_ACME", "recovery", "2")
    pf.errors().only(CPTY, 2, "recovery")


def test_bad_netting_set_row_is_not_echoed_by_trades(pf: PortfolioDir) -> None:
    pf.set_cell(NETTING, "NS_ACME", "counterparty_id", "")
    pf.errors().only(NETTING, 2, "counterparty_id")


# ---------------------------------------------------------------------------------------------
# market.json
# ---------------------------------------------------------------------------------------------
def _edit_market_text(pf: PortfolioDir, old: str, new: str) -> int:
    """Replace text in market.json; returns the 1-based line of the edit."""
    text = (pf.path / MARKET).read_text(encoding="utf-8")
    assert text.count(old) == 1
    (pf.path / MARKET).write_text(text.replace(old, new), encoding="utf-8")
    return text[:text.index(old)].count("\n") + 1


def test_market_not_json(pf: PortfolioDir) -> None:
    line = _edit_market_text(pf, '"fx_spots": {"EURUSD": 1.08}', '"fx_spots": {"EURUSD": 1.08,}')
    p = pf.errors().only(MARKET, None, None)
    assert p.message.startswith(f"is not valid JSON (line {line}, column ")


def test_market_not_an_object(pf: PortfolioDir) -> None:
    pf.write_market([1, 2])
    p = pf.errors().only(MARKET, None, "(document)")
    assert p.message == "must be an object, got a list"


@pytest.mark.parametrize("key", ["as_of", "base_currency"])
def test_market_missing_required_key(pf: PortfolioDir, key: str) -> None:
    pf.del_market(key)
    assert pf.errors().only(MARKET, None, key).message == "is required"


@pytest.mark.parametrize(("path", "value", "expected"), [
    ("as_of", "2026/11/20", "'2026/11/20' is not a date (expected YYYY-MM-DD)"),
    ("as_of", 20261120, "must be a string, got int"),
    ("base_currency", "DOLLAR", "unknown currency 'DOLLAR'"),
])
def test_market_bad_header_value(pf: PortfolioDir, path: str, value: object,
                                 expected: str) -> None:
    pf.set_market(path, value)
    assert pf.errors().only(MARKET, None, path).message == expected


def test_market_base_currency_needs_a_curve(pf: PortfolioDir) -> None:
    pf.set_market("base_currency", "EUR")
    pf.set_market("fx_spots", {"EURUSD": 1.08})
    pf.load()  # EUR has a curve
    pf.del_market("curves.EUR")
    p = pf.errors().only(MARKET, None, "curves.EUR")
    assert p.message == "the base currency EUR needs a curve"


@pytest.mark.parametrize(("curve", "path", "expected"), [
    ({"zero_rates": {"1X": 0.04, "5Y": 0.04}}, "curves.USD.zero_rates.1X",
     "'1X' is not a tenor (expected <n>D, <n>W, <n>M or <n>Y)"),
    ({"zero_rates": {"0M": 0.04, "5Y": 0.04}}, "curves.USD.zero_rates.0M",
     "'0M' is a zero-length tenor"),
    ({"zero_rates": {"1Y": "4%", "5Y": 0.04}}, "curves.USD.zero_rates.1Y",
     "must be a number, got a string"),
    ({"zero_rates": {"1Y": 4.0, "5Y": 0.04}}, "curves.USD.zero_rates.1Y",
     "must be at most 1, got 4.0"),
    ({"zero_rates": {"1Y": None}}, "curves.USD.zero_rates.1Y", "must be a number, got null"),
    ({"zero_rates": {"12M": 0.04, "1Y": 0.04}}, "curves.USD.zero_rates.1Y",
     "tenor 1Y falls on the same date as 12M"),
    ({"zero_rates": {}}, "curves.USD.zero_rates", "needs at least one tenor"),
    ({"zero_rates": [0.04]}, "curves.USD.zero_rates", "must be an object, got a list"),
    ({"par_quotes": []}, "curves.USD.par_quotes", "must be a non-empty list of quotes"),
    ({"zero_rates": {"1Y": 0.04}, "par_quotes": [{"type": "swap", "tenor": "1Y", "rate": 0.04}]},
     "curves.USD", "give exactly one of zero_rates and par_quotes"),
    ("flat 4%", "curves.USD", "must be an object, got a string"),
])
def test_market_curve_problem(pf: PortfolioDir, curve: object, path: str,
                              expected: str) -> None:
    pf.set_market("curves.USD", curve)
    assert pf.errors().only(MARKET, None, path).message == expected


def test_market_zero_rates_curve_is_accepted(pf: PortfolioDir) -> None:
    pf.set_market("curves.USD", {"zero_rates": {"1M": 0.04, "1Y": 0.039, "30Y": 0.037}})
    assert len(pf.load().trades) == 20


def test_market_unknown_key_in_a_curve(pf: PortfolioDir) -> None:
    pf.set_market("curves.USD.zero_rate", {"1Y": 0.04})
    p = pf.errors().only(MARKET, None, "curves.USD.zero_rate")
    assert p.message == "unknown key (expected zero_rates or par_quotes)"


def test_market_typo_is_the_only_curve_key(pf: PortfolioDir) -> None:
    pf.set_market("curves.EUR", {"zero_rate": {"1Y": 0.04}})
    rep = pf.errors()
    assert len(rep) == 2
    rep.at(MARKET, None, "curves.EUR.zero_rate")
    assert rep.at(MARKET, None, "curves.EUR").message == (
        "give exactly one of zero_rates and par_quotes")


def test_market_curve_of_unknown_currency(pf: PortfolioDir) -> None:
    pf.set_market("curves.XYZ", {"zero_rates": {"1Y": 0.04}})
    assert pf.errors().only(MARKET, None, "curves.XYZ").message == "unknown currency 'XYZ'"


@pytest.mark.parametrize(("index", "quote", "field", "expected"), [
    (3, {"type": "swap", "tenor": "18M", "rate": 0.036}, "tenor",
     "swap tenor 18M must be whole years (annual fixed leg)"),
    (3, {"type": "swap", "tenor": "9M", "rate": 0.036}, "tenor", "must be whole years"),
    (3, {"type": "swap", "tenor": "52W", "rate": 0.036}, "tenor", "must be whole years"),
    (3, {"type": "fra", "tenor": "1Y", "rate": 0.036}, "type",
     "must be 'deposit' or 'swap', got 'fra'"),
    (3, {"type": "swap", "tenor": "1Y", "rate": "0.036"}, "rate",
     "must be a number, got a string"),
    (3, {"type": "swap", "tenor": "1Y"}, "rate", "must be a number, got null"),
    (0, {"type": "deposit", "tenor": "one month", "rate": 0.039}, "tenor", "is not a tenor"),
    (0, {"type": "deposit", "tenor": 1, "rate": 0.039}, "tenor", "must be a string, got int"),
])
def test_market_par_quote_problem(pf: PortfolioDir, index: int, quote: dict[str, object],
                                  field: str, expected: str) -> None:
    pf.set_market(f"curves.USD.par_quotes[{index}]", quote)
    p = pf.errors().only(MARKET, None, f"curves.USD.par_quotes[{index}].{field}")
    assert expected in p.message


def test_market_par_quotes_that_cannot_bootstrap(pf: PortfolioDir) -> None:
    pf.set_market("curves.EUR.par_quotes[3].tenor", "2Y")  # two 2Y swaps
    p = pf.errors().only(MARKET, None, "curves.EUR.par_quotes")
    assert "two swap quotes with the same tenor" in p.message


def test_market_inconsistent_fx_triangle(pf: PortfolioDir) -> None:
    pf.set_market("curves.JPY", {"zero_rates": {"1Y": 0.005}})
    pf.set_market("fx_spots", {"EURUSD": 1.08, "USDJPY": 151.0, "EURJPY": 170.0})
    p = pf.errors().only(MARKET, None, "fx_spots.EURJPY")
    assert p.message == "170.0 contradicts the other quoted pairs, which imply 163.08"
    pf.set_market("fx_spots.EURJPY", 1.08 * 151.0)
    pf.load()


def test_market_pair_quoted_both_ways(pf: PortfolioDir) -> None:
    pf.set_market("fx_spots.USDEUR", 0.9)
    assert "contradicts" in pf.errors().only(MARKET, None, "fx_spots.EURUSD").message


@pytest.mark.parametrize(("path", "value", "expected"), [
    ("fx_spots.EURUS", 1.08, "'EURUS' is not a currency pair such as EURUSD"),
    ("fx_spots.EURUSD", 0, "must be positive, got 0"),
    ("fx_spots.EURUSD", "1.08", "must be a number, got a string"),
    ("fx_vols.EURUSD", -0.1, "must be positive, got -0.1"),
    ("fx_vols.EURXXX", 0.1, "is not a currency pair"),
    ("index_basis.USD-SOFR", 0.001, "unknown term index 'USD-SOFR'; expected one of "
     "EUR-EURIBOR-3M, EUR-EURIBOR-6M, USD-TERM-3M"),
    ("index_basis.GBP-LIBOR-3M", 0.001, "unknown term index 'GBP-LIBOR-3M'"),
    ("index_basis.EUR-EURIBOR-6M", 15, "must be at most 0.1, got 15"),
    ("correlations.IR_USD:IR_EUR", 1.5, "must be at most 1, got 1.5"),
    ("correlations.IR_USD:IR_EUR", -1.01, "must be at least -1, got -1.01"),
    ("correlations.IR_USD:IR_EUR", "high", "must be a number, got a string"),
    ("correlations.IR_USD-IR_GBP", 0.5, "must name two different factors as A:B"),
    ("correlations.IR_GBP:IR_GBP", 0.5, "must name two different factors as A:B"),
    ("correlations.XX_USD:IR_GBP", 0.5, "must name two different factors as A:B"),
    ("correlations.IR_USD:IR_EUR:FX_EURUSD", 0.5, "must name two different factors as A:B"),
    ("correlations.IR_EUR:IR_USD", 0.5, "duplicates the correlation of IR_EUR:IR_USD"),
    ("equities.SPX.spot", -1, "must be positive, got -1"),
    ("equities.SPX.currency", "usd", "unknown currency 'usd'"),
    ("equities.SPX.vol", None, "must be a number, got null"),
    ("equities.DAX", 18000, "must be an object, got int"),
    ("hull_white.USD.volatility", 0, "must be positive, got 0"),
    ("hull_white.USD.mean_reversion", "3%", "must be a number, got a string"),
    ("swaption_vols.USD.normal_bp.1Y.5Y", -98, "must be positive, got -98"),
    ("swaption_vols.USD.normal_bp.1Y.5X", 98, "is not a tenor"),
    ("funding.borrow_spread_bp", "60bp", "must be a number, got a string"),
    ("own_credit.recovery", 1.2, "must be at most 0.99, got 1.2"),
    ("own_credit.cds_bp", {"5Y": 100}, "give exactly one of hazard_rate and cds_bp"),
    ("holidays", {"USD": ["2026-12-25", "Christmas"]}, "is not a date"),
])
def test_market_section_problem(pf: PortfolioDir, path: str, value: object,
                                expected: str) -> None:
    pf.set_market(path, value)
    rep = pf.errors()
    if path == "holidays":
        path = "holidays.USD[1]"
    if path == "own_credit.cds_bp":
        path = "own_credit"
    assert expected in rep.only(MARKET, None, path).message


def test_market_nan_is_not_a_finite_number(pf: PortfolioDir) -> None:
    _edit_market_text(pf, '"fx_spots": {"EURUSD": 1.08}', '"fx_spots": {"EURUSD": NaN}')
    assert pf.errors().only(MARKET, None, "fx_spots.EURUSD").message == "must be a finite number"


def test_market_unknown_top_level_key_is_a_warning(pf: PortfolioDir) -> None:
    pf.set_market("inflation", {"USD": 0.02})
    p = pf.load()
    assert [str(w) for w in p.warnings] == ["market.json, inflation: unknown key, ignored"]


def test_market_holidays_are_used(pf: PortfolioDir) -> None:
    pf.set_market("holidays", {"USD": ["2026-12-25", "2027-01-01"]})
    cal = pf.load().market.calendar("USD")
    assert not cal.is_business_day(np.datetime64("2026-12-25"))


def test_market_problems_are_all_reported_together(pf: PortfolioDir) -> None:
    pf.set_market("curves.USD.par_quotes[4].rate", "x")
    pf.set_market("fx_vols.EURUSD", 0)
    pf.set_market("correlations.IR_USD:IR_EUR", 2)
    rep = pf.errors()
    assert len(rep) == 3
    rep.at(MARKET, None, "curves.USD.par_quotes[4].rate")
    rep.at(MARKET, None, "fx_vols.EURUSD")
    rep.at(MARKET, None, "correlations.IR_USD:IR_EUR")


# ---------------------------------------------------------------------------------------------
# Several files at once
# ---------------------------------------------------------------------------------------------
def test_every_problem_of_every_file_is_reported_at_once(pf: PortfolioDir) -> None:
    pf.set_cell(TRADES, "T002", "maturity_date", "2024-01-01")  # before start
    pf.set_cell(TRADES, "T007", "float_index", "EUR-ESTR")  # wrong currency
    pf.set_cell(TRADES, "T011", "buy_amount", "0")
    pf.set_cell(TRADES, "T014", "product", "FXOPTION")
    pf.set_cell(CPTY, "CP_NORDBANK", "recovery", "1.4")
    pf.set_cell(CSAS, "CSA_NORDBANK", "threshold_cpty", "-5")
    pf.set_cell(NETTING, "NS_HELIOS", "csa_id", "CSA_X")  # not reported: csas.csv has a problem
    pf.set_cell(NETTING, "NS_ACME", "netting_set_id", "")
    pf.append_copy(TRADES, "T020")  # exact duplicate
    rep = pf.errors()
    expected = [
        (CPTY, 3, "recovery"), (CSAS, 2, "threshold_cpty"), (NETTING, 2, "netting_set_id"),
        (TRADES, 3, "maturity_date"), (TRADES, 8, "float_index"), (TRADES, 12, "buy_amount"),
        (TRADES, 15, "product"), (TRADES, 22, "version"),
    ]
    assert [(p.file, p.row, p.field) for p in rep.problems] == expected
    for file, row, field in expected:
        rep.at(file, row, field)
    assert str(rep.error).endswith("(and 7 more problems)")


# ---------------------------------------------------------------------------------------------
# run.json
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "field", "expected"), [
    ('{"paths": 0}', "paths", "must be an integer >= 1, got 0"),
    ('{"paths": 10.5}', "paths", "must be an integer >= 1"),
    ('{"bilateral": "yes"}', "bilateral", "must be true or false"),
    ('{"backend": "jax"}', "backend", "must be 'numpy' or 'cupy'"),
    ('{"grid": []}', "grid", "must be a non-empty list"),
    ('{"paths": 100', None, "is not valid JSON (line 1, column 14)"),
])
def test_run_json_problem(pf: PortfolioDir, text: str, field: str | None,
                          expected: str) -> None:
    (pf.path / "run.json").write_text(text, encoding="utf-8")
    assert expected in pf.errors().only("run.json", None, field).message


def test_run_json_unknown_setting_is_a_warning(pf: PortfolioDir) -> None:
    (pf.path / "run.json").write_text('{"paths": 100, "pathz": 5}', encoding="utf-8")
    p = pf.load()
    assert p.run.paths == 100
    assert [str(w) for w in p.warnings] == ["run.json, pathz: unknown setting, ignored"]


# ---------------------------------------------------------------------------------------------
# Parquet
# ---------------------------------------------------------------------------------------------
def _to_parquet(pf: PortfolioDir, *, typed: bool = True) -> Path:
    """Replace trades.csv by trades.parquet with the same content."""
    src, dst = pf.path / TRADES, pf.path / "trades.parquet"
    if typed:  # numbers as int64/double, dates as date32, empty cells as nulls
        options = pacsv.ConvertOptions(column_types={"trade_id": pa.string()})
        table = pacsv.read_csv(src, convert_options=options)
        assert table.schema.field("maturity_date").type == pa.date32()
        assert table.schema.field("notional").type == pa.int64()
    else:
        rows = pf.rows(TRADES)
        table = pa.table({c: [r[i] for r in rows[1:]] for i, c in enumerate(rows[0])})
    pq.write_table(table, dst)
    src.unlink()
    return dst


@pytest.mark.parametrize("typed", [True, False])
def test_parquet_trades_price_like_csv(pf: PortfolioDir, tmp_path: Path, typed: bool) -> None:
    csv_pf = load_portfolio(shutil.copytree(pf.path, tmp_path / "csv"))
    _to_parquet(pf, typed=typed)
    pq_pf = pf.load()
    assert pq_pf.warnings == ()
    assert pq_pf.trades == csv_pf.trades
    assert pq_pf.compiled.trade_ids == csv_pf.compiled.trade_ids
    a, b = price_t0(csv_pf.compiled, csv_pf.market), price_t0(pq_pf.compiled, pq_pf.market)
    np.testing.assert_array_equal(a.npv, b.npv)
    np.testing.assert_array_equal(a.npv_base, b.npv_base)


def test_parquet_bad_cell_is_reported_with_its_row(pf: PortfolioDir) -> None:
    pf.set_cell(TRADES, "T003", "notional", "-25000000")
    pf.set_cell(TRADES, "T012", "sell_currency", "EUR")
    _to_parquet(pf)
    rep = pf.errors()
    assert len(rep) == 2
    assert rep.at("trades.parquet", 4, "notional").message == "must be positive, got -25000000"
    assert rep.at("trades.parquet", 13, "sell_currency").message == "equals buy_currency EUR"


def test_parquet_market_and_compile_problems_name_the_parquet_file(pf: PortfolioDir) -> None:
    _gbp_swap(pf)  # no GBP curve: found when checking the trades against the market
    pf.set_cell(TRADES, "T002", "last_fixing", "")  # found when compiling the legs
    _to_parquet(pf)
    rep = pf.errors()
    assert len(rep) == 2
    rep.at("trades.parquet", 6, "currency")
    rep.at("trades.parquet", 3, "last_fixing")


def test_parquet_missing_required_column(pf: PortfolioDir) -> None:
    pf.drop_column(TRADES, "product")
    _to_parquet(pf)
    pf.errors().only("trades.parquet", 1, "product")


def test_parquet_unreadable(pf: PortfolioDir) -> None:
    (pf.path / TRADES).unlink()
    (pf.path / "trades.parquet").write_bytes(b"PAR1 not really")
    p = pf.errors().only("trades.parquet", None, None)
    assert p.message.startswith("is not a readable Parquet file")


def test_csv_is_used_when_both_trade_files_exist(pf: PortfolioDir) -> None:
    shutil.copy(pf.path / TRADES, pf.path / "keep.csv")
    _to_parquet(pf)
    shutil.move(pf.path / "keep.csv", pf.path / TRADES)
    p = pf.load()
    assert len(p.trades) == 20
    assert [(w.file, w.row, w.field) for w in p.warnings] == [("trades.parquet", None, None)]
    assert "ignored" in p.warnings[0].message


def test_parquet_with_timestamps_and_float_versions(pf: PortfolioDir) -> None:
    path = _to_parquet(pf)
    table = pq.read_table(path)
    for col in ("start_date", "maturity_date", "expiry_date"):
        i = table.schema.get_field_index(col)
        table = table.set_column(i, col, table.column(col).cast(pa.timestamp("ms")))
    i = table.schema.get_field_index("version")
    table = table.set_column(i, "version", table.column("version").cast(pa.float64()))
    pq.write_table(table, path)
    p = pf.load()
    assert [t.info.maturity for t in p.trades][:2] == [dt.date(2036, 11, 24),
                                                       dt.date(2031, 3, 15)]
    assert {t.info.version for t in p.trades} == {1}


def test_semicolon_separated_csv(pf: PortfolioDir) -> None:
    rows = pf.rows(NETTING)
    (pf.path / NETTING).write_text("\n".join(";".join(r) for r in rows) + "\n", encoding="utf-8")
    p = pf.errors().only(NETTING, 1, None)
    assert p.message == "columns must be separated by commas, not semicolons"


@pytest.mark.parametrize("maturity", ["", "2036-24-11"])
def test_bad_maturity_does_not_hide_the_rows_other_problems(pf: PortfolioDir,
                                                            maturity: str) -> None:
    pf.set_cells(TRADES, "T015", maturity_date=maturity, fixed_rate="x", settlement="")
    rep = pf.errors()
    assert [p.field for p in rep.problems] == ["maturity_date", "settlement", "fixed_rate"]


def test_bad_start_does_not_fail_the_swaption_expiry_check(pf: PortfolioDir) -> None:
    pf.set_cells(TRADES, "T015", start_date="2027-11-31", expiry_date="2033-01-01")
    pf.errors().only(TRADES, 16, "start_date")


def test_dangling_netting_set_is_reported_with_the_rows_other_problems(
        pf: PortfolioDir) -> None:
    pf.set_cells(TRADES, "T004", netting_set_id="NS_NOBODY", notional="0")
    rep = pf.errors()
    assert [(p.row, p.field) for p in rep.problems] == [(5, "netting_set_id"), (5, "notional")]
