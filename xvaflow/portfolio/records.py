"""Domain records of a portfolio: counterparties, netting sets, CSAs, CVA hedges, run settings.

Plain, immutable data. :mod:`xvaflow.io` reads files into them; every other layer reads them
from here, without importing the loader.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

from xvaflow.core.dates import Tenor

CSA_TYPES = ("two_way", "one_way_cpty", "one_way_own")
# CS01; IR delta and gamma; FX and equity delta; vega (Hull-White sigma, FX and equity vols)
SENSITIVITY_KINDS = ("credit", "ir", "fx", "eq", "vega")
OUTPUT_FORMATS = ("csv", "parquet")  # of the tabular outputs (xvaflow.report.tables)
IM_MODELS = ("none", "simm", "ccp_hvar")  # csas.csv im_model
CALL_FREQUENCIES = ("daily", "weekly", "monthly")  # csas.csv call_frequency
HEDGE_TYPES = ("single_name", "index")
HEDGE_RELATIONS = ("direct", "legally_related", "sector_region")


@dataclass(frozen=True, slots=True)
class Counterparty:
    """A counterparty: recovery rate and either a flat hazard rate or CDS par spreads (decimal)."""

    counterparty_id: str
    name: str
    recovery: float
    rating: str
    sector: str
    hazard_rate: float | None
    cds_spreads: tuple[tuple[Tenor, float], ...]
    row: int


@dataclass(frozen=True, slots=True)
class NettingSet:
    """A netting set under one counterparty, collateralised when ``csa_id`` is set."""

    netting_set_id: str
    counterparty_id: str
    csa_id: str | None
    row: int


@dataclass(frozen=True, slots=True)
class Csa:
    """Credit support annex terms, amounts in ``currency``.

    Attributes:
        threshold_cpty: exposure the counterparty may leave uncollateralised.
        threshold_own: exposure the bank may leave uncollateralised (two-way CSA).
        mta: minimum transfer amount.
        independent_amount: initial amount held by the bank (negative: posted by the bank).
        mpor_days: margin period of risk in business days.
        im_model: one of IM_MODELS: ``none``, ``simm`` (ISDA SIMM), ``ccp_hvar`` (CCP
            historical VaR, interest-rate swaps).
        csa_type: ``two_way`` (both post), ``one_way_cpty`` (only the counterparty posts) or
            ``one_way_own`` (only the bank posts); optional column, default ``two_way``.
        collateral_balance: variation margin held today (+ received by the bank, - posted by
            it); optional column, default 0. Read by the t0 capital (SA-CCR C), not by the
            simulation, whose collateral starts from its own margin calls.
        call_frequency: one of CALL_FREQUENCIES: how often margin is called (``daily``: every
            business day, the default).
        rounding: call amounts are rounded to multiples of this (0: not rounded): a delivery
            up, a return down, as the ISDA CSA's Rounding paragraph.
        collateral_spread_bp: the spread over the collateral currency's overnight rate paid on
            collateral held (received on collateral posted), in bp: COLVA.
    """

    csa_id: str
    threshold_cpty: float
    threshold_own: float
    mta: float
    independent_amount: float
    mpor_days: int
    currency: str
    im_model: str
    row: int
    csa_type: str = "two_way"
    collateral_balance: float = 0.0
    call_frequency: str = "daily"
    rounding: float = 0.0
    collateral_spread_bp: float = 0.0


@dataclass(frozen=True, slots=True)
class CvaHedge:
    """An eligible CVA hedge for the full BA-CVA (MAR50.17-18): bought CDS protection.

    Attributes:
        hedge_id: identifier (cva_hedges.csv ``hedge_id``).
        kind: ``single_name`` or ``index``.
        counterparty_id: the counterparty a single-name hedge is assigned to (None: index).
        relation: single name only: ``direct`` (references the counterparty), ``legally_related``
            (an entity legally related to it) or ``sector_region`` (same sector and region);
            the correlations r_hc 100%, 80%, 50% of MAR50.23.
        reference: reference entity or index name (for messages and reports).
        notional: protection notional in ``currency``.
        currency: currency of the notional.
        maturity: maturity date of the protection.
        sector: sector of the reference entity (index: of its constituents).
        rating: rating of the reference entity (index: of its constituents).
        risk_weight: index only, optional: the notional-weighted MAR50.16 risk weight of the
            constituents (before the 0.7 index scaling) for an index spanning several sectors
            or credit qualities; None: from ``sector`` and ``rating``.
        row: row of cva_hedges.csv (for messages).
    """

    hedge_id: str
    kind: str
    counterparty_id: str | None
    relation: str | None
    reference: str
    notional: float
    currency: str
    maturity: _dt.date
    sector: str
    rating: str
    risk_weight: float | None
    row: int


@dataclass(frozen=True)
class RunConfig:
    """Settings of a Monte Carlo run (run.json; command-line flags override).

    ``grid`` is ``"auto"`` (monthly for a year, then quarterly to the last cash flow), a spec of
    ``"<step>:<horizon>"`` segments (e.g. ``"1M:10Y"``, ``"1M:2Y,3M:10Y"``) or an explicit list
    of ISO dates or year fractions, kept as given for the simulation layer to expand. ``path_chunk``
    bounds memory: paths are simulated in chunks of that size (results do not depend on it).
    """

    paths: int = 10_000
    seed: int = 42
    grid: str | tuple[str | float, ...] = "auto"
    bilateral: bool = True
    partitions: int = 4
    backend: str = "numpy"
    antithetic: bool = False
    path_chunk: int | None = None
    stress: bool = False
    sensitivities: tuple[str, ...] = ()  # of SENSITIVITY_KINDS
    allocation: bool = False  # trades.csv: each trade's share of its netting set's XVA
    cost_of_capital: float = 0.10  # KVA: the return required on capital, per year
    format: str = "csv"  # of the tabular outputs: one of OUTPUT_FORMATS
