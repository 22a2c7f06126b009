"""xvaflow: XVA pipeline for derivatives dealers.

The notebook API (:mod:`xvaflow.api`), imported on first use so that ``import xvaflow`` and
the command line stay fast: ``load_portfolio``, ``run``, ``read_results``, ``Results``.
"""

from typing import Any

__version__ = "0.1.0"
__all__ = ["Results", "__version__", "load_portfolio", "read_results", "run"]


def __getattr__(name: str) -> Any:
    if name in ("load_portfolio", "run", "read_results", "Results"):
        from xvaflow import api

        return getattr(api, name)
    raise AttributeError(f"module 'xvaflow' has no attribute {name!r}")
