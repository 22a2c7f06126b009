"""SA-CCR attributes of trades: the record every product family fills beside its compiler.

A trade contributes one or more *risk positions* (Basel CRE52): an interest-rate swap one in its
currency's hedging set, a cross-currency swap one FX position plus one IR position per fixed
leg, and so on. A position carries what only the product knows (asset class, hedging set,
notional at spot, direction, dates, and for options the price, strike and expiry of the
supervisory delta); :mod:`xvaflow.regulatory.saccr` applies the supervisory formulas
(duration, delta, maturity factor, add-ons) to them.

Times are ACT/365F year fractions from as_of on the dates as booked (not rolled).
"""

from __future__ import annotations

from dataclasses import dataclass

from xvaflow.market.market import Market

IR, FX, EQ = "IR", "FX", "EQ"


@dataclass(frozen=True, slots=True)
class OptionTerms:
    """What the supervisory delta of an option needs (CRE52.40).

    Attributes:
        call: True for a call on the position's underlying, False for a put.
        price: P, the underlying's price (par rate, FX forward, equity forward).
        strike: K, in the units of ``price``.
        expiry: T, years from as_of to the latest exercise date.
    """

    call: bool
    price: float
    strike: float
    expiry: float


@dataclass(frozen=True, slots=True)
class SaccrPosition:
    """One SA-CCR risk position of a trade.

    Attributes:
        trade: index of the trade in the portfolio's trade order.
        asset_class: ``IR``, ``FX`` or ``EQ``.
        hedging_set: IR: the currency; FX: the pair, underlying currency first (the non-base
            one, or the alphabetically first of a cross); EQ: the underlying's name.
        notional: notional in base currency at spot (IR: before the supervisory duration).
        sign: linear positions: the supervisory delta, +1 long / -1 short in the primary risk
            factor; options: +1 bought, -1 sold.
        start: S, start of the referenced period (floored at 0; IR only, else 0).
        end: E, end of the referenced period (IR: the maturity bucket; else the maturity).
        maturity: M of the maturity factor (the latest date the contract is still active).
        option: the option's terms, None for a linear position.
    """

    trade: int
    asset_class: str
    hedging_set: str
    notional: float
    sign: float
    start: float
    end: float
    maturity: float
    option: OptionTerms | None = None


def fx_underlying(ccy_a: str, ccy_b: str, base: str) -> tuple[str, str]:
    """(underlying, other) of an FX pair: the non-base currency against the base one; for a
    cross, the alphabetically first against the other (the convention of the FX delta)."""
    if ccy_a == base:
        return ccy_b, ccy_a
    if ccy_b == base:
        return ccy_a, ccy_b
    return (ccy_a, ccy_b) if ccy_a < ccy_b else (ccy_b, ccy_a)


def fx_position_notional(market: Market, amounts: dict[str, float]) -> float:
    """FX adjusted notional (CRE52.37 (2)): the non-base leg at spot in base currency; when
    neither leg is in the base currency, the larger leg at spot."""
    base = market.base_currency
    values = {c: abs(a) * market.fx_rate(c, base) for c, a in amounts.items()}
    if base in values:
        return next(v for c, v in values.items() if c != base)
    return max(values.values())
