"""The ask/tell interface every optimiser implements, and the bookkeeping most of them share.

Every optimiser proposes parameter sets in [0, 1]^d (the unit cube of the prior's inference
space; ``Prior.from_unit`` maps them to physical units) and is told their weighted errors and
unweighted error components (multi-objective methods use the components). Each instance has its
own seed, and its proposals are a pure function of the seed and of what it was told: no wall
clock, no unseeded or shared random state. That is what lets a run resume by replaying its
optimiser. A method that can stop before the budget is spent (a converged local search) sets
``finished``.

Usage contract: ``ask()`` then ``tell()`` with the same rows; asking again before telling
returns the same batch. A failed simulation (NaN components) counts ``FAILED_ERROR`` on every
objective of a multi-objective method.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from summaries.costs import FAILED_ERROR


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


Evaluate = Callable[[np.ndarray], np.ndarray]  # a batch (k, d) → its errors (k,)


class Optimizer:
    """Shared bookkeeping: the pending batch, argument checks and settings."""

    name = ""
    min_population = 1

    def __init__(self, dim: int, seed: int, population_size: int) -> None:
        if int(dim) < 1:
            raise ValueError(f"{self.name}: dim must be >= 1, got {dim}")
        if int(population_size) < self.min_population:
            raise ValueError(
                f"{self.name}: population_size must be >= {self.min_population}, got {population_size}"
            )
        self.dim = int(dim)
        self.seed = int(seed)
        self.population_size = int(population_size)
        self.finished = False
        self._pending: np.ndarray | None = None

    def ask(self) -> np.ndarray:
        """The next batch ``(k, d)`` in [0, 1]^d; the same batch again until it is told."""
        if self.finished:
            raise RuntimeError(f"{self.name} has finished; there is nothing more to ask")
        if self._pending is None:
            self._pending = np.array(self._propose(), dtype=float).reshape(-1, self.dim)
        return self._pending.copy()

    def tell(self, u: np.ndarray, errors: np.ndarray, components: np.ndarray) -> None:
        """Report the weighted errors ``(k,)`` and components ``(k, c)`` of the last asked batch."""
        if self._pending is None:
            raise RuntimeError(f"{self.name}: tell() without a batch asked")
        u = np.asarray(u, dtype=float)
        if u.shape != self._pending.shape or not np.array_equal(u, self._pending):
            raise ValueError(f"{self.name}: tell() must report the last asked batch, rows in the same order")
        k = len(u)
        errors = np.asarray(errors, dtype=float).reshape(k)
        errors = np.where(np.isfinite(errors), errors, FAILED_ERROR)
        components = np.asarray(components, dtype=float).reshape(k, -1)
        self._pending = None
        self._receive(u, errors, components)

    def settings(self) -> dict[str, object]:
        """Settings to record with a run (JSON-serialisable)."""
        return {"population_size": self.population_size, "seed": self.seed, **self._settings()}

    def _propose(self) -> np.ndarray:
        raise NotImplementedError

    def _receive(self, u: np.ndarray, errors: np.ndarray, components: np.ndarray) -> None:
        raise NotImplementedError

    def _settings(self) -> dict[str, object]:
        return {}


def objectives(components: np.ndarray) -> np.ndarray:
    """Components as minimisation objectives: rows with a non-finite entry (failed) get FAILED_ERROR."""
    components = np.asarray(components, dtype=float)
    if components.ndim != 2 or components.shape[1] == 0:
        raise ValueError(f"multi-objective methods need error components (k, c >= 1), got {components.shape}")
    out = components.copy()
    out[~np.isfinite(components).all(axis=1)] = FAILED_ERROR
    return out
