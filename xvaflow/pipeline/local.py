"""Run the Step Functions workflow on this machine: ``xvaflow run``.

The definition is the same file AWS runs (statemachine/xva_pipeline.asl.json), executed by
:mod:`xvaflow.pipeline.asl` with local values for its placeholders:

- the bucket is a directory (``<out>/.store``), given to every stage as ``file://...``;
- Lambda tasks call the handlers in-process (:func:`xvaflow.pipeline.runtime.lambda_handler`,
  the function each lambdas/<stage>/handler.py exports);
- ECS tasks run the worker entry point (:func:`xvaflow.pipeline.runtime.worker_main`) each in
  a fresh process (forked, like a new container) with the task's environment overrides; the
  Map's MaxConcurrency (``workers``) bounds how many are in flight. Each worker process uses
  one BLAS thread (oversubscribed BLAS threads slowed the 1,000-counterparty benchmark from
  122 s to 175 s).
- Faults: a worker killed (SIGKILL, out of memory) is a task that exited with 128 + the signal
  (137), retried by the definition in a new process, as ECS would; it cannot break the other
  tasks (a shared process pool would: every later task failed with BrokenProcessPool). Worker
  processes die with the command (Linux ``PR_SET_PDEATHSIG``, else a watchdog on the parent's
  pid), so a killed ``xvaflow run`` leaves no orphans computing.

The inputs are checked before the workflow starts, so a bad portfolio gets the same one line
per problem as ``xvaflow validate``. The run holds ``out``'s lock and clears its store first. On
success its outputs (results.json, the tables, diagnostics.json, report.html) are published to
``out`` as one set (:mod:`xvaflow.pipeline.publish`); on failure nothing is, and the error
names the failed stage.
"""

from __future__ import annotations

import ctypes
import json
import multiprocessing
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from xvaflow.core.backend import BackendUnavailableError, get_namespace
from xvaflow.core.errors import InputError, PipelineError, Problem, ProblemLog
from xvaflow.io.files import JSON_LIMIT, RUN_LIMIT, TABLE_LIMIT, read_input
from xvaflow.io.portfolio import load_portfolio
from xvaflow.pipeline.asl import EcsRunTaskSync, Interpreter, LambdaInvoke, substitute
from xvaflow.pipeline.progress import TerminalBar
from xvaflow.pipeline.progress import set_sink as set_progress_sink
from xvaflow.pipeline.publish import (
    new_run_id,
    output_lock,
    publish_or_refuse,
    run_output_files,
)
from xvaflow.pipeline.runtime import lambda_handler, store_for, worker_main
from xvaflow.pipeline.stages import (
    PORTFOLIO_FILES,
    aggregate_stage,
    engine_settings,
    machine_memory,
    memory_problem,
    optimise_stage,
    partition_stage,
    plan_warnings,
    portfolio_config,
    run_prefix,
    simulation_plan,
)
from xvaflow.pipeline.store import ObjectStore, get_json
from xvaflow.portfolio import Portfolio
from xvaflow.report.results import json_bytes

DEFINITION = "xva_pipeline.asl.json"
FUNCTIONS = {"PartitionFunctionArn": "local:lambda:PartitionPortfolio",
             "AggregateFunctionArn": "local:lambda:AggregateXVAResults",
             "OptimiseFunctionArn": "local:lambda:RunXVAOptimization"}


@dataclass(frozen=True)
class RunSummary:
    """What a run did, for the command line."""

    out: Path
    document: dict[str, Any]


def load_definition_text() -> str:
    """The workflow definition (statemachine/xva_pipeline.asl.json, shipped in the package)."""
    return resources.files("xvaflow.pipeline").joinpath(DEFINITION).read_text(encoding="utf-8")


def substitutions(bucket_url: str) -> dict[str, str]:
    """Local values of the definition's ${Placeholders} (the CDK stack gives AWS ARNs)."""
    return {**FUNCTIONS, "ClusterArn": "local:cluster", "CpuTaskDefinitionArn": "local:task:cpu",
            "GpuTaskDefinitionArn": "local:task:gpu", "CpuCapacityProvider": "FARGATE",
            "GpuCapacityProvider": "local-gpu", "SubnetIds": "local",
            "SecurityGroupId": "local", "BucketName": bucket_url, "WorkerContainerName": "worker"}


def _task_environment(params: Mapping[str, Any]) -> dict[str, str]:
    env = dict(os.environ)
    for override in params.get("Overrides", {}).get("ContainerOverrides", []):
        env.update({e["Name"]: str(e["Value"]) for e in override.get("Environment", [])})
    return env


def run_worker_task(params: Mapping[str, Any]) -> int:
    """An ECS task, locally: the worker entry point with the task's environment (in a worker
    process, with one BLAS thread; its progress goes to the parent, not to the terminal)."""
    with threadpool_limits(limits=1, user_api="blas"):
        return worker_main({**_task_environment(params), "XVAFLOW_QUIET": "1"})


def check_inputs(path: str | Path, overrides: Mapping[str, Any], here: bool = False,
                 workers: int | None = None) -> tuple[Problem, ...]:
    """The warnings of :func:`check_portfolio` (which raises every problem)."""
    return check_portfolio(path, overrides, here, workers)[1]


def check_portfolio(path: str | Path, overrides: Mapping[str, Any], here: bool = False,
                    workers: int | None = None) -> tuple[Portfolio, tuple[Problem, ...]]:
    """The checks of the partition stage, before anything starts (one line per problem);
    returns the portfolio and its warnings.

    ``here``: the workers run on this machine (``workers`` of them, default the CPU count), so
    the backend must work here and the partitions computed at once must fit in its memory
    (:func:`~xvaflow.pipeline.stages.memory_problem`; a deployed worker is checked where it
    runs). ``xvaflow validate`` and ``xvaflow run`` both call this with ``here`` set, so
    validate refuses whatever run would refuse.

    Raises:
        InputError: every problem of the inputs and settings.
    """
    portfolio = load_portfolio(path)
    cfg = portfolio_config(portfolio, dict(overrides), "command line")
    settings = engine_settings(cfg)
    model, grid, short = simulation_plan(portfolio, settings, ("command line", "--grid")
                                         if "grid" in overrides else ("run.json", "grid"))
    if here:
        problems = []
        try:
            get_namespace(settings.backend)
        except BackendUnavailableError as exc:
            problems.append(Problem("run settings", None, "backend", str(exc)))
        memory = memory_problem(portfolio, settings, grid, len(model.factor_names),
                                cfg.partitions, max(1, workers or os.cpu_count() or 1),
                                machine_memory())
        if memory is not None:
            problems.append(memory)
        if problems:
            raise InputError(problems, portfolio.warnings)
    return portfolio, (*portfolio.warnings, *plan_warnings(portfolio, model, grid, short))


def run_pipeline(path: str | Path, out: str | Path, overrides: Mapping[str, Any] | None = None,
                 workers: int | None = None, run_id: str | None = None,
                 log: Callable[[str], None] = lambda s: print(s, file=sys.stderr),
                 worker_task: Callable[[Mapping[str, Any]], int] = run_worker_task,
                 sleep: Callable[[float], None] = time.sleep,
                 progress: TerminalBar | None = None) -> RunSummary:
    """Execute the workflow definition locally and publish the outputs into ``out``.

    ``out`` is locked for the run, and its store is cleared first: a run reads only its own
    inputs, whatever ran there before.

    Args:
        path: portfolio directory.
        out: output directory (the local bucket is ``out/.store``).
        overrides: run settings overriding run.json (paths, seed, grid, partitions, ...).
        workers: worker processes for the ECS tasks (default: the CPU count).
        run_id: the run's id (default: a fresh ``local-<UTC time>-<random>``).
        log: progress lines.
        worker_task: what an ECS task runs (tests inject failures here).
        sleep: the interpreter's wait between retries (tests skip it).
        progress: a bar the workers' progress is drawn on (a terminal's; ``log`` should then
            be its :meth:`TerminalBar.log`).

    Raises:
        InputError: bad portfolio or settings, or another run holds ``out``.
        PipelineError: the execution failed; the cause names the stage; nothing is published.
    """
    started = time.perf_counter()
    overrides = dict(overrides or {})
    run_id = run_id or new_run_id("local")
    prefix = run_prefix(run_id)  # a bad id is refused before anything is written
    for warning in check_inputs(path, overrides, here=True, workers=workers):
        log(f"warning: {warning}")
    out_dir = Path(out)
    with output_lock(out_dir):
        store_dir = out_dir.resolve() / ".store"
        try:
            if store_dir.exists():  # ours: nothing of an earlier run may be read
                shutil.rmtree(store_dir)
            store_dir.mkdir()
        except OSError as exc:
            raise InputError([Problem("command line", None, None, f"--out {out_dir}: cannot "
                                      f"prepare {store_dir}: {exc.strerror or exc}")]) from None
        bucket = f"file://{store_dir}"
        store = store_for(bucket)
        n_workers = max(1, workers or os.cpu_count() or 1)
        log(f"xvaflow run {run_id}: workflow {DEFINITION} on {n_workers} worker processes, "
            f"store {store_dir}")
        try:
            _execute(store, bucket, path, run_id, overrides, n_workers, log, worker_task, sleep,
                     progress)
        finally:
            if progress is not None:
                progress.close()
        log_model(get_json(store, f"{prefix}spec.json")["model"], log)
        document = get_json(store, f"{prefix}output/results.json")
        document["run"]["workers"] = n_workers
        # the whole command (input checks and copies included), not partitioning to aggregation
        document["run"]["wall_seconds"] = round(time.perf_counter() - started, 3)
        files = {name: json_bytes(get_json(store, f"{prefix}output/{name}"))
                 if name.endswith(".json") else store.get_bytes(f"{prefix}output/{name}")
                 for name in run_output_files(document)}
        files["results.json"] = json_bytes(document)
        publish_or_refuse(out_dir, run_id, files)
    log(f"  done in {document['run']['wall_seconds']:.1f}s")
    return RunSummary(out_dir, document)


def _execute(store: ObjectStore, bucket: str, path: str | Path, run_id: str,
             overrides: dict[str, Any], n_workers: int, log: Callable[[str], None],
             worker_task: Callable[[Mapping[str, Any]], int],
             sleep: Callable[[float], None], progress: TerminalBar | None) -> None:
    """Copy the portfolio into the store and run the definition to its end.

    Raises:
        PipelineError: the execution did not succeed.
    """
    source = f"inputs/{run_id}/"
    problems = ProblemLog()
    for name in PORTFOLIO_FILES:
        if (Path(path) / name).exists():  # checked, but read as carefully as the loader does
            data = read_input(Path(path) / name, problems, limit=RUN_LIMIT if name == "run.json"
                              else JSON_LIMIT if name.endswith(".json") else TABLE_LIMIT)
            if data is not None:
                store.put_bytes(source + name, data)
    problems.raise_if_any()
    definition = substitute(json.loads(load_definition_text()), substitutions(bucket))
    handlers = {FUNCTIONS["PartitionFunctionArn"]: lambda_handler(
                    "PartitionPortfolio", partition_stage, store),
                FUNCTIONS["AggregateFunctionArn"]: lambda_handler(
                    "AggregateXVAResults", aggregate_stage, store),
                FUNCTIONS["OptimiseFunctionArn"]: lambda_handler(
                    "RunXVAOptimization", optimise_stage, store)}
    lock = threading.Lock()  # Map iterations run in threads: one whole line at a time

    def ecs(params: Mapping[str, Any]) -> int:
        k = _partition(params)
        with lock:
            log(f"  partition {k} started")
            if progress is not None:
                progress.board.started(k)
                progress.update(force=True)

        def step(done: int, total: int) -> None:
            if progress is not None:
                progress.board.step(k, done, total)
                progress.update()

        code = run_in_process(worker_task, params, step if progress is not None else None)
        with lock:
            outcome = ("done" if code == 0 else f"killed by signal {code - 128}" if code > 128
                       else "failed")
            if progress is not None:
                progress.board.finished(k, code == 0)
            log(f"  partition {k} {outcome}")
        return code

    def items(spec: Mapping[str, Any]) -> Any:
        listed = get_json(store, spec["Parameters"]["Key"])
        if progress is not None and isinstance(listed, list):
            progress.board.expect(len(listed))
        return listed

    interpreter = Interpreter(
        definition, {"arn:aws:states:::lambda:invoke": LambdaInvoke(handlers),
                     "arn:aws:states:::ecs:runTask.sync": EcsRunTaskSync(ecs)},
        item_reader=items, sleep=sleep)
    execution = interpreter.run({"run_id": run_id, "input_prefix": source,
                                 "settings": overrides, "max_concurrency": n_workers},
                                name=run_id)
    if execution.status != "SUCCEEDED":
        raise PipelineError(f"run {run_id} {execution.status.lower()}: {execution.error}: "
                            f"{execution.cause}")


def run_in_process(task: Callable[[Mapping[str, Any]], int], params: Mapping[str, Any],
                   on_progress: Callable[[int, int], None] | None = None) -> int:
    """Run ``task(params)`` in a fresh forked process and return its exit code: the task's
    result, 1 when it raised, 128 + N when signal N killed it (137 for SIGKILL, as a shell
    or ECS reports it). The task's progress (:mod:`xvaflow.pipeline.progress`) is passed to
    ``on_progress(done, total)`` as it comes, through a pipe."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False) if on_progress else (None, None)
    process = context.Process(target=_task_process, args=(task, dict(params), os.getpid(), sender),
                              daemon=False)
    process.start()
    if receiver is not None and sender is not None and on_progress is not None:
        sender.close()  # the child holds the only sending end: EOF when it exits
        while True:
            try:
                on_progress(*receiver.recv())
            except EOFError:
                break
        receiver.close()
    process.join()
    code = process.exitcode
    if code is None:  # unreachable after join; kept total
        return 1
    return code if code >= 0 else 128 - code


def _task_process(task: Callable[[Mapping[str, Any]], int], params: dict[str, Any],
                  parent: int, progress: Connection | None) -> None:
    """Body of a task process: tie its life to the parent's, run the task, exit with its
    code (an exception is one line on stderr and exit code 1, like a failed container)."""
    die_with_parent(parent)
    set_progress_sink(progress)
    try:
        code = int(task(params))
    except Exception as exc:  # the task's failure, reported as a container's would be
        print(f"worker failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # no atexit handlers of the forked parent's state (e.g. its temp dirs)


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent: int) -> None:
    """Make this process die when ``parent`` does: SIGKILL from the kernel on Linux
    (``prctl(PR_SET_PDEATHSIG)``, which fires when the thread that forked us ends: it waits
    for us), else a daemon thread polling the parent's pid. Called first thing in a child."""
    armed = False
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)
    if not armed:
        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(1.0)
            os._exit(1)

        threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def _partition(params: Mapping[str, Any]) -> str:
    return _task_environment(params).get("XVAFLOW_PARTITION", "?")


def log_model(summary: Mapping[str, Any], log: Callable[[str], None]) -> None:
    """Log calibrations and a correlation repair (see :meth:`CrossAssetModel.summary`)."""
    for c, hw in summary["hull_white"].items():
        if hw["source"] == "calibrated":
            log(f"  Hull-White {c} calibrated to {hw['instruments']} swaption vols: "
                f"a={hw['mean_reversion']:.4f} sigma={hw['volatility']:.5f}, fit error RMS "
                f"{hw['fit_rms_bp']:.2f}bp, worst {hw['fit_max_bp']:.2f}bp")
    if summary["correlation_repaired"]:
        log("  correlation matrix of market.json is not positive definite: repaired to the "
            f"nearest valid one (largest change {summary['correlation_max_change']:.4f})")
