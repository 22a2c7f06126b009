"""Market bumps for XVA sensitivities: market.json documents with one input moved.

Each bump is the market a user would write to bump-and-rerun: the same market.json with one
input changed (CONTRACT.md, "sensitivities"):

- ``ir:<ccy>:<tenor>``: +1bp on one input pillar of the currency's curve (a zero rate, or a
  par quote, then bootstrapped again), keyed by the pillar's tenor (IR delta);
- ``irp:<ccy>:+`` / ``irp:<ccy>:-``: every pillar of the currency's curve +-1bp (IR gamma, the
  second difference (X+ - 2 X + X-) per bp^2);
- ``fx:<pair>``: the quoted spot times 1.01 (FX delta, the pair as quoted in ``fx_spots``);
- ``eq:<name>``: the equity's spot times 1.01 (equity delta);
- ``irv:<ccy>``: the currency's Hull-White sigma +1bp (``hull_white.<ccy>.volatility`` + 1e-4,
  or, when it is calibrated, every ``swaption_vols.<ccy>.normal_bp`` quote +1bp) (IR vega);
- ``fxv:<pair>``: the pair's ``fx_vols`` + 0.01 (every tenor of a term structure) (FX vega);
- ``eqv:<name>``: the equity's vol + 0.01 (every tenor) (equity vega).

The engine values each bumped market on the base run's simulated states
(:meth:`~xvaflow.models.crossasset.CrossAssetModel.on_market`): curves and spots enter only the
deterministic parts of the model, so the difference from the base is exact on common random
numbers. The model's dynamics stay those of the base market (Hull-White parameters as given
or calibrated on the base curves, FX and equity vols as calibrated), the "sticky model"
convention; with Hull-White parameters given in market.json this is exactly a rerun on the
bumped file with the same seed. Vol bumps move the dynamics: each is a rerun of the
simulation on the bumped file with the same random numbers (:func:`vol_bumps`).
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from xvaflow.core.errors import PipelineError, ProblemLog
from xvaflow.io.market_json import market_from_json
from xvaflow.market.market import Market
from xvaflow.portfolio import Portfolio

IR_BP = 1.0
FX_REL = 0.01
EQ_REL = 0.01
IR_VOL_BP = 1.0  # Hull-White sigma (or the swaption vols it is calibrated to), in bp
FX_VOL = 0.01  # absolute, one vol point
EQ_VOL = 0.01
_BP = 1e-4


@dataclass(frozen=True)
class MarketBump:
    """One bumped market.json document.

    Attributes:
        name: scenario name (``ir:USD:5Y``, ``irp:USD:+``, ``fx:EURUSD``, ``eq:SPX``,
            ``irv:USD``, ``fxv:EURUSD``, ``eqv:SPX``).
        kind: ``ir_delta``, ``ir_gamma_up``, ``ir_gamma_down``, ``fx_delta``, ``eq_delta``,
            ``ir_vega``, ``fx_vega`` or ``eq_vega``.
        key: what the figure is keyed by: (currency, tenor), (currency,), (pair,), (name,).
        document: the bumped market.json document.
    """

    name: str
    kind: str
    key: tuple[str, ...]
    document: dict[str, Any]


def _pillars(spec: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(tenor, container, index) of every input pillar of a curve spec."""
    if "zero_rates" in spec:
        rates = spec["zero_rates"]
        return [(str(tenor), rates, tenor) for tenor in rates]
    return [(str(q["tenor"]), q, "rate") for q in spec["par_quotes"]]


def _shifted(raw: dict[str, Any], ccy: str, shift: float, tenor: str | None
             ) -> dict[str, Any]:
    doc = copy.deepcopy(raw)
    for t, holder, index in _pillars(doc["curves"][ccy]):
        if tenor is None or t == tenor:
            holder[index] = float(holder[index]) + shift
    return doc


def market_bumps(raw: dict[str, Any], currencies: Sequence[str], equities: Sequence[str],
                 kinds: Collection[str] = ("ir", "fx", "eq")) -> list[MarketBump]:
    """Every bump of ``raw`` (a valid market.json document) of the given ``kinds`` that moves
    what the model of ``currencies`` and ``equities`` simulates: their curves' pillars
    (``ir``), their FX spots (``fx``), their equity spots (``eq``)."""
    out: list[MarketBump] = []
    simulated = set(currencies)
    for ccy in currencies if "ir" in kinds else ():
        spec = raw["curves"][ccy]
        for tenor, _, _ in _pillars(spec):
            out.append(MarketBump(f"ir:{ccy}:{tenor}", "ir_delta", (ccy, tenor),
                                  _shifted(raw, ccy, IR_BP * _BP, tenor)))
        for sign, kind in (("+", "ir_gamma_up"), ("-", "ir_gamma_down")):
            shift = (IR_BP if sign == "+" else -IR_BP) * _BP
            out.append(MarketBump(f"irp:{ccy}:{sign}", kind, (ccy,),
                                  _shifted(raw, ccy, shift, None)))
    for pair, spot in raw.get("fx_spots", {}).items() if "fx" in kinds else ():
        if {pair[:3], pair[3:]} <= simulated:
            doc = copy.deepcopy(raw)
            doc["fx_spots"][pair] = float(spot) * (1.0 + FX_REL)
            out.append(MarketBump(f"fx:{pair}", "fx_delta", (pair,), doc))
    for name in equities if "eq" in kinds else ():
        doc = copy.deepcopy(raw)
        doc["equities"][name]["spot"] = float(doc["equities"][name]["spot"]) * (1.0 + EQ_REL)
        out.append(MarketBump(f"eq:{name}", "eq_delta", (name,), doc))
    return out


def _vol_plus(value: Any, shift: float) -> Any:
    """A flat vol or a tenor -> vol term structure, every vol + ``shift``."""
    if isinstance(value, dict):
        return {k: float(v) + shift for k, v in value.items()}
    return float(value) + shift


def vol_bumps(raw: dict[str, Any], currencies: Sequence[str], equities: Sequence[str]
              ) -> list[MarketBump]:
    """The vega bumps of ``raw`` for the model of ``currencies`` and ``equities``: each
    currency's Hull-White sigma (``irv``), each FX vol quoted between them (``fxv``), each
    equity's vol (``eqv``). They change the model's dynamics, so each needs its own
    simulation (same random numbers)."""
    out: list[MarketBump] = []
    for ccy in currencies:
        doc = copy.deepcopy(raw)
        params = doc.get("hull_white", {}).get(ccy)
        if params is not None:
            params["volatility"] = float(params["volatility"]) + IR_VOL_BP * _BP
        else:
            grid = doc["swaption_vols"][ccy]["normal_bp"]
            for row in grid.values():
                for tenor in row:
                    row[tenor] = float(row[tenor]) + IR_VOL_BP
        out.append(MarketBump(f"irv:{ccy}", "ir_vega", (ccy,), doc))
    simulated = set(currencies)
    for pair in raw.get("fx_vols", {}):
        if {pair[:3], pair[3:]} <= simulated:
            doc = copy.deepcopy(raw)
            doc["fx_vols"][pair] = _vol_plus(doc["fx_vols"][pair], FX_VOL)
            out.append(MarketBump(f"fxv:{pair}", "fx_vega", (pair,), doc))
    for name in equities:
        doc = copy.deepcopy(raw)
        doc["equities"][name]["vol"] = _vol_plus(doc["equities"][name]["vol"], EQ_VOL)
        out.append(MarketBump(f"eqv:{name}", "eq_vega", (name,), doc))
    return out


def read_market_document(portfolio: Portfolio) -> dict[str, Any]:
    """The portfolio's market.json document, as read (the bumps' starting point).

    Raises:
        PipelineError: the market was not read from a document.
    """
    if portfolio.market.document is None:
        raise PipelineError("sensitivities need the market.json document the market was "
                            "read from")
    return dict(portfolio.market.document)


def bumped_market(bump: MarketBump) -> Market:
    """The market of a bumped document.

    Raises:
        PipelineError: the bumped inputs cannot be built (e.g. a curve that no longer
            bootstraps), naming the bump and the first problem.
    """
    log = ProblemLog()
    market = market_from_json(bump.document, log)
    if market is None or log.problems:
        first = log.problems[0] if log.problems else "no market"
        raise PipelineError(f"sensitivity {bump.name}: the bumped market cannot be built: "
                            f"{first}")
    return market
