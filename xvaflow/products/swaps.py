"""Interest-rate and cross-currency swaps, and European swaptions on swaps.

Columns (CONTRACT.md):

- IRS: ``direction`` payer (pay fixed) / receiver; fixed leg ``fixed_rate, fixed_frequency,
  fixed_daycount``; floating leg ``float_index, float_frequency, float_spread, float_daycount``
  and ``last_fixing`` when the current period started before as_of.
- CCS: ``direction`` payer / receiver of leg 1; leg 1 in ``currency`` with ``notional``, leg 2 in
  ``currency_2`` with ``notional_2``. Each leg is fixed (``fixed_rate[_2], fixed_frequency[_2],
  fixed_daycount[_2]``) or floating (``float_index[_2], float_frequency[_2], float_spread[_2],
  float_daycount[_2], last_fixing[_2]``) on an index of its own currency. Notionals are
  exchanged at start (when after as_of) and at maturity.
- SWAPTION: ``direction`` long / short, the IRS columns of the underlying with
  ``direction_underlying`` payer / receiver, ``expiry_date`` and ``settlement`` physical / cash.
  The underlying starts on or after expiry (``start_date >= expiry_date``).

Compilation (see :mod:`xvaflow.products.tables`): schedules are generated backward from maturity
per leg (vectorised over all legs of a calendar), accrual factors from the leg's day count, and
every coupon becomes fixed and projected rows.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from xvaflow.core.dates import year_fraction_365
from xvaflow.core.daycount import DAYCOUNTS, year_fraction
from xvaflow.core.fields import FieldReader
from xvaflow.core.schedule import backward_schedules
from xvaflow.market.conventions import CURRENCIES, INDICES, parse_frequency
from xvaflow.market.market import Market
from xvaflow.products.context import CompileContext
from xvaflow.products.records import FixedLeg, FloatLeg, Leg, SwaptionTrade, SwapTrade, TradeInfo
from xvaflow.products.saccr import (
    FX,
    IR,
    OptionTerms,
    SaccrPosition,
    fx_position_notional,
    fx_underlying,
)
from xvaflow.products.tables import (
    FIXED,
    OVERNIGHT,
    SETTLE_CASH,
    SETTLE_PHYSICAL,
    TERM,
    LinearFlows,
    SwaptionTable,
)

FIXED_COLUMNS = ("fixed_rate", "fixed_frequency", "fixed_daycount", "fixed_convention",
                 "fixed_calendar")
FLOAT_COLUMNS = ("float_index", "float_frequency", "float_spread", "float_daycount", "last_fixing",
                 "float_convention", "float_calendar")
# business-day conventions (trades.csv spelling -> Calendar.adjust's)
CONVENTIONS = {"modified_following": "modifiedfollowing", "following": "following",
               "preceding": "preceding", "modified_preceding": "modifiedpreceding",
               "unadjusted": "unadjusted"}
CALENDARS = ("currency", "none")  # the leg currency's holidays and weekends, or no calendar
ADJUST = {**{v: v for v in CONVENTIONS.values()}, "none": "unadjusted"}  # roll -> adjust
IRS_COLUMNS = FIXED_COLUMNS + FLOAT_COLUMNS
CCS_COLUMNS = (*IRS_COLUMNS, "currency_2", "notional_2", *(c + "_2" for c in IRS_COLUMNS))
SWAPTION_COLUMNS = (*IRS_COLUMNS, "expiry_date", "settlement", "direction_underlying")


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------
def _roll(r: FieldReader, leg: str, suffix: str) -> str | None:
    """The leg's roll from ``<leg>_convention<suffix>`` (default Modified Following) and
    ``<leg>_calendar<suffix>`` (``none``: every day is a business day, so nothing rolls);
    None when either is invalid (reported)."""
    fields = (f"{leg}_convention{suffix}", f"{leg}_calendar{suffix}")
    convention = r.choice(fields[0], CONVENTIONS, required=False,
                          what="business-day convention")
    calendar = r.choice(fields[1], CALENDARS, required=False, what="calendar")
    if (r.has(fields[0]) and convention is None) or (r.has(fields[1]) and calendar is None):
        return None
    return "none" if calendar == "none" else CONVENTIONS[convention or "modified_following"]


def _fixed_leg(r: FieldReader, suffix: str, currency: str | None,
               notional: float | None) -> FixedLeg | None:
    rate = r.number("fixed_rate" + suffix, lower=-1.0, upper=1.0)
    months = r.parsed("fixed_frequency" + suffix, parse_frequency)
    dc = r.choice("fixed_daycount" + suffix, DAYCOUNTS, what="day count", case_sensitive=False)
    roll = _roll(r, "fixed", suffix)
    if roll is None or None in (rate, months, dc, currency, notional):
        return None
    return FixedLeg(currency, notional, rate, months, dc, roll)  # type: ignore[arg-type]


def _float_leg(r: FieldReader, suffix: str, currency: str | None,
               notional: float | None) -> FloatLeg | None:
    index = r.choice("float_index" + suffix, INDICES, what="index", case_sensitive=False)
    months = r.parsed("float_frequency" + suffix, parse_frequency)
    spread = r.number("float_spread" + suffix, required=False, lower=-1.0, upper=1.0)
    dc = r.choice("float_daycount" + suffix, DAYCOUNTS, what="day count", case_sensitive=False)
    last = r.number("last_fixing" + suffix, required=False, lower=-1.0, upper=1.0)
    roll = _roll(r, "float", suffix)
    # An empty currency is already reported (or not applicable): nothing to compare against.
    if index is not None and currency and INDICES[index].currency != currency:
        r.problem("float_index" + suffix,
                  f"index {index} is in {INDICES[index].currency}, the leg is in {currency}")
        return None
    if roll is None or None in (index, months, dc, currency, notional):
        return None
    return FloatLeg(currency, notional, index, months, spread or 0.0, dc, last,  # type: ignore
                    roll)


def _leg(r: FieldReader, suffix: str, currency: str | None, notional: float | None) -> Leg | None:
    has_fixed, has_float = r.has("fixed_rate" + suffix), r.has("float_index" + suffix)
    if has_fixed == has_float:
        r.problem("fixed_rate" + suffix,
                  f"give exactly one of fixed_rate{suffix} and float_index{suffix} for this leg")
        return None
    if has_fixed:
        r.forbid([c + suffix for c in FLOAT_COLUMNS], "on a fixed leg")
        return _fixed_leg(r, suffix, currency, notional)
    r.forbid([c + suffix for c in FIXED_COLUMNS], "on a floating leg")
    return _float_leg(r, suffix, currency, notional)


def _irs_legs(r: FieldReader, info: TradeInfo, direction_field: str) -> SwapTrade | None:
    direction = r.choice(direction_field, ("payer", "receiver"), what="direction")
    fixed = _fixed_leg(r, "", info.currency, info.notional)
    floating = _float_leg(r, "", info.currency, info.notional)
    if direction is None or fixed is None or floating is None:
        return None
    pay_fixed = direction == "payer"
    return SwapTrade(info, (fixed, floating), (-1, 1) if pay_fixed else (1, -1), False)


def parse_irs(r: FieldReader, info: TradeInfo) -> SwapTrade | None:
    """An IRS row (fixed vs floating, one currency)."""
    return _irs_legs(r, info, "direction")


def parse_ccs(r: FieldReader, info: TradeInfo) -> SwapTrade | None:
    """A CCS row (two legs, two currencies, notional exchanges)."""
    direction = r.choice("direction", ("payer", "receiver"), what="direction")
    ccy2 = r.choice("currency_2", CURRENCIES, what="currency", case_sensitive=True)
    notional2 = r.number("notional_2", positive=True)
    leg1 = _leg(r, "", info.currency, info.notional)
    leg2 = _leg(r, "_2", ccy2, notional2)
    if direction is None or leg1 is None or leg2 is None:
        return None
    signs = (-1, 1) if direction == "payer" else (1, -1)
    return SwapTrade(info, (leg1, leg2), signs, True)


def parse_swaption(r: FieldReader, info: TradeInfo) -> SwaptionTrade | None:
    """A SWAPTION row: option on the IRS described by the IRS columns."""
    direction = r.choice("direction", ("long", "short"), what="direction")
    expiry = r.date("expiry_date")
    settlement = r.choice("settlement", ("physical", "cash"), what="settlement")
    underlying = _irs_legs(r, info, "direction_underlying")
    if expiry is not None and expiry > info.start:
        r.problem("expiry_date", f"{expiry} is after the underlying's start_date {info.start}")
        return None
    if None in (direction, expiry, settlement, underlying):
        return None
    return SwaptionTrade(info, underlying, expiry, settlement,  # type: ignore[arg-type]
                         1 if direction == "long" else -1)


# ---------------------------------------------------------------------------------------------
# Compilation
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _LegArrays:
    """Per-leg attributes as arrays (``[legs]``), gathered once per compile call."""

    trade: np.ndarray
    row: np.ndarray
    currency: list[str]
    sign: np.ndarray
    notional: np.ndarray
    start: np.ndarray
    maturity: np.ndarray
    months: np.ndarray
    daycount: list[str]
    is_float: np.ndarray
    rate: np.ndarray  # fixed rate, or spread of a floating leg
    overnight: np.ndarray
    index_daycount: list[str]
    basis: np.ndarray
    last_fixing: np.ndarray  # nan when absent
    suffix: list[str]  # "" or "_2": column suffix for messages
    trade_id: list[str]
    roll: list[str]  # Calendar.adjust convention of the leg's schedule


def _gather(items: Sequence[tuple[int, SwapTrade]], ctx: CompileContext) -> _LegArrays:
    rows: list[tuple[Any, ...]] = []
    for t_idx, swap in items:
        for k, (leg, sign) in enumerate(zip(swap.legs, swap.signs, strict=True)):
            suffix = "_2" if (swap.exchange_notionals and k == 1) else ""
            if isinstance(leg, FloatLeg):
                spec = INDICES[leg.index]
                rows.append((t_idx, swap.info.row, leg.currency, sign, leg.notional,
                             swap.info.start, swap.info.maturity, leg.months, leg.daycount, True,
                             leg.spread, spec.overnight, spec.daycount,
                             ctx.market.index_basis.get(leg.index, 0.0),
                             np.nan if leg.last_fixing is None else leg.last_fixing, suffix,
                             swap.info.trade_id, leg.roll))
            else:
                rows.append((t_idx, swap.info.row, leg.currency, sign, leg.notional,
                             swap.info.start, swap.info.maturity, leg.months, leg.daycount,
                             False, leg.rate, False, "ACT/360", 0.0, np.nan, suffix,
                             swap.info.trade_id, leg.roll))
    cols = list(zip(*rows, strict=True)) if rows else [()] * 18
    return _LegArrays(
        trade=np.array(cols[0], dtype=np.int64), row=np.array(cols[1], dtype=np.int64),
        currency=list(cols[2]), sign=np.array(cols[3], dtype=np.float64),
        notional=np.array(cols[4], dtype=np.float64),
        start=np.array(cols[5], dtype="datetime64[D]"),
        maturity=np.array(cols[6], dtype="datetime64[D]"),
        months=np.array(cols[7], dtype=np.int64), daycount=list(cols[8]),
        is_float=np.array(cols[9], dtype=bool), rate=np.array(cols[10], dtype=np.float64),
        overnight=np.array(cols[11], dtype=bool), index_daycount=list(cols[12]),
        basis=np.array(cols[13], dtype=np.float64),
        last_fixing=np.array(cols[14], dtype=np.float64), suffix=list(cols[15]),
        trade_id=list(cols[16]), roll=list(cols[17]),
    )


def _by_label(labels: list[str], index: np.ndarray, d1: np.ndarray, d2: np.ndarray) -> np.ndarray:
    """Year fractions where each row's day count is ``labels[index[row]]``."""
    out = np.empty(index.size)
    names = np.array(labels, dtype=object)[index] if index.size else np.zeros(0, dtype=object)
    for dc in set(labels):
        mask = names == dc
        out[mask] = year_fraction(dc, d1[mask], d2[mask])
    return out


def compile_legs(items: Sequence[tuple[int, SwapTrade]], ctx: CompileContext) -> LinearFlows:
    """Compile the legs of swaps into flow rows (see :mod:`xvaflow.products.tables`).

    Args:
        items: ``(trade index, swap)`` pairs; the trade index is stored in every row.
        ctx: compile context (as_of, calendars, basis); problems go to ``ctx.log``.
    """
    if not items:
        return LinearFlows.empty()
    legs = _gather(items, ctx)
    as_of = np.datetime64(ctx.as_of, "D")
    ccy_idx = np.array([ctx.currency_index(c) for c in legs.currency], dtype=np.int64)

    # Periods, one calendar and roll at a time.
    parts = []
    keys = np.array([f"{c} {r}" for c, r in zip(legs.currency, legs.roll, strict=True)])
    for key in sorted(set(keys.tolist())):
        code, roll = key.split(" ")
        sel = np.flatnonzero(keys == key)
        p = backward_schedules(legs.start[sel], legs.maturity[sel], legs.months[sel],
                               ctx.market.calendar(code), ADJUST[roll])
        parts.append((sel[p.leg], p.start, p.end))
    leg = np.concatenate([x[0] for x in parts])
    start = np.concatenate([x[1] for x in parts])
    end = np.concatenate([x[2] for x in parts])

    # Notional exchanges: first adjusted start and final adjusted end of each leg.
    exchange = np.repeat([sw.exchange_notionals for _, sw in items], 2)  # two legs per swap
    first = np.full(legs.sign.size, np.datetime64("NaT"), dtype="datetime64[D]")
    last = first.copy()
    order = np.lexsort((start, leg))
    leg, start, end = leg[order], start[order], end[order]
    is_first = np.r_[True, leg[1:] != leg[:-1]]
    is_last = np.r_[leg[1:] != leg[:-1], True]
    first[leg[is_first]] = start[is_first]
    last[leg[is_last]] = end[is_last]

    alive = end > as_of
    leg, start, end = leg[alive], start[alive], end[alive]
    tau = _by_label(legs.daycount, leg, start, end)
    t_start = year_fraction_365(as_of, start)
    t_end = year_fraction_365(as_of, end)
    n_leg = legs.notional[leg] * legs.sign[leg]
    is_float = legs.is_float[leg]
    overnight = legs.overnight[leg]
    term = is_float & ~overnight
    # A term index fixes on a business day: the accrual start rolled back (Preceding), its
    # forward running to the accrual end rolled forward (Following), as QuantLib's par coupons;
    # dates already rolled (or on the ``none`` calendar) are their own fixing dates.
    fix_s, fix_e = start.copy(), end.copy()
    row_ccy = np.array(legs.currency)[leg]
    rolled = term & (np.array(legs.roll)[leg] != "none")
    for code in set(legs.currency):
        rows_c = np.flatnonzero(rolled & (row_ccy == code))
        cal = ctx.market.calendar(code)
        fix_s[rows_c] = cal.adjust(start[rows_c], "preceding")
        fix_e[rows_c] = cal.adjust(end[rows_c], "following")
    seasoned = is_float & (np.where(term, fix_s, start) < as_of)
    last_fix = legs.last_fixing[leg]

    missing = seasoned & np.isnan(last_fix)
    for i in np.unique(leg[missing]):
        ctx.log.add(ctx.trades_file, int(legs.row[i]), "last_fixing" + legs.suffix[i],
                    "is required: the floating period in progress at as_of "
                    f"({ctx.as_of}) started before it", legs.trade_id[i])

    rows: list[LinearFlows] = []

    def add(mask: np.ndarray, kind: int, amount: np.ndarray, fix_start: np.ndarray | None = None,
            fix_end: np.ndarray | None = None) -> None:
        n = int(mask.sum())
        if n == 0:
            return
        zeros = np.zeros(n)
        rows.append(LinearFlows(
            trade=legs.trade[leg[mask]], currency=ccy_idx[leg[mask]],
            kind=np.full(n, kind, dtype=np.int64), pay_time=t_end[mask],
            fix_start=zeros if fix_start is None else fix_start[mask],
            fix_end=zeros if fix_end is None else fix_end[mask],
            amount=amount[mask]))

    # Fixed coupons: N r tau at the period end.
    add(~is_float, FIXED, n_leg * legs.rate[leg] * tau)
    spread = legs.rate[leg]
    # Floating coupons pay N tau (R + m) with R the index rate of the period on the index day
    # count, R = (P(s)/P(e) - 1)/tau_idx: a projected row N tau/tau_idx over [s, e] plus fixed
    # rows (ISDA compounding for overnight indices, the "par coupon" for term ones).
    tau_idx = _by_label(legs.index_daycount, leg, np.where(term, fix_s, start),
                        np.where(term, fix_e, end))
    ratio = tau / tau_idx
    # Overnight in progress: the realised factor A = 1 + L tau_idx(s, as_of) replaces P(s), and
    # the row keeps compounding from as_of: projected N A tau/tau_idx over [as_of, e].
    on = is_float & overnight
    accrued = 1.0 + np.nan_to_num(last_fix) * _by_label(legs.index_daycount, leg, start,
                                                        np.full(start.size, as_of))
    add(on, OVERNIGHT, n_leg * ratio * np.where(seasoned, accrued, 1.0),
        np.where(seasoned, 0.0, t_start), t_end)
    add(on, FIXED, n_leg * tau * (spread - 1.0 / tau_idx))
    # Term coupons also carry the index basis b; in progress: N tau (L + m).
    fwd = term & ~seasoned
    add(fwd, TERM, n_leg * ratio, year_fraction_365(as_of, fix_s), year_fraction_365(as_of, fix_e))
    add(fwd, FIXED, n_leg * tau * (legs.basis[leg] + spread - 1.0 / tau_idx))
    add(term & seasoned, FIXED, n_leg * tau * (np.nan_to_num(last_fix) + spread))

    # Notional exchanges (CCS): the payer of a leg receives its notional at start (if still to
    # come) and pays it back at maturity.
    ex_legs = np.flatnonzero(exchange)
    for dates, sign in ((first, -1.0), (last, 1.0)):
        d = dates[ex_legs]
        live = d > as_of
        sel = ex_legs[live]
        if sel.size:
            rows.append(LinearFlows(
                trade=legs.trade[sel], currency=ccy_idx[sel],
                kind=np.full(sel.size, FIXED, dtype=np.int64),
                pay_time=year_fraction_365(as_of, d[live]),
                fix_start=np.zeros(sel.size), fix_end=np.zeros(sel.size),
                amount=sign * legs.sign[sel] * legs.notional[sel]))
    return LinearFlows.concat(rows)


def compile_swaptions(
    items: Sequence[tuple[int, SwaptionTrade]], ctx: CompileContext
) -> tuple[SwaptionTable, LinearFlows]:
    """Swaption table plus the rows of the underlyings (rows carry the swaption's trade index)."""
    as_of = ctx.as_of
    bad: set[int] = set()
    for i, sw in items:
        start = min(ctx.market.calendar(sw.info.currency).adjust(
            np.datetime64(sw.info.start, "D"), ADJUST[leg.roll]) for leg in sw.underlying.legs)
        if sw.expiry <= as_of:
            ctx.log.add(ctx.trades_file, sw.info.row, "expiry_date",
                        f"{sw.expiry} is on or before as_of {as_of}: an exercised swaption is "
                        "booked as the IRS it delivered", sw.info.trade_id)
            bad.add(i)
        elif start < np.datetime64(sw.expiry, "D"):
            ctx.log.add(ctx.trades_file, sw.info.row, "start_date",
                        f"{sw.info.start} rolls to {start} (the legs' convention), before "
                        f"expiry_date {sw.expiry}: the underlying must start on or after expiry",
                        sw.info.trade_id)
            bad.add(i)
    live = [(i, sw) for i, sw in items if i not in bad]
    flows = compile_legs([(i, sw.underlying) for i, sw in live], ctx)
    table = SwaptionTable(
        trade=np.array([i for i, _ in live], dtype=np.int64),
        currency=np.array([ctx.currency_index(sw.info.currency) for _, sw in live],
                          dtype=np.int64),
        expiry=year_fraction_365(as_of, np.array([sw.expiry for _, sw in live],
                                                 dtype="datetime64[D]")),
        settlement=np.array([SETTLE_CASH if sw.settlement == "cash" else SETTLE_PHYSICAL
                             for _, sw in live], dtype=np.int64),
        sign=np.array([float(sw.sign) for _, sw in live]),
    )
    return table, flows


# ---------------------------------------------------------------------------------------------
# SA-CCR attributes (CRE52; docs/conventions.md "Regulatory capital")
# ---------------------------------------------------------------------------------------------
def _years(as_of: _dt.date, d: _dt.date) -> float:
    """ACT/365F year fraction from as_of to a date as booked."""
    return (d - as_of).days / 365.0


def saccr_swaps(items: Sequence[tuple[int, SwapTrade]], market: Market) -> list[SaccrPosition]:
    """SA-CCR positions of IRS and CCS still alive at as_of.

    - IRS: one IR position in its currency, notional at spot, +1 when the bank pays fixed
      (CRE52.38: long the primary risk factor, the floating rate).
    - CCS: one FX position on its pair (:func:`~xvaflow.products.saccr.fx_position_notional`
      of the two notionals; +1 when the bank receives the underlying currency's notional at
      maturity) and one IR position per fixed leg (its notional at spot, +1 when the bank pays
      that leg); a floating leg carries no interest-rate position.

    S is the start date floored at 0, E the maturity date.
    """
    as_of, base = market.as_of, market.base_currency
    out: list[SaccrPosition] = []
    for i, sw in items:
        if sw.info.maturity <= as_of:
            continue
        s = max(_years(as_of, sw.info.start), 0.0)
        e = _years(as_of, sw.info.maturity)
        if sw.exchange_notionals and sw.legs[0].currency != sw.legs[1].currency:
            amounts = {leg.currency: leg.notional for leg in sw.legs}
            under, _ = fx_underlying(sw.legs[0].currency, sw.legs[1].currency, base)
            receives = next(sign for leg, sign in zip(sw.legs, sw.signs, strict=True)
                            if leg.currency == under)
            out.append(SaccrPosition(i, FX, _pair(sw.legs[0].currency, sw.legs[1].currency,
                                                   base), fx_position_notional(market, amounts),
                                     float(receives), 0.0, e, e))
        for leg, sign in zip(sw.legs, sw.signs, strict=True):
            if isinstance(leg, FixedLeg):
                notional = leg.notional * market.fx_rate(leg.currency, base)
                out.append(SaccrPosition(i, IR, leg.currency, notional, float(-sign), s, e, e))
    return out


def _pair(a: str, b: str, base: str) -> str:
    under, other = fx_underlying(a, b, base)
    return under + other


def swaption_par_rates(items: Sequence[tuple[int, SwaptionTrade]], market: Market
                       ) -> np.ndarray:
    """Par rate of each swaption's underlying on the OIS curve, ``[swaptions]``.

    P = (P(T_0) - P(T_n)) / sum_i tau_i P(T_i): the overnight floating leg (no spread, no basis)
    over the annuity of the fixed leg on its own schedule (backward from maturity, the leg's
    roll) and day count, T_0 / T_n its first adjusted start and last adjusted end.
    """
    out = np.empty(len(items))
    as_of = np.datetime64(market.as_of, "D")
    for k, (_, sw) in enumerate(items):
        fixed = next(leg for leg in sw.underlying.legs if isinstance(leg, FixedLeg))
        p = backward_schedules([sw.info.start], [sw.info.maturity], [fixed.months],
                               market.calendar(fixed.currency), ADJUST[fixed.roll])
        tau = year_fraction(fixed.daycount, p.start, p.end)
        disc = market.discount(fixed.currency, year_fraction_365(as_of, p.end))
        first = market.discount(fixed.currency, year_fraction_365(as_of, p.start[:1]))[0]
        out[k] = (first - disc[-1]) / float(np.sum(tau * disc))
    return out


def saccr_swaptions(items: Sequence[tuple[int, SwaptionTrade]], market: Market
                    ) -> list[SaccrPosition]:
    """SA-CCR positions of European swaptions (one IR option position each).

    Adjusted notional and maturity bucket from the underlying (S its start floored at 0, E its
    end); a payer swaption is a call on the rate, a receiver one a put; +1 bought (``long``).
    P is the underlying's par rate (:func:`swaption_par_rates`), K its fixed rate, T the
    expiry. M (maturity factor) is the underlying's end for physical settlement and the expiry
    for cash settlement (the contract ends then).
    """
    as_of, base = market.as_of, market.base_currency
    live = [(i, sw) for i, sw in items if sw.expiry > as_of]
    rates = swaption_par_rates(live, market)
    out: list[SaccrPosition] = []
    for (i, sw), par in zip(live, rates, strict=True):
        fixed = next(leg for leg in sw.underlying.legs if isinstance(leg, FixedLeg))
        payer = sw.underlying.signs[0] < 0  # the bank pays the fixed leg of the underlying
        s = max(_years(as_of, sw.info.start), 0.0)
        e = _years(as_of, sw.info.maturity)
        t = _years(as_of, sw.expiry)
        notional = sw.info.notional * market.fx_rate(sw.info.currency, base)
        out.append(SaccrPosition(i, IR, sw.info.currency, notional, float(sw.sign), s, e,
                                 e if sw.settlement == "physical" else t,
                                 OptionTerms(payer, float(par), fixed.rate, t)))
    return out
