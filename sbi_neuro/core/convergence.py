"""How fast a run's best error fell: the Neuroptimus convergence statistics, in one definition.

A generation is a block of ``GENERATION`` evaluations in charge order, whatever the method's own
population. The convergence score of a run is Σ over the generations of its budget of
log10(best error so far at the generation's end): smaller converged faster. A run that stopped
before its budget (a converged local method) keeps its final best for the rest of the budget, and
a last, partial generation counts as one. ``metadata.json``, the results index and ``sbi-neuro
compare`` all use this score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GENERATION = 100  # evaluations per generation in Neuroptimus statistics
TINY = 1e-300  # floor before log10: an error of exactly 0 scores as 1e-300


def best_so_far(errors: np.ndarray, budget: int | None = None) -> np.ndarray:
    """Cumulative minimum of the errors over ``budget`` evaluations (default: those made); a run that
    stopped early keeps its last best to the end of the budget."""
    errors = np.asarray(errors, dtype=float)
    budget = errors.size if budget is None else budget
    if errors.size == 0 or budget < 1:
        raise ValueError(f"need at least one evaluation and a budget >= 1, got {errors.size} and {budget}")
    curve = np.minimum.accumulate(errors[:budget])
    return np.concatenate([curve, np.full(budget - curve.size, curve[-1])])


def convergence_score(errors: np.ndarray, budget: int | None = None) -> float:
    """Σ over generations of ``budget`` (default: the evaluations made) of log10(best error so far)."""
    curve = best_so_far(errors, budget)
    ends = np.minimum(np.arange(GENERATION, curve.size + GENERATION, GENERATION), curve.size) - 1
    return float(np.sum(np.log10(np.maximum(curve[ends], TINY))))


def convergence_statistics(errors: np.ndarray) -> list[dict[str, float]]:
    """Per generation of the evaluations made: min, median, max, mean and best error so far."""
    errors = np.asarray(errors, dtype=float)
    stats, best = [], np.inf
    for g, start in enumerate(range(0, errors.size, GENERATION)):
        block = errors[start : start + GENERATION]
        best = min(best, float(block.min()))
        stats.append(
            {
                "generation": g,
                "evaluations": int(start + block.size),
                "min": float(block.min()),
                "median": float(np.median(block)),
                "max": float(block.max()),
                "mean": float(block.mean()),
                "best_so_far": best,
            }
        )
    return stats


def evaluations_to_reach(errors: np.ndarray, level: float) -> int | None:
    """Evaluations until the best error first reaches ``level`` (None if never)."""
    hit = np.flatnonzero(np.minimum.accumulate(np.asarray(errors, dtype=float)) <= level)
    return int(hit[0]) + 1 if hit.size else None


@dataclass(frozen=True)
class Convergence:
    """The weighted error of every evaluation of a run, in the order they were charged.

    Attributes:
        errors: ``(n,)`` errors (failed simulations carry the use case's failed-simulation error).
        budget: the run's budget; a run that stopped early has fewer than ``budget`` errors.
    """

    errors: np.ndarray
    budget: int

    @property
    def best_so_far(self) -> np.ndarray:
        """Best error after each evaluation of the budget ``(budget,)``."""
        return best_so_far(self.errors, self.budget)

    @property
    def score(self) -> float:
        """The convergence score (see the module docstring): smaller converged faster."""
        return convergence_score(self.errors, self.budget)

    def statistics(self) -> list[dict[str, float]]:
        """Per generation of 100 evaluations: min, median, max, mean and best so far."""
        return convergence_statistics(self.errors)

    def evaluations_to_reach(self, level: float) -> int | None:
        """Evaluations until the best error first reached ``level`` (None if it never did)."""
        return evaluations_to_reach(self.errors, level)
