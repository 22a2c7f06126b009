"""exposure.csv against CSV injection: a netting-set id that a spreadsheet would evaluate
(= + - @ TAB CR) is written with a leading apostrophe (OWASP, "CSV Injection"); so is an id
beginning with an apostrophe, so that one leading apostrophe removed gives every id back.
The Parquet form of the same table carries the same values, typed."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from xvaflow.pipeline.aggregate import PORTFOLIO, exposure_table
from xvaflow.pipeline.stages import partition_from_store
from xvaflow.report.tables import EXPOSURE_COLUMNS, csv_text, read_columns, to_csv, to_parquet
from xvaflow.xva.engine import PartitionResult

IDS = ["=HYPERLINK(\"http://x.example\",\"x\")", "+1+2", "-2+3", "@SUM(A1:A2)", "\tTAB",
       "\rCR", "'quoted", "NS-1", "plain", "a=b"]


@pytest.mark.parametrize("value", IDS)
def test_csv_text_neutralises_formulas_and_is_reversible(value: str) -> None:
    cell = csv_text(value)
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    decoded = cell[1:] if cell.startswith("'") else cell
    assert decoded == value
    assert (cell != value) == value.startswith(("=", "+", "-", "@", "\t", "\r", "'"))


def partition(netting_sets: list[str], dates: int = 3, paths: int = 8) -> PartitionResult:
    n = len(netting_sets)
    rng = np.random.default_rng(1)
    epe = rng.random((dates, n))
    arrays = {"epe": epe, "ene": -epe / 2, "basel_ee": epe, "collateral": np.zeros((dates, n)),
              "epe_stderr": epe / 10, "ene_stderr": epe / 10,
              "pfe": rng.random((dates, 3, n)), "portfolio_exposure": rng.random((dates, paths)),
              "times": np.linspace(0.0, 1.0, dates), "npv": np.zeros(n), "eepe": epe[0]}
    meta = {"n_paths": paths, "netting_sets": netting_sets,
            "dates": [str(np.datetime64("2026-01-01") + 30 * k) for k in range(dates)],
            "metrics": [], "functionals": [], "fallbacks": {}, "batch_size": paths,
            "steps": dates, "timings": {}, "trade_ids": [], "allocated": []}
    return partition_from_store(meta, arrays)


def test_exposure_csv_writes_ids_that_spreadsheets_do_not_execute() -> None:
    # (a CR inside an id would also break the row: input validation refuses control characters)
    ids = [i for i in IDS if "\r" not in i]
    text = to_csv(exposure_table([partition(ids)], ids)).decode()
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert tuple(rows[0]) == EXPOSURE_COLUMNS
    written = [r[0] for r in rows[1:]]
    for cell in written:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    assert {c[1:] if c.startswith("'") else c for c in written} - {PORTFOLIO} == set(ids)
    # numbers keep their sign: only ids are escaped
    assert any(r[5].startswith("-") for r in rows[1:])
    assert written.count("'=HYPERLINK(\"http://x.example\",\"x\")") == 3
    assert written.count("NS-1") == 3
    assert written.count(PORTFOLIO) == 3


def test_parquet_holds_the_csv_values_typed() -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    ids = [i for i in IDS if "\r" not in i]
    table = exposure_table([partition(ids)], ids)
    data = to_parquet(table)
    read = pq.read_table(io.BytesIO(data))
    assert tuple(read.column_names) == EXPOSURE_COLUMNS
    assert read.schema.field("date").type == pa.date32()
    assert read.schema.field("netting_set_id").type == pa.string()
    assert read.schema.field("epe").type == pa.float64()
    assert set(read.column("netting_set_id").to_pylist()) - {PORTFOLIO} == set(ids)  # as given
    # every figure equal to the CSV's (which spells them with repr: exact); missing ones null
    via_csv, via_parquet = read_columns(to_csv(table), "csv"), read_columns(data, "parquet")
    assert via_csv.keys() == via_parquet.keys()
    for name, values in via_csv.items():
        if name == "time":  # 6 decimals in CSV
            assert np.allclose(values, via_parquet[name], atol=5e-7)
        else:
            assert [str(v) for v in values] == [str(v) for v in via_parquet[name]], name
    assert read.column("cva_contribution").null_count == read.num_rows  # not computed
