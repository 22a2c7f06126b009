"""Run the workflow on a deployed stack: ``xvaflow submit`` and ``xvaflow status``.

The stack (infra/, ``cdk deploy``) publishes two CloudFormation outputs, ``BucketName`` and
``StateMachineArn``; everything else follows from them and the run id:

- inputs are uploaded to ``s3://<bucket>/inputs/<run_id>/`` (the files of the portfolio
  directory, after the same local checks as ``xvaflow run``, so a bad portfolio never starts an
  execution);
- the execution is named after the run id (Step Functions refuses a second execution of the
  same name, so a run id is used once per state machine), with input
  ``{"run_id", "input_prefix", "settings", "max_concurrency"}``;
- the outputs are ``runs/<run_id>/output/{results.json, exposure.csv, diagnostics.json}``
  (and ``stress.csv`` when the run computed stress scenarios),
  downloaded only when the execution succeeded, and published together into ``--out``.

The boto3 clients are passed in (the command line makes them with :func:`aws_clients` from the
usual AWS configuration: profile, region, credentials), which is also how the tests point them
at moto. A missing region or credentials, an unknown profile, an expired token or an unreachable
endpoint is one line saying what to set (:class:`AwsConfigError`, exit status 2), never a
botocore traceback: :func:`aws_clients` checks region and credentials before any call, and
:func:`aws_errors` translates what botocore raises later.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from xvaflow.core.errors import PipelineError, XvaflowError
from xvaflow.pipeline.publish import (
    OUTPUT_FILES,
    output_lock,
    publish_outputs,
    run_output_files,
)
from xvaflow.pipeline.stages import PORTFOLIO_FILES, run_prefix
from xvaflow.pipeline.store import MissingObjectError, S3Store

FINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
MAP_FAILED = "States.ExceedToleratedFailureThreshold"  # a Distributed Map's failed iteration

SET_REGION = ("set AWS_DEFAULT_REGION or AWS_REGION (or region in the profile of AWS_PROFILE), "
              "or pass --region")
SET_CREDENTIALS = ("set AWS_PROFILE to a configured profile (`aws configure` or `aws sso "
                   "login`), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
#: ClientError codes that mean the credentials, not the request, are wrong.
BAD_CREDENTIAL_CODES = frozenset({
    "ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId",
    "UnrecognizedClientException", "SignatureDoesNotMatch", "InvalidSignatureException",
    "InvalidAccessKeyId", "RequestExpired"})


class AwsConfigError(XvaflowError):
    """The AWS configuration is missing or unusable (region, credentials, profile, endpoint):
    the user's to fix, so exit status 2 with this one line."""


def aws_clients(region: str | None = None) -> tuple[Any, Any, Any]:
    """CloudFormation, Step Functions and S3 clients of the usual AWS configuration (``region``
    overrides its region; ``AWS_REGION``, which botocore ignores, is used when nothing else
    names one).

    Raises:
        AwsConfigError: boto3 missing, no region, no credentials, or an unknown profile.
    """
    try:
        import boto3
    except ImportError:
        raise AwsConfigError("submit and status need boto3: pip install 'xvaflow[aws]'") from None
    with aws_errors():
        session = boto3.session.Session(region_name=region)
        if not session.region_name and os.environ.get("AWS_REGION"):
            session = boto3.session.Session(region_name=os.environ["AWS_REGION"])
        if not session.region_name:
            raise AwsConfigError(f"no AWS region is configured: {SET_REGION}")
        if session.get_credentials() is None:
            raise AwsConfigError(f"no AWS credentials were found: {SET_CREDENTIALS}")
        return (session.client("cloudformation"), session.client("stepfunctions"),
                session.client("s3"))


@contextmanager
def aws_errors() -> Iterator[None]:
    """Turn botocore's configuration, credential and connection errors raised in the block
    into one :class:`AwsConfigError` line (other errors pass unchanged)."""
    try:
        from botocore import exceptions as bx
    except ImportError:  # no boto3: nothing of it can be raised
        yield
        return
    try:
        yield
    except bx.NoRegionError:
        raise AwsConfigError(f"no AWS region is configured: {SET_REGION}") from None
    except bx.ProfileNotFound as exc:
        raise AwsConfigError(f"AWS profile {exc.kwargs.get('profile')!r} is not configured: "
                             f"{SET_CREDENTIALS}") from None
    except (bx.NoCredentialsError, bx.PartialCredentialsError, bx.CredentialRetrievalError,
            bx.TokenRetrievalError, bx.SSOError) as exc:
        raise AwsConfigError(f"AWS credentials are missing or expired ({exc}): "
                             f"{SET_CREDENTIALS}") from None
    except bx.EndpointConnectionError as exc:
        raise AwsConfigError(f"cannot reach {exc.kwargs.get('endpoint_url')}: check the network "
                             f"and the region ({SET_REGION})") from None
    except bx.ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") not in BAD_CREDENTIAL_CODES:
            raise
        raise AwsConfigError(f"AWS refused the credentials ({error.get('Code')}: "
                             f"{error.get('Message')}): {SET_CREDENTIALS}") from None


@dataclass(frozen=True)
class Deployment:
    """A deployed pipeline stack: its bucket and state machine."""

    stack: str
    bucket: str
    state_machine_arn: str

    def execution_arn(self, run_id: str) -> str:
        """``arn:aws:states:<region>:<account>:execution:<state machine name>:<run id>``."""
        return self.state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{run_id}"


@dataclass(frozen=True)
class RunStatus:
    """What Step Functions says about a run, plus partitions finished so far."""

    run_id: str
    status: str
    started: datetime
    stopped: datetime | None
    error: str | None
    cause: str | None
    partitions_done: int
    partitions: int | None
    failed_items: tuple[str, ...] = ()

    def line(self) -> str:
        """One line for the terminal."""
        end = self.stopped or datetime.now(self.started.tzinfo)
        text = (f"run {self.run_id}: {self.status} "
                f"({(end - self.started).total_seconds():.0f}s since {self.started:%H:%M:%S})")
        if self.partitions is not None:
            text += f", partitions {self.partitions_done}/{self.partitions} done"
        if self.error:
            text += f"; {self.error}: {self.cause}"
        for item in self.failed_items:
            text += f"\n  failed: {item}"
        return text


def find_deployment(cloudformation: Any, stack: str) -> Deployment:
    """The bucket and state machine of a deployed stack, from its CloudFormation outputs."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except cloudformation.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in BAD_CREDENTIAL_CODES:
            raise  # aws_errors says what to set
        raise PipelineError(f"stack {stack!r}: {exc.response['Error']['Message']} "
                            "(deploy it with `npx cdk deploy`, see README)") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    missing = [k for k in ("BucketName", "StateMachineArn") if k not in outputs]
    if missing:
        raise PipelineError(f"stack {stack!r} has no output {', '.join(missing)}: is it an "
                            "xvaflow pipeline stack, and has its deployment finished?")
    return Deployment(stack, outputs["BucketName"], outputs["StateMachineArn"])


def upload_inputs(s3: Any, deployment: Deployment, portfolio: str | Path, run_id: str) -> str:
    """Upload the portfolio's files to ``inputs/<run_id>/``; return that prefix."""
    run_prefix(run_id)  # validates the id before anything is written
    store = S3Store(deployment.bucket, s3)
    prefix = f"inputs/{run_id}/"
    for name in PORTFOLIO_FILES:
        path = Path(portfolio) / name
        if path.is_file():
            store.put_bytes(prefix + name, path.read_bytes())
    return prefix


def _used(deployment: Deployment, run_id: str) -> PipelineError:
    return PipelineError(f"run id {run_id!r} was already used on stack {deployment.stack!r}; "
                         "choose another --run-id")


def check_run_id_unused(sfn: Any, deployment: Deployment, run_id: str) -> None:
    """Refuse a run id that already names an execution, before :func:`upload_inputs` would
    overwrite that run's inputs (:func:`start_run` still refuses one used in between)."""
    try:
        sfn.describe_execution(executionArn=deployment.execution_arn(run_id))
    except sfn.exceptions.ExecutionDoesNotExist:
        return
    raise _used(deployment, run_id)


def start_run(sfn: Any, deployment: Deployment, run_id: str, input_prefix: str,
              settings: Mapping[str, Any], max_concurrency: int) -> str:
    """Start the execution named ``run_id``; return its ARN."""
    document = {"run_id": run_id, "input_prefix": input_prefix, "settings": dict(settings),
                "max_concurrency": max_concurrency}
    try:
        response = sfn.start_execution(stateMachineArn=deployment.state_machine_arn,
                                       name=run_id, input=json.dumps(document))
    except sfn.exceptions.ExecutionAlreadyExists:
        raise _used(deployment, run_id) from None
    arn: str = response["executionArn"]
    return arn


def run_status(sfn: Any, s3: Any, deployment: Deployment, run_id: str) -> RunStatus:
    """The execution's status, and how many partitions have written their results."""
    try:
        execution = sfn.describe_execution(executionArn=deployment.execution_arn(run_id))
    except sfn.exceptions.ExecutionDoesNotExist:
        raise PipelineError(f"no run {run_id!r} on stack {deployment.stack!r}") from None
    store = S3Store(deployment.bucket, s3)
    prefix = run_prefix(run_id)
    try:
        partitions: int | None = len(json.loads(store.get_bytes(f"{prefix}manifest.json")))
    except MissingObjectError:
        partitions = None  # not partitioned yet (or partitioning failed)
    done = sum(1 for k in store.list(f"{prefix}results/") if k.endswith(".json"))
    error, cause = execution.get("error"), execution.get("cause")
    failed: tuple[str, ...] = ()
    if execution["status"] == "FAILED" and MAP_FAILED in f"{error} {cause}":
        failed = failed_map_items(sfn, execution["executionArn"])
    return RunStatus(run_id, execution["status"], execution["startDate"],
                     execution.get("stopDate"), error, cause, done, partitions, failed)


def failed_map_items(sfn: Any, execution_arn: str, limit: int = 5) -> tuple[str, ...]:
    """Error and cause of (up to ``limit``) failed child executions of the execution's
    Distributed Map runs.

    When an iteration of a Distributed Map fails, AWS fails the Map with
    ``States.ExceedToleratedFailureThreshold`` and a generic cause; which partition failed, and
    why, is only in the failed child execution (our definition's ``WorkerFailed`` state names the
    partition there). Listing them needs ``states:ListMapRuns``, ``states:ListExecutions`` and
    ``states:DescribeExecution``; without those the reason is said instead.
    """
    found: list[str] = []
    try:
        for run in sfn.list_map_runs(executionArn=execution_arn).get("mapRuns", []):
            listing = sfn.list_executions(mapRunArn=run["mapRunArn"], statusFilter="FAILED",
                                          maxResults=limit)
            for child in listing.get("executions", []):
                detail = sfn.describe_execution(executionArn=child["executionArn"])
                found.append(f"{detail.get('error')}: {detail.get('cause')}")
                if len(found) == limit:
                    return tuple(found)
    except sfn.exceptions.ClientError as exc:
        found.append(f"(could not list the failed partitions: {exc})")
    return tuple(found)


def wait_for_run(sfn: Any, s3: Any, deployment: Deployment, run_id: str,
                 poll_seconds: float = 15.0, log: Callable[[str], None] = print,
                 sleep: Callable[[float], None] = time.sleep) -> RunStatus:
    """Poll until the execution ends, logging each change of status or progress."""
    last = ""
    while True:
        status = run_status(sfn, s3, deployment, run_id)
        progress = f"{status.status} {status.partitions_done}/{status.partitions}"
        if progress != last:
            log(status.line())
            last = progress
        if status.status in FINAL:
            return status
        sleep(poll_seconds)


def download_outputs(s3: Any, deployment: Deployment, run_id: str, out: str | Path
                     ) -> list[Path]:
    """Publish a succeeded run's outputs into ``out`` as one set, holding its lock (see
    :mod:`xvaflow.pipeline.publish`); return their paths."""
    store = S3Store(deployment.bucket, s3)
    prefix = f"{run_prefix(run_id)}output/"
    try:
        results = store.get_bytes(prefix + OUTPUT_FILES[0])
        names = run_output_files(json.loads(results))
        blobs = {name: results if name == OUTPUT_FILES[0] else store.get_bytes(prefix + name)
                 for name in names}
    except MissingObjectError as exc:
        raise PipelineError(f"run {run_id!r} has no complete outputs: {exc}") from None
    with output_lock(Path(out)):
        return publish_outputs(Path(out), run_id, blobs)
