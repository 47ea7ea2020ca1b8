"""A use case: prior + simulator + summaries + cost + target, declared in one small module."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from priors import Prior
from simulators import Simulator
from summaries import EfelFeatures, TraceCost


@dataclass(frozen=True)
class Target:
    """What a model is fitted to: traces on the simulator's time grid.

    Attributes:
        t: sample times (ms), shape ``(T,)``.
        traces: shape ``(n_sweeps, T)``.
        source: where it came from (file path, or ``simulated: ...``).
        from_ground_truth: the traces were made by the use case's ground truth
            parameters (a surrogate target), so distances to the truth mean something.
    """

    t: np.ndarray
    traces: np.ndarray
    source: str
    from_ground_truth: bool = False


@dataclass(frozen=True)
class UseCase:
    """One benchmark problem.

    Attributes:
        name: identifier used on the command line.
        title: one line.
        prior: parameters with bounds and scales.
        simulator: picklable batch simulator.
        features: summaries for inference.
        cost: Neuroptimus error components and weights.
        load_target: ``(spec, data_dir) -> Target``; ``spec`` is ``"data"``,
            ``"simulated"`` or a path to a user's file.
        default_target: the target used when none is given.
        ground_truth: parameters that generated a surrogate target, if known.
        data_files: files (relative to the data directory) the default target needs.
        reference: where the model and protocol come from.
    """

    name: str
    title: str
    prior: Prior
    simulator: Simulator
    features: EfelFeatures
    cost: TraceCost
    load_target: Callable[[str, str | Path | None], Target]
    default_target: str = "data"
    ground_truth: dict[str, float] | None = None
    data_files: tuple[str, ...] = field(default_factory=tuple)
    reference: str = ""

    @property
    def truth_vector(self) -> np.ndarray | None:
        if self.ground_truth is None:
            return None
        return np.array([self.ground_truth[n] for n in self.prior.names])
