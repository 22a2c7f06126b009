"""Object stores for pipeline data: a local directory or an S3 bucket, one interface.

Keys are ``/``-separated paths (``runs/<run_id>/results/part-0.json``). Writes are atomic on the
local store (temporary file and rename) and single PUTs on S3, so a reader never sees half an
object; a rerun writes the same keys again (idempotent overwrite). Arrays travel as ``.npz``
files read with ``allow_pickle=False``: nothing is ever unpickled.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol

import numpy as np


def _umask() -> int:
    """The process's umask, read without changing it where the system says it (Linux), so that
    threads writing at the same time never see a temporary umask."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: read it by setting it (at import, single-threaded)
    os.umask(mask)
    return mask


_UMASK = _umask()


class ObjectStore(Protocol):
    """What the pipeline stages need from a store."""

    def get_bytes(self, key: str) -> bytes: ...

    def put_bytes(self, key: str, data: bytes) -> None: ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str) -> list[str]: ...


class MissingObjectError(KeyError):
    """A key is not in the store (message names it)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "missing object"


class LocalStore:
    """A directory acting as a bucket: key ``a/b.json`` is the file ``root/a/b.json``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if key.startswith("/") or ".." in key.split("/"):
            raise ValueError(f"invalid key {key!r}")
        return self.root / key

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise MissingObjectError(f"no object {key!r} in {self.root}") from None

    def put_bytes(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; a stored object is a file
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> list[str]:
        base = self._path(prefix.rstrip("/")) if prefix else self.root
        if base.is_file():
            return [prefix]
        if not base.is_dir():
            return []
        return sorted(str(p.relative_to(self.root)) for p in base.rglob("*")
                      if p.is_file() and not p.name.startswith("."))


class S3Store:
    """An S3 bucket through a boto3 client (created once by the caller and reused)."""

    def __init__(self, bucket: str, client: Any) -> None:
        self.bucket = bucket
        self.client = client

    def get_bytes(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except self.client.exceptions.NoSuchKey:
            raise MissingObjectError(f"no object {key!r} in s3://{self.bucket}") from None
        except self.client.exceptions.ClientError as exc:
            # Without s3:ListBucket on the prefix (least privilege), S3 answers a missing key
            # with 403 AccessDenied, not 404: the stages read only keys their role may read,
            # so a 403 there means the object is not there.
            if exc.response.get("Error", {}).get("Code") not in ("AccessDenied", "403"):
                raise
            raise MissingObjectError(f"no object {key!r} in s3://{self.bucket} (or no "
                                     "permission to read it)") from None
        data: bytes = response["Body"].read()
        return data

    def put_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    def exists(self, key: str) -> bool:
        response = self.client.list_objects_v2(Bucket=self.bucket, Prefix=key, MaxKeys=1)
        return any(o["Key"] == key for o in response.get("Contents", []))

    def list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            keys.extend(o["Key"] for o in page.get("Contents", []))
        return sorted(keys)


def get_json(store: ObjectStore, key: str) -> Any:
    return json.loads(store.get_bytes(key))


def put_json(store: ObjectStore, key: str, document: Any) -> None:
    store.put_bytes(key, (json.dumps(document, indent=1, allow_nan=False) + "\n").encode())


def put_arrays(store: ObjectStore, key: str, arrays: dict[str, np.ndarray]) -> None:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]  # (numpy stub: **kwds)
    store.put_bytes(key, buf.getvalue())


def get_arrays(store: ObjectStore, key: str) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(store.get_bytes(key)), allow_pickle=False) as data:
        return {name: data[name] for name in data.files}
