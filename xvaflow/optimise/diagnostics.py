"""Desks' diagnostic tables from aggregated XVA results (the input of the optimisation plan).

From results.json's netting sets and each netting set's attributes (counterparty name, rating,
sector; dominant currency and notional-weighted remaining maturity of its trades):

- top 20 counterparties by CVA and by peak PFE (97.5%), counterparty = sum of its netting sets
  (peak PFE: the largest netting-set peak);
- concentration: counterparties whose CVA exceeds 5% of the total;
- materiality: counterparties whose CVA exceeds 1,000,000 (base currency);
- CVA, DVA, FCA and FBA by currency, tenor bucket, rating and sector.

The currency and tenor breakdowns group whole netting sets by their dominant currency (largest
gross notional in base currency) and by their notional-weighted remaining maturity: XVA is not
allocated to single trades, and the output says so in ``method``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import numpy as np

from xvaflow.portfolio import Portfolio
from xvaflow.pricing.t0 import TradeValues
from xvaflow.report.results import SCHEMA_VERSION

TOP_N = 20
CONCENTRATION = 0.05
MATERIALITY = 1_000_000.0
TENOR_BUCKETS = ((1.0, "0-1Y"), (3.0, "1-3Y"), (5.0, "3-5Y"), (10.0, "5-10Y"),
                 (float("inf"), "10Y+"))
METRICS = ("cva", "dva", "fca", "fba")


def netting_set_attributes(portfolio: Portfolio, values: TradeValues) -> dict[str, dict[str, Any]]:
    """Per netting set: counterparty name, rating, sector; dominant currency; maturity bucket."""
    c = portfolio.compiled
    market = portfolio.market
    fx = np.array([market.fx_rate(ccy, market.base_currency) for ccy in c.currencies])
    gross = np.abs(c.notional) * fx[c.trade_currency]
    remaining = np.array([max((t.info.maturity - market.as_of).days, 0) / 365.0
                          for t in portfolio.trades])
    out: dict[str, dict[str, Any]] = {}
    for j, ns in enumerate(c.netting_set_ids):
        rows = np.flatnonzero(c.netting_set == j)
        by_ccy = np.bincount(c.trade_currency[rows], weights=gross[rows],
                             minlength=len(c.currencies))
        weight = gross[rows].sum()
        maturity = float((gross[rows] * remaining[rows]).sum() / weight) if weight > 0 else 0.0
        cpty = portfolio.counterparties[portfolio.netting_sets[ns].counterparty_id]
        out[ns] = {
            "counterparty_id": cpty.counterparty_id, "name": cpty.name, "rating": cpty.rating,
            "sector": cpty.sector or "unknown",
            "currency": c.currencies[int(np.argmax(by_ccy))],
            "tenor_bucket": next(label for limit, label in TENOR_BUCKETS if maturity < limit),
            "maturity_years": round(maturity, 3), "trades": int(rows.size),
            "npv": float(values.npv_base[rows].sum()),
        }
    return out


def _value(x: Any) -> float:
    return 0.0 if x is None else float(x)


def desk_diagnostics(results: Mapping[str, Any], attributes: Mapping[str, Mapping[str, Any]]
                     ) -> dict[str, Any]:
    """The diagnostic tables (see module docstring) as a JSON-ready document."""
    netting = results["netting_sets"]
    cpty: dict[str, dict[str, Any]] = {}
    for ns, r in netting.items():
        a = attributes[ns]
        entry = cpty.setdefault(a["counterparty_id"], {
            "counterparty_id": a["counterparty_id"], "name": a["name"], "rating": a["rating"],
            "sector": a["sector"], "netting_sets": 0, "peak_pfe_975": 0.0,
            **{m: 0.0 for m in METRICS}})
        entry["netting_sets"] += 1
        for m in METRICS:
            entry[m] += _value(r.get(m))
        entry["peak_pfe_975"] = max(entry["peak_pfe_975"], _value(r.get("peak_pfe_975")))
    total_cva = sum(e["cva"] for e in cpty.values())
    for e in cpty.values():
        e["cva_share"] = e["cva"] / total_cva if total_cva > 0 else 0.0
    by_cva = sorted(cpty.values(), key=lambda e: (-e["cva"], e["counterparty_id"]))
    by_pfe = sorted(cpty.values(), key=lambda e: (-e["peak_pfe_975"], e["counterparty_id"]))

    def breakdown(field: str) -> dict[str, dict[str, float]]:
        groups: dict[str, dict[str, float]] = defaultdict(
            lambda: {"netting_sets": 0, **{m: 0.0 for m in METRICS}})
        for ns, r in netting.items():
            g = groups[str(attributes[ns][field])]
            g["netting_sets"] += 1
            for m in METRICS:
                g[m] += _value(r.get(m))
        return dict(sorted(groups.items(), key=lambda kv: -kv[1]["cva"]))

    return {
        "schema_version": SCHEMA_VERSION,
        "as_of": results["as_of"],
        "base_currency": results["base_currency"],
        "total_cva": total_cva,
        "cva_desk": {
            "top_counterparties_by_cva": by_cva[:TOP_N],
            "top_counterparties_by_pfe": by_pfe[:TOP_N],
            "concentration": {"threshold_share": CONCENTRATION, "counterparties": [
                e for e in by_cva if e["cva_share"] > CONCENTRATION]},
            "materiality": {"threshold": MATERIALITY, "counterparties": [
                e for e in by_cva if e["cva"] > MATERIALITY]},
        },
        "breakdowns": {"by_currency": breakdown("currency"),
                       "by_tenor_bucket": breakdown("tenor_bucket"),
                       "by_rating": breakdown("rating"), "by_sector": breakdown("sector")},
        "method": ("counterparty figures add their netting sets (peak PFE: the largest); "
                   "currency and tenor breakdowns group whole netting sets by dominant "
                   "currency (gross notional in base) and notional-weighted remaining "
                   "maturity; XVA is not allocated to single trades"),
    }
