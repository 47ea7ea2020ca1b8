"""A use case: prior + simulator + summaries + cost + target, declared in one small module."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from priors import Prior
from simulators import Simulator

NO_TARGET = "none"  # the target spec of simulations without a target


@dataclass(frozen=True)
class Target:
    """What a model is fitted to: traces on the simulator's time grid.

    Attributes:
        t: sample times (ms), shape ``(T,)``.
        traces: shape ``(n_sweeps, T)``; None for a target given as feature statistics.
        source: where it came from (file path, or ``simulated: ...``).
        from_ground_truth: the traces were made by the use case's ground truth
            parameters (a surrogate target), so distances to the truth mean something.
        x_o: observed features, when they are given rather than computed from traces.
    """

    t: np.ndarray
    traces: np.ndarray | None
    source: str
    from_ground_truth: bool = False
    x_o: np.ndarray | None = None

    @classmethod
    def none(cls, t: np.ndarray) -> Target:
        """No target: simulations (a prior bank) without an error to compute."""
        return cls(t, None, NO_TARGET)

    @property
    def is_none(self) -> bool:
        return self.traces is None and self.x_o is None


class Summary(Protocol):
    """Traces → features for inference (``EfelFeatures``, ``GoncalvesFeatures``...)."""

    @property
    def names(self) -> list[str]: ...

    def __call__(self, t: np.ndarray, traces: np.ndarray) -> np.ndarray:
        """Features ``(n, k)`` of traces ``(n, n_sweeps, T)``, NaN where undefined."""
        ...

    def fill_undefined(self, x: np.ndarray) -> np.ndarray:
        """The features with undefined values replaced as declared (failed rows stay NaN)."""
        ...


class Cost(Protocol):
    """Traces (and their features) → Neuroptimus error components and weighted error."""

    @property
    def names(self) -> tuple[str, ...]: ...

    @property
    def labels(self) -> list[str]: ...

    @property
    def weight_vector(self) -> np.ndarray: ...

    def batch(
        self, t: np.ndarray, traces: np.ndarray, x: np.ndarray, target: Target, ok: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Components ``(n, c)`` (NaN for failed rows) and weighted errors ``(n,)``."""
        ...


@dataclass(frozen=True)
class UseCase:
    """One benchmark problem.

    Attributes:
        name: identifier used on the command line and in run folders.
        title: one line.
        prior: parameters with bounds and scales.
        simulator: picklable batch simulator.
        features: summaries for inference.
        cost: Neuroptimus error components and weights.
        zoom_ms: time window shown enlarged beside the whole trace in best-fit plots.
        load_target: ``(spec, data_dir) -> Target``; ``spec`` is ``"data"``,
            ``"simulated"`` or a path to a user's file. None: the target is always given
            as a ``Target`` (a use case built in Python for one recording).
        default_target: the target used when none is given.
        ground_truth: parameters that generated a surrogate target, if known.
        data_files: files (relative to the data directory) the default target needs.
        reference: where the model and protocol come from.
        backend: the simulator engine in use (``neuron``, ``brian2`` or ``batched``).
        backends: the engines this use case can run on, its default first.
        options: the use-case options it was built with (``{"cell": "509881736"}``), recorded
            with a run so that the folder rebuilds the same problem.
    """

    name: str
    prior: Prior
    simulator: Simulator
    features: Summary
    cost: Cost
    load_target: Callable[[str, str | Path | None], Target] | None = None
    title: str = ""
    default_target: str = "data"
    ground_truth: dict[str, float] | None = None
    data_files: tuple[str, ...] = field(default_factory=tuple)
    reference: str = ""
    zoom_ms: tuple[float, float] | None = None
    backend: str = "neuron"
    backends: tuple[str, ...] = ("neuron",)
    options: dict[str, str] = field(default_factory=dict)

    def target_from(self, spec: str = "default", data_dir: str | Path | None = None) -> Target:
        """The target ``spec`` names: ``default``, ``data`` (the benchmark file), ``simulated`` (from
        the ground truth), the path of a recording, or ``none`` (simulations without a target)."""
        if spec == NO_TARGET:
            return Target.none(self.simulator.t)
        if self.load_target is None:
            raise ValueError(
                f"use case {self.name!r} loads no target by name (got {spec!r}); pass the target itself "
                "(a usecases.Target)"
            )
        return self.load_target(self.default_target if spec == "default" else spec, data_dir)

    @property
    def truth_vector(self) -> np.ndarray | None:
        if self.ground_truth is None:
            return None
        return np.array([self.ground_truth[n] for n in self.prior.names])


def surrogate_trace_target(
    spec: str,
    data_dir: str | Path | None,
    simulator: Simulator,
    truth: np.ndarray,
    data_file_name: str,
    quantity: str = "voltage",
    unit: str = "mV",
    max_step_ms: float | None = None,
) -> Target:
    """The target of a one-sweep surrogate use case (UC1, UC2).

    ``spec``: ``simulated`` (the ground truth ``truth`` simulated here), ``data`` (the
    benchmark file, made by the same ground truth) or the path of a user's two-column
    time (ms) / value file; files are resampled onto the simulator's grid and may be
    sampled no more coarsely than ``max_step_ms``.
    """
    from usecases.data import data_file, load_two_column_trace, resample

    t = simulator.t
    if spec == "simulated":
        traces = simulator(np.atleast_2d(truth), seed=0).traces[0]
        return Target(t, traces, "simulated: ground truth", from_ground_truth=True)
    path = data_file(data_file_name, data_dir) if spec == "data" else Path(spec)
    trace = load_two_column_trace(path, quantity, unit)
    values = resample(trace, t, max_step_ms)
    return Target(t, values[None, :], trace.source, from_ground_truth=spec == "data")
