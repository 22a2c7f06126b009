"""cva_hedges.csv: eligible CVA hedges for the full BA-CVA (optional file; docs/conventions.md).

Columns::

    hedge_id        required, unique
    type            single_name | index
    counterparty_id single_name: the counterparty whose CVA the hedge protects (in
                    counterparties.csv); index: empty
    relation        single_name: direct | legally_related | sector_region (MAR50.23's r_hc of
                    100%, 80%, 50%); index: empty
    reference       reference entity or index name (optional, for reports)
    notional        protection notional, > 0
    currency        currency of the notional (needs an FX spot in market.json)
    maturity_date   maturity of the protection, after as_of
    sector          sector of the reference entity or of the index constituents (optional;
                    single name: empty means the counterparty's)
    rating          rating of the reference entity or constituents (optional; single name:
                    empty means the counterparty's; otherwise empty is not investment grade)
    risk_weight     index only, optional: notional-weighted MAR50.16 risk weight (decimal, before
                    the 0.7 index scaling) of an index spanning several sectors or qualities

Every row is bought protection (MAR50.18: only bought protection is an eligible hedge). Problems
are reported one line each, naming file, row and field, like every other input.
"""

from __future__ import annotations

from pathlib import Path

from xvaflow.core.errors import ProblemLog
from xvaflow.core.fields import FieldReader
from xvaflow.io.limits import AMOUNT_MAX
from xvaflow.io.tables import read_csv
from xvaflow.market.conventions import CURRENCIES
from xvaflow.market.market import Market
from xvaflow.portfolio.records import HEDGE_RELATIONS, HEDGE_TYPES, Counterparty, CvaHedge

HEDGES = "cva_hedges.csv"
HEDGE_COLUMNS = ("hedge_id", "type", "counterparty_id", "relation", "reference", "notional",
                 "currency", "maturity_date", "sector", "rating", "risk_weight")
HEDGE_REQUIRED = ("hedge_id", "type", "notional", "currency", "maturity_date")


def load_cva_hedges(path: Path, log: ProblemLog, counterparties: dict[str, Counterparty],
                    market: Market | None) -> tuple[CvaHedge, ...]:
    """Read and validate cva_hedges.csv; problems go to ``log`` (one per bad field).

    Args:
        path: the file.
        log: problem log of the portfolio being loaded.
        counterparties: the portfolio's counterparties (references are checked against them
            when counterparties.csv read cleanly).
        market: the market snapshot, when it could be read (as_of and FX spots are checked).
    """
    rows = read_csv(path, log, HEDGE_REQUIRED, HEDGE_COLUMNS)
    if rows is None:
        return ()
    cpty_ok = not any(p.file == "counterparties.csv" for p in log.problems)
    seen: dict[str, int] = {}
    out: list[CvaHedge] = []
    for row, values in rows:
        r = FieldReader(values, log, HEDGES, row, key=(values.get("hedge_id") or "").strip()
                        or None)
        hid = r.text("hedge_id")
        if hid is not None and hid in seen:
            r.problem("hedge_id", f"duplicate id {hid!r} (first on row {seen[hid]})")
        elif hid is not None:
            seen[hid] = row
        kind = r.choice("type", HEDGE_TYPES, what="hedge type")
        notional = r.number("notional", positive=True, upper=AMOUNT_MAX)
        currency = r.choice("currency", CURRENCIES, what="currency", case_sensitive=True)
        maturity = r.date("maturity_date")
        risk_weight = r.number("risk_weight", required=False, positive=True, upper=1.0)
        cpty: str | None = None
        relation: str | None = None
        if kind == "single_name":
            cpty = r.text("counterparty_id")
            relation = r.choice("relation", HEDGE_RELATIONS, what="relation")
            r.forbid(["risk_weight"], "for a single-name hedge (its weight follows from sector "
                     "and rating)")
            if cpty is not None and cpty_ok and cpty not in counterparties:
                r.problem("counterparty_id", f"{cpty!r} is not in counterparties.csv")
        elif kind == "index":
            r.forbid(["counterparty_id", "relation"], "for an index hedge (it hedges no "
                     "single counterparty)")
        if market is not None and currency is not None and currency not in market.fx_to_base:
            r.problem("currency", f"no FX spot linking {currency} to the base currency "
                      f"{market.base_currency} in market.json fx_spots")
        if market is not None and maturity is not None and maturity <= market.as_of:
            r.problem("maturity_date", f"{maturity} is on or before as_of {market.as_of}: "
                      "the protection has expired")
        if (not r.ok or hid is None or kind is None or notional is None or currency is None
                or maturity is None):
            continue
        owner = counterparties.get(cpty) if cpty is not None else None
        sector = r.raw("sector") or (owner.sector if owner is not None else "")
        rating = r.raw("rating") or (owner.rating if owner is not None else "")
        out.append(CvaHedge(hid, kind, cpty, relation, r.raw("reference") or hid, notional,
                            currency, maturity, sector, rating, risk_weight, row))
    return tuple(out)
