"""Nelder–Mead and L-BFGS-B from scipy, the reference local methods, driven through ask/tell.

``minimize`` runs in a helper thread whose objective hands each point out through ``ask()`` and
waits for ``tell()``; the two sides strictly alternate, so runs are deterministic and replayable.
"""

from __future__ import annotations

import queue
import threading
import weakref
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from sbi_neuro.optimizers.base import Evaluate, Optimizer


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


class _ScipyLocal(Optimizer):
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
