"""Reading an input file safely: regular files only, of bounded size, never blocking.

Every file of a portfolio directory (and ``whatif --trades``) is read through :func:`read_input`.
A FIFO would block ``open`` until a writer appears, and ``/dev/zero`` or ``/dev/urandom`` never
end, so anything but a regular file (after following symbolic links) is refused before it is
opened; a file larger than its limit is refused without being read whole (the read stops one
byte past the limit, so a file growing after the check is caught too). The limits, with their
reasons, are in docs/conventions.md "Input limits".
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from xvaflow.core.errors import ProblemLog

MIB = 1 << 20
TABLE_LIMIT = 512 * MIB
"""CSV and Parquet tables. A million trades with every trades.csv column are about 300 MiB of
CSV; the loader holds each row as Python strings (about ten times the text), so a larger file
would need more memory than validating it is worth on the machines we run on."""
JSON_LIMIT = 16 * MIB
"""market.json. The largest real ones (holiday lists, vol grids, term structures) are well under
1 MiB."""
RUN_LIMIT = 1 * MIB
"""run.json: a handful of settings; even an explicit grid listing every day of 100 years is
about 0.5 MiB."""


def input_kind(path: Path) -> str | None:
    """Why ``path`` cannot be an input file (None when it is a regular file)."""
    try:
        mode = os.stat(path).st_mode  # follows links; never opens (a FIFO would block)
    except FileNotFoundError:
        return "is not a file (it does not exist)"
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}"
    if stat.S_ISREG(mode):
        return None
    kind = ("a directory" if stat.S_ISDIR(mode) else "a named pipe (FIFO)" if stat.S_ISFIFO(mode)
            else "a character device" if stat.S_ISCHR(mode) else "a block device"
            if stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
    return f"is {kind}, not a regular file (inputs must be regular files)"


def read_input(path: Path, log: ProblemLog, limit: int, name: str | None = None) -> bytes | None:
    """The bytes of a regular input file of at most ``limit`` bytes, or None after recording
    the problem (naming the file) in ``log``."""
    name = name or path.name
    why = input_kind(path)
    if why is not None:
        log.add(name, None, None, why)
        return None
    try:
        # O_NONBLOCK: if the path was swapped for a FIFO after the check, open does not wait
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                log.add(name, None, None, "is not a regular file (inputs must be regular files)")
                return None
            data = fh.read(limit + 1)
    except OSError as exc:
        log.add(name, None, None, f"cannot be read: {exc.strerror or exc}")
        return None
    if len(data) > limit:
        shown = f"{limit // MIB} MiB" if limit % MIB == 0 else f"{limit}-byte"
        log.add(name, None, None, f"is larger than the {shown} limit for this file "
                "(docs/conventions.md, \"Input limits\")")
        return None
    return data
