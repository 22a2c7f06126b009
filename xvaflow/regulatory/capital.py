"""t0 regulatory capital of a portfolio: results.json's ``capital`` section.

``capital = {"saccr": {netting set: {...}}, "ba_cva": {"reduced", "full", "by_counterparty"}}``
(CONTRACT.md, second wave; amounts in base currency). SA-CCR is computed per netting set
(:mod:`xvaflow.regulatory.saccr`) from the trades' SA-CCR positions, which each product family
supplies through the product registry, and their t0 values; BA-CVA
(:mod:`xvaflow.regulatory.bacva`) adds the netting sets' M EAD DF per counterparty.

The pipeline computes the per-netting-set part in each worker (:func:`netting_set_capital`) and
merges it in aggregation (:func:`merge_capital`); ``xvaflow capital`` does both at once
(:func:`capital_section`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np

from xvaflow.portfolio import Portfolio
from xvaflow.products.registry import saccr_positions
from xvaflow.products.saccr import FX, SaccrPosition
from xvaflow.regulatory.bacva import (
    HedgeTerms,
    ba_cva,
    discount_factor,
    effective_maturity,
    hedge_terms,
    risk_weight,
    standalone_cva,
)
from xvaflow.regulatory.saccr import NettingSetTerms, SaccrResult, position_arrays, saccr

SACCR_FIELDS = ("margined", "v", "c", "rc", "multiplier", "addon", "addon_ir", "addon_fx",
                "addon_eq", "pfe", "ead", "ead_unmargined")


def netting_set_terms(portfolio: Portfolio, npv_base: np.ndarray) -> NettingSetTerms:
    """V, C, TH, MTA, NICA, margined and MPOR of every netting set of
    ``portfolio.compiled.netting_set_ids`` (base currency at spot).

    C = (collateral_balance + independent_amount), TH = threshold_cpty, MTA = mta,
    NICA = independent_amount of the netting set's CSA, converted from the CSA currency at spot;
    all 0 without a CSA.
    """
    c = portfolio.compiled
    market = portfolio.market
    n = len(c.netting_set_ids)
    v = np.bincount(c.netting_set, weights=npv_base, minlength=n).astype(float)
    cols = np.zeros((5, n))
    margined = np.zeros(n, dtype=bool)
    for k, ns in enumerate(c.netting_set_ids):
        csa_id = portfolio.netting_sets[ns].csa_id
        if csa_id is None:
            continue
        csa = portfolio.csas[csa_id]
        fx = market.fx_rate(csa.currency, market.base_currency)
        margined[k] = True
        cols[:, k] = (fx * (csa.collateral_balance + csa.independent_amount),
                      fx * csa.threshold_cpty, fx * csa.mta, fx * csa.independent_amount,
                      csa.mpor_days)
    return NettingSetTerms(v, cols[0], cols[1], cols[2], cols[3], margined, cols[4])


def _ba_cva_weights(positions: Sequence[SaccrPosition]) -> dict[int, tuple[float, float]]:
    """trade -> (notional weight, remaining maturity) for the netting sets' M_NS: the FX
    position's adjusted notional where a trade has one (FX, FX options, CCS), else its
    position's notional (IR and swaptions: notional at spot; equity: quantity x spot)."""
    out: dict[int, tuple[float, float]] = {}
    for p in positions:
        if p.trade not in out or p.asset_class == FX:
            out[p.trade] = (abs(p.notional), p.maturity)
    return out


def netting_set_capital(portfolio: Portfolio, npv_base: np.ndarray,
                        netting_sets: Collection[str] | None = None) -> dict[str, Any]:
    """SA-CCR of the given netting sets (default: every one holding trades) and their BA-CVA
    terms.

    Args:
        portfolio: the validated portfolio.
        npv_base: ``[trades]`` t0 values in base currency (order of ``portfolio.trades``).
        netting_sets: the netting sets to compute (a partition's), ids of
            ``portfolio.compiled.netting_set_ids``.

    Returns:
        ``{"saccr": {ns: fields}, "ba_cva_terms": {ns: {"counterparty_id", "maturity",
        "discount_factor", "ead"}}}``, netting sets in portfolio order.
    """
    c = portfolio.compiled
    wanted = set(c.netting_set_ids if netting_sets is None else netting_sets)
    index = {ns: k for k, ns in enumerate(c.netting_set_ids)}
    chosen = [k for ns, k in index.items() if ns in wanted]
    keep = np.isin(c.netting_set, chosen)
    items = [(i, t) for i, t in enumerate(portfolio.trades) if keep[i]]
    positions = saccr_positions(items, portfolio.market)
    result = saccr(position_arrays(positions, c.netting_set),
                   netting_set_terms(portfolio, np.where(keep, npv_base, 0.0)))

    weights = _ba_cva_weights(positions)
    by_ns: dict[int, list[tuple[float, float]]] = {k: [] for k in chosen}
    for trade, wm in weights.items():
        by_ns[int(c.netting_set[trade])].append(wm)
    saccr_out: dict[str, Any] = {}
    terms: dict[str, Any] = {}
    for k in chosen:
        ns = c.netting_set_ids[k]
        saccr_out[ns] = _saccr_fields(result, k)
        pairs = np.array(by_ns[k], dtype=float).reshape(-1, 2)
        m = effective_maturity(pairs[:, 0], pairs[:, 1])
        terms[ns] = {"counterparty_id": portfolio.netting_sets[ns].counterparty_id,
                     "maturity": m, "discount_factor": discount_factor(m),
                     "ead": float(result.ead[k])}
    return {"saccr": saccr_out, "ba_cva_terms": terms}


def _saccr_fields(r: SaccrResult, k: int) -> dict[str, Any]:
    margined = bool(r.margined[k])
    return {"margined": margined, "v": float(r.v[k]), "c": float(r.c[k]), "rc": float(r.rc[k]),
            "multiplier": float(r.multiplier[k]), "addon": float(r.addon.total[k]),
            "addon_ir": float(r.addon.ir[k]), "addon_fx": float(r.addon.fx[k]),
            "addon_eq": float(r.addon.eq[k]), "pfe": float(r.pfe[k]), "ead": float(r.ead[k]),
            "ead_unmargined": float(r.ead_unmargined[k]) if margined else None}


def ba_cva_inputs(portfolio: Portfolio) -> dict[str, Any]:
    """What aggregation needs of the portfolio for BA-CVA: every counterparty's MAR50.16 risk
    weight and the hedges' terms (None without cva_hedges.csv); JSON-serialisable."""
    hedges = (None if portfolio.cva_hedges is None
              else hedge_terms(portfolio.cva_hedges, portfolio.market).to_json())
    return {"risk_weights": {c: risk_weight(cp.sector, cp.rating)
                             for c, cp in portfolio.counterparties.items()},
            "hedges": hedges}


def ba_cva_section(terms: Mapping[str, Mapping[str, Any]], inputs: Mapping[str, Any]
                   ) -> dict[str, Any]:
    """results.json ``capital.ba_cva`` from the netting sets' terms and :func:`ba_cva_inputs`.

    ``by_counterparty[c]`` = SCVA_c (before DS), counterparties in the order their netting sets
    come; ``reduced`` = DS K_reduced; ``full`` = DS K_full or None without hedges.
    """
    sums: dict[str, list[float]] = {}
    for t in terms.values():
        sums.setdefault(str(t["counterparty_id"]), []).append(
            float(t["maturity"]) * float(t["ead"]) * float(t["discount_factor"]))
    rw = inputs["risk_weights"]
    scva = {c: standalone_cva(float(rw[c]), vals) for c, vals in sums.items()}
    hedges = None if inputs["hedges"] is None else HedgeTerms.from_json(inputs["hedges"])
    result = ba_cva(scva, hedges)
    return {"reduced": result.reduced, "full": result.full,
            "by_counterparty": result.by_counterparty}


def merge_capital(parts: Sequence[Mapping[str, Any]], order: Sequence[str],
                  inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The ``capital`` section from the partitions' :func:`netting_set_capital` results,
    netting sets in ``order``."""
    saccr_all: dict[str, Any] = {}
    terms: dict[str, Any] = {}
    for part in parts:
        saccr_all.update(part["saccr"])
        terms.update(part["ba_cva_terms"])
    return {"saccr": {ns: saccr_all[ns] for ns in order},
            "ba_cva": ba_cva_section({ns: terms[ns] for ns in order}, inputs)}


def capital_section(portfolio: Portfolio, npv_base: np.ndarray) -> dict[str, Any]:
    """results.json ``capital`` of a whole portfolio at t0."""
    part = netting_set_capital(portfolio, npv_base)
    return merge_capital([part], portfolio.compiled.netting_set_ids, ba_cva_inputs(portfolio))
