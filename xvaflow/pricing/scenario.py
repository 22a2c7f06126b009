"""Scenario pricing: netting-set values on every path at a simulation date, streamed in time.

Everything is priced from the model state of :mod:`xvaflow.models.crossasset` with the formulas
of :mod:`xvaflow.products.tables` and :mod:`xvaflow.pricing.t0`, conditional on the path:

Linear rows (IRS, CCS, FX forwards; exercised swaption underlyings)
    A row not yet fixed at t (fixed amount, or projection period starting at or after t) is
    worth a exp(lnK(t) - beta(t) y_c) in its currency, with y_c the shifted Hull-White state:
    for every group (netting set, or exercised underlying) and currency this is a smooth function
    of y_c alone, evaluated exactly at equispaced points spanning the paths and fitted by a
    Chebyshev series (:class:`~xvaflow.pricing.interpolation.ExpSumFit`): cost rows x points +
    paths x groups x degree instead of rows x paths. Rows with the same group, kind and dates
    are merged first.
    An overnight coupon in progress (s < t < T_pay = e) is worth a N_c(t)/N_c(s): each group keeps
    the running sum of a exp(-ln N_c(s)) over its coupons in progress, updated only when a coupon
    starts or pays, so the cost does not grow with the number of dates.
    A term coupon in progress is worth a P_c(t, T_pay)/P_c(s, e), with P_c(s, e) from the state at
    its fixing date (Gaussian-bridge interpolated between grid dates, see
    :mod:`xvaflow.simulation.scenario`), valued row by row.
Swaptions
    Before expiry, value = sign P(t,T) g(mu), g the expected positive part of the underlying at
    expiry (:mod:`xvaflow.models.gaussian`) under the T-forward conditional law
    y(T) | F_t ~ N(mu, v), mu = e^{-a(T-t)} (y_t + B(t,T) V(t)), v = V(T) - e^{-2a(T-t)} V(t).
    The exercise intervals are fixed per swaption; g and g' are evaluated at nodes spanning the
    paths, 6 per conditional standard deviation of mu (so the cubic Hermite interpolation error,
    O((h/sd)^4)/384, stays near 2e-6 of the option's scale), and interpolated. At expiry (on the
    grid) a physical swaption is exercised on the paths where the underlying is worth more than
    zero to the holder and becomes that swap; a cash-settled one pays and leaves the portfolio.
FX options (Garman-Kohlhagen) and equity forwards/options (Black-Scholes)
    Closed forms on the simulated spot and bonds with the market volatility (static vol, as at
    t0). A physically settled FX option exercised at expiry (forward above strike) is the
    exchange of the two amounts until settlement.

Values are converted to the base currency with the simulated FX and summed per netting set.
Cash flows paid on or before t are excluded (a flow paid exactly at a grid date is gone there);
what they paid since the last exposure date is kept, per netting set, as the deflated value of
each flow grown in its currency's bank account from its payment date (:attr:`cash`), so the
engine can value the interval portfolio, the one that still holds those flows
(:meth:`interval_values`, see :mod:`xvaflow.xva.integration`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from xvaflow.core.dates import FloatArray, IntArray
from xvaflow.market.market import Market
from xvaflow.models.crossasset import CrossAssetModel
from xvaflow.models.gaussian import Intervals, interval_expectation, positive_intervals
from xvaflow.models.hull_white import (
    bond_b,
    forward_measure_shift,
    padded_coefficients,
    state_variance,
)
from xvaflow.models.volatility import ForwardVariance
from xvaflow.pricing.formulas import black
from xvaflow.pricing.interpolation import ExpSumFit, hermite_rows
from xvaflow.products.tables import (
    EQ_CALL,
    EQ_FORWARD,
    FIXED,
    OVERNIGHT,
    SETTLE_PHYSICAL,
    TERM,
    CompiledPortfolio,
    LinearFlows,
)
from xvaflow.simulation.scenario import Scenario

NODES_PER_SD = 6
RANGE_SD = 7.0
MIN_HERMITE_NODES, MAX_HERMITE_NODES = 16, 512


def scatter_rows(xp: Any, values: Any, rows: IntArray, n_rows: int) -> Any:
    """Sum rows of ``values`` ``[n, paths]`` into ``[n_rows, paths]`` by ``rows`` ``[n]``."""
    if values.shape[0] == 0:
        return xp.zeros((n_rows, values.shape[1]))
    return _sparse_product(xp, sp.csr_matrix((np.ones(rows.size), (rows, np.arange(rows.size))),
                                             shape=(n_rows, rows.size)), values)


def _sparse_product(xp: Any, matrix: sp.csr_matrix, values: Any) -> Any:
    """``matrix @ values`` for a host sparse matrix and backend ``values`` ``[n, paths]``."""
    if xp is np:
        return np.asarray(matrix @ values)
    import cupyx.scipy.sparse as csp  # the GPU path only

    return csp.csr_matrix(matrix) @ values


def _accumulate(xp: Any, out: Any, values: Any, rows: IntArray) -> None:
    """out[rows[i]] += values[i] for ``values`` ``[n, paths]``, touching only those rows.

    On numpy a loop of contiguous row additions is several times faster than fancy-indexed
    ``out[rows] += values`` (which gathers, adds and scatters whole blocks); on a GPU one
    sparse product avoids a kernel launch per row.
    """
    if values.shape[0] == 0:
        return
    if xp is np:
        for i, r in enumerate(rows.tolist()):
            out[r] += values[i]
        return
    uniq, inverse = np.unique(rows, return_inverse=True)
    out[uniq] += scatter_rows(xp, values, inverse.ravel(), uniq.size)


def _segments(sorted_keys: IntArray) -> tuple[IntArray, IntArray]:
    """(start positions, keys) of runs of equal values in a sorted array."""
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    return starts, sorted_keys[starts]


@dataclass(frozen=True)
class _Rows:
    """Linear rows of one currency, merged and sorted by group (``[rows]`` host arrays)."""

    group: IntArray
    kind: IntArray
    pay: FloatArray
    start: FloatArray
    end: FloatArray
    amount: FloatArray
    live_from: FloatArray  # rows count only from this time (swaption underlyings: expiry)

    @classmethod
    def merged(cls, group: IntArray, kind: IntArray, pay: FloatArray, start: FloatArray,
               end: FloatArray, amount: FloatArray, live_from: FloatArray) -> _Rows:
        """Sum the amounts of rows equal in everything else; sort by group."""
        keys = np.rec.fromarrays([group, kind, pay, start, end, live_from])
        uniq, inverse = np.unique(keys, return_inverse=True)
        total = np.bincount(inverse.ravel(), weights=amount, minlength=uniq.size)
        keep = total != 0.0
        u = uniq[keep]
        return cls(u.f0.astype(np.int64), u.f1.astype(np.int64), u.f2, u.f3, u.f4, total[keep],
                   u.f5)


@dataclass
class _Overnight:
    """Overnight coupons of one currency: the groups holding them (``cols``), the coupons in
    start and in payment order, how many of each have started / paid (``done``) and the two
    running sums of a / N_c(s) ``[cols, paths]`` (started, paid)."""

    cols: IntArray
    start_order: IntArray
    pay_order: IntArray
    done: list[int]
    sums: tuple[Any, Any]

    @classmethod
    def of(cls, r: _Rows, rows: IntArray, n_paths: int, xp: Any) -> _Overnight:
        cols = np.unique(r.group[rows])
        return cls(cols=cols, start_order=rows[np.argsort(r.start[rows], kind="stable")],
                   pay_order=rows[np.argsort(r.pay[rows], kind="stable")], done=[0, 0],
                   sums=(xp.zeros((cols.size, n_paths)), xp.zeros((cols.size, n_paths))))


class ScenarioValuer:
    """Values of a set of netting sets on the paths of a :class:`Scenario`.

    Args:
        compiled: the compiled trades of these netting sets (other trades must be removed).
        model: the model (all currencies and equities of ``compiled`` simulated).
        scenario: the paths.
        netting_sets: ``[n]`` netting set ids, in the column order of the results.
        market: the market snapshot (FX option vols).
    """

    def __init__(self, compiled: CompiledPortfolio, model: CrossAssetModel, scenario: Scenario,
                 netting_sets: Sequence[str], market: Market) -> None:
        self.model = model
        self.scenario = scenario
        self.xp = scenario.xp
        self.n_ns = len(netting_sets)
        col = {ns: i for i, ns in enumerate(netting_sets)}
        ns_of_trade = np.array([col[compiled.netting_set_ids[i]] for i in compiled.netting_set],
                               dtype=np.int64)
        ccy = np.array([model.currencies.index(c) for c in compiled.currencies], dtype=np.int64)

        # Swaptions: physical ones get a value group for their underlying after exercise.
        sw = compiled.swaptions
        self.sw_ccy = ccy[sw.currency] if len(sw) else np.zeros(0, dtype=np.int64)
        self.sw_ns = ns_of_trade[sw.trade]
        self.sw_expiry = sw.expiry
        self.sw_sign = sw.sign
        self.sw_physical = sw.settlement == SETTLE_PHYSICAL
        self.phys = np.flatnonzero(self.sw_physical)
        self.n_groups = self.n_ns + self.phys.size
        self.group_ns = np.r_[np.arange(self.n_ns), self.sw_ns[self.phys]].astype(np.int64)
        self.sw_group = np.full(len(sw), -1, dtype=np.int64)
        self.sw_group[self.phys] = self.n_ns + np.arange(self.phys.size)
        und = compiled.swaption_flows
        owner = np.zeros(0, dtype=np.int64)
        if len(und):
            order = np.argsort(sw.trade)
            owner = order[np.searchsorted(sw.trade[order], und.trade)]
        self._sw_rows = [und.take(owner == i) for i in range(len(sw))]
        self._sw_table, self._sw_flows = sw, und
        self._sw_setup()
        self.exercised = self.xp.zeros((self.phys.size, scenario.n_paths), dtype=bool)

        # Linear rows per model currency: trades' rows (group = netting set) and physical
        # underlyings (group = their value group, live from expiry).
        lin = compiled.linear
        phys_rows = np.flatnonzero(self.sw_physical[owner]) if owner.size else owner
        group = np.r_[ns_of_trade[lin.trade], self.sw_group[owner[phys_rows]]].astype(np.int64)
        rows = LinearFlows.concat([lin, und.take(phys_rows)])
        live_from = np.r_[np.full(len(lin), -np.inf), self.sw_expiry[owner[phys_rows]]]
        self.rows: dict[int, _Rows] = {}
        for c in (np.unique(ccy[rows.currency]) if len(rows) else []):
            m = ccy[rows.currency] == c
            self.rows[int(c)] = _Rows.merged(group[m], rows.kind[m], rows.pay_time[m],
                                             rows.fix_start[m], rows.fix_end[m], rows.amount[m],
                                             live_from[m])
        # Overnight coupons in progress: per group, the running sums of a / N_c(s) over the
        # coupons started (s < t) and over those paid (p <= t), each added in date order (see
        # advance), so that both are the same whichever other dates are simulated.
        self._on: dict[int, _Overnight] = {}
        for c, r in self.rows.items():
            started = np.flatnonzero((r.kind == OVERNIGHT) & (r.live_from <= r.start))
            if started.size:
                self._on[c] = _Overnight.of(r, started, scenario.n_paths, self.xp)
        # Earliest fixing each currency still needs once the flows paid by t are gone:
        # the suffix minimum of the projected rows' start dates in pay order.
        self._needed: dict[int, tuple[FloatArray, FloatArray]] = {}
        for c, r in self.rows.items():
            order = np.argsort(r.pay, kind="stable")
            start = np.where(r.kind[order] == FIXED, np.inf, r.start[order])
            self._needed[c] = (r.pay[order], np.minimum.accumulate(start[::-1])[::-1])
        self._prev_t = 0.0
        self._step_key: tuple[float, int] | None = None
        self._fixing_cache: dict[int, dict[float, Any]] = {}
        self._step_cache: tuple[Any, Any, Any] = (None, None, None)

        self.fx = compiled.fx_options
        self.fx_buy, self.fx_sell = ccy[self.fx.buy_ccy], ccy[self.fx.sell_ccy]
        self.fx_ns = ns_of_trade[self.fx.trade]
        # the model's own variance of each option's forward to its expiry, seen from any date
        self.fx_var = ForwardVariance(model.fx_loading(self.fx_buy, self.fx_sell), model.knots,
                                      self.fx.expiry, self.fx.pay_time)
        self.fx_exercised = self.xp.zeros((len(self.fx), scenario.n_paths), dtype=bool)
        self.eq = compiled.equity
        self.eq_model = np.array([model.equities.index(compiled.equities[i])
                                  for i in self.eq.equity], dtype=np.int64)
        self.eq_ccy = ccy[self.eq.currency]
        self.eq_ns = ns_of_trade[self.eq.trade]
        self.eq_var = ForwardVariance(model.eq_loading(self.eq_model), model.knots,
                                      self.eq.expiry, self.eq.expiry)
        # Flows paid since the last exposure date: linear rows in units of their currency's
        # bank account (a / N_c(p)), rows = the netting sets with flows in that currency
        # (``_cash_rows``; ``_cash_at`` maps a netting set to its row); option payoffs
        # deflated by the base's, one row per netting set.
        self.cash: dict[int, Any] = {}
        self._cash_rows: dict[int, IntArray] = {}
        self._cash_at: dict[int, IntArray] = {}
        for c, r in self.rows.items():
            holders = np.unique(self.group_ns[r.group])
            self._cash_rows[c] = holders
            self._cash_at[c] = np.full(self.n_ns, -1, dtype=np.int64)
            self._cash_at[c][holders] = np.arange(holders.size)
        self.option_cash: Any = None
        self.cash_paid = False

    def _sw_setup(self) -> None:
        """Per swaption: coefficients of the underlying at expiry in y(T) (merged, padded; see
        :func:`~xvaflow.pricing.swaption.expiry_coefficients`) and its exercise intervals."""
        m = self.model
        params = [(float(m.mean_reversion[c]), float(m.volatility[c])) for c in self.sw_ccy]
        curves = [m.curves[int(c)] for c in self.sw_ccy]
        self.sw_coef, self.sw_beta, self.sw_width = padded_coefficients(
            self._sw_table, self._sw_flows, (), params, curves)
        self.sw_intervals: Intervals = positive_intervals(self.sw_coef, self.sw_beta)

    # ------------------------------------------------------------------------------------
    # per-step entry points
    # ------------------------------------------------------------------------------------
    def advance(self, t: float, state: Any) -> None:
        """Bring path-dependent memory up to date at a new grid date (call at every step).

        Overnight coupons that started before t join their group's started sum, those paid by
        t its paid sum (each in date order, so the sums do not depend on which dates are
        simulated); options expiring now are exercised or not; the flows paid since the last
        date are booked.
        """
        prev = self._prev_t
        for c, on in self._on.items():
            r = self.rows[c]
            for which, times in ((0, on.start_order), (1, on.pay_order)):
                dates = r.start[times] if which == 0 else r.pay[times]
                done = int(np.searchsorted(dates, t, side="left" if which == 0 else "right"))
                new = times[on.done[which]: done]
                if new.size:
                    _accumulate(self.xp, on.sums[which], self._on_weight(c, r, new),
                                np.searchsorted(on.cols, r.group[new]))
                    on.done[which] = done
        self._exercise_swaptions(t, state)
        self._exercise_fx_options(t, state)
        self._pay(prev, t, state)
        self._prev_t = t

    def history_needed(self, t: float) -> float:
        """The earliest fixing date any flow not yet paid at t needs (t when none): the
        scenario may forget the history before it once every valuer on it has advanced to t
        (:meth:`~xvaflow.simulation.scenario.Scenario.forget`)."""
        needed = [float(ends[np.searchsorted(pays, t, side="right")]) if (pays > t).any()
                  else t for pays, ends in self._needed.values()]
        return min([t, *needed])

    # ------------------------------------------------------------------------------------
    # flows paid between exposure dates
    # ------------------------------------------------------------------------------------
    def reset_cash(self) -> None:
        """Start a new interval: no flow paid since (call at every exposure date)."""
        if self.cash_paid:
            for cash in (*self.cash.values(), self.option_cash):
                if cash is not None:
                    cash.fill(0.0)
        self.cash_paid = False

    def interval_values(self, values: Any, t: float, state: Any) -> Any:
        """Values ``[ns, paths]`` of the interval portfolio at t: ``values`` (after payments)
        plus the flows paid since the last exposure date, each grown in its own currency's
        bank account from its payment date to t and converted at the simulated FX at t."""
        if not self.cash_paid:
            return values
        fx_all, _, bank_all = self._step_vars(t, state)
        out = values.copy()
        for c, cash in sorted(self.cash.items()):
            out[self._cash_rows[c]] += cash * (bank_all[c] * fx_all[c])[None, :]
        if self.option_cash is not None:
            out += self.option_cash * bank_all[0][None, :]
        return out

    def _cash(self, c: int | None) -> Any:
        """The cash account of currency c (``None``: the options' deflated base cash)."""
        if c is None:
            if self.option_cash is None:
                self.option_cash = self.xp.zeros((self.n_ns, self.scenario.n_paths))
            return self.option_cash
        if c not in self.cash:
            self.cash[c] = self.xp.zeros((self._cash_rows[c].size, self.scenario.n_paths))
        return self.cash[c]

    def _pay(self, prev: float, t: float, state: Any) -> None:
        """Book the flows paid in (prev, t].

        A linear row paid at p adds a (realised amount) / N_c(p) units of currency c's bank
        account (realised: 1 for a fixed row, N_c(e)/N_c(s) for an overnight one, 1/P_c(s, e)
        for a term one, with the path's state at s, e, p from the scenario's bridge), in
        payment-date order: the cash does not depend on which dates between exposure dates
        are simulated. Options pay their payoff at expiry or settlement (on the grid),
        deflated by the base numeraire.
        """
        xp = self.xp
        for c, r in self.rows.items():
            idx = np.flatnonzero((r.pay > prev) & (r.pay <= t) & (r.live_from < r.pay))
            if idx.size == 0:
                continue
            keys = np.rec.fromarrays([r.kind[idx], r.start[idx], r.end[idx], r.pay[idx]])
            uniq, key_of = np.unique(keys, return_inverse=True)
            # one output row per (payment date, value group), date-major
            pairs, pair_of = np.unique(np.rec.fromarrays([r.pay[idx], r.group[idx]]),
                                       return_inverse=True)
            matrix = sp.csr_matrix((r.amount[idx], (pair_of.ravel(), key_of.ravel())),
                                   shape=(pairs.size, uniq.size))
            units = _sparse_product(xp, matrix, self._realised(c, uniq))
            groups = np.asarray(pairs["f1"], dtype=np.int64)
            target = groups.copy()
            under = np.flatnonzero(groups >= self.n_ns)
            if under.size:  # an underlying of a physical swaption pays where exercised
                u = groups[under] - self.n_ns
                units[under] *= self.exercised[u]
                units[under] *= xp.asarray(self.sw_sign[self.phys[u]])[:, None]
                target[under] = self.sw_ns[self.phys[u]]
            _accumulate(xp, self._cash(c), units, self._cash_at[c][target])
            self.cash_paid = True
        numeraire = self._step_vars(t, state)[2][0]
        self._pay_swaptions(t, state, numeraire)
        self._pay_fx_options(prev, t, state, numeraire)
        self._pay_equity(prev, t, state, numeraire)

    def _realised(self, c: int, keys: np.ndarray) -> Any:
        """Realised amount per unit of each (kind, s, e, p) row divided by N_c(p),
        ``[keys, paths]``."""
        xp, m = self.xp, self.model
        kind, s, e, p = (np.asarray(keys[f"f{i}"]) for i in range(4))
        dates = np.unique(np.r_[p, s[kind != FIXED], e[kind == OVERNIGHT]])
        x, integral = self.scenario.pair_at(c, dates)
        integral += xp.asarray(m.log_bank_drift(c, dates))[:, None]  # ln N_c at the dates
        at = {float(d): i for i, d in enumerate(dates.tolist())}

        def pick(arr: Any, when: FloatArray) -> Any:
            return arr[np.array([at[float(d)] for d in when.tolist()], dtype=np.int64)]

        out = -pick(integral, p)
        on = np.flatnonzero(kind == OVERNIGHT)
        if on.size:
            out[on] += pick(integral, e[on]) - pick(integral, s[on])
        term = np.flatnonzero(kind == TERM)
        if term.size:
            out[term] -= self._log_fixed_bond(c, s[term], e[term], pick(x, s[term]))
        xp.exp(out, out=out)
        return out

    def _book(self, xp: Any, paid: Any, netting_sets: IntArray, numeraire: Any) -> None:
        """Add payments ``[n, paths]`` (base currency, at t) to their netting sets' cash,
        deflated by the numeraire at t (``paid`` is overwritten)."""
        paid /= numeraire[None, :]
        _accumulate(xp, self._cash(None), paid, netting_sets)
        self.cash_paid = True

    def _pay_swaptions(self, t: float, state: Any, numeraire: Any) -> None:
        """Cash-settled swaptions expiring now pay sign max(underlying, 0)."""
        due = np.flatnonzero(np.isclose(self.sw_expiry, t, rtol=0.0, atol=1e-9)
                             & ~self.sw_physical)
        if due.size == 0:
            return
        xp = self.xp
        fx_all = self._step_vars(t, state)[0]
        payoff = xp.stack([xp.maximum(self._underlying_value(int(i), t, state), 0.0)
                           * (float(self.sw_sign[i]) * fx_all[int(self.sw_ccy[i])])
                           for i in due])
        self._book(xp, payoff, self.sw_ns[due], numeraire)

    def _pay_fx_options(self, prev: float, t: float, state: Any, numeraire: Any) -> None:
        """Exercised FX options settling in (prev, t]: the two amounts change hands."""
        o = self.fx
        due = np.flatnonzero((o.pay_time > prev) & (o.pay_time <= t))
        if due.size == 0:
            return
        xp = self.xp
        buy, sell = self._fx_legs(t, state, due)  # bonds at t >= settlement are 1
        buy -= sell
        paid = xp.where(self.fx_exercised[due], buy, 0.0)
        paid *= xp.asarray(o.sign[due])[:, None]
        self._book(xp, paid, self.fx_ns[due], numeraire)

    def _pay_equity(self, prev: float, t: float, state: Any, numeraire: Any) -> None:
        """Equity forwards and options expiring in (prev, t] pay S - K, or the option payoff."""
        e = self.eq
        due = np.flatnonzero((e.expiry > prev) & (e.expiry <= t))
        if due.size == 0:
            return
        xp, m = self.xp, self.model
        spot = xp.stack([m.equity(int(self.eq_model[i]), t, state) for i in due])
        spot -= xp.asarray(e.strike[due])[:, None]
        kind = e.kind[due]
        phi = xp.asarray(np.where(kind == EQ_FORWARD, 0.0, np.where(kind == EQ_CALL, 1.0, -1.0)))
        payoff = xp.where((phi == 0.0)[:, None], spot, xp.maximum(phi[:, None] * spot, 0.0))
        payoff *= xp.asarray(e.sign[due] * e.quantity[due])[:, None]
        payoff *= self._spots(self.eq_ccy[due], t, state)
        self._book(xp, payoff, self.eq_ns[due], numeraire)

    def _term_fixings(self, c: int, s: FloatArray) -> Any:
        """x_c(s) ``[len(s), paths]`` for term fixing dates s < t, each interpolated once in
        the run: a fixing no longer changes once the grid has passed it. Dates no longer asked
        for are dropped from the cache."""
        xp = self.xp
        cache = self._fixing_cache.setdefault(c, {})
        uniq, inverse = np.unique(s, return_inverse=True)
        todo = [u for u in uniq.tolist() if u not in cache]
        if todo:
            x, _ = self.scenario.pair_at(c, np.array(todo))
            for i, u in enumerate(todo):
                cache[u] = x[i]
        for u in [u for u in cache if u not in set(uniq.tolist())]:
            del cache[u]
        return xp.stack([cache[u] for u in uniq.tolist()])[inverse]

    def _on_weight(self, c: int, r: _Rows, idx: IntArray) -> Any:
        """a exp(-ln N_c(s)) ``[idx, paths]`` for overnight rows, s from the stored history
        (interpolated once per distinct date)."""
        xp = self.xp
        uniq, inverse = np.unique(r.start[idx], return_inverse=True)
        integral = self.scenario.pair_at(c, uniq)[1][inverse.ravel()]
        integral += xp.asarray(self.model.log_bank_drift(c, r.start[idx]))[:, None]
        integral *= -1.0
        xp.exp(integral, out=integral)
        integral *= xp.asarray(r.amount[idx])[:, None]
        return integral

    def _y_range(self, c: int, t: float, y: Any) -> tuple[float, float]:
        """Interpolation range of the shifted state y_c at t: its model mean +- 7 standard
        deviations, widened to the paths only if one falls outside. Ranges therefore do not
        depend on which paths a chunk or partition holds, and neither do the results."""
        m = self.model
        a, sigma = float(m.mean_reversion[c]), float(m.volatility[c])
        mean = m.x_mean(c, t) + float(forward_measure_shift(a, sigma, t))
        half = RANGE_SD * float(np.sqrt(state_variance(a, sigma, t)))
        return min(mean - half, float(y.min())), max(mean + half, float(y.max()))

    def _step_vars(self, t: float, state: Any) -> tuple[Any, Any, Any]:
        """(FX to base, shifted rate state y, bank account N) per currency, ``[C, paths]``,
        computed once per simulation date."""
        key = (t, id(state))
        if self._step_key != key:
            m, xp = self.model, self.xp
            n = m.n_ccy
            self._step_key = key
            self._step_cache = (
                xp.stack([m.fx(c, t, state) for c in range(n)]),
                xp.stack([m.shifted_state(c, t, state) for c in range(n)]),
                xp.exp(xp.stack([m.log_bank(c, t, state) for c in range(n)])),
            )
        return self._step_cache

    def netting_set_values(self, t: float, state: Any,
                           subset: np.ndarray | None = None) -> Any:
        """``[netting sets, paths]`` values in base currency (not deflated) at time t.

        All currencies' not-yet-fixed linear rows come out of one matrix product (each
        currency's interpolation basis scaled by its FX rate, stacked: one large product beats
        one per currency plus additions, measured); coupons in progress and swaptions are added
        to it. Underlyings of physical swaptions are valued only once exercised.

        Args:
            subset: ``[netting sets]`` booleans; other rows are left at zero (lag dates only
                need the collateralised netting sets).
        """
        xp, m = self.xp, self.model
        fx_all, y_all, bank_all = self._step_vars(t, state)
        wanted = np.ones(self.n_ns, dtype=bool) if subset is None else subset
        # Value groups needed now: wanted netting sets and their exercised underlyings.
        live_sw = np.flatnonzero((self.sw_expiry[self.phys] <= t)
                                 & wanted[self.sw_ns[self.phys]])
        ns_rows = np.flatnonzero(wanted)
        groups = np.r_[ns_rows, self.n_ns + live_sw]
        in_group = np.zeros(self.n_groups, dtype=bool)
        in_group[groups] = True
        row_of = np.full(self.n_groups, -1, dtype=np.int64)
        row_of[groups] = np.arange(groups.size)  # group -> row of ``values``
        bases, coefs, extras, sw_parts = [], [], [], []
        for c in range(m.n_ccy):
            fx, y = fx_all[c], y_all[c]
            r = self.rows.get(c)
            if r is not None:
                alive = (r.pay > t) & (r.live_from <= t) & in_group[r.group]
                idx = np.flatnonzero(alive & ((r.kind == FIXED) | (r.start >= t)))
                for basis, coef, rows in self._fitted_groups(c, t, r, idx, y):
                    basis *= fx[:, None]
                    full = np.zeros((coef.shape[0], groups.size))
                    full[:, row_of[rows]] = coef
                    bases.append(basis)
                    coefs.append(full)
                on = self._on.get(c)
                if on is not None:
                    on_rows = row_of[on.cols]
                    keep = np.flatnonzero(on_rows >= 0)
                    if keep.size:
                        in_progress = on.sums[0][keep] - on.sums[1][keep]
                        in_progress *= (fx * bank_all[c])[None, :]
                        extras.append((on_rows[keep], in_progress))
                term = np.flatnonzero(alive & (r.kind == TERM) & (r.start < t))
                if term.size:
                    values = self._term_in_progress(c, t, r, term, y)
                    values *= fx[None, :]
                    extras.append((row_of[r.group[term]], values))
            sw = np.flatnonzero((self.sw_ccy == c) & (self.sw_expiry > t)
                                & wanted[self.sw_ns]) if self.sw_ns.size else np.zeros(0, int)
            if sw.size:
                values = self._swaption_values(c, t, sw, y)
                values *= fx[None, :]
                sw_parts.append((sw, values))
        if coefs:
            values = xp.asarray(np.concatenate(coefs).T) @ xp.concatenate(bases, axis=1).T
        else:
            values = xp.zeros((groups.size, state.shape[0]))
        for rows, extra in extras:
            _accumulate(xp, values, extra, rows)
        if ns_rows.size == self.n_ns:
            out = values[: self.n_ns]
        else:
            out = xp.zeros((self.n_ns, state.shape[0]))
            _accumulate(xp, out, values[: ns_rows.size], ns_rows)
        if live_sw.size:  # exercised underlyings of physical swaptions
            exercised = values[ns_rows.size:] * self.exercised[live_sw]
            exercised *= xp.asarray(self.sw_sign[self.phys[live_sw]])[:, None]
            _accumulate(xp, out, exercised, self.sw_ns[self.phys[live_sw]])
        for sw, extra in sw_parts:
            _accumulate(xp, out, extra, self.sw_ns[sw])
        self._fx_option_values(t, state, wanted, out)
        self._equity_values(t, state, wanted, out)
        return out

    def _log_factors(self, c: int, t: float, r: _Rows, idx: IntArray) -> tuple[FloatArray,
                                                                                 FloatArray]:
        """(ln K, beta) of rows with ln value = ln a + ln K - beta y (not yet fixed at t)."""
        m = self.model
        lk_p, b_p = m.bond_factors(c, t, r.pay[idx])
        proj = r.kind[idx] != FIXED
        lk_s, b_s = m.bond_factors(c, t, np.where(proj, r.start[idx], t))
        lk_e, b_e = m.bond_factors(c, t, np.where(proj, r.end[idx], t))
        return (lk_p + np.where(proj, lk_s - lk_e, 0.0), b_p + np.where(proj, b_s - b_e, 0.0))

    def _fitted_groups(self, c: int, t: float, r: _Rows, idx: IntArray, y: Any
                       ) -> list[tuple[Any, FloatArray, IntArray]]:
        """[(basis ``[paths, size]``, coefficients ``[size, groups]``, groups)] per fit: the
        product of basis and coefficients is the value of the rows ``idx`` of each group.

        Each group's fit is chosen from its own rows' largest exponent, so a group's values
        do not depend on what the other groups hold; groups with the same fit share a basis.
        """
        if idx.size == 0:
            return []
        lk, beta = self._log_factors(c, t, r, idx)
        lo, hi = self._y_range(c, t, y)
        starts, cols = _segments(r.group[idx])  # idx is sorted by group
        lengths = np.diff(np.r_[starts, idx.size])
        fits, fit_of = ExpSumFit.for_each(lo, hi, np.maximum.reduceat(np.abs(beta), starts))
        row_fit = np.repeat(fit_of, lengths)
        out = []
        for k, fit in enumerate(fits):
            sel, rows = np.flatnonzero(fit_of == k), np.flatnonzero(row_fit == k)
            node_vals = fit.exp_values(r.amount[idx[rows]], lk[rows], beta[rows])
            first = np.r_[0, np.cumsum(lengths[sel])[:-1]]
            coef = fit.coefficients(np.add.reduceat(node_vals, first, axis=0))
            out.append((fit.basis(y), coef, cols[sel]))
        return out

    def _term_in_progress(self, c: int, t: float, r: _Rows, idx: IntArray, y: Any) -> Any:
        """a P(t, T_pay) / P(s, e) for term rows fixed at s < t, ``[idx, paths]``."""
        xp, m = self.xp, self.model
        lk_p, b_p = m.bond_factors(c, t, r.pay[idx])
        out = self._log_fixed_bond(c, r.start[idx], r.end[idx],
                                   self._term_fixings(c, r.start[idx]))
        out *= -1.0  # value = a exp(lk_p - B(t, T_pay) y_t - ln P(s, e))
        out -= xp.asarray(b_p)[:, None] * y[None, :]
        out += xp.asarray(lk_p)[:, None]
        xp.exp(out, out=out)
        out *= xp.asarray(r.amount[idx])[:, None]
        return out

    def _log_fixed_bond(self, c: int, s: FloatArray, e: FloatArray, x_s: Any) -> Any:
        """ln P_c(s, e) ``[rows, paths]`` from the short-rate state x_c(s) ``[rows, paths]``:
        lk_se - B(s, e) (x(s) + c(s)), written over ``x_s``."""
        xp, m = self.xp, self.model
        a, sigma = float(m.mean_reversion[c]), float(m.volatility[c])
        b_se = bond_b(a, s, e)
        curve = m.curves[c]
        lk_se = (np.log(curve.discount(e)) - np.log(curve.discount(s))
                 - 0.5 * b_se * b_se * state_variance(a, sigma, s)
                 - b_se * forward_measure_shift(a, sigma, s))
        x_s *= xp.asarray(-b_se)[:, None]
        x_s += xp.asarray(lk_se)[:, None]
        return x_s

    def _swaption_values(self, c: int, t: float, sw: IntArray, y: Any) -> Any:
        """sign P(t,T) g(mu) ``[sw, paths]`` for swaptions not yet expired."""
        xp, m = self.xp, self.model
        a, sigma = float(m.mean_reversion[c]), float(m.volatility[c])
        big_t = self.sw_expiry[sw]
        decay = np.exp(-a * (big_t - t))
        v_t = float(state_variance(a, sigma, t))
        drift = decay * bond_b(a, t, big_t) * v_t
        var = state_variance(a, sigma, big_t) - decay**2 * v_t
        lo, hi = self._y_range(c, t, y)
        # Nodes: NODES_PER_SD per conditional sd of mu, in power-of-two buckets; the swaptions of
        # a bucket share one grid in y, so each path finds its cell once per bucket.
        need = np.ceil(NODES_PER_SD * decay * max(hi - lo, 1e-12) / np.sqrt(var)) + 1
        n_nodes = np.clip(2 ** np.ceil(np.log2(need)), MIN_HERMITE_NODES, MAX_HERMITE_NODES)
        price = xp.empty((sw.size, y.shape[0]))
        for count in np.unique(n_nodes):
            sel = np.flatnonzero(n_nodes == count)
            y_nodes = np.linspace(lo, hi, int(count))
            mu_nodes = decay[sel, None] * y_nodes[None, :] + drift[sel, None]
            width_m = max(1, int(self.sw_width[sw[sel]].max()))
            g, dg = interval_expectation(self.sw_coef[sw[sel], :width_m],
                                         self.sw_beta[sw[sel], :width_m],
                                         _subset(self.sw_intervals, sw[sel]), mu_nodes,
                                         var[sel], derivative=True)
            dg *= decay[sel, None]  # d/dy = d/dmu * dmu/dy
            price[sel] = hermite_rows(lo, hi, xp.asarray(g), xp.asarray(dg), y)
        lk_t, b_t = m.bond_factors(c, t, big_t)
        bond = xp.exp(xp.asarray(lk_t)[:, None] - xp.asarray(b_t)[:, None] * y[None, :])
        price *= bond
        price *= xp.asarray(self.sw_sign[sw])[:, None]
        return price

    def _underlying_value(self, i: int, t: float, state: Any) -> Any:
        """Value ``[paths]`` of swaption i's underlying at t (holder's side, its currency)."""
        xp, m = self.xp, self.model
        c = int(self.sw_ccy[i])
        f = self._sw_rows[i]
        lk_p, b_p = m.bond_factors(c, t, f.pay_time)
        proj = f.kind != FIXED
        lk_s, b_s = m.bond_factors(c, t, np.where(proj, f.fix_start, t))
        lk_e, b_e = m.bond_factors(c, t, np.where(proj, f.fix_end, t))
        lk = lk_p + np.where(proj, lk_s - lk_e, 0.0)
        beta = b_p + np.where(proj, b_s - b_e, 0.0)
        y = m.shifted_state(c, t, state)
        return xp.asarray(f.amount) @ xp.exp(xp.asarray(lk)[:, None]
                                             - xp.asarray(beta)[:, None] * y[None, :])

    def _exercise_swaptions(self, t: float, state: Any) -> None:
        """Physical swaptions expiring now are exercised where the underlying is worth more than
        zero to the holder."""
        due = np.flatnonzero(np.isclose(self.sw_expiry, t, rtol=0.0, atol=1e-9)
                             & self.sw_physical)
        for i in due:
            self.exercised[self.sw_group[i] - self.n_ns] = self._underlying_value(
                int(i), t, state) > 0.0

    # ------------------------------------------------------------------------------------
    # FX and equity options
    # ------------------------------------------------------------------------------------
    def _bonds(self, ccys: IntArray, t: float, maturities: FloatArray, state: Any) -> Any:
        """P_c(t, T) ``[n, paths]`` for per-row currencies and maturities (T >= t)."""
        xp, m = self.xp, self.model
        y_all = self._step_vars(t, state)[1]
        lk, beta = np.empty(ccys.size), np.empty(ccys.size)
        for c in np.unique(ccys):
            rows = np.flatnonzero(ccys == c)
            lk[rows], beta[rows] = m.bond_factors(int(c), t, np.maximum(maturities[rows], t))
        out = y_all[ccys]  # gathered copy, then exp(lk - beta y) in place
        out *= xp.asarray(-beta)[:, None]
        out += xp.asarray(lk)[:, None]
        xp.exp(out, out=out)
        return out

    def _spots(self, ccys: IntArray, t: float, state: Any) -> Any:
        """Base-currency value of one unit of each row's currency ``[n, paths]``."""
        return self._step_vars(t, state)[0][ccys]

    def _fx_legs(self, t: float, state: Any, rows: IntArray) -> tuple[Any, Any]:
        """Base-currency values of the two legs per unit: (X_buy P_buy(t,Tp) buy_amount,
        X_sell P_sell(t,Tp) buy_amount K) ``[rows, paths]``."""
        o, xp = self.fx, self.xp
        buy = self._bonds(self.fx_buy[rows], t, o.pay_time[rows], state)
        buy *= self._spots(self.fx_buy[rows], t, state)
        buy *= xp.asarray(o.buy_amount[rows])[:, None]
        sell = self._bonds(self.fx_sell[rows], t, o.pay_time[rows], state)
        sell *= self._spots(self.fx_sell[rows], t, state)
        sell *= xp.asarray(o.buy_amount[rows] * o.strike[rows])[:, None]
        return buy, sell

    def _exercise_fx_options(self, t: float, state: Any) -> None:
        """Exercise where the forward is above the strike: the buy leg is worth more."""
        due = np.flatnonzero(np.isclose(self.fx.expiry, t, rtol=0.0, atol=1e-9))
        if due.size:
            buy, sell = self._fx_legs(t, state, due)
            self.fx_exercised[due] = buy > sell

    def _fx_option_values(self, t: float, state: Any, wanted: np.ndarray, out: Any) -> None:
        """Add the FX options' base-currency values to ``out`` ``[netting sets, paths]``.

        Before expiry, Garman-Kohlhagen by homogeneity of Black's formula:
        P_s X_s N Black(F, K) = Black(X_b P_b N, X_s P_s N K), with the model's own remaining
        variance of the forward to expiry (:class:`~xvaflow.models.volatility.ForwardVariance`:
        the deflated value is then a martingale); exercised options until settlement: the two
        legs' difference on the exercised paths.
        """
        xp = self.xp
        o = self.fx
        live = o.pay_time > t
        for rows in (np.flatnonzero(live & (o.expiry > t) & wanted[self.fx_ns]),
                     np.flatnonzero(live & (o.expiry <= t) & wanted[self.fx_ns])):
            if rows.size == 0:
                continue
            buy, sell = self._fx_legs(t, state, rows)
            if o.expiry[rows[0]] > t:
                stdev = np.sqrt(self.fx_var.remaining(t, rows))
                value = black(buy, sell, xp.asarray(stdev)[:, None], True)
            else:
                buy -= sell
                value = xp.where(self.fx_exercised[rows], buy, 0.0)
            value *= xp.asarray(o.sign[rows])[:, None]
            _accumulate(xp, out, value, self.fx_ns[rows])

    def _equity_values(self, t: float, state: Any, wanted: np.ndarray, out: Any) -> None:
        """Add the equity trades' base-currency values to ``out`` ``[netting sets, paths]``.

        With S e^{-q tau} the forward's present value and K P(t,T) the strike's, a forward is
        worth q (S e^{-q tau} - K P) and an option q Black(S e^{-q tau}, K P) (Black's
        homogeneity) with the model's remaining variance of the forward, in the equity's
        currency, converted at the simulated FX.
        """
        xp, m = self.xp, self.model
        e = self.eq
        live = (e.expiry > t) & wanted[self.eq_ns]
        if not live.any():
            return
        spots = xp.stack([m.equity(k, t, state) for k in range(len(m.equities))])
        for rows in (np.flatnonzero(live & (e.kind == EQ_FORWARD)),
                     np.flatnonzero(live & (e.kind != EQ_FORWARD))):
            if rows.size == 0:
                continue
            tau = e.expiry[rows] - t
            fwd_pv = spots[self.eq_model[rows]]  # gathered copy
            fwd_pv *= xp.asarray(np.exp(-m.eq_dividend[self.eq_model[rows]] * tau))[:, None]
            strike_pv = self._bonds(self.eq_ccy[rows], t, e.expiry[rows], state)
            strike_pv *= xp.asarray(e.strike[rows])[:, None]
            if e.kind[rows[0]] == EQ_FORWARD:
                fwd_pv -= strike_pv
                value = fwd_pv
            else:
                stdev = xp.asarray(np.sqrt(self.eq_var.remaining(t, rows)))[:, None]
                value = black(fwd_pv, strike_pv, stdev,
                              xp.asarray(e.kind[rows] == EQ_CALL)[:, None])
            value *= xp.asarray(e.sign[rows] * e.quantity[rows])[:, None]
            value *= self._spots(self.eq_ccy[rows], t, state)
            _accumulate(xp, out, value, self.eq_ns[rows])


def _subset(intervals: Intervals, rows: IntArray) -> Intervals:
    """Intervals of the given rows, renumbered 0..len(rows)-1 in that order."""
    if intervals.row.size == 0:
        return intervals
    pos = np.full(int(max(intervals.row.max(), rows.max())) + 1, -1, dtype=np.int64)
    pos[rows] = np.arange(rows.size)
    keep = pos[intervals.row] >= 0
    return Intervals(row=pos[intervals.row[keep]], lower=intervals.lower[keep],
                     upper=intervals.upper[keep])
