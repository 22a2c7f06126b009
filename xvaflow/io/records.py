"""Records of counterparties, netting sets, CSAs and run settings (plain data)."""

from __future__ import annotations

from dataclasses import dataclass

from xvaflow.core.dates import Tenor

CSA_TYPES = ("two_way", "one_way_cpty", "one_way_own")
CDS_COLUMNS = ("cds_6m", "cds_1y", "cds_2y", "cds_3y", "cds_5y", "cds_7y", "cds_10y")
CDS_TENORS = {"cds_6m": Tenor(6, "M"), "cds_1y": Tenor(1, "Y"), "cds_2y": Tenor(2, "Y"),
              "cds_3y": Tenor(3, "Y"), "cds_5y": Tenor(5, "Y"), "cds_7y": Tenor(7, "Y"),
              "cds_10y": Tenor(10, "Y")}


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
        im_model: ``none`` or ``simm`` (initial margin).
        csa_type: ``two_way`` (both post), ``one_way_cpty`` (only the counterparty posts) or
            ``one_way_own`` (only the bank posts); optional column, default ``two_way``.
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
