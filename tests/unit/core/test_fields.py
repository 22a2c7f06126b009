"""FieldReader: typed reading of one record, every problem recorded with file, row and field."""

from __future__ import annotations

import datetime as dt

import pytest

from xvaflow.core.dates import Tenor
from xvaflow.core.errors import InputError, Problem, ProblemLog
from xvaflow.core.fields import FieldReader


def reader(log: ProblemLog, prefix: str = "", **values: str | None) -> FieldReader:
    return FieldReader(values, log, "trades.csv", 7, key="T9", prefix=prefix)


@pytest.fixture
def log() -> ProblemLog:
    return ProblemLog()


def only(log: ProblemLog) -> Problem:
    assert len(log.problems) == 1, log.problems
    return log.problems[0]


# ---------------------------------------------------------------------------------------------
# Required, optional, empty, absent
# ---------------------------------------------------------------------------------------------
def test_text_required_and_present(log: ProblemLog) -> None:
    r = reader(log, trade_id="  T9 ")
    assert r.text("trade_id") == "T9"
    assert r.ok
    assert not log


@pytest.mark.parametrize("value", ["", "   ", None])
def test_required_but_empty(log: ProblemLog, value: str | None) -> None:
    r = reader(log, notional=value)
    assert r.number("notional") is None
    assert not r.ok
    p = only(log)
    assert p == Problem("trades.csv", 7, "notional", "is required but empty", "T9")
    assert str(p) == "trades.csv row 7 (T9), notional: is required but empty"


def test_required_but_column_missing(log: ProblemLog) -> None:
    r = reader(log, trade_id="T9")
    assert r.date("expiry_date") is None
    assert only(log).message == "is required but the column is missing"


@pytest.mark.parametrize("value", ["", " ", None])
def test_optional_empty_is_none_without_problem(log: ProblemLog, value: str | None) -> None:
    r = reader(log, float_spread=value)
    assert r.number("float_spread", required=False) is None
    assert r.text("float_spread", required=False) is None
    assert r.number("not_a_column", required=False) is None
    assert r.ok
    assert not log.problems


def test_has_and_raw(log: ProblemLog) -> None:
    r = reader(log, a=" x ", b=" ", c=None)
    assert r.raw("a") == "x"
    assert (r.has("a"), r.has("b"), r.has("c"), r.has("d")) == (True, False, False, False)


def test_optional_value_is_still_validated(log: ProblemLog) -> None:
    r = reader(log, last_fixing="abc")
    assert r.number("last_fixing", required=False) is None
    assert only(log).message == "'abc' is not a number"


def test_every_problem_of_a_record_is_collected(log: ProblemLog) -> None:
    r = reader(log, notional="-1", start_date="2026-02-30", product="", fixed_rate="0.03")
    r.number("notional", positive=True)
    r.date("start_date")
    r.text("product")
    assert r.number("fixed_rate") == 0.03
    assert [p.field for p in log.problems] == ["notional", "start_date", "product"]
    assert not r.ok
    with pytest.raises(InputError) as info:
        log.raise_if_any()
    assert len(info.value.problems) == 3


def test_prefix_names_json_paths(log: ProblemLog) -> None:
    r = FieldReader({"spot": "x"}, log, "market.json", None, prefix="equities.SPX.")
    r.number("spot")
    p = only(log)
    assert (p.file, p.row, p.field) == ("market.json", None, "equities.SPX.spot")
    assert str(p) == "market.json, equities.SPX.spot: 'x' is not a number"


def test_whole_record_problem_and_warning(log: ProblemLog) -> None:
    r = reader(log)
    r.problem(None, "row is strange")
    r.warn("desk", "ignored")
    assert str(only(log)) == "trades.csv row 7 (T9): row is strange"
    assert [str(w) for w in log.warnings] == ["trades.csv row 7 (T9), desk: ignored"]
    assert not r.ok


# ---------------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "value"), [
    ("100", 100.0), ("1e8", 1e8), (" -0.25 ", -0.25), ("0.0365", 0.0365), ("+3", 3.0)])
def test_number(log: ProblemLog, text: str, value: float) -> None:
    assert reader(log, x=text).number("x") == value
    assert not log


@pytest.mark.parametrize(("text", "kwargs", "message"), [
    ("abc", {}, "'abc' is not a number"),
    ("1,000", {}, "'1,000' is not a number"),
    ("5%", {}, "'5%' is not a number"),
    ("nan", {}, "'nan' is not a finite number"),
    ("-inf", {}, "'-inf' is not a finite number"),
    ("0", {"positive": True}, "must be positive, got 0"),
    ("-2", {"positive": True}, "must be positive, got -2"),
    ("-0.5", {"non_negative": True}, "must not be negative, got -0.5"),
    ("-1.5", {"lower": -1.0}, "must be at least -1, got -1.5"),
    ("1.01", {"upper": 1.0}, "must be at most 1, got 1.01"),
    ("0.995", {"lower": 0.0, "upper": 0.99}, "must be at most 0.99, got 0.995"),
])
def test_number_problems(log: ProblemLog, text: str, kwargs: dict[str, float],
                         message: str) -> None:
    assert reader(log, x=text).number("x", **kwargs) is None  # type: ignore[arg-type]
    p = only(log)
    assert (p.field, p.message) == ("x", message)


@pytest.mark.parametrize(("text", "kwargs"), [
    ("0", {"non_negative": True}), ("-1", {"lower": -1.0}), ("1", {"upper": 1.0}),
    ("0.99", {"lower": 0.0, "upper": 0.99}), ("1e-300", {"positive": True})])
def test_number_bounds_are_inclusive(log: ProblemLog, text: str,
                                     kwargs: dict[str, float]) -> None:
    assert reader(log, x=text).number("x", **kwargs) == float(text)  # type: ignore[arg-type]
    assert not log


@pytest.mark.parametrize(("text", "value"), [("10", 10), ("10.0", 10), ("1e2", 100),
                                             (" 0 ", 0)])
def test_integer(log: ProblemLog, text: str, value: int) -> None:
    got = reader(log, x=text).integer("x", minimum=0)
    assert got == value
    assert isinstance(got, int)
    assert not log


@pytest.mark.parametrize(("text", "message"), [
    ("2.5", "'2.5' is not an integer"), ("ten", "'ten' is not an integer"),
    ("nan", "'nan' is not an integer"), ("inf", "'inf' is not an integer"),
    ("-1", "must be at least 0, got -1"),
])
def test_integer_problems(log: ProblemLog, text: str, message: str) -> None:
    assert reader(log, x=text).integer("x", minimum=0) is None
    assert only(log).message == message


# ---------------------------------------------------------------------------------------------
# Dates, tenors, custom parsers
# ---------------------------------------------------------------------------------------------
def test_date_and_tenor(log: ProblemLog) -> None:
    r = reader(log, d="2026-11-20", t="6m", bad_d="2026-11-31", bad_t="6X")
    assert r.date("d") == dt.date(2026, 11, 20)
    assert r.tenor("t") == Tenor(6, "M")
    assert r.date("bad_d") is None
    assert r.tenor("bad_t") is None
    assert [(p.field, p.message) for p in log.problems] == [
        ("bad_d", "'2026-11-31' is not a valid calendar date (expected YYYY-MM-DD)"),
        ("bad_t", "'6X' is not a tenor (expected <n>D, <n>W, <n>M or <n>Y)")]


def test_parsed_uses_the_parser_message(log: ProblemLog) -> None:
    def even(s: str) -> int:
        if int(s) % 2:
            raise ValueError(f"{s} is odd")
        return int(s)

    r = reader(log, a="4", b="3")
    assert r.parsed("a", even) == 4
    assert r.parsed("b", even) is None
    assert r.parsed("c", even, required=False) is None
    assert only(log).message == "3 is odd"


# ---------------------------------------------------------------------------------------------
# Choices
# ---------------------------------------------------------------------------------------------
def test_choice_ignores_case_and_returns_the_listed_spelling(log: ProblemLog) -> None:
    r = reader(log, dc="act/360", d=" PAYER ", idx="Usd-Sofr")
    assert r.choice("dc", ("ACT/360", "30/360")) == "ACT/360"
    assert r.choice("d", ("payer", "receiver")) == "payer"
    assert r.choice("idx", {"USD-SOFR", "EUR-ESTR"}) == "USD-SOFR"
    assert not log


def test_choice_unknown_lists_the_options_sorted(log: ProblemLog) -> None:
    r = reader(log, d="long")
    assert r.choice("d", ("receiver", "payer"), what="direction") is None
    assert only(log).message == "unknown direction 'long'; expected one of payer, receiver"


def test_choice_case_sensitive(log: ProblemLog) -> None:
    r = reader(log, a="USD", b="usd", c="XYZ")
    options = ("USD", "EUR")
    assert r.choice("a", options, what="currency", case_sensitive=True) == "USD"
    assert r.choice("b", options, what="currency", case_sensitive=True) is None
    assert r.choice("c", options, what="currency", case_sensitive=True) is None
    assert [p.message for p in log.problems] == [
        "unknown currency 'usd' (did you mean 'USD'? it is case-sensitive)",
        "unknown currency 'XYZ'; expected one of EUR, USD"]


def test_choice_optional_and_required(log: ProblemLog) -> None:
    r = reader(log, im="")
    assert r.choice("im", ("none", "simm"), required=False) is None
    assert r.ok
    assert r.choice("im", ("none", "simm")) is None
    assert only(log).message == "is required but empty"


# ---------------------------------------------------------------------------------------------
# forbid
# ---------------------------------------------------------------------------------------------
def test_forbid(log: ProblemLog) -> None:
    r = reader(log, direction="long", option_type=" ", strike="5")
    r.forbid(["direction", "option_type", "missing"], "for FXFWD")
    p = only(log)
    assert (p.field, p.message) == ("direction", "must be empty for FXFWD")
    assert not r.ok
