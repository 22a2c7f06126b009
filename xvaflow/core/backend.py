"""Array backend: numpy by default, cupy when asked for and present.

Numeric kernels take their namespace from their inputs (``array_namespace``) or from
:func:`get_namespace`, and never import cupy themselves; arrays are converted to numpy only at
I/O boundaries with :func:`to_numpy`. This mirrors scipy's ``array_namespace`` convention.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import numpy as np

from xvaflow.core.errors import XvaflowError

BACKENDS = ("numpy", "cupy")


class BackendUnavailableError(XvaflowError):
    """The requested backend cannot be used on this machine."""


def get_namespace(name: str = "numpy") -> ModuleType:
    """Return the array namespace ``xp`` for a backend name.

    Args:
        name: ``"numpy"`` or ``"cupy"``.

    Raises:
        BackendUnavailableError: cupy was asked for but is not installed or finds no GPU.
    """
    if name == "numpy":
        return np
    if name == "cupy":
        try:
            cp = importlib.import_module("cupy")
            cp.cuda.runtime.getDeviceCount()
        except Exception as exc:  # ImportError, CUDARuntimeError, ...
            raise BackendUnavailableError(
                f"backend 'cupy' is not usable here ({exc}); install xvaflow[gpu] on a machine "
                "with an NVIDIA GPU, or use --backend numpy"
            ) from exc
        return cp
    raise BackendUnavailableError(f"unknown backend {name!r}; expected one of {BACKENDS}")


def array_namespace(*arrays: Any) -> ModuleType:
    """Namespace of the given arrays: cupy if any of them is a cupy array, else numpy."""
    for a in arrays:
        module = type(a).__module__
        if module.startswith("cupy"):
            return importlib.import_module("cupy")
    return np


def to_numpy(a: Any) -> np.ndarray[Any, Any]:
    """Convert an array of any backend to numpy (a no-op for numpy arrays)."""
    if type(a).__module__.startswith("cupy"):
        return a.get()  # type: ignore[no-any-return]
    return np.asarray(a)


def special(xp: ModuleType) -> ModuleType:
    """``scipy.special`` for numpy, ``cupyx.scipy.special`` for cupy (ndtr, ...)."""
    if xp is np:
        return importlib.import_module("scipy.special")
    return importlib.import_module("cupyx.scipy.special")
