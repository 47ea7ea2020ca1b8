"""One evaluation = simulate + features + error components; the unit every method pays for.

``Evaluator`` is what worker processes run, ``Task`` what they are handed, ``EvalBatch`` what they
return: the three types every layer of the pipeline shares.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simulators import STATUS_OK, SimulationResult, Simulator, simulate_part
from usecases.base import Cost, Summary, Target


@dataclass(frozen=True)
class Task:
    """One unit of parallel work: a batch of parameter sets and its seed."""

    index: int
    theta: np.ndarray
    seed: int


@dataclass
class EvalBatch:
    """Results of evaluating a batch of parameter sets (rows aligned).

    Attributes:
        theta: parameters in physical units ``(n, d)``.
        x: features for inference ``(n, k)``, NaN where undefined or failed.
        components: unweighted error components ``(n, c)``.
        error: weighted error ``(n,)`` (``FAILED_ERROR`` for failed runs).
        status: simulator status ``(n,)``; the executor sets ``STATUS_TIMEOUT`` and ``STATUS_CRASHED``.
        seed: simulator seed of each row ``(n,)``.
        faults: why the executor failed a row (time limit, crashed process), by row; not banked.
    """

    theta: np.ndarray
    x: np.ndarray
    components: np.ndarray
    error: np.ndarray
    status: np.ndarray
    seed: np.ndarray
    faults: dict[int, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.theta.shape[0])

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: getattr(self, k) for k in ("theta", "x", "components", "error", "status", "seed")}

    @classmethod
    def concat(cls, batches: list[EvalBatch]) -> EvalBatch:
        if not batches:
            raise ValueError("nothing to concatenate")
        return cls(**{k: np.concatenate([b.arrays()[k] for b in batches]) for k in batches[0].arrays()})

    def take(self, index: np.ndarray | slice) -> EvalBatch:
        rows: dict[str, Any] = {k: v[index] for k, v in self.arrays().items()}
        return EvalBatch(**rows)


@dataclass(frozen=True)
class Evaluator:
    """Picklable: sent to worker processes, where the simulator builds its model once."""

    simulator: Simulator
    features: Summary
    cost: Cost
    target: Target

    def __call__(
        self, theta: np.ndarray, seed: int, first_row: int = 0, failed: Mapping[int, int] | None = None
    ) -> EvalBatch:
        """Evaluate θ ``(n, d)`` simulated with ``seed``.

        Args:
            first_row: θ's rows are rows ``first_row, …`` of a larger batch with that seed
                (see ``simulators.simulate_part``).
            failed: rows not to simulate, with their status: they get NaN traces, and so NaN
                features and the use case's failed-simulation error, and every other row exactly
                what it gets when the simulator itself fails those rows.
        """
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        return self._evaluate(theta, seed, self._simulate(theta, seed, first_row, dict(failed or {})))

    def _simulate(
        self, theta: np.ndarray, seed: int, first_row: int, failed: dict[int, int]
    ) -> SimulationResult:
        if not failed:
            return simulate_part(self.simulator, theta, seed, first_row)
        run = [i for i in range(theta.shape[0]) if i not in failed]
        if run:  # failed rows replaced by a stand-in: the batch keeps its size and row positions
            stand_in = theta.copy()
            stand_in[list(failed)] = theta[run[0]]
            result = simulate_part(self.simulator, stand_in, seed, first_row)
        else:
            n, t = theta.shape[0], self.simulator.t
            traces = np.full((n, len(self.simulator.sweep_names), t.size), np.nan)
            result = SimulationResult(t, traces, np.full(n, STATUS_OK, dtype=np.int8), [""] * n)
        for row, status in failed.items():
            result.traces[row] = np.nan
            result.status[row] = status
        return result

    def _evaluate(self, theta: np.ndarray, seed: int, result: SimulationResult) -> EvalBatch:
        ok = result.status == STATUS_OK
        x = self.features(result.t, result.traces)
        if self.target.is_none:  # simulations without a target: nothing to compare with
            components = np.full((theta.shape[0], len(self.cost.names)), np.nan)
            error = np.full(theta.shape[0], np.nan)
        else:
            components, error = self.cost.batch(result.t, result.traces, x, self.target, ok)
        return EvalBatch(
            theta=theta,
            x=x,
            components=components,
            error=error,
            status=result.status.astype(np.int8),
            seed=np.full(theta.shape[0], seed, dtype=np.int64),
        )
