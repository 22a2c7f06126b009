"""PartitionPortfolio Lambda: validate inputs, calibrate once, write the run spec and the
partition manifest.

Thin: the stage is :func:`xvaflow.pipeline.stages.partition_stage`; the store comes from
``XVAFLOW_BUCKET`` (see :mod:`xvaflow.pipeline.runtime`).
"""

from xvaflow.pipeline.runtime import lambda_handler
from xvaflow.pipeline.stages import partition_stage

handler = lambda_handler("PartitionPortfolio", partition_stage)
