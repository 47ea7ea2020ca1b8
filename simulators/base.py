"""What every simulator returns, and the contract it keeps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

STATUS_OK = 0
STATUS_FAILED = 1  # the simulator raised, or produced non-finite values
STATUS_NAMES = {STATUS_OK: "ok", STATUS_FAILED: "failed"}


@dataclass
class SimulationResult:
    """Traces of a batch of parameter sets.

    Attributes:
        t: sample times in ms, shape ``(T,)``.
        traces: recorded quantity, shape ``(n, n_sweeps, T)``; NaN where a
            simulation failed. One sweep per stimulus protocol.
        status: ``STATUS_OK`` or ``STATUS_FAILED`` per parameter set, shape ``(n,)``.
        messages: one short reason per failed parameter set (empty when ok).
    """

    t: np.ndarray
    traces: np.ndarray
    status: np.ndarray
    messages: list[str]


class Simulator(Protocol):
    """A picklable object that maps a batch θ (n, d) in physical units to traces.

    It builds its model lazily inside the process that calls it, so it can be
    sent to worker processes. It never raises for a bad parameter set: the
    result marks it failed and fills its traces with NaN.
    """

    def __call__(self, theta: np.ndarray, seed: int) -> SimulationResult: ...

    @property
    def sweep_names(self) -> list[str]: ...
