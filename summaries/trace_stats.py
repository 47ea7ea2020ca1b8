"""Trace statistics for inference: the trace's mean value in short windows at chosen times.

For passive responses and synaptic currents, whose shape (amplitude, rise,
decay, steady state) is what the parameters set, a handful of well-placed
samples is a complete and noise-robust summary.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TraceSamples:
    """Mean of one sweep over ``[t − half_window, t + half_window]`` at each of ``times_ms``.

    Args:
        times_ms: sample times (ms).
        half_window_ms: half width of the averaging window (ms); 0 takes the nearest sample.
        quantity: short name used in feature names (``v``, ``i``).
        unit: unit of the recorded quantity.
        sweep: which sweep of the traces is summarised.
    """

    times_ms: tuple[float, ...]
    half_window_ms: float = 0.25
    quantity: str = "v"
    unit: str = "mV"
    sweep: int = 0

    def __post_init__(self) -> None:
        if not self.times_ms:
            raise ValueError("TraceSamples.times_ms must not be empty")
        if self.half_window_ms < 0:
            raise ValueError(f"TraceSamples.half_window_ms must be >= 0, got {self.half_window_ms}")

    @property
    def names(self) -> list[str]:
        return [f"{self.quantity}@{t:g}ms" for t in self.times_ms]

    @property
    def units(self) -> list[str]:
        return [self.unit] * len(self.times_ms)

    def __call__(self, t: np.ndarray, traces: np.ndarray) -> np.ndarray:
        """Features ``(n, k)`` of traces ``(n, n_sweeps, T)``; failed (non-finite) rows are NaN, and so
        is a window mean that overflows (values near the float limit)."""
        traces = np.asarray(traces, dtype=float)
        if traces.ndim == 2:
            traces = traces[:, None, :]
        if t[0] > min(self.times_ms) or t[-1] < max(self.times_ms):
            raise ValueError(
                f"sample times {min(self.times_ms)}–{max(self.times_ms)} ms lie outside the trace "
                f"({t[0]:g}–{t[-1]:g} ms)"
            )
        sweep = traces[:, self.sweep, :]
        columns = []
        with np.errstate(over="ignore", invalid="ignore"):  # huge values overflow to inf: undefined below
            for time in self.times_ms:
                window = np.flatnonzero(np.abs(t - time) <= self.half_window_ms + 1e-9)
                if window.size == 0:
                    window = np.array([int(np.argmin(np.abs(t - time)))])
                columns.append(sweep[:, window].mean(axis=1))
        x = np.column_stack(columns)
        x[~np.all(np.isfinite(sweep), axis=1)] = np.nan
        x[~np.isfinite(x)] = np.nan
        return x

    def fill_undefined(self, x: np.ndarray) -> np.ndarray:
        """Nothing is ever undefined for a finite trace: returns a copy."""
        return np.array(x, dtype=float, copy=True)
