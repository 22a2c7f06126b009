"""Leg rolls from trades.csv (``<leg>_convention``, ``<leg>_calendar``): the compiled flows follow
the leg's own schedule, a term index on the ``none`` calendar fixes on its accrual start, and
a bad value is one clear error."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

from xvaflow.core.calendar import Calendar
from xvaflow.core.dates import year_fraction_365
from xvaflow.core.errors import InputError
from xvaflow.core.schedule import backward_schedules
from xvaflow.io.portfolio import load_portfolio
from xvaflow.products.tables import FIXED, TERM

DEMO = Path(__file__).resolve().parents[3] / "examples" / "demo"


def _book(tmp: Path, changes: dict[str, dict[str, str]]) -> Path:
    root = tmp / "demo"
    shutil.copytree(DEMO, root)
    path = root / "trades.csv"
    rows = list(csv.DictReader(path.open(newline="", encoding="utf-8")))
    columns = list(rows[0]) + sorted({c for ch in changes.values() for c in ch} - set(rows[0]))
    for r in rows:
        r.update(changes.get(r["trade_id"], {}))
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, columns, restval="")
        w.writeheader()
        w.writerows(rows)
    return root


def _days(times: np.ndarray, future: bool = True) -> set[int]:
    """Whole days of model times (ACT/365F), the future ones only unless asked."""
    return {int(d) for d in np.rint(np.asarray(times) * 365.0) if d > 0 or not future}


def _pay_dates(root: Path, trade: str, kind: int) -> np.ndarray:
    p = load_portfolio(root)
    c = p.compiled
    i = c.trade_ids.index(trade)
    f = c.linear
    rows = (f.trade == i) & (f.kind == kind)
    return np.unique(np.rint(f.pay_time[rows] * 365.0).astype(int))


def test_unadjusted_and_none_legs(tmp_path: Path) -> None:
    # T002: EUR, 7Y receiver from 2024-03-15, annual 30/360 fixed, semiannual EURIBOR 6M
    root = _book(tmp_path, {"T002": {"fixed_convention": "unadjusted",
                                     "float_calendar": "none"}})
    p = load_portfolio(root)
    as_of = np.datetime64(p.market.as_of, "D")

    def days(ends: np.ndarray) -> set[int]:
        return _days(year_fraction_365(as_of, ends))

    annual, semiannual = (backward_schedules(["2024-03-15"], ["2031-03-15"], [m], Calendar(),
                                             "unadjusted") for m in (12, 6))
    # every flow of the trade (fixed coupons, floating coupons and their fixed parts) is paid
    # on an unadjusted date of its leg's schedule
    paid = set(_pay_dates(root, "T002", FIXED).tolist()) | set(
        _pay_dates(root, "T002", TERM).tolist())
    assert paid == days(annual.end) | days(semiannual.end)
    rolled = backward_schedules(["2024-03-15"], ["2031-03-15"], [12],
                                p.market.calendar("EUR"))
    assert days(rolled.end) - days(annual.end)  # by default some dates do roll
    # the term leg on no calendar: fixing periods start on the unadjusted accrual starts
    c = p.compiled
    f = c.linear
    term = (f.trade == c.trade_ids.index("T002")) & (f.kind == TERM)
    starts = backward_schedules(["2024-03-15"], ["2031-03-15"], [6], Calendar(), "unadjusted")
    fix = _days(f.fix_start[term], future=False)
    assert fix <= _days(year_fraction_365(as_of, starts.start), future=False)


@pytest.mark.parametrize(("column", "value"), [("fixed_convention", "sideways"),
                                                ("float_calendar", "TARGET")])
def test_bad_values_are_clear_errors(tmp_path: Path, column: str, value: str) -> None:
    root = _book(tmp_path, {"T001": {column: value}})
    with pytest.raises(InputError) as exc:
        load_portfolio(root)
    message = str(exc.value)
    assert f"trades.csv row 2 (T001), {column}: unknown" in message
