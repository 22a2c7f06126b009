"""The notebook API (xvaflow.load_portfolio, run, read_results): the same figures as the files
``xvaflow run`` publishes, as DataFrames; clear errors for bad inputs and missing results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import xvaflow
from xvaflow.core.errors import InputError

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> xvaflow.Results:
    book = xvaflow.load_portfolio(DEMO)
    return xvaflow.run(book, tmp_path_factory.mktemp("api") / "out", paths=200,
                       grid="3M:2Y", seed=7, stress=True, allocation=True,
                       sensitivities=["credit", "fx"])


def test_frames_match_the_published_files(results: xvaflow.Results) -> None:
    doc = json.loads((results.directory / "results.json").read_text(encoding="utf-8"))
    assert results.document == doc
    assert results.totals["cva"] == doc["totals"]["cva"] > 0.0
    ns = results.netting_sets()
    assert list(ns.index) == list(doc["netting_sets"])
    for name, entry in doc["netting_sets"].items():
        assert ns.loc[name, "cva"] == entry["cva"]
        assert ns.loc[name, "counterparty_id"] == entry["counterparty_id"]
    exposure = results.exposure()
    assert set(exposure.index.get_level_values(0)) == {*doc["netting_sets"], "PORTFOLIO"}
    assert exposure.loc["NS_ACME"]["epe"].min() >= 0.0
    trades = results.trades()
    assert list(trades.index) == list(doc["trades"])
    assert trades.groupby("netting_set_id")["cva"].sum().to_dict() == pytest.approx(
        {k: v["cva"] for k, v in doc["netting_sets"].items()}, rel=1e-9)
    stress = results.stress()
    assert stress is not None
    assert ("credit+100bp", "PORTFOLIO", "cva") in stress.index
    capital = results.capital()
    assert capital is not None
    assert set(capital.index) == set(doc["netting_sets"])
    sens = results.sensitivities()
    assert sens is not None
    section = doc["sensitivities"]
    for (ns, metric, kind, key), row in sens.iterrows():
        tree = section["totals"] if ns == "PORTFOLIO" else section["netting_sets"][ns]
        errors = (section["stderr"]["totals"] if ns == "PORTFOLIO"
                  else section["stderr"]["netting_sets"][ns])
        leaf, error = tree[metric][kind], errors[metric][kind]
        for part in key.split("."):
            leaf, error = leaf[part], error[part]
        assert (row["value"], row["stderr"]) == (leaf, error)
    assert {"fx_delta", "cs01"} <= set(sens.index.get_level_values("kind"))
    assert results.report.is_file()


def test_read_results_reads_any_output_directory(results: xvaflow.Results) -> None:
    again = xvaflow.read_results(results.directory)
    assert again.document == results.document
    assert again.netting_sets().equals(results.netting_sets())


def test_a_directory_path_runs_too(tmp_path: Path) -> None:
    res = xvaflow.run(DEMO, tmp_path / "o", paths=64, grid="6M:1Y")
    assert res.totals["cva"] > 0.0


def test_errors_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is not a directory"):
        xvaflow.load_portfolio(tmp_path / "nothing")
    with pytest.raises(InputError, match=r"no readable results\.json"):
        xvaflow.read_results(tmp_path)
    with pytest.raises(InputError, match="paths"):
        xvaflow.run(DEMO, tmp_path / "bad", paths=0)
