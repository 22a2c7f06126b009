"""What compilation needs besides the trades: dates, calendars, basis, name registries."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field

from xvaflow.core.errors import ProblemLog
from xvaflow.market.market import Market

TRADES_FILE = "trades.csv"


@dataclass
class CompileContext:
    """Compilation state shared by the product families.

    Attributes:
        market: the snapshot (only as_of, calendars and index basis are read: compiled tables
            do not depend on curves, so curve bumps reuse them).
        log: where trade-level problems found during compilation go (e.g. a seasoned floating
            leg without ``last_fixing``).
        currencies / equities: names in first-use order; tables store indices into them.
    """

    market: Market
    log: ProblemLog
    currencies: list[str] = field(default_factory=list)
    equities: list[str] = field(default_factory=list)
    trades_file: str = TRADES_FILE

    @property
    def as_of(self) -> _dt.date:
        return self.market.as_of

    def currency_index(self, code: str) -> int:
        if code not in self.currencies:
            self.currencies.append(code)
        return self.currencies.index(code)

    def equity_index(self, name: str) -> int:
        if name not in self.equities:
            self.equities.append(name)
        return self.equities.index(name)
