"""CCP initial margin by historical VaR for interest-rate swaps (csas.csv ``im_model =
ccp_hvar``), as clearing houses margin cleared swaps.

Scenarios: every daily change of the zero curves in ``history/`` (:mod:`xvaflow.io.history`),
on the dates all the needed currencies share, applied to today's curves (market.json): in
scenario s the zero rate at time t moves by dz_s(t), the change at the history's tenors
interpolated linearly (flat beyond the first and last tenor); FX spots stay at today's.

P&L: a swap's cash-flow rows (:class:`~xvaflow.products.tables.LinearFlows`) are worth
v_r = a_r P(T_pay) P(T_s) / P(T_e) today, so in scenario s

    v_r,s = v_r exp(-dz_s(T_pay) T_pay - dz_s(T_s) T_s + dz_s(T_e) T_e)

and, the interpolation being linear, the exponents of all rows and scenarios are one matrix
product E = C G^T of the scenario changes C ``[scenarios, tenors]`` with the rows' interpolation
weights G ``[rows, tenors]``. A netting set's P&L is the sum of v_r (exp(E) - 1) over its rows.

Margin: the scenarios are weighted by EWMA, w_i = (1 - lambda) lambda^i / (1 - lambda^n) with
i = 0 for the most recent change (lambda = :data:`LAMBDA`, Boudoukh-Richardson-Whitelaw's
weighted historical simulation); the 1-day VaR is the loss at which the weight of the worse
losses reaches :data:`TAIL` (5%), scaled to the holding period by sqrt(``mpor_days``) of the
CSA. ``received`` covers the counterparty's default (the bank's exposure grows: the 95%
weighted quantile of the gains dV), ``posted`` the bank's own (of the losses -dV). A member
(counterparty) is margined on the sum of its ccp_hvar netting sets' P&L.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from xvaflow.core.errors import ProblemLog
from xvaflow.io.history import CurveHistory, load_histories
from xvaflow.market.market import Market
from xvaflow.portfolio import Portfolio
from xvaflow.products.tables import LinearFlows

LAMBDA = 0.99
TAIL = 0.05
CHUNK = 20_000_000  # scenario x row cells per block of the matrix product (160 MB)


def ewma_weights(n: int, lam: float = LAMBDA) -> np.ndarray:
    """``[n]`` weights, index 0 the most recent scenario, summing to 1."""
    w = (1.0 - lam) * lam ** np.arange(n, dtype=float)
    out: np.ndarray = w / w.sum()
    return out


def weighted_tail(losses: np.ndarray, weights: np.ndarray, tail: float = TAIL) -> float:
    """The loss at which the weight of the losses at least as large first reaches ``tail``
    (the weighted (1 - tail) quantile; with equal weights over n scenarios, the
    ceil(tail n)-th largest loss)."""
    order = np.argsort(-losses, kind="stable")
    cumulative = np.cumsum(weights[order])
    k = int(np.searchsorted(cumulative, tail * (1.0 - 1e-12)))
    return float(losses[order][min(k, losses.size - 1)])


def scenario_changes(histories: dict[str, CurveHistory]) -> tuple[list[Any], dict[str, np.ndarray]]:
    """(the dates of the changes, most recent first; currency -> ``[scenarios, tenors]`` daily
    zero-rate changes on the dates all histories share)."""
    common = sorted(set.intersection(*(set(h.dates) for h in histories.values())))
    changes = {}
    for ccy, h in histories.items():
        index = {d: i for i, d in enumerate(h.dates)}
        z = h.zero[[index[d] for d in common]]
        changes[ccy] = (z[1:] - z[:-1])[::-1]
    return common[1:][::-1], changes


def _weights(t: np.ndarray, pillars: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Linear interpolation of ``t`` on ``pillars``, flat outside: (left index, right index,
    weight of the right one)."""
    right = np.clip(np.searchsorted(pillars, t, side="right"), 1, max(pillars.size - 1, 1))
    left = right - 1
    if pillars.size == 1:
        return np.zeros(t.size, int), np.zeros(t.size, int), np.zeros(t.size)
    w = np.clip((t - pillars[left]) / (pillars[right] - pillars[left]), 0.0, 1.0)
    return left, right, w


def scenario_pnl(flows: LinearFlows, rows: np.ndarray, group: np.ndarray, n_groups: int,
                 currencies: Sequence[str], market: Market,
                 histories: dict[str, CurveHistory], changes: dict[str, np.ndarray]
                 ) -> np.ndarray:
    """``[scenarios, n_groups]`` P&L in the base currency of the linear rows ``rows`` summed
    by ``group`` (``[len(rows)]`` group index of each row), a currency and a block of rows at a
    time (:data:`CHUNK` cells)."""
    n_scen = next(iter(changes.values())).shape[0]
    pnl = np.zeros((n_scen, n_groups))
    cur = flows.currency[rows]
    for c, ccy in enumerate(currencies):
        mine = np.flatnonzero(cur == c)
        if not mine.size:
            continue
        mine = mine[np.argsort(group[mine], kind="stable")]  # rows of a group together
        curve = market.curve(ccy)
        pillars, change = histories[ccy].times, changes[ccy]
        to_base = market.fx_rate(ccy, market.base_currency)
        step = max(1, CHUNK // n_scen)
        for lo in range(0, mine.size, step):
            r = rows[mine[lo:lo + step]]
            value = (flows.amount[r] * curve.discount(flows.pay_time[r])
                     * curve.discount(flows.fix_start[r]) / curve.discount(flows.fix_end[r])
                     * to_base)
            # g[row, tenor] = d(exponent) / d(change at the tenor), summed by bincount over
            # the row's three times (np.add.at is ten times slower)
            n_cells = r.size * pillars.size
            base_cell = np.arange(r.size) * pillars.size
            cells = np.zeros(n_cells)
            for times, sign in ((flows.pay_time[r], -1.0), (flows.fix_start[r], -1.0),
                                (flows.fix_end[r], 1.0)):
                left, right, w = _weights(times, pillars)
                cells += np.bincount(base_cell + left, sign * times * (1.0 - w), n_cells)
                cells += np.bincount(base_cell + right, sign * times * w, n_cells)
            g = cells.reshape(r.size, pillars.size)
            moved = np.expm1(change @ g.T) * value  # [S, block]
            groups = group[mine[lo:lo + step]]
            starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
            pnl[:, groups[starts]] += np.add.reduceat(moved, starts, axis=1)
    return pnl


def ccp_section(portfolio: Portfolio, netting_sets: Sequence[str],
                histories: dict[str, CurveHistory], t0_values: np.ndarray) -> dict[str, Any]:
    """results.json ``initial_margin.ccp`` for the netting sets under ccp_hvar CSAs (their
    trades are interest-rate swaps: checked by the loader)."""
    c = portfolio.compiled
    dates, changes = scenario_changes(histories)
    weights = ewma_weights(len(dates))
    index = {ns: k for k, ns in enumerate(netting_sets)}
    ns_of_trade = np.array([index.get(c.netting_set_ids[j], -1) for j in c.netting_set])
    rows = np.flatnonzero(ns_of_trade[c.linear.trade] >= 0)
    pnl = scenario_pnl(c.linear, rows, ns_of_trade[c.linear.trade[rows]], len(netting_sets),
                       c.currencies, portfolio.market, histories, changes)
    mtm = {ns: float(t0_values[ns_of_trade == k].sum()) for ns, k in index.items()}
    holding = {ns: portfolio.csas[str(portfolio.netting_sets[ns].csa_id)].mpor_days
               for ns in netting_sets}

    def margins(p: np.ndarray, days: int) -> dict[str, float]:
        scale = math.sqrt(days)
        return {"received": max(weighted_tail(p, weights), 0.0) * scale,
                "posted": max(weighted_tail(-p, weights), 0.0) * scale}

    members: dict[str, list[str]] = {}
    for ns in netting_sets:
        members.setdefault(portfolio.netting_sets[ns].counterparty_id, []).append(ns)
    return {
        "model": "historical VaR", "lambda": LAMBDA, "tail": TAIL, "scenarios": len(dates),
        "first_date": dates[-1].isoformat(), "last_date": dates[0].isoformat(),
        "netting_sets": {ns: {**margins(pnl[:, k], holding[ns]), "mtm": mtm[ns],
                              "holding_days": holding[ns]} for ns, k in index.items()},
        "members": {cp: {**margins(pnl[:, [index[n] for n in nss]].sum(axis=1),
                                   max(holding[n] for n in nss)),
                         "mtm": sum(mtm[n] for n in nss), "netting_sets": nss}
                    for cp, nss in members.items()},
    }


def cleared_netting_sets(portfolio: Portfolio) -> list[str]:
    """The netting sets (holding trades) under a CSA with ``im_model = ccp_hvar``."""
    return [ns for ns in portfolio.compiled.netting_set_ids
            if (csa := portfolio.netting_sets[ns].csa_id) is not None
            and portfolio.csas[csa].im_model == "ccp_hvar"]


def load_ccp_histories(portfolio: Portfolio, log: ProblemLog) -> dict[str, CurveHistory]:
    """history/ for the currencies of the cleared netting sets' swaps (problems in ``log``;
    nothing to read without cleared netting sets)."""
    cleared = set(cleared_netting_sets(portfolio))
    currencies = sorted({t.info.currency for t in portfolio.trades
                         if t.info.netting_set_id in cleared})
    if not currencies:
        return {}
    return load_histories(portfolio.path, currencies, portfolio.market.as_of, log)
