"""Initial margin: ISDA SIMM from CRIF sensitivities (:mod:`~xvaflow.margin.simm`) and the
CRIF format itself (:mod:`~xvaflow.margin.crif`)."""

from xvaflow.margin.crif import Crif, CrifRecord, crif_csv, load_crif, read_crif
from xvaflow.margin.simm import (
    SimmLayout,
    SimmParameters,
    SimmResult,
    compile_layout,
    crif_sensitivities,
    load_parameters,
    parameters_from_file,
    simm,
    simm_margin,
)

__all__ = [
    "Crif",
    "CrifRecord",
    "SimmLayout",
    "SimmParameters",
    "SimmResult",
    "compile_layout",
    "crif_csv",
    "crif_sensitivities",
    "load_crif",
    "load_parameters",
    "parameters_from_file",
    "read_crif",
    "simm",
    "simm_margin",
]
