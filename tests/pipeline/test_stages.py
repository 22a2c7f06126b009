"""Pipeline stages on a local store: the data flow, idempotence and refusal of partial runs."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import math
from pathlib import Path

import pytest

from xvaflow.core.errors import InputError, PipelineError
from xvaflow.pipeline import stages
from xvaflow.pipeline.store import LocalStore, MissingObjectError, get_arrays, get_json, put_arrays

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"
SETTINGS = {"paths": 512, "grid": "3M:5Y", "partitions": 3}


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    s = LocalStore(tmp_path / "bucket")
    for f in DEMO.iterdir():
        s.put_bytes(f"inputs/r1/{f.name}", f.read_bytes())
    return s


def _run(store: LocalStore, run_id: str = "r1", **settings: object) -> dict[str, object]:
    out = stages.partition_stage(store, {"run_id": run_id, "input_prefix": "inputs/r1/",
                                         "settings": {**SETTINGS, **settings}})
    for item in get_json(store, str(out["manifest_key"])):
        stages.worker_stage(store, item["run_id"], item["partition"])
    agg = stages.aggregate_stage(store, {"run_id": run_id})
    return {**agg, **stages.optimise_stage(store, agg)}


def test_local_store_round_trips_and_refuses_escaping_keys(tmp_path: Path) -> None:
    s = LocalStore(tmp_path)
    s.put_bytes("a/b/c.json", b"{}")
    assert s.get_bytes("a/b/c.json") == b"{}"
    assert s.exists("a/b/c.json")
    assert not s.exists("a/b/d.json")
    assert s.list("a") == ["a/b/c.json"]
    with pytest.raises(MissingObjectError, match="a/x"):
        s.get_bytes("a/x")
    with pytest.raises(ValueError, match="invalid key"):
        s.put_bytes("../outside", b"")
    import numpy as np

    put_arrays(s, "x.npz", {"v": np.arange(3.0)})
    assert get_arrays(s, "x.npz")["v"].tolist() == [0.0, 1.0, 2.0]


def test_stages_produce_results_exposure_and_diagnostics(store: LocalStore) -> None:
    out = _run(store)
    results = get_json(store, str(out["results_key"]))
    assert set(results["netting_sets"]) == {"NS_NORDBANK", "NS_ACME", "NS_HELIOS"}
    assert results["run"]["partitions"] == 3
    assert len(results["trades"]) == 20
    assert results["totals"]["cva"] > 0
    assert results["totals"]["mva"] is None
    exposure = store.get_bytes(str(out["exposure_key"])).decode().splitlines()
    assert exposure[0].startswith("netting_set_id,date,time,ee,epe,ene")
    assert len(exposure) == 1 + 4 * 20  # 3 netting sets + PORTFOLIO, 20 quarterly dates
    # the XVA term structure columns add up to results.json's values, per netting set and total
    rows = list(csv.DictReader(io.StringIO("\n".join(exposure))))
    for metric in ("cva", "dva", "fca", "fba"):
        for ns, entry in [*results["netting_sets"].items(), ("PORTFOLIO", results["totals"])]:
            terms = [float(r[f"{metric}_contribution"]) for r in rows
                     if r["netting_set_id"] == ns]
            assert math.fsum(terms) == pytest.approx(entry[metric], rel=1e-12, abs=1e-9)
    diag = get_json(store, str(out["diagnostics_key"]))
    total = sum(e["cva"] for e in diag["cva_desk"]["top_counterparties_by_cva"])
    assert total == pytest.approx(results["totals"]["cva"], rel=1e-12)


def test_workers_read_calibrated_parameters_written_once(store: LocalStore) -> None:
    doc = json.loads(store.get_bytes("inputs/r1/market.json"))
    del doc["hull_white"]  # both currencies calibrate to swaption_vols
    store.put_bytes("inputs/r1/market.json", json.dumps(doc).encode())
    stages.partition_stage(store, {"run_id": "r1", "settings": SETTINGS})
    spec = get_json(store, "runs/r1/spec.json")
    worker_market = get_json(store, "runs/r1/inputs/market.json")
    for ccy in ("USD", "EUR"):
        assert spec["model"]["hull_white"][ccy]["source"] == "calibrated"
        assert worker_market["hull_white"][ccy]["volatility"] == pytest.approx(
            spec["model"]["hull_white"][ccy]["volatility"], rel=0, abs=0)


def test_rerun_overwrites_with_identical_results(store: LocalStore) -> None:
    first = store.get_bytes(str(_run(store)["results_key"]))
    second = store.get_bytes(str(_run(store)["results_key"]))
    a, b = json.loads(first), json.loads(second)
    for doc in (a, b):  # clock readings
        del doc["run"]["stage_seconds"], doc["run"]["wall_seconds"]
    assert a == b


def test_partitions_do_not_change_the_numbers(store: LocalStore) -> None:
    one = get_json(store, str(_run(store, "p1", partitions=1)["results_key"]))
    seven = get_json(store, str(_run(store, "p7", partitions=7)["results_key"]))
    for ns, r in one["netting_sets"].items():
        for m in ("cva", "dva", "fca", "fba", "eepe", "peak_pfe_975"):
            # same paths in every partition; only summation order differs
            assert seven["netting_sets"][ns][m] == pytest.approx(r[m], rel=1e-12)


def test_capital_from_the_workers_equals_the_t0_capital(store: LocalStore) -> None:
    """results.json ``capital``: SA-CCR computed per partition in the workers and BA-CVA
    merged in aggregation equal ``xvaflow capital``'s numbers, whatever the partitions; the
    hedge file travels with the inputs (full BA-CVA)."""
    from xvaflow.io.portfolio import load_portfolio
    from xvaflow.pricing.t0 import price_t0
    from xvaflow.regulatory.capital import capital_section

    hedges = ("hedge_id,type,counterparty_id,relation,notional,currency,maturity_date,sector,"
              "rating\nH1,single_name,CP_ACME,direct,2000000,USD,2031-11-20,,\n")
    store.put_bytes("inputs/r1/cva_hedges.csv", hedges.encode())
    three = get_json(store, str(_run(store, "c3", partitions=3)["results_key"]))["capital"]
    one = get_json(store, str(_run(store, "c1", partitions=1)["results_key"]))["capital"]
    assert list(three["saccr"]) == ["NS_NORDBANK", "NS_ACME", "NS_HELIOS"]
    assert three == one
    pf = load_portfolio(store.root / "inputs" / "r1")
    expected = capital_section(pf, price_t0(pf.compiled, pf.market).npv_base)
    assert expected["ba_cva"]["full"] is not None
    for ns, r in expected["saccr"].items():
        got = three["saccr"][ns]
        assert set(got) == set(r)
        for k, v in r.items():  # the same t0 prices, read back from trades.json
            assert got[k] == v if v is None or isinstance(v, bool) else \
                got[k] == pytest.approx(v, rel=1e-12, abs=1e-6)
    assert three["ba_cva"]["reduced"] == pytest.approx(expected["ba_cva"]["reduced"], rel=1e-12)
    assert three["ba_cva"]["full"] == pytest.approx(expected["ba_cva"]["full"], rel=1e-12)


def test_aggregate_refuses_missing_partitions_and_publishes_nothing(store: LocalStore) -> None:
    out = stages.partition_stage(store, {"run_id": "r1", "settings": SETTINGS})
    stages.worker_stage(store, "r1", 0)
    stages.worker_stage(store, "r1", 2)
    with pytest.raises(PipelineError, match=r"partition\(s\) 1"):
        stages.aggregate_stage(store, {"run_id": "r1"})
    assert not store.exists("runs/r1/output/results.json")
    assert out["partitions"] == 3


def test_bad_inputs_and_run_ids_are_clear_errors(store: LocalStore) -> None:
    with pytest.raises(InputError, match="settings, paths"):
        stages.partition_stage(store, {"run_id": "r1", "settings": {"paths": -5}})
    with pytest.raises(PipelineError, match="run id"):
        stages.partition_stage(store, {"run_id": "../x"})
    with pytest.raises(PipelineError, match="no portfolio files"):
        stages.partition_stage(store, {"run_id": "r2", "input_prefix": "nothing/"})
    stages.partition_stage(store, {"run_id": "r1", "settings": SETTINGS})
    with pytest.raises(PipelineError, match="no partition 9"):
        stages.worker_stage(store, "r1", 9)


def test_a_worker_without_a_usable_gpu_falls_back_to_numpy(store: LocalStore) -> None:
    """A GPU run whose worker cannot start cupy (here: not installed) computes on numpy, the
    same numbers as a numpy run, and results.json says which partitions fell back and why."""
    if importlib.util.find_spec("cupy") is not None:  # pragma: no cover - GPU machines
        pytest.skip("cupy is installed: no fallback to observe")
    out = _run(store, "gpu", backend="cupy", partitions=2)
    gpu = get_json(store, str(out["results_key"]))
    fallback = gpu["run"]["backend_fallback"]
    assert fallback["backend"] == "numpy"
    assert sorted(fallback["partitions"]) == ["0", "1"]
    assert "backend 'cupy' is not usable here" in fallback["partitions"]["0"]
    assert gpu["run"]["backend"] == "cupy"  # what was asked for
    cpu = get_json(store, str(_run(store, "cpu", partitions=2)["results_key"]))
    assert "backend_fallback" not in cpu["run"]
    assert gpu["totals"] == cpu["totals"]
    assert gpu["netting_sets"] == cpu["netting_sets"]


@pytest.mark.parametrize(("code", "status"), [("NoSuchKey", 404), ("AccessDenied", 403)])
def test_s3_missing_object_reads_as_missing(code: str, status: int) -> None:
    """A least-privilege role gets 403 AccessDenied for a key that does not exist (no
    s3:ListBucket): the store reports it as missing, so aggregation names the partition."""
    boto3 = pytest.importorskip("boto3")
    from botocore.stub import Stubber

    from xvaflow.pipeline.store import S3Store

    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")  # noqa: S106 (a stub, no call leaves)
    with Stubber(client) as stub:
        stub.add_client_error("get_object", service_error_code=code, http_status_code=status)
        with pytest.raises(MissingObjectError, match=r"runs/r/results/part-0\.json"):
            S3Store("bucket", client).get_bytes("runs/r/results/part-0.json")
        stub.add_client_error("get_object", service_error_code="SlowDown", http_status_code=503)
        with pytest.raises(client.exceptions.ClientError):
            S3Store("bucket", client).get_bytes("runs/r/results/part-0.json")


def test_partition_stage_refuses_a_run_a_worker_task_cannot_hold(
        store: LocalStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Deployed, the stack passes the task definitions' memory: a partition that would not fit
    in one worker task is refused before anything starts, with the figure."""
    monkeypatch.setenv("XVAFLOW_WORKER_MEMORY_MIB", "0")
    with pytest.raises(InputError) as exc:
        stages.partition_stage(store, {"run_id": "r1", "settings": SETTINGS})
    message = str(exc.value)
    assert "run settings, paths: 512 paths on" in message
    assert "but a worker task has 0.0 GiB" in message
    assert not store.exists("runs/r1/spec.json")
    monkeypatch.setenv("XVAFLOW_WORKER_MEMORY_MIB", "16384")
    assert stages.partition_stage(store, {"run_id": "r1", "settings": SETTINGS})["partitions"]
    monkeypatch.setenv("XVAFLOW_GPU_WORKER_MEMORY_MIB", "0")  # a CPU run does not read it
    assert stages.partition_stage(store, {"run_id": "r2", "input_prefix": "inputs/r1/",
                                          "settings": SETTINGS})["partitions"]
