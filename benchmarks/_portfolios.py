"""Portfolios for benchmarks, cut from a generated bank book (market data included)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from xvaflow.core.dates import parse_date
from xvaflow.io.generate import generate_portfolio

Row = dict[str, str]


def read_csv(path: Path) -> tuple[list[str], list[Row]]:
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def write_csv(path: Path, columns: Sequence[str], rows: Sequence[Row]) -> None:
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, list(columns), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def pool(directory: Path, trades: int, seed: int, counterparties: int = 1000) -> Path:
    """Generate a bank book to cut portfolios from (as of 2026-11-20)."""
    generate_portfolio(directory, counterparties=counterparties, trades=trades, seed=seed,
                       as_of=parse_date("2026-11-20"))
    return directory


def write_portfolio(out: Path, source: Path, netting_sets: dict[str, list[Row]],
                    counterparties: dict[str, Row]) -> None:
    """Write a portfolio directory: ``netting_sets`` maps a netting set id to its trades (rows of
    the source trades.csv), ``counterparties`` a netting set id to its counterparty row. Netting
    sets are uncollateralised; trade ids are prefixed with the netting set to stay unique."""
    trade_cols, _ = read_csv(source / "trades.csv")
    cpty_cols, _ = read_csv(source / "counterparties.csv")
    out.mkdir(parents=True, exist_ok=True)
    (out / "market.json").write_text((source / "market.json").read_text())
    write_csv(out / "trades.csv", trade_cols,
              [{**t, "netting_set_id": ns, "trade_id": f"{ns}-{t['trade_id']}"}
               for ns, rows in netting_sets.items() for t in rows])
    write_csv(out / "counterparties.csv", cpty_cols,
              [{**c, "counterparty_id": f"CP_{ns}"} for ns, c in counterparties.items()])
    write_csv(out / "netting_sets.csv", ["netting_set_id", "counterparty_id", "csa_id"],
              [{"netting_set_id": ns, "counterparty_id": f"CP_{ns}", "csa_id": ""}
               for ns in netting_sets])
