"""The notebook API: load a portfolio, run it, read the results as DataFrames.

::

    import xvaflow

    book = xvaflow.load_portfolio("examples/demo")
    res = xvaflow.run(book, paths=2000, grid="1M:1Y,3M:10Y")
    res.totals["cva"], res.netting_sets()          # a dict, a DataFrame per netting set
    res.exposure().loc["NS_ACME", ["epe", "pfe_975"]]
    same = xvaflow.read_results(res.directory)     # any output directory, later

:func:`run` executes the same local workflow as ``xvaflow run`` (the Step Functions definition,
partitions, workers) and publishes the same files; the DataFrames are read back from them, so
a notebook and the command line always agree. DataFrames need pandas (the ``notebook`` extra:
``pip install xvaflow[notebook]``); :attr:`Results.document` (results.json as a dict) does not.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xvaflow.core.errors import InputError, Problem
from xvaflow.portfolio import Portfolio

if TYPE_CHECKING:  # pandas is an optional extra
    import pandas as pd

__all__ = ["Results", "load_portfolio", "read_results", "run"]


def load_portfolio(path: str | Path) -> Portfolio:
    """Read and validate a portfolio directory (docs/inputs.md).

    Raises:
        InputError: every problem of the inputs, one per line (``str(error)``).
    """
    from xvaflow.io.portfolio import load_portfolio as _load

    return _load(path)


def run(portfolio: Portfolio | str | Path, out: str | Path | None = None, *,
        workers: int | None = 1, quiet: bool = True, **settings: Any) -> Results:
    """Run the XVA workflow on a portfolio and return its results.

    Args:
        portfolio: a loaded portfolio (its directory is run) or a portfolio directory.
        out: output directory (default: a new temporary directory).
        workers: worker processes (default 1; None: one per CPU).
        quiet: no progress lines on stderr.
        settings: run.json keys overriding the portfolio's run.json (``paths``, ``seed``,
            ``grid``, ``partitions``, ``stress``, ``sensitivities``, ``allocation``,
            ``cost_of_capital``, ...; docs/inputs.md).

    Raises:
        InputError: bad inputs or settings (nothing is computed).
        PipelineError: the run failed (nothing is published).
    """
    from xvaflow.pipeline.local import run_pipeline

    path = portfolio.path if isinstance(portfolio, Portfolio) else Path(portfolio)
    directory = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="xvaflow-"))
    quiet_log: dict[str, Any] = {"log": lambda _: None} if quiet else {}  # default: stderr
    run_pipeline(path, directory, settings, workers=workers, **quiet_log)
    return read_results(directory)


def read_results(directory: str | Path) -> Results:
    """The results an ``xvaflow run`` (or :func:`run`) published in ``directory``.

    Raises:
        InputError: no results.json there.
    """
    directory = Path(directory)
    try:
        document = json.loads((directory / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError([Problem(str(directory), None, None, "no readable results.json "
                                  f"({exc})")]) from None
    return Results(directory, document)


@dataclass(frozen=True)
class Results:
    """One run's published outputs (docs/outputs.md).

    Attributes:
        directory: the output directory.
        document: results.json as a dict.
    """

    directory: Path
    document: dict[str, Any]

    @property
    def totals(self) -> dict[str, Any]:
        """Portfolio figures: ``cva``, ``cva_stderr``, ..., ``fva``, ``kva``."""
        out: dict[str, Any] = self.document["totals"]
        return out

    def netting_sets(self) -> pd.DataFrame:
        """One row per netting set (index ``netting_set_id``): counterparty, CSA, npv, each
        metric with its standard error, eepe, peak PFE, kva."""
        pd = _pandas()
        frame = pd.DataFrame.from_dict(self.document["netting_sets"], orient="index")
        frame.index.name = "netting_set_id"
        return frame

    def trades(self) -> pd.DataFrame:
        """trades.csv (index ``trade_id``): netting set, counterparty, product, t0 values and,
        with ``allocation``, each trade's share of its netting set's XVA."""
        return self._table("trades", index=["trade_id"])

    def exposure(self) -> pd.DataFrame:
        """exposure.csv (index ``netting_set_id``, ``date``; ``PORTFOLIO`` rows included):
        EE, EPE, ENE, PFE, collateral, Basel EE, the XVA term structure, capital profiles."""
        return self._table("exposure", index=["netting_set_id", "date"], dates=["date"])

    def stress(self) -> pd.DataFrame | None:
        """stress.csv (index scenario, netting set, metric), or None without ``stress``."""
        if self.document.get("stress") is None:
            return None
        return self._table("stress", index=["scenario", "netting_set_id", "metric"])

    def capital(self) -> pd.DataFrame | None:
        """SA-CCR per netting set (index ``netting_set_id``), or None without a capital
        section."""
        section = self.document.get("capital")
        if not section:
            return None
        frame = _pandas().DataFrame.from_dict(section["saccr"], orient="index")
        frame.index.name = "netting_set_id"
        return frame

    def sensitivities(self) -> pd.DataFrame | None:
        """results.json ``sensitivities`` as one row per figure (index ``netting_set_id``
        (``PORTFOLIO`` for the totals), ``metric``, ``kind``, ``key``; columns ``value``,
        ``stderr``), or None without ``sensitivities``. Units per kind: docs/outputs.md."""
        from xvaflow.report.results import sensitivity_rows

        section = self.document.get("sensitivities")
        if not section:
            return None
        rows = [{**r, "netting_set_id": r["netting_set_id"] or "PORTFOLIO"}
                for r in sensitivity_rows(section)]
        return _pandas().DataFrame(rows).set_index(["netting_set_id", "metric", "kind", "key"])

    @property
    def report(self) -> Path:
        """report.html of the run (open it in a browser)."""
        return self.directory / "report.html"

    def _table(self, name: str, index: list[str], dates: list[str] | None = None
               ) -> pd.DataFrame:
        """A table of the run in its format (``run.format``: CSV or Parquet)."""
        from xvaflow.report.tables import unescape

        pd = _pandas()
        fmt = self.document["run"].get("format", "csv")
        path = self.directory / f"{name}.{fmt}"
        if fmt == "parquet":
            frame = pd.read_parquet(path)
            for column in dates or []:
                frame[column] = pd.to_datetime(frame[column])
            return frame.set_index(index)
        ids = ("trade_id", "netting_set_id", "counterparty_id")
        frame = pd.read_csv(path, parse_dates=dates or False, dtype=dict.fromkeys(ids, str))
        for column in ids:
            if column in frame:  # ids a spreadsheet would evaluate carry an apostrophe
                frame[column] = frame[column].map(unescape)
        return frame.set_index(index)


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise InputError([Problem("python", None, None, "DataFrames need pandas: pip install "
                                  "'xvaflow[notebook]' (Results.document has every figure "
                                  "without it)")]) from None
    return pandas

