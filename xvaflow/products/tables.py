"""Compiled trade tables: structure-of-arrays forms the pricers consume.

Linear products become rows of :class:`LinearFlows`. A row is worth, at time 0,

    amount * P_c(T_pay) * P_c(T_s) / P_c(T_e)        (the ratio is 1 for FIXED rows, T_s = T_e)

in its currency c, where P_c is the OIS discount curve. A floating coupon is expressed through the
discount factors of its period dates: on a single curve an overnight coupon compounded in arrears
over [s, e] and paid at e is worth N (P(s) - P(e)), i.e. a projected row (N, s, e) plus a fixed
row -N; a term coupon N tau_c (F + b + m) with F = (P(s)/P(e) - 1)/tau_idx is a projected row
(N tau_c/tau_idx, s, e) plus a fixed row N tau_c (b + m - 1/tau_idx). The row ``kind`` tells a
scenario pricer how the projection fixes along a path: an OVERNIGHT row rolls at the realised
overnight rate after s (worth a B(t)/B(s) P(t,T_pay)/P(t,e)), a TERM row fixes at s (worth
a P(t,T_pay)/P(s,e)). Rows are independent of the curves, so curve bumps reuse them.

Options keep their payoff parameters in per-family tables.
All times are ACT/365F years from as_of; currencies and equities are indices into the
:class:`CompiledPortfolio` name tuples.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any, Self

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

FIXED, OVERNIGHT, TERM = 0, 1, 2
SETTLE_PHYSICAL, SETTLE_CASH = 0, 1
EQ_FORWARD, EQ_CALL, EQ_PUT = 0, 1, 2


class _Table:
    """Mixin for frozen dataclasses of equal-length arrays."""

    def __len__(self) -> int:
        return int(getattr(self, fields(self)[0].name).shape[0])  # type: ignore[arg-type]

    @classmethod
    def concat(cls, parts: list[Self]) -> Self:
        """Row-wise concatenation of tables of the same type (empty list: empty table)."""
        names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
        if not parts:
            return cls.empty()
        return cls(**{n: np.concatenate([getattr(p, n) for p in parts]) for n in names})

    @classmethod
    def empty(cls) -> Self:
        out: dict[str, Any] = {}
        for f in fields(cls):  # type: ignore[arg-type]
            dtype = np.int64 if "IntArray" in str(f.type) else np.float64
            out[f.name] = np.zeros(0, dtype=dtype)
        return cls(**out)

    def take(self, index: Any) -> Self:
        """Rows selected by a boolean mask or an index array."""
        return type(self)(**{f.name: getattr(self, f.name)[index]
                             for f in fields(self)})  # type: ignore[arg-type]


@dataclass(frozen=True)
class LinearFlows(_Table):
    """Cash-flow rows of linear products (see module docstring).

    Attributes (all ``[rows]``):
        trade: trade index.
        currency: currency index.
        kind: FIXED, OVERNIGHT or TERM.
        pay_time: payment time T_pay.
        fix_start, fix_end: projection period [T_s, T_e] (both 0 for FIXED rows).
        amount: amount in the row's currency, signed (+ received by the bank).
    """

    trade: IntArray
    currency: IntArray
    kind: IntArray
    pay_time: FloatArray
    fix_start: FloatArray
    fix_end: FloatArray
    amount: FloatArray


@dataclass(frozen=True)
class FxOptionTable(_Table):
    """European FX options: the holder may pay ``strike * buy_amount`` of the sell currency for
    ``buy_amount`` of the buy currency at ``expiry``, settled at ``pay_time``.

    Attributes (all ``[rows]``): trade, buy_ccy, sell_ccy, buy_amount, strike (sell per buy),
    expiry, pay_time, sign (+1 long).
    """

    trade: IntArray
    buy_ccy: IntArray
    sell_ccy: IntArray
    buy_amount: FloatArray
    strike: FloatArray
    expiry: FloatArray
    pay_time: FloatArray
    sign: FloatArray


@dataclass(frozen=True)
class EquityTable(_Table):
    """Equity forwards and European options paid at expiry, in the equity's currency.

    Attributes (all ``[rows]``): trade, equity, currency, kind (EQ_FORWARD/CALL/PUT), quantity,
    strike, expiry, sign.
    """

    trade: IntArray
    equity: IntArray
    currency: IntArray
    kind: IntArray
    quantity: FloatArray
    strike: FloatArray
    expiry: FloatArray
    sign: FloatArray


@dataclass(frozen=True)
class SwaptionTable(_Table):
    """European swaptions; the underlying's rows are in ``CompiledPortfolio.swaption_flows``
    with ``trade`` equal to the swaption's trade index.

    Attributes (all ``[rows]``): trade, currency, expiry, settlement (SETTLE_PHYSICAL/CASH),
    sign (+1 long).
    """

    trade: IntArray
    currency: IntArray
    expiry: FloatArray
    settlement: IntArray
    sign: FloatArray


@dataclass(frozen=True)
class CompiledPortfolio:
    """Everything the pricers need, as arrays.

    Attributes:
        trade_ids: ``[trades]`` ids, in the order of the source file.
        products: ``[trades]`` product codes.
        trade_currency: ``[trades]`` index of the currency each NPV is reported in.
        notional: ``[trades]`` representative size in the trade currency (for tolerances,
            reporting and cost estimates).
        netting_set: ``[trades]`` index into ``netting_set_ids``.
        netting_set_ids: netting set ids in first-use order.
        currencies: currency codes referenced by the tables.
        equities: equity names referenced by the tables.
        linear: cash-flow rows of IRS, CCS and FX forwards.
        swaption_flows: rows of swaption underlyings (not part of ``linear``).
        fx_options, equity, swaptions: option and equity tables.
    """

    trade_ids: tuple[str, ...]
    products: tuple[str, ...]
    trade_currency: IntArray
    notional: FloatArray
    netting_set: IntArray
    netting_set_ids: tuple[str, ...]
    currencies: tuple[str, ...]
    equities: tuple[str, ...]
    linear: LinearFlows
    swaption_flows: LinearFlows
    fx_options: FxOptionTable
    equity: EquityTable
    swaptions: SwaptionTable

    @property
    def n_trades(self) -> int:
        return len(self.trade_ids)

    def trade_end_times(self) -> FloatArray:
        """``[trades]`` the last time each trade pays or exercises (0 for a trade with nothing
        left after as_of): its last linear flow, an option's settlement, a cash-settled
        swaption's expiry, a physical one's last underlying payment."""
        end = np.zeros(self.n_trades)
        np.maximum.at(end, self.linear.trade, self.linear.pay_time)
        np.maximum.at(end, self.fx_options.trade, self.fx_options.pay_time)
        np.maximum.at(end, self.equity.trade, self.equity.expiry)
        sw = self.swaptions
        np.maximum.at(end, sw.trade, sw.expiry)
        physical = np.isin(self.swaption_flows.trade, sw.trade[sw.settlement == SETTLE_PHYSICAL])
        np.maximum.at(end, self.swaption_flows.trade[physical],
                      self.swaption_flows.pay_time[physical])
        return end

    def netting_set_end_times(self) -> FloatArray:
        """``[netting sets]`` (order of ``netting_set_ids``) the last event of any trade."""
        end = np.zeros(len(self.netting_set_ids))
        np.maximum.at(end, self.netting_set, self.trade_end_times())
        return end

    def held_factors(self) -> tuple[set[str], set[str]]:
        """(currencies, equities) the trades' tables refer to (after :meth:`subset` the name
        tuples still list the full portfolio's)."""
        ccy = np.unique(np.concatenate([
            self.trade_currency, self.linear.currency, self.swaption_flows.currency,
            self.swaptions.currency, self.fx_options.buy_ccy, self.fx_options.sell_ccy,
            self.equity.currency]).astype(np.int64))
        eq = np.unique(self.equity.equity.astype(np.int64))
        return {self.currencies[i] for i in ccy}, {self.equities[i] for i in eq}

    def subset(self, keep: Any) -> CompiledPortfolio:
        """The trades selected by a boolean mask ``[trades]``, with every table reindexed.

        Currency and equity name tuples are kept whole so that indices stay comparable with the
        full portfolio's.
        """
        keep = np.asarray(keep, dtype=bool)
        new_index = np.cumsum(keep) - 1

        def rows(table: Any) -> Any:
            sel = table.take(keep[table.trade])
            return dataclasses.replace(sel, trade=new_index[sel.trade])

        ns_used = np.unique(self.netting_set[keep])
        ns_new = np.full(len(self.netting_set_ids), -1, dtype=np.int64)
        ns_new[ns_used] = np.arange(ns_used.size)
        return CompiledPortfolio(
            trade_ids=tuple(t for t, k in zip(self.trade_ids, keep, strict=True) if k),
            products=tuple(p for p, k in zip(self.products, keep, strict=True) if k),
            trade_currency=self.trade_currency[keep],
            notional=self.notional[keep],
            netting_set=ns_new[self.netting_set[keep]],
            netting_set_ids=tuple(self.netting_set_ids[i] for i in ns_used),
            currencies=self.currencies,
            equities=self.equities,
            linear=rows(self.linear),
            swaption_flows=rows(self.swaption_flows),
            fx_options=rows(self.fx_options),
            equity=rows(self.equity),
            swaptions=rows(self.swaptions),
        )
