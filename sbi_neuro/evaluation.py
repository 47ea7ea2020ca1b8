"""One evaluation = simulate + features + error components; the unit every method pays for."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulators import STATUS_OK, Simulator
from usecases.base import Cost, Summary, Target


@dataclass
class EvalBatch:
    """Results of evaluating a batch of parameter sets (rows aligned).

    Attributes:
        theta: parameters in physical units ``(n, d)``.
        x: features for inference ``(n, k)``, NaN where undefined or failed.
        components: unweighted error components ``(n, c)``.
        error: weighted error ``(n,)`` (``FAILED_ERROR`` for failed runs).
        status: simulator status ``(n,)``.
        seed: simulator seed of each row ``(n,)``.
    """

    theta: np.ndarray
    x: np.ndarray
    components: np.ndarray
    error: np.ndarray
    status: np.ndarray
    seed: np.ndarray

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
        return EvalBatch(**{k: v[index] for k, v in self.arrays().items()})


@dataclass(frozen=True)
class Evaluator:
    """Picklable: sent to worker processes, where the simulator builds its model once."""

    simulator: Simulator
    features: Summary
    cost: Cost
    target: Target

    def __call__(self, theta: np.ndarray, seed: int) -> EvalBatch:
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        result = self.simulator(theta, seed)
        ok = result.status == STATUS_OK
        x = self.features(result.t, result.traces)
        components, error = self.cost.batch(result.t, result.traces, x, self.target, ok)
        return EvalBatch(
            theta=theta,
            x=x,
            components=components,
            error=error,
            status=result.status.astype(np.int8),
            seed=np.full(theta.shape[0], seed, dtype=np.int64),
        )
