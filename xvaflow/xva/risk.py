"""XVA risk on the paths of the base run: stress scenarios and credit sensitivities.

Credit and funding are independent of exposure in this engine, so a scenario that moves only
credit or funding spreads changes the measures of the XVA integrals, not the exposures: it is
one more :class:`~xvaflow.xva.adjustments.Functional` per metric, accumulated on the same
paths in the same pass, and its difference from the base is exact on common random numbers
(its standard error is that of the difference, from the batch sums of the difference).
Collateral coverage scenarios change the exposure itself; the engine feeds them the same
netting-set values with the collateral scaled (:class:`CoverageScenario`).

Stress scenarios (run.json ``"stress"``, ``--stress``; the source's defaults):

- ``credit+100bp`` / ``credit-100bp``: every counterparty's CDS par spreads moved by the shift
  and the hazard curves bootstrapped again (:func:`shifted_credit`); a counterparty given by a
  flat ``hazard_rate`` moves by shift / LGD (the credit triangle s = h LGD). Spreads are floored
  at zero; a counterparty whose shifted spreads cannot be bootstrapped (a steeply inverted
  curve shifted down) takes the parallel hazard shift instead, and the run warns. Own credit is
  not moved.
- ``funding+50bp`` / ``funding-50bp``: borrowing and lending spreads moved together, floored at
  zero (FCA, FBA; CVA and DVA do not depend on funding).
- ``coverage0%``, ``coverage50%``, ``coverage100%``, ``coverage120%``: the collateral held under
  every CSA (variation margin and independent amount) scaled by the factor on every path and
  date (0%: uncollateralised); uncollateralised netting sets do not change.

Credit sensitivities (``--sensitivities``): CS01 per counterparty and CDS tenor bucket (6M, 1Y,
2Y, 3Y, 5Y, 7Y, 10Y; ``flat`` for a counterparty given by a hazard rate: hazard + 1bp / LGD),
X(s + 1bp) - X(s) of each metric with that tenor's par spread bumped by 1bp and the curve
bootstrapped again (the contract's one-sided bump; the second-order term, about half the
bump times the first difference's change, is below 1e-4 of it at 1bp); a netting set's
figure moves with its own counterparty's curve, so a counterparty's CS01 is the sum over its
netting sets.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from xvaflow.core.dates import FloatArray, Tenor, parse_tenor
from xvaflow.market.bootstrap import BootstrapError, bootstrap_each
from xvaflow.market.market import CreditSpec, Funding
from xvaflow.portfolio import Portfolio
from xvaflow.xva.adjustments import METRICS, Functional, batch_stderr, xva_functionals
from xvaflow.xva.bumps import EQ_REL, EQ_VOL, FX_REL, FX_VOL, IR_BP, IR_VOL_BP

BP = 1e-4
CREDIT_STRESS_BP = (100.0, -100.0)
FUNDING_STRESS_BP = (50.0, -50.0)
COVERAGE = (0.0, 0.5, 1.0, 1.2)
CS01_BP = 1.0
FLAT = "flat"
SEPARATOR = "|"


@dataclass(frozen=True)
class CoverageScenario:
    """Collateral held scaled by ``factor`` (``name`` e.g. ``coverage50%``)."""

    name: str
    factor: float


def variant(metric: str, scenario: str) -> str:
    """The functional name of ``metric`` under ``scenario``."""
    return f"{metric}{SEPARATOR}{scenario}"


def is_stress(scenario: str) -> bool:
    """Whether a scenario name is a stress scenario (else a sensitivity bump)."""
    return scenario.startswith(("credit", "funding", "coverage"))


def split_variant(name: str) -> tuple[str, str | None]:
    """(metric, scenario) of a functional name (scenario None for the metric itself)."""
    metric, _, scenario = name.partition(SEPARATOR)
    return metric, scenario or None


def coverage_scenarios(factors: Sequence[float] = COVERAGE) -> list[CoverageScenario]:
    """The collateral coverage scenarios of ``factors``."""
    return [CoverageScenario(f"coverage{100.0 * f:g}%", float(f)) for f in factors]


def _fmt(x: float) -> str:
    return f"{x:+g}" if x else "0"


def credit_scenario_name(shift_bp: float) -> str:
    return f"credit{_fmt(shift_bp)}bp"


def funding_scenario_name(shift_bp: float) -> str:
    return f"funding{_fmt(shift_bp)}bp"


def cs01_scenario_name(bucket: str) -> str:
    return f"cs01:{bucket}"


def input_buckets(portfolio: Portfolio, counterparty: str) -> list[str]:
    """The CS01 buckets a counterparty's credit input has (its CDS tenors, or :data:`FLAT`)."""
    c = portfolio.counterparties[counterparty]
    return [FLAT] if c.hazard_rate is not None else [str(t) for t, _ in c.cds_spreads]


def cs01_buckets(portfolio: Portfolio, counterparties: Sequence[str]) -> list[str]:
    """The buckets of the given counterparties' credit inputs, :data:`FLAT` first, then the
    tenors shortest first."""
    buckets = {b for c in counterparties for b in input_buckets(portfolio, c)}
    return sorted(buckets, key=lambda b: -1.0 if b == FLAT else parse_tenor(b).approx_years)


def shifted_credit(portfolio: Portfolio, counterparties: Sequence[str], shift: float,
                   bucket: str | None = None) -> tuple[dict[str, CreditSpec], list[str]]:
    """Credit of ``counterparties`` with par spreads moved by ``shift`` (decimal).

    Args:
        portfolio: the portfolio (its counterparties' inputs and its market).
        counterparties: the ids to shift.
        shift: the spread shift (decimal; shifted spreads are floored at zero).
        bucket: None to move every tenor (and flat hazard rates by shift / LGD); a tenor label
            (``"5Y"``) to move that CDS tenor only; :data:`FLAT` to move only the counterparties
            given by a hazard rate.

    Returns:
        (counterparty id -> credit, ids whose shifted spreads could not be bootstrapped and
        that took the parallel hazard shift shift / LGD instead).
    """
    market = portfolio.market
    out: dict[str, CreditSpec] = {}
    groups: dict[tuple[Tenor, ...], list[str]] = defaultdict(list)
    for cid in counterparties:
        c = portfolio.counterparties[cid]
        base = portfolio.credit[cid]
        if c.hazard_rate is not None:
            moved = bucket is None or bucket == FLAT
            out[cid] = CreditSpec(base.curve.shifted(shift / (1.0 - c.recovery)) if moved
                                  else base.curve, c.recovery)
        elif bucket == FLAT or (bucket is not None
                                and bucket not in {str(t) for t, _ in c.cds_spreads}):
            out[cid] = base
        else:
            groups[tuple(t for t, _ in c.cds_spreads)].append(cid)
    fallback: list[str] = []
    ccy = market.base_currency
    for tenors, members in groups.items():
        in_bucket = np.array([bucket is None or str(t) == bucket for t in tenors])
        quotes = np.array([[q for _, q in portfolio.counterparties[cid].cds_spreads]
                           for cid in members])
        spreads = np.maximum(quotes + shift * in_bucket[None, :], 0.0)
        recovery = np.array([portfolio.counterparties[cid].recovery for cid in members])
        results = bootstrap_each(market.as_of, list(tenors), spreads, recovery,
                                 market.curve(ccy), market.calendar(ccy), members)
        for cid, rec, result in zip(members, recovery, results, strict=True):
            if isinstance(result, BootstrapError):
                result = portfolio.credit[cid].curve.shifted(shift / (1.0 - rec))
                fallback.append(cid)
            out[cid] = CreditSpec(result, float(rec))
    return out, sorted(fallback)


def shifted_funding(funding: Funding | None, shift: float) -> Funding | None:
    """Borrowing and lending spreads moved by ``shift`` (decimal), floored at zero."""
    if funding is None:
        return None
    return Funding(max(funding.borrow_spread + shift, 0.0), max(funding.lend_spread + shift,
                                                                   0.0))


@dataclass(frozen=True)
class RiskFunctionals:
    """The variant functionals of a partition and what the run should say about them.

    Attributes:
        functionals: stress and sensitivity variants of the metrics (not the base ones).
        coverage: the collateral coverage scenarios.
        fallbacks: scenario -> counterparties that took the parallel hazard shift.
    """

    functionals: list[Functional]
    coverage: list[CoverageScenario]
    fallbacks: dict[str, list[str]]


def risk_functionals(portfolio: Portfolio, ns_ids: Sequence[str], bilateral: bool,
                     stress: bool, sensitivities: bool) -> RiskFunctionals:
    """Stress (credit, funding) and CS01 functionals for the netting sets ``ns_ids``."""
    market = portfolio.market
    cpty = [portfolio.netting_sets[n].counterparty_id for n in ns_ids]
    names = sorted(set(cpty))
    base_credit = [portfolio.credit[c] for c in cpty]
    out: list[Functional] = []
    fallbacks: dict[str, list[str]] = {}

    def add_credit(scenario: str, shift: float, bucket: str | None) -> None:
        credit, failed = shifted_credit(portfolio, names, shift, bucket)
        if failed:
            fallbacks[scenario] = failed
        out.extend(xva_functionals([credit[c] for c in cpty], market.own_credit,
                                   market.funding, bilateral, SEPARATOR + scenario))

    coverage: list[CoverageScenario] = []
    if stress:
        for bp in CREDIT_STRESS_BP:
            add_credit(credit_scenario_name(bp), bp * BP, None)
        for bp in FUNDING_STRESS_BP:
            scenario = funding_scenario_name(bp)
            out.extend(f for f in xva_functionals(
                base_credit, market.own_credit, shifted_funding(market.funding, bp * BP),
                bilateral, SEPARATOR + scenario) if f.metric in ("fca", "fba"))
        coverage = coverage_scenarios()
    if sensitivities:
        # the buckets of the whole book, so that every partition has the same functionals
        book = {portfolio.netting_sets[n].counterparty_id
                for n in portfolio.compiled.netting_set_ids}
        for bucket in cs01_buckets(portfolio, sorted(book)):
            add_credit(cs01_scenario_name(bucket), CS01_BP * BP, bucket)
    return RiskFunctionals(out, coverage, fallbacks)


# ---------------------------------------------------------------------------------------------
# post-processing: sums over paths -> figures with standard errors
# ---------------------------------------------------------------------------------------------
def _mean_and_stderr(total: FloatArray, batches: FloatArray, n_paths: int, batch_size: int
                     ) -> tuple[FloatArray, FloatArray]:
    """Per column: (mean over paths, batch standard error)."""
    return total / n_paths, batch_stderr(batches, batch_size)


def _with_portfolio(total: FloatArray, batches: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Columns plus their sum (the portfolio) as the last column."""
    return np.r_[total, total.sum()], np.c_[batches, batches.sum(axis=1)]


def stress_rows(xva: dict[str, tuple[FloatArray, FloatArray]], netting_sets: Sequence[str],
                n_paths: int, batch_size: int, portfolio: str = "PORTFOLIO"
                ) -> list[dict[str, Any]]:
    """One row per stress scenario, netting set (then ``portfolio``) and metric: base,
    stressed, change = stressed - base and the change's standard error (batch means of the
    difference: the two share their paths). ``xva``: functional -> (total ``[ns]``, batch sums
    ``[B, ns]``) over the whole portfolio in ``netting_sets`` order."""
    rows: list[dict[str, Any]] = []
    ids = [*netting_sets, portfolio]
    scenarios = dict.fromkeys(s for s in (split_variant(k)[1] for k in xva)
                              if s is not None and is_stress(s))
    for scenario in scenarios:  # in the order the engine computed them
        for metric in METRICS:
            name = variant(metric, scenario)
            if name not in xva or metric not in xva:
                continue
            base_total, base_batches = _with_portfolio(*xva[metric])
            total, batches = _with_portfolio(*xva[name])
            base, _ = _mean_and_stderr(base_total, base_batches, n_paths, batch_size)
            stressed, _ = _mean_and_stderr(total, batches, n_paths, batch_size)
            change, change_se = _mean_and_stderr(total - base_total, batches - base_batches,
                                                 n_paths, batch_size)
            rows.extend({"scenario": scenario, "netting_set_id": ns, "metric": metric,
                         "base": float(base[j]), "stressed": float(stressed[j]),
                         "change": float(change[j]), "change_stderr": float(change_se[j])}
                        for j, ns in enumerate(ids))
    return rows


def _set(tree: dict[str, Any], keys: Sequence[str], value: float) -> None:
    for key in keys[:-1]:
        tree = tree.setdefault(key, {})
    tree[keys[-1]] = value


def _combination(xva: dict[str, tuple[FloatArray, FloatArray]], metric: str,
                 terms: dict[str | None, float]) -> tuple[FloatArray, FloatArray] | None:
    """(totals ``[ns]``, batch sums ``[B, ns]``) of sum_s c_s X_s of ``metric`` over the
    scenarios s of ``terms`` (None: the base); None when one is missing."""
    names = [metric if s is None else variant(metric, s) for s in terms]
    if any(n not in xva for n in names):
        return None
    total = sum(c * xva[n][0] for n, c in zip(names, terms.values(), strict=True))
    batches = sum(c * xva[n][1] for n, c in zip(names, terms.values(), strict=True))
    return np.asarray(total), np.asarray(batches)


def _figures(scenarios: Sequence[str]) -> list[tuple[list[str], dict[str | None, float]]]:
    """(output keys, combination) of every figure the scenarios give: ``ir_delta`` per
    currency and tenor, ``ir_gamma`` per currency (second difference), ``fx_delta`` per pair,
    ``eq_delta`` per equity, ``cs01`` per bucket (keyed per counterparty by the caller)."""
    out: list[tuple[list[str], dict[str | None, float]]] = []
    present = set(scenarios)
    for s in scenarios:
        kind, _, rest = s.partition(":")
        if kind == "ir":
            ccy, tenor = rest.split(":", 1)
            out.append((["ir_delta", ccy, tenor], {s: 1.0, None: -1.0}))
        elif kind == "irp" and rest.endswith(":+") and f"irp:{rest[:-2]}:-" in present:
            out.append((["ir_gamma", rest[:-2]], {s: 1.0, f"irp:{rest[:-2]}:-": 1.0,
                                                   None: -2.0}))
        elif kind in ("fx", "eq"):
            out.append(([f"{kind}_delta", rest], {s: 1.0, None: -1.0}))
        elif kind in ("irv", "fxv", "eqv"):
            out.append(([f"{kind[:2]}_vega", rest], {s: 1.0, None: -1.0}))
        elif kind == "cs01":
            out.append((["cs01", rest], {s: 1.0, None: -1.0}))
    return out


def sensitivities_section(xva: dict[str, tuple[FloatArray, FloatArray]],
                          netting_sets: Sequence[str], counterparty_of: dict[str, str],
                          buckets_of: dict[str, list[str]], n_paths: int, batch_size: int
                          ) -> dict[str, Any]:
    """results.json ``sensitivities`` (CONTRACT.md): per metric, the change for each market
    bump of :mod:`xvaflow.xva.bumps` (``ir_delta`` {ccy: {tenor}}, ``ir_gamma`` {ccy} per
    bp^2, ``fx_delta`` {pair}, ``eq_delta`` {name}) and CS01 (``cs01`` {counterparty:
    {bucket}}, a netting set only for its own counterparty's buckets, ``buckets_of``), in total
    and per netting set, with the standard errors of the differences (same paths) in
    ``stderr`` of the same shape; base currency."""
    totals: dict[str, Any] = {}
    per_ns: dict[str, Any] = {ns: {} for ns in netting_sets}
    se_totals: dict[str, Any] = {}
    se_ns: dict[str, Any] = {ns: {} for ns in netting_sets}
    scenarios = [s for s in dict.fromkeys(split_variant(k)[1] for k in xva)
                 if s is not None and not is_stress(s)]
    for keys, terms in _figures(scenarios):
        for metric in METRICS:
            combo = _combination(xva, metric, terms)
            if combo is None:
                continue
            diff, diff_b = combo
            value, se = _mean_and_stderr(diff, diff_b, n_paths, batch_size)
            if keys[0] != "cs01":
                for j, ns in enumerate(netting_sets):
                    _set(per_ns[ns], [metric, *keys], float(value[j]))
                    _set(se_ns[ns], [metric, *keys], float(se[j]))
                v, e = _mean_and_stderr(diff.sum(keepdims=True),
                                        diff_b.sum(axis=1, keepdims=True), n_paths, batch_size)
                _set(totals, [metric, *keys], float(v[0]))
                _set(se_totals, [metric, *keys], float(e[0]))
                continue
            bucket = keys[1]
            owners: dict[str, list[int]] = {}
            for j, ns in enumerate(netting_sets):
                c = counterparty_of[ns]
                if bucket in buckets_of[c]:
                    owners.setdefault(c, []).append(j)
                    _set(per_ns[ns], [metric, "cs01", c, bucket], float(value[j]))
                    _set(se_ns[ns], [metric, "cs01", c, bucket], float(se[j]))
            for c, cols in owners.items():
                v, e = _mean_and_stderr(diff[cols].sum(keepdims=True),
                                        diff_b[:, cols].sum(axis=1, keepdims=True), n_paths,
                                        batch_size)
                _set(totals, [metric, "cs01", c, bucket], float(v[0]))
                _set(se_totals, [metric, "cs01", c, bucket], float(e[0]))
    sizes = {"ir": ("ir_bp", IR_BP), "irp": ("ir_bp", IR_BP), "cs01": ("credit_bp", CS01_BP),
             "fx": ("fx_rel", FX_REL), "eq": ("eq_rel", EQ_REL),
             "irv": ("ir_vol_bp", IR_VOL_BP), "fxv": ("fx_vol", FX_VOL),
             "eqv": ("eq_vol", EQ_VOL)}
    bumps = dict(sizes[s.split(":", 1)[0]] for s in scenarios)
    return {"bumps": bumps, "totals": totals, "netting_sets": per_ns,
            "stderr": {"totals": se_totals, "netting_sets": se_ns}}
