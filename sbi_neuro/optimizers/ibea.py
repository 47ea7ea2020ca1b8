"""IBEA as BluePyOpt and Neuroptimus run it: BluePyOpt's selector with DEAP's bounded operators."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from sbi_neuro.optimizers.base import Optimizer, objectives

_GLOBAL_RANDOM = threading.Lock()


class IBEA(Optimizer):
    """IBEA as BluePyOpt runs it (``DEAPOptimisation``, selector "IBEA"); objectives: the components.

    Mirrors ``bluepyopt.deapext.algorithms.eaAlphaMuPlusLambdaCheckpoint``: an
    initial population uniform in the box; then each generation
    ``offspring = varAnd(parents)``, the offspring are evaluated and
    ``parents = selIBEA(parents + offspring, mu)``. A failed simulation counts
    ``FAILED_ERROR`` on every objective; the final answer of a run is the
    evaluation with the lowest weighted error (``run_optimizer`` picks it).
    IBEA's indicator normalises each objective by its range, so weighting the
    components would not change the search.

    Package: BluePyOpt (``bluepyopt.deapext.tools.selIBEA``) with DEAP 1.4
    operators: the IBEA the field uses, in BluePyOpt and Neuroptimus.
    Defaults (BluePyOpt's, as Neuroptimus calls it with offspring_size =
    population): mu = offspring size = population 100; bounded SBX crossover
    ``cxSimulatedBinaryBounded`` and polynomial mutation ``mutPolynomialBounded``
    on [0, 1], both eta 10; crossover probability 1.0, mutation probability 1.0
    with per-gene probability 0.5 (``varAnd``); ``selIBEA`` with kappa 0.05,
    alpha = the whole population, tournaments of 4. Every offspring is
    evaluated (with the default probabilities every one is modified anyway).
    """

    name = "ibea"
    min_population = 2

    def __init__(
        self,
        dim: int,
        seed: int,
        population_size: int = 100,
        *,
        eta: float = 10.0,
        cxpb: float = 1.0,
        mutpb: float = 1.0,
        indpb: float = 0.5,
        kappa: float = 0.05,
        tournament_n: int = 4,
    ) -> None:
        import deap.base
        import deap.tools
        from bluepyopt.deapext.tools import selIBEA

        super().__init__(dim, seed, population_size)
        for label, p in (("cxpb", cxpb), ("mutpb", mutpb), ("indpb", indpb)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"ibea: {label} must be in [0, 1], got {p}")
        self._options: dict[str, object] = {
            "eta": float(eta),
            "cxpb": float(cxpb),
            "mutpb": float(mutpb),
            "indpb": float(indpb),
            "kappa": float(kappa),
            "tournament_n": int(tournament_n),
        }
        low, up = [0.0] * self.dim, [1.0] * self.dim
        self._toolbox = deap.base.Toolbox()
        self._toolbox.register("mate", deap.tools.cxSimulatedBinaryBounded, eta=float(eta), low=low, up=up)
        self._toolbox.register(
            "mutate", deap.tools.mutPolynomialBounded, eta=float(eta), low=low, up=up, indpb=float(indpb)
        )
        self._toolbox.register("select", selIBEA, kappa=float(kappa), tournament_n=int(tournament_n))
        self._random_state = random.Random(self.seed).getstate()
        self._parents: list[Any] | None = None
        self._offspring: list[Any] = []

    @contextmanager
    def _own_random(self) -> Iterator[None]:
        with _GLOBAL_RANDOM:
            saved = random.getstate()
            random.setstate(self._random_state)
            try:
                yield
            finally:
                self._random_state = random.getstate()
                random.setstate(saved)

    def _propose(self) -> np.ndarray:
        import deap.algorithms
        from bluepyopt.deapext.optimisations import WSListIndividual
        from bluepyopt.deapext.utils import uniform

        with self._own_random():
            if self._parents is None:
                low, up = [0.0] * self.dim, [1.0] * self.dim
                self._offspring = [
                    WSListIndividual(uniform(low, up, self.dim), obj_size=1)
                    for _ in range(self.population_size)
                ]
            else:
                cxpb, mutpb = self._options["cxpb"], self._options["mutpb"]
                self._offspring = deap.algorithms.varAnd(self._parents, self._toolbox, cxpb, mutpb)
        return np.array([list(ind) for ind in self._offspring], dtype=float)

    def _receive(self, u: np.ndarray, errors: np.ndarray, components: np.ndarray) -> None:
        from bluepyopt.deapext.optimisations import WeightedSumFitness

        f = objectives(components)
        for ind, row in zip(self._offspring, f, strict=True):
            ind.fitness = WeightedSumFitness(values=tuple(float(v) for v in row), obj_size=len(row))
        if self._parents is None:
            self._parents = self._offspring[:]
        else:
            with self._own_random():
                self._parents = self._toolbox.select(self._parents + self._offspring, self.population_size)
        self._offspring = []

    def _settings(self) -> dict[str, object]:
        return {"package": "bluepyopt+deap", **self._options}
