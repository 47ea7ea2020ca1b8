"""Metaheuristic optimisers behind one ask/tell interface, on the unit cube of the prior.

Every optimiser proposes parameter sets in [0, 1]^d (the unit cube of the
prior's inference space; ``Prior.from_unit`` maps them to physical units) and
is told their weighted errors and unweighted error components (multi-objective
methods use the components). Each instance has its own seed. A method that can
stop before the budget is spent (a converged local search) sets ``finished``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Protocol

import numpy as np

from sbi_neuro.metaheuristics import DE, IBEA, LBFGSB, NSGA2, PSO, NelderMead, RandomSearch


class AskTell(Protocol):
    """The interface every optimiser implements."""

    name: str
    population_size: int
    finished: bool

    def ask(self) -> np.ndarray:
        """The next batch, shape ``(k, d)`` in [0, 1]^d (k = population_size for population methods)."""
        ...

    def tell(self, u: np.ndarray, errors: np.ndarray, components: np.ndarray) -> None:
        """Report the weighted errors ``(k,)`` and components ``(k, c)`` of the last batch (same rows).

        Components of failed simulations are NaN; their error is ``FAILED_ERROR``.
        """
        ...

    def settings(self) -> dict[str, object]:
        """Settings to record with a run."""
        ...


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


# Method name → class; the baselines of the Neuroptimus comparison are in sbi_neuro.metaheuristics.
OPTIMIZERS: dict[str, Callable[..., AskTell]] = {
    "cmaes": CMAES,
    "random": RandomSearch,
    "pso": PSO,
    "de": DE,
    "nsga2": NSGA2,
    "ibea": IBEA,
    "nelder_mead": NelderMead,
    "lbfgsb": LBFGSB,
}


def make_optimizer(name: str, dim: int, seed: int, population_size: int, **settings: object) -> AskTell:
    """A fresh optimiser; ``settings`` are passed to its constructor (see each class for its defaults)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown method {name!r}; available: {', '.join(sorted(OPTIMIZERS))}")
    cls = OPTIMIZERS[name]
    known = set(inspect.signature(cls).parameters) - {"dim", "seed", "population_size"}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ValueError(f"unknown settings {unknown} for {name}; known: {sorted(known)}")
    return cls(dim=dim, seed=seed, population_size=population_size, **settings)
