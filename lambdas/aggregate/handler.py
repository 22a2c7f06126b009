"""AggregateXVAResults Lambda: check every partition is present once, aggregate, write
results.json and exposure.csv.

Thin: the stage is :func:`xvaflow.pipeline.stages.aggregate_stage`; the store comes from
``XVAFLOW_BUCKET`` (see :mod:`xvaflow.pipeline.runtime`).
"""

from xvaflow.pipeline.runtime import lambda_handler
from xvaflow.pipeline.stages import aggregate_stage

handler = lambda_handler("AggregateXVAResults", aggregate_stage)
