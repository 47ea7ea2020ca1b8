"""PSO, DE and NSGA-II from pymoo (maintained, ask/tell built in, a random generator per algorithm)."""

from __future__ import annotations

from typing import Any

import numpy as np

from sbi_neuro.optimizers.base import Optimizer, objectives


class _Pymoo(Optimizer):
    """A pymoo algorithm driven through pymoo's own ask/tell (``setup``/``ask``/``tell(infills=)``)."""

    multi_objective = False

    def __init__(self, dim: int, seed: int, population_size: int, algorithm: Any) -> None:
        from pymoo.core.problem import Problem
        from pymoo.core.termination import NoTermination

        super().__init__(dim, seed, population_size)
        # n_obj is only known from the first tell (the number of components); it is set then.
        self._problem = Problem(n_var=self.dim, n_obj=1, xl=np.zeros(self.dim), xu=np.ones(self.dim))
        self._algorithm = algorithm
        self._algorithm.setup(self._problem, seed=self.seed, termination=NoTermination(), verbose=False)
        self._infills: Any = None
        self._told = False

    def _propose(self) -> np.ndarray:
        self._infills = self._algorithm.ask()
        x = np.clip(np.asarray(self._infills.get("X"), dtype=float), 0.0, 1.0)  # guard round-off
        self._infills.set("X", x)
        return x

    def _receive(self, u: np.ndarray, errors: np.ndarray, components: np.ndarray) -> None:
        from pymoo.core.evaluator import Evaluator
        from pymoo.problems.static import StaticProblem

        f = objectives(components) if self.multi_objective else errors[:, None]
        if not self._told:
            self._problem.n_obj = f.shape[1]
            self._told = True
        elif f.shape[1] != self._problem.n_obj:
            raise ValueError(f"{self.name}: {f.shape[1]} objectives told, {self._problem.n_obj} before")
        Evaluator().eval(StaticProblem(self._problem, F=f), self._infills)
        self._algorithm.tell(infills=self._infills)
        self._infills = None


class PSO(_Pymoo):
    """Particle swarm optimisation, pymoo's ``PSO``; objective: the weighted error.

    Package: pymoo (maintained, ask/tell built in, seeded per instance).
    Defaults (pymoo's, except the population): population 100 (Neuroptimus
    protocol; pymoo's default is 25), inertia w 0.9, cognitive c1 2.0, social
    c2 2.0, adaptive w/c1/c2 on, random initial velocities, maximum velocity
    0.2 of the box per step, perturbation of the global best on, Latin
    hypercube initial swarm.
    """

    name = "pso"
    min_population = 2

    def __init__(
        self,
        dim: int,
        seed: int,
        population_size: int = 100,
        *,
        w: float = 0.9,
        c1: float = 2.0,
        c2: float = 2.0,
        adaptive: bool = True,
        max_velocity_rate: float = 0.2,
        pertube_best: bool = True,
    ) -> None:
        from pymoo.algorithms.soo.nonconvex.pso import PSO as PymooPSO

        self._options: dict[str, object] = {
            "w": float(w),
            "c1": float(c1),
            "c2": float(c2),
            "adaptive": bool(adaptive),
            "max_velocity_rate": float(max_velocity_rate),
            "pertube_best": bool(pertube_best),
        }
        algorithm = PymooPSO(pop_size=int(population_size), **self._options)
        super().__init__(dim, seed, population_size, algorithm)

    def _settings(self) -> dict[str, object]:
        return {"package": "pymoo", **self._options}


class DE(_Pymoo):
    """Differential evolution, pymoo's ``DE``; objective: the weighted error.

    Package: pymoo (maintained, ask/tell built in, seeded per instance).
    Defaults (pymoo's): population 100, variant ``DE/best/1/bin``, F 0.5,
    CR 0.2, no jitter, pymoo's polynomial mutation of offspring with
    probability 0.1 (eta 20). (pagmo's ``de``, behind Neuroptimus' "DE
    (Pygmo)", defaults to F 0.8, CR 0.9; pass them to compare.)
    """

    name = "de"
    min_population = 4  # the base vector and a difference need distinct members

    def __init__(
        self,
        dim: int,
        seed: int,
        population_size: int = 100,
        *,
        variant: str = "DE/best/1/bin",
        F: float = 0.5,  # DE's own names for the weight and crossover rate
        CR: float = 0.2,
        prob_mut: float = 0.1,
    ) -> None:
        from pymoo.algorithms.soo.nonconvex.de import DE as PymooDE

        self._options: dict[str, object] = {
            "variant": str(variant),
            "F": float(F),
            "CR": float(CR),
            "prob_mut": float(prob_mut),
        }
        algorithm = PymooDE(pop_size=int(population_size), **self._options)
        super().__init__(dim, seed, population_size, algorithm)

    def _settings(self) -> dict[str, object]:
        return {"package": "pymoo", **self._options}


class NSGA2(_Pymoo):
    """NSGA-II, pymoo's ``NSGA2``; objectives: the (unweighted) error components.

    A failed simulation counts ``FAILED_ERROR`` on every objective. The final
    answer of a run is the evaluation with the lowest weighted error, as in
    Neuroptimus; ``run_optimizer`` already picks it, from all evaluations.
    Non-dominated sorting and crowding distance are invariant to scaling an
    objective, so weighting the components would not change the search.

    Package: pymoo (maintained, ask/tell built in, seeded per instance).
    Defaults (pymoo's): population 100, random initial population, binary
    tournament on rank and crowding, SBX crossover (eta 15, probability 0.9),
    polynomial mutation (eta 20), duplicate elimination (a generation can then
    hold slightly fewer than 100 new points).
    """

    name = "nsga2"
    min_population = 2
    multi_objective = True

    def __init__(
        self,
        dim: int,
        seed: int,
        population_size: int = 100,
        *,
        crossover_eta: float = 15.0,
        crossover_prob: float = 0.9,
        mutation_eta: float = 20.0,
    ) -> None:
        from pymoo.algorithms.moo.nsga2 import NSGA2 as PymooNSGA2
        from pymoo.operators.crossover.sbx import SBX
        from pymoo.operators.mutation.pm import PM

        self._options: dict[str, object] = {
            "crossover_eta": float(crossover_eta),
            "crossover_prob": float(crossover_prob),
            "mutation_eta": float(mutation_eta),
        }
        algorithm = PymooNSGA2(
            pop_size=int(population_size),
            crossover=SBX(eta=float(crossover_eta), prob=float(crossover_prob)),
            mutation=PM(eta=float(mutation_eta)),
        )
        super().__init__(dim, seed, population_size, algorithm)

    def _settings(self) -> dict[str, object]:
        return {"package": "pymoo", **self._options}


# DEAP's operators and BluePyOpt's selector draw from Python's global ``random``.
# Each IBEA instance keeps its own generator state and swaps it in for the
# duration of a call (under this lock), restoring the caller's state after.
