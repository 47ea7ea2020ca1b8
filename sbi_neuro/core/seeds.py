"""Seeds: every random choice of a run derives from its master seed, through the offsets below.

Batch ``i`` of a run simulates with ``batch_seed(seed, i)``. The analyses of a finished run draw
from ``seed + OFFSET``, one offset per analysis, far apart from each other and from batch indices,
so that no two streams coincide and re-running an analysis gives the same result.
"""

from __future__ import annotations

import numpy as np

# Seeds reach numpy's RandomState (CMA-ES), which takes 32 bits, with offsets up to 10^6 for analyses.
MAX_SEED = 2**31 - 1

PRIOR_DRAWS_OFFSET = 500_000  # prior samples stored beside the posterior (ArviZ export)
PREDICTIVE_OFFSET = 600_000  # posterior predictive check
PATH_OFFSET = 700_000  # connecting paths
CALIBRATION_OFFSET = 800_000  # held-out simulations and posterior draws of the calibration
TRUNCATION_OFFSET = 900_000  # TSNPE's draws from the truncated prior, one stream per round


def batch_seed(run_seed: int, index: int) -> int:
    """The seed of batch ``index`` of a run: independent streams, reproducible."""
    return int(np.random.SeedSequence([run_seed, index]).generate_state(1)[0])
