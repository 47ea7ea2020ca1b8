"""A real simulator that really takes its process down, or hangs, on chosen parameter sets.

Imported by worker processes (as ``tests.faulty``) when they load an evaluator built on it.
The first parameter of a row selects the fault: a segmentation fault (a read at address 0),
an abort (SIGABRT, as a NEURON mechanism error ends the process), a hang (sleeps
forever), or an exit (``os._exit``) of a batch holding two ``PAIR`` rows (a fault of the
batch, not of any one row). Every other batch is simulated by the wrapped simulator, unchanged.
"""

from __future__ import annotations

import ctypes
import os
import time
from dataclasses import dataclass

import numpy as np

from simulators import SimulationResult, Simulator, simulate_part

SEGFAULT, ABORT, HANG, PAIR = 0.0101, 0.0202, 0.0303, 0.0404  # first parameters that trigger a fault


@dataclass(frozen=True)
class FaultySimulator:
    """``inner``, except that a batch holding a fault's value in its first column crashes or hangs."""

    inner: Simulator

    def __call__(self, theta: np.ndarray, seed: int = 0, first_row: int = 0) -> SimulationResult:
        first = np.atleast_2d(np.asarray(theta, dtype=float))[:, 0]
        if np.any(first == SEGFAULT):
            ctypes.string_at(0)
        if np.any(first == ABORT):
            os.abort()
        if np.any(first == HANG):
            while True:
                time.sleep(1.0)
        if np.count_nonzero(first == PAIR) >= 2:
            os._exit(70)
        return simulate_part(self.inner, theta, seed, first_row)

    @property
    def sweep_names(self) -> list[str]:
        return self.inner.sweep_names

    @property
    def t(self) -> np.ndarray:
        return self.inner.t
