"""Bounds of input values, each with its reason (docs/conventions.md, "Input limits").

A value outside its bound is refused with one line naming file, row and field. The bounds keep
typos (a rate in percent, a date in year 9999, a spot of 1e-300) from being computed, and every
number the engine multiplies far from float64's overflow.
"""

from __future__ import annotations

import datetime as _dt

MAX_JSON_DEPTH = 64
"""Deepest nesting of a JSON input (market.json is at most 5 levels deep: swaption_vols.USD.
normal_bp.1Y.5Y)."""
AS_OF_RANGE = (_dt.date(1970, 1, 1), _dt.date(2199, 12, 31))
"""as_of bounds: revaluing history back to 1970 is covered (the OTC swap market starts in 1981);
an earlier or later date is a typo, and 2199 keeps as_of + 100 years (the latest maturity) a
valid date everywhere."""
FX_SPOT_RANGE = (1e-6, 1e6)
"""Quoted FX spots: the most extreme pair of the supported currencies (IDR per USD, about 1.6e4)
has two orders of magnitude of room either side; a 1e-300 spot is a typo and its inverse
overflows."""
EQUITY_SPOT_MAX = 1e9
"""Equity spots and strikes: the highest-priced listed share is below 1e6 per share."""
EQUITY_SPOT_MIN = 1e-6
"""Lowest equity spot: below any quoted price (a spot of 1e-300 is a typo)."""
HW_MEAN_REVERSION_MIN = -0.05
"""Lowest Hull-White mean reversion: the calibration's own lower bound (xvaflow/models/
calibration.py), so that calibrated parameters written back for the workers load again."""
HW_VOLATILITY_MIN = 1e-6
"""Lowest Hull-White volatility (0.01bp a year): near-deterministic rates (1e-6, as the
validation suite sets them to compare with deterministic-rate closed forms) stay accepted; a
vol of 1e-300 passes "positive" but makes the swaption closed forms divide by zero."""
VOL_MIN = 0.001
"""Lowest FX or equity lognormal vol (0.1%): pegged currencies (HKD, SAR, AED) trade at
0.5-1%; below, Black's formula at the money is 0/0."""
SWAPTION_VOL_MIN_BP = 0.1
"""Lowest normal swaption vol (0.1bp): the lowest ever quoted (JPY) were around 10bp."""
AMOUNT_MAX = 1e15
"""Largest notional or amount (trade or CSA currency): 1,000 trillion, above any real trade in
any supported currency (the largest, in JPY or KRW, are around 1e13) and far enough from
float64's range that sums over trades, paths and dates stay finite."""
QUANTITY_MAX = 1e12
"""Largest equity quantity (units of the underlying)."""
FIXING_RANGE = (-0.10, 0.50)
"""A realised index fixing (last_fixing): the supported overnight and term indices have fixed
between -1% and 20% since 1980; -10% .. 50% leaves room for any real one and refuses typos
such as -0.5 (a -50% rate) or a rate in percent (3.5 for 3.5%)."""
HORIZON_YEARS = 100
"""Trade dates lie within as_of +- 100 years: the longest traded swaps run 50-60 years (curves
extrapolate flat beyond their last pillar), and a schedule from year 1 or to year 9999 is a
typo that would generate tens of thousands of periods."""
MPOR_MAX_DAYS = 365
"""Margin period of risk: 10-20 business days in regulation; a year is far beyond any real one."""
SEED_MAX = 2**64 - 1
"""Seeds key 64-bit Philox counters: 0 .. 2**64 - 1."""
PATHS_MAX = 10_000_000
"""Monte Carlo paths: 1e7 paths already give standard errors about 30 times below the default
10,000's; the run's memory is checked as well (xvaflow.pipeline.stages.memory_estimate)."""
PARTITIONS_MAX = 10_000
"""Partitions: each is one ECS task of the Map state (Step Functions runs at most 10,000 child
executions of a distributed Map at once); more than netting sets leaves the rest empty."""
PATH_CHUNK_MIN = 256
"""Smallest path chunk (unless it covers every path): each chunk runs the whole grid in Python
with per-step overheads of about a millisecond, so a chunk of 1 path turns a run of seconds
into hours; 256 paths keep that overhead well below the vectorised work."""
GRID_DATES_MAX = 20_000
"""Exposure dates of a grid: a daily grid for 50 years; every date costs a pass over the paths,
and the memory check (paths x dates) applies as well."""
