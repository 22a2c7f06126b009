"""ECS worker: run the XVA engine on one partition (the CalculatePartitionedXVA task).

The state machine passes XVAFLOW_BUCKET, XVAFLOW_RUN_ID and XVAFLOW_PARTITION as container
environment overrides; exit code 0 means runs/<run_id>/results/part-<k>.json was written.
"""

import sys

from xvaflow.pipeline.runtime import worker_main

if __name__ == "__main__":
    sys.exit(worker_main())
