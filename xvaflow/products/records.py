"""Trade records: plain, immutable data parsed from trades.csv.

Records hold no pricing logic. Each product family module (:mod:`xvaflow.products.swaps`, ...)
parses its rows into these records and compiles them into array tables; pricers work on the
tables. Signs: ``+1`` means the bank receives / is long, ``-1`` pays / is short.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

ROLL_DEFAULT = "modifiedfollowing"


@dataclass(frozen=True, slots=True)
class FixedLeg:
    """Fixed-rate coupon leg: coupon = notional * rate * accrual(daycount).

    ``roll``: how its schedule's dates move to business days of its currency's calendar
    (``modifiedfollowing``, ``following``, ``preceding``, ``modifiedpreceding``, ``unadjusted``),
    or ``none``: no calendar (nothing rolls, every day is a fixing day).
    """

    currency: str
    notional: float
    rate: float
    months: int
    daycount: str
    roll: str = ROLL_DEFAULT


@dataclass(frozen=True, slots=True)
class FloatLeg:
    """Floating leg on an overnight (compounded) or term index, plus a simple spread.

    ``last_fixing`` is the fixing of the period in progress at as_of (CONTRACT.md): the fixed
    index rate for a term index; the annualised simple rate of the compounding realised from the
    period start to as_of for an overnight index.
    """

    currency: str
    notional: float
    index: str
    months: int
    spread: float
    daycount: str
    last_fixing: float | None
    roll: str = ROLL_DEFAULT  # as FixedLeg.roll


Leg = FixedLeg | FloatLeg


@dataclass(frozen=True, slots=True)
class TradeInfo:
    """Fields common to every trade.

    Attributes:
        trade_id, version, netting_set_id, product: as in trades.csv.
        row: row of trades.csv the trade came from (for messages).
        currency: currency its NPV is reported in.
        notional: notional in ``currency`` where meaningful (else a representative size).
        start, maturity: start and final date (settlement date for FX forwards).
    """

    trade_id: str
    version: int
    netting_set_id: str
    product: str
    row: int
    currency: str
    notional: float
    start: _dt.date
    maturity: _dt.date


@dataclass(frozen=True, slots=True)
class SwapTrade:
    """IRS or CCS: two legs with receive/pay signs, optional notional exchanges (CCS).

    With ``exchange_notionals``, each leg's notional flows opposite to its coupons at start
    (when after as_of) and with them at maturity: the payer of a leg borrows its notional.
    """

    info: TradeInfo
    legs: tuple[Leg, Leg]
    signs: tuple[int, int]
    exchange_notionals: bool


@dataclass(frozen=True, slots=True)
class SwaptionTrade:
    """European swaption on ``underlying`` (a single-currency swap starting on or after expiry).

    ``settlement`` is ``physical`` (enter the swap) or ``cash`` (receive the swap's value at
    expiry, collateralised cash price: the same t0 value, no exposure after expiry).
    ``sign``: +1 long (bank holds the option), -1 short.
    """

    info: TradeInfo
    underlying: SwapTrade
    expiry: _dt.date
    settlement: str
    sign: int


@dataclass(frozen=True, slots=True)
class FxForwardTrade:
    """The bank receives ``buy_amount`` of ``buy_currency`` and pays ``sell_amount`` of
    ``sell_currency`` on ``info.maturity``."""

    info: TradeInfo
    buy_currency: str
    buy_amount: float
    sell_currency: str
    sell_amount: float


@dataclass(frozen=True, slots=True)
class FxOptionTrade:
    """European right to exchange ``sell_amount`` for ``buy_amount`` at ``expiry``, settled on
    ``info.maturity``; ``sign`` +1 long, -1 short."""

    info: TradeInfo
    buy_currency: str
    buy_amount: float
    sell_currency: str
    sell_amount: float
    expiry: _dt.date
    sign: int


@dataclass(frozen=True, slots=True)
class EquityTrade:
    """Equity forward (``option_type`` None) or European option on an index, paid at expiry.

    Forward payoff: quantity * (S_T - strike); call: quantity * max(S_T - K, 0); put:
    quantity * max(K - S_T, 0); all times ``sign`` (+1 long, -1 short).
    """

    info: TradeInfo
    underlying: str
    quantity: float
    strike: float
    option_type: str | None
    expiry: _dt.date
    sign: int


Trade = SwapTrade | SwaptionTrade | FxForwardTrade | FxOptionTrade | EquityTrade
