"""Counter-based random numbers: the same seed gives the same paths however the work is split.

Paths are organised in fixed blocks of :data:`BLOCK` paths. The standard normals of block b at
calendar day d (days after as_of: the scenario is keyed by date, not by grid step, see
:mod:`xvaflow.simulation.scenario`) come from a Philox-4x64 generator (J. Salmon et al.,
"Parallel random numbers: as easy as 1, 2, 3", SC11) keyed by (seed, b) with its counter
starting at (0, d, 0, 0): the second counter word separates the days by 2^64 draws, so no two
days' streams overlap. Any worker can produce any block on any day without generating the
others: results do not depend on the number of partitions, workers or path chunks, nor on
which other days are simulated. Antithetic variates pair paths 2k and 2k + 1 (same draws,
opposite sign), so a standard error averages each pair first.

The normals are generated with numpy on the host for every backend, so a cupy run simulates
the same paths as a numpy run.
"""

from __future__ import annotations

import numpy as np

from xvaflow.core.dates import FloatArray

BLOCK = 1024


def block_normals(seed: int, block: int, day: int, dims: int, antithetic: bool = False
                  ) -> FloatArray:
    """Standard normals ``[BLOCK, dims]`` of one block of paths on one day."""
    gen = np.random.Generator(np.random.Philox(key=[seed, block], counter=[0, day, 0, 0]))
    if not antithetic:
        return gen.standard_normal((BLOCK, dims))
    half = gen.standard_normal((BLOCK // 2, dims))
    out = np.empty((BLOCK, dims))
    out[0::2], out[1::2] = half, -half
    return out


def path_normals(seed: int, first_path: int, n_paths: int, day: int, dims: int,
                 antithetic: bool = False) -> FloatArray:
    """Normals ``[n_paths, dims]`` for paths first_path .. first_path + n_paths - 1 on ``day``."""
    out = np.empty((n_paths, dims))
    first_block, last_block = first_path // BLOCK, (first_path + n_paths - 1) // BLOCK
    pos = 0
    for b in range(first_block, last_block + 1):
        lo = max(first_path, b * BLOCK) - b * BLOCK
        hi = min(first_path + n_paths, (b + 1) * BLOCK) - b * BLOCK
        out[pos: pos + hi - lo] = block_normals(seed, b, day, dims, antithetic)[lo:hi]
        pos += hi - lo
    return out
