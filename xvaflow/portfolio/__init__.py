"""The portfolio domain layer: :class:`Portfolio` and its records (see docs/architecture.md).

Below :mod:`xvaflow.io` (which reads files into these records) and read by every layer above
it, so that pricing, exposure, regulatory capital and the pipeline never import the loader.
"""

from xvaflow.portfolio.portfolio import Portfolio
from xvaflow.portfolio.records import (
    CALL_FREQUENCIES,
    CSA_TYPES,
    HEDGE_RELATIONS,
    HEDGE_TYPES,
    IM_MODELS,
    OUTPUT_FORMATS,
    SENSITIVITY_KINDS,
    Counterparty,
    Csa,
    CvaHedge,
    NettingSet,
    RunConfig,
)

__all__ = ["CALL_FREQUENCIES", "CSA_TYPES", "HEDGE_RELATIONS", "HEDGE_TYPES", "IM_MODELS",
           "OUTPUT_FORMATS", "SENSITIVITY_KINDS", "Counterparty", "Csa", "CvaHedge", "NettingSet",
           "Portfolio", "RunConfig"]
