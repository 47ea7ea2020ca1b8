"""CMA-ES from the ``cmaes`` package (Hansen's algorithm with box bounds), started at random or at a
posterior's MAP with its covariance."""

from __future__ import annotations

import numpy as np


class CMAES:
    """CMA-ES from the ``cmaes`` package (Hansen's algorithm with box bounds).

    Defaults follow the Neuroptimus protocol: population 100. The start point is
    drawn uniformly in the box from the seed; the initial step size is 0.3
    (a third of the box).
    """

    name = "cmaes"
    finished = False

    def __init__(self, dim: int, seed: int, population_size: int = 100, sigma0: float = 0.3) -> None:
        from cmaes import CMA

        if population_size < 2:
            raise ValueError(f"CMA-ES population_size must be >= 2, got {population_size}")
        if not 0 < sigma0 <= 1:
            raise ValueError(f"CMA-ES sigma0 must be in (0, 1], got {sigma0}")
        rng = np.random.default_rng(seed)
        self.population_size = population_size
        self._sigma0 = sigma0
        self._seed = seed
        self._mean0 = rng.uniform(0.1, 0.9, size=dim)
        self._cma = CMA(
            mean=self._mean0.copy(),
            sigma=sigma0,
            bounds=np.tile([0.0, 1.0], (dim, 1)),
            population_size=population_size,
            seed=seed,
        )

    def ask(self) -> np.ndarray:
        return np.array([self._cma.ask() for _ in range(self.population_size)])

    def tell(self, u: np.ndarray, errors: np.ndarray, components: np.ndarray) -> None:
        self._cma.tell([(ui, float(ei)) for ui, ei in zip(u, errors, strict=True)])

    def settings(self) -> dict[str, object]:
        return {
            "population_size": self.population_size,
            "sigma0": self._sigma0,
            "mean0": self._mean0.tolist(),
            "seed": self._seed,
        }


class SeededCMAES(CMAES):
    """CMA-ES (``cmaes`` package) started at ``mean`` with the covariance of ``samples`` (unit cube)."""

    def __init__(self, mean: np.ndarray, samples: np.ndarray, seed: int, population_size: int) -> None:
        from cmaes import CMA

        dim = mean.size
        cov = np.atleast_2d(np.cov(samples, rowvar=False)) + 1e-10 * np.eye(dim)
        sigma = float(np.sqrt(np.trace(cov) / dim))
        self.population_size = population_size
        self._seed = seed
        self._sigma0 = sigma
        self._mean0 = np.clip(mean, 1e-6, 1 - 1e-6)
        self._cma = CMA(
            mean=self._mean0.copy(),
            sigma=sigma,
            cov=cov / sigma**2,
            bounds=np.tile([0.0, 1.0], (dim, 1)),
            population_size=population_size,
            seed=seed,
        )
