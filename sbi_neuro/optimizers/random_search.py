"""Random search: the baseline every method must beat."""

from __future__ import annotations

import numpy as np

from sbi_neuro.optimizers.base import Optimizer


class RandomSearch(Optimizer):
    """Random search: batches of ``population_size`` points uniform in [0, 1]^d.

    Uniform on the unit cube is uniform on the prior box in the prior's
    inference space (log-uniform for log-scaled parameters). Package: numpy
    (``default_rng(seed)``). Defaults: population 100 (Neuroptimus' baseline).
    """

    name = "random"

    def __init__(self, dim: int, seed: int, population_size: int = 100) -> None:
        super().__init__(dim, seed, population_size)
        self._rng = np.random.default_rng(self.seed)

    def _propose(self) -> np.ndarray:
        return self._rng.random((self.population_size, self.dim))

    def _receive(self, u: np.ndarray, errors: np.ndarray, components: np.ndarray) -> None:
        pass
