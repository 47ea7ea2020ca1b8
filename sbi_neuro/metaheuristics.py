"""The metaheuristic baselines of the Neuroptimus comparison, behind the ask/tell interface.

Every class here implements ``sbi_neuro.optimizers.AskTell`` on the unit cube
[0, 1]^d of the prior's inference space. Proposals are a pure function of the
seed and of what the optimiser was told: no wall clock, no unseeded or shared
random state. That is what lets ``run_optimizer`` resume a run by replaying it.

Packages:

- pymoo (PSO, DE, NSGA-II): maintained, with an ask/tell interface built in and
  a per-algorithm random generator.
- BluePyOpt + DEAP (IBEA): the IBEA neuron modellers use, run by BluePyOpt and
  Neuroptimus; its selector and DEAP's operators are used as BluePyOpt wires them.
- scipy (Nelder–Mead, L-BFGS-B): the reference implementations of the local
  methods, run in a helper thread and driven from ask/tell (see ``_SolverThread``).

Usage contract: ``ask()`` then ``tell()`` with the same rows; asking again before
telling returns the same batch. Multi-objective methods use the error
components as objectives; a failed simulation (NaN components) counts
``FAILED_ERROR`` on every objective.
"""

from __future__ import annotations

import queue
import random
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import numpy as np

from summaries.costs import FAILED_ERROR

Evaluate = Callable[[np.ndarray], np.ndarray]  # a batch (k, d) → its errors (k,)


class _Base:
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


class RandomSearch(_Base):
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


class _Pymoo(_Base):
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
_GLOBAL_RANDOM = threading.Lock()


class IBEA(_Base):
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


class _Stop(Exception):
    """Raised in the solver thread to unwind scipy when its optimiser is closed or collected."""


class _SolverThread:
    """Runs ``solve(evaluate)`` in a daemon thread; ``evaluate`` hands a batch out and waits for its errors.

    Lock-step: after ``start`` or ``answer`` the caller waits until the solver
    has posted its next batch or returned, so what the caller sees never
    depends on thread timing. The thread holds no reference to the optimiser
    that owns this object: when the optimiser is closed or garbage-collected,
    ``close`` makes the blocked ``evaluate`` raise ``_Stop`` and the thread ends.
    """

    def __init__(self, solve: Callable[[Evaluate], Any]) -> None:
        self._solve = solve
        self._events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._answers: queue.Queue[np.ndarray | None] = queue.Queue()
        self._closed = False

    def start(self) -> tuple[str, Any]:
        threading.Thread(target=self._main, name="sbi_neuro-scipy-solver", daemon=True).start()
        return self._next()

    def answer(self, errors: np.ndarray) -> tuple[str, Any]:
        if self._closed:
            raise RuntimeError("the scipy solver was closed")
        self._answers.put(errors)
        return self._next()

    def close(self) -> None:
        """Stop a solver waiting for an answer (idempotent, never blocks)."""
        if not self._closed:
            self._closed = True
            self._answers.put(None)

    def _next(self) -> tuple[str, Any]:
        kind, payload = self._events.get()
        if kind == "error":
            raise RuntimeError(f"scipy solver failed: {payload!r}") from payload
        return kind, payload

    def _evaluate(self, points: np.ndarray) -> np.ndarray:
        self._events.put(("points", np.array(points, dtype=float)))
        errors = self._answers.get()
        if errors is None:
            raise _Stop
        return errors

    def _main(self) -> None:
        try:
            result = self._solve(self._evaluate)
        except _Stop:
            return
        except BaseException as exc:  # handed to the caller, raised there
            self._events.put(("error", exc))
        else:
            self._events.put(("done", result))


class _ScipyLocal(_Base):
    """A ``scipy.optimize.minimize`` run inverted into ask/tell with ``_SolverThread``.

    The start point is uniform in [0.1, 0.9]^d from the seed (as for CMA-ES).
    When scipy returns, ``finished`` becomes True and the rest of the budget is
    not spent: one local run per optimisation. (Neuroptimus' own scipy
    wrappers start ``size_of_population`` independent runs from uniform random
    points, each allowed ``number_of_generations`` evaluations, with
    tolerances 0; that multi-start is not what this class does.)
    """

    def __init__(self, dim: int, seed: int, batch_size: int) -> None:
        super().__init__(dim, seed, batch_size)
        self.x0 = np.random.default_rng(self.seed).uniform(0.1, 0.9, size=self.dim)
        self.message = ""  # scipy's message once finished
        self._solver: _SolverThread | None = None
        self._event: tuple[str, Any] = ("", None)

    def _solve(self) -> Callable[[Evaluate], Any]:
        raise NotImplementedError

    def close(self) -> None:
        """Stop the helper thread (also done automatically when the optimiser is collected)."""
        if self._solver is not None:
            self._solver.close()

    def _propose(self) -> np.ndarray:
        if self._solver is None:
            self._solver = _SolverThread(self._solve())
            weakref.finalize(self, self._solver.close)
            self._update(self._solver.start())
        if self._event[0] != "points":
            raise RuntimeError(f"{self.name}: the scipy run has no batch to ask ({self.message})")
        return self._event[1]

    def _receive(self, u: np.ndarray, errors: np.ndarray, components: np.ndarray) -> None:
        assert self._solver is not None
        self._update(self._solver.answer(errors.copy()))

    def _update(self, event: tuple[str, Any]) -> None:
        self._event = event
        if event[0] == "done":
            self.finished = True
            self.message = str(event[1].message)

    def settings(self) -> dict[str, object]:
        return {
            "batch_size": self.population_size,
            "seed": self.seed,
            "x0": self.x0.tolist(),
            **self._settings(),
        }


def _run_nelder_mead(evaluate: Evaluate, x0: np.ndarray, options: dict[str, Any]) -> Any:
    from scipy.optimize import minimize

    def fun(x: np.ndarray) -> float:
        return float(evaluate(np.array(x, dtype=float)[None, :])[0])

    return minimize(fun, x0, method="Nelder-Mead", bounds=[(0.0, 1.0)] * len(x0), options=options)


def _run_lbfgsb(evaluate: Evaluate, x0: np.ndarray, eps: float, options: dict[str, Any]) -> Any:
    from scipy.optimize import minimize

    def fun_and_grad(x: np.ndarray) -> tuple[float, np.ndarray]:
        x = np.clip(np.array(x, dtype=float), 0.0, 1.0)
        # Forward steps; backward where a forward step would leave the box (as scipy's own does).
        steps = np.where(x + eps <= 1.0, eps, -eps)
        f = evaluate(np.vstack([x, x + np.diag(steps)]))
        return float(f[0]), (f[1:] - f[0]) / steps

    return minimize(
        fun_and_grad, x0, jac=True, method="L-BFGS-B", bounds=[(0.0, 1.0)] * len(x0), options=options
    )


class NelderMead(_ScipyLocal):
    """Nelder–Mead simplex, ``scipy.optimize.minimize(method="Nelder-Mead")``, bounds [0, 1]^d.

    One point per batch (the method is sequential). Objective: the weighted
    error. Package: scipy, the reference implementation of the local methods
    (Neuroptimus calls the same function).
    Defaults (scipy's): xatol 1e-4, fatol 1e-4, maxiter = maxfev = 200·d,
    non-adaptive coefficients, initial simplex x0 plus 5 % of each coordinate.
    Finishes (``finished``) when scipy returns; see ``_ScipyLocal``.
    """

    name = "nelder_mead"

    def __init__(
        self,
        dim: int,
        seed: int,
        population_size: int = 100,
        *,
        xatol: float = 1e-4,
        fatol: float = 1e-4,
        maxfev: int | None = None,
        adaptive: bool = False,
    ) -> None:
        super().__init__(dim, seed, batch_size=1)
        maxfev = 200 * self.dim if maxfev is None else int(maxfev)
        self._options: dict[str, Any] = {
            "xatol": float(xatol),
            "fatol": float(fatol),
            "maxiter": maxfev,
            "maxfev": maxfev,
            "adaptive": bool(adaptive),
        }

    def _solve(self) -> Callable[[Evaluate], Any]:
        return partial(_run_nelder_mead, x0=self.x0.copy(), options=dict(self._options))

    def _settings(self) -> dict[str, object]:
        return {"package": "scipy", **self._options}


class LBFGSB(_ScipyLocal):
    """L-BFGS-B, ``scipy.optimize.minimize(method="L-BFGS-B")``, bounds [0, 1]^d.

    The gradient is a forward finite difference computed here, so each
    function-and-gradient evaluation is ONE batch of d + 1 points (the point,
    then the point with coordinate i moved by ``eps``; backward where forward
    would leave the box), evaluated in parallel by the runner. Objective: the
    weighted error (FAILED_ERROR = 100 for a failed simulation is finite).
    Package: scipy, the reference implementation of the local methods.
    Defaults (scipy's): eps 1e-8 (scipy's L-BFGS-B finite-difference step,
    which Neuroptimus gets by passing no gradient), maxcor 10,
    ftol 2.22e-9, gtol 1e-5, maxfun = maxiter = 15000, maxls 20.
    Finishes (``finished``) when scipy returns; see ``_ScipyLocal``.
    """

    name = "lbfgsb"

    def __init__(
        self,
        dim: int,
        seed: int,
        population_size: int = 100,
        *,
        eps: float = 1e-8,
        maxcor: int = 10,
        ftol: float = 2.220446049250313e-09,
        gtol: float = 1e-5,
        maxfun: int = 15000,
        maxiter: int = 15000,
        maxls: int = 20,
    ) -> None:
        super().__init__(dim, seed, batch_size=int(dim) + 1)
        if not 0 < eps < 0.5:
            raise ValueError(f"lbfgsb: eps must be in (0, 0.5), got {eps}")
        self._eps = float(eps)
        self._options: dict[str, Any] = {
            "maxcor": int(maxcor),
            "ftol": float(ftol),
            "gtol": float(gtol),
            "maxfun": int(maxfun),
            "maxiter": int(maxiter),
            "maxls": int(maxls),
        }

    def _solve(self) -> Callable[[Evaluate], Any]:
        return partial(_run_lbfgsb, x0=self.x0.copy(), eps=self._eps, options=dict(self._options))

    def _settings(self) -> dict[str, object]:
        return {"package": "scipy", "eps": self._eps, **self._options}


__all__ = ["DE", "IBEA", "LBFGSB", "NSGA2", "PSO", "NelderMead", "RandomSearch", "objectives"]
