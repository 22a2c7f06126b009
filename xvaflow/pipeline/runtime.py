"""What the Lambda handlers and the ECS worker share: the store, logs and error mapping.

The store comes from ``XVAFLOW_BUCKET``: an S3 bucket name in AWS, or ``file:///path`` for a
local directory, so the same handlers and worker run unchanged in the local runner. The boto3
client is created once per process (module level, reused across Lambda invocations).

Logs are one JSON object per line (stage, run id, request id, duration, outcome), which
CloudWatch Logs Insights queries directly. A stage that fails raises :class:`StageFailed`,
whose class name becomes the Lambda error type (``StageFailed``) and whose message the Step
Functions cause: one line per input problem, or the pipeline error.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from xvaflow.core.errors import InputError, XvaflowError
from xvaflow.pipeline.progress import sink as progress_sink
from xvaflow.pipeline.store import LocalStore, ObjectStore, S3Store

BUCKET_ENV = "XVAFLOW_BUCKET"
_STORES: dict[str, ObjectStore] = {}


class StageFailed(Exception):
    """A stage could not complete; the message says why (Step Functions shows it as cause)."""


def store_for(bucket: str) -> ObjectStore:
    """The store of a bucket name or ``file://`` URL (created once per process)."""
    if bucket not in _STORES:
        if bucket.startswith("file://"):
            _STORES[bucket] = LocalStore(bucket[len("file://"):])
        else:
            import boto3  # the [aws] extra; not needed for local stores

            _STORES[bucket] = S3Store(bucket, boto3.client("s3"))
    return _STORES[bucket]


def store_from_env(env: Mapping[str, str] = os.environ) -> ObjectStore:
    bucket = env.get(BUCKET_ENV)
    if not bucket:
        raise StageFailed(f"{BUCKET_ENV} is not set: the stage does not know its bucket")
    return store_for(bucket)


LOG = logging.getLogger("xvaflow.pipeline")


def log_json(**fields: Any) -> None:
    """One JSON log line (INFO on the ``xvaflow.pipeline`` logger; Lambda and the worker send
    it to CloudWatch, the local command line keeps it quiet)."""
    LOG.info(json.dumps({"time": round(time.time(), 3), **fields}, default=str))


def require(event: Mapping[str, Any], key: str, kind: type) -> Any:
    """``event[key]`` of the given type, or :class:`StageFailed` saying what is wrong."""
    if key not in event:
        raise StageFailed(f"the event has no {key!r}: {json.dumps(event)[:200]}")
    if not isinstance(event[key], kind):
        raise StageFailed(f"event {key!r} must be {kind.__name__}, got {event[key]!r}")
    return event[key]


def run_stage(stage: str, fn: Callable[[], dict[str, Any]], run_id: str,
              request_id: str | None = None) -> dict[str, Any]:
    """Run a stage, logging start and outcome; map errors to :class:`StageFailed`."""
    started = time.perf_counter()
    log_json(stage=stage, run_id=run_id, request_id=request_id, event="start")
    try:
        result = fn()
    except InputError as exc:
        log_json(stage=stage, run_id=run_id, request_id=request_id, event="failed",
                 problems=exc.lines())
        raise StageFailed("bad input: " + "; ".join(exc.lines())) from None
    except (XvaflowError, StageFailed) as exc:
        log_json(stage=stage, run_id=run_id, request_id=request_id, event="failed",
                 error=str(exc))
        raise StageFailed(str(exc)) from None
    log_json(stage=stage, run_id=run_id, request_id=request_id, event="done",
             seconds=round(time.perf_counter() - started, 3), result=result)
    return result


def lambda_handler(stage: str, fn: Callable[[ObjectStore, dict[str, Any]], dict[str, Any]],
                   store: ObjectStore | None = None
                   ) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """A Lambda handler running ``fn(store, event)`` (see :func:`run_stage`); the store is the
    one given, else ``XVAFLOW_BUCKET``'s."""

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        run_id = require(event, "run_id", str)
        request_id = getattr(context, "aws_request_id", None)
        return run_stage(stage, lambda: fn(store or store_from_env(), event), run_id, request_id)

    handler.__doc__ = f"Lambda handler of {stage}."
    return handler


def worker_main(env: Mapping[str, str] = os.environ) -> int:
    """ECS worker entry point: one partition from ``XVAFLOW_RUN_ID``/``XVAFLOW_PARTITION``.

    Returns the process exit code: 0 when the partition's result is written, 1 otherwise.
    """
    from xvaflow.pipeline.stages import worker_stage

    if not logging.getLogger().handlers and env.get("XVAFLOW_QUIET") != "1":
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    run_id = env.get("XVAFLOW_RUN_ID", "")
    try:
        partition = int(env.get("XVAFLOW_PARTITION", ""))
        progress = _progress(run_id, partition)
        run_stage("CalculatePartitionedXVA",
                  lambda: worker_stage(store_from_env(env), run_id, partition, progress), run_id)
    except (StageFailed, ValueError) as exc:
        print(f"worker failed: {exc}", file=sys.stderr)
        return 1
    return 0


def _progress(run_id: str, partition: int) -> Callable[[int, int], None]:
    """Report a partition's steps: to the parent process of a local run through its pipe
    (:mod:`xvaflow.pipeline.progress`), at every whole percent; else (deployed) a JSON log
    line at every 10% (CloudWatch)."""
    shown = -1
    conn = progress_sink()

    def report(done: int, total: int) -> None:
        nonlocal shown
        if conn is not None:
            percent = 100 * done // max(total, 1)
            if percent > shown:
                shown = percent
                conn.send((done, total))
            return
        tenth = 10 * done // max(total, 1)
        if tenth > max(shown, 0):
            shown = tenth
            log_json(stage="CalculatePartitionedXVA", run_id=run_id, partition=partition,
                     event="progress", percent=10 * tenth)

    return report
