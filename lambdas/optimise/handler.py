"""RunXVAOptimization Lambda: the desks' diagnostic tables from the aggregated results.

Thin: the stage is :func:`xvaflow.pipeline.stages.optimise_stage`; the store comes from
``XVAFLOW_BUCKET`` (see :mod:`xvaflow.pipeline.runtime`).
"""

from xvaflow.pipeline.runtime import lambda_handler
from xvaflow.pipeline.stages import optimise_stage

handler = lambda_handler("RunXVAOptimization", optimise_stage)
