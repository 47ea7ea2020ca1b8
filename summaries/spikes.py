"""Threshold-crossing spike detection, as the Neuroptimus cost functions define it.

A spike starts at the first sample above the threshold and stops at the first
later sample below it; the peak is the maximum in between. A crossing that has
not come back below the threshold by the end of the trace is not a spike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Spikes:
    """Sample indices of the detected spikes of one trace (all arrays shape ``(k,)``)."""

    start: np.ndarray
    stop: np.ndarray
    peak: np.ndarray
    peak_value: np.ndarray

    @property
    def count(self) -> int:
        return int(self.start.size)

    def half_widths(self) -> np.ndarray:
        """(stop − start) / 2 in samples: Neuroptimus' AP width at threshold level."""
        return (self.stop - self.start) / 2.0


def detect_spikes(v: np.ndarray, threshold: float) -> Spikes:
    """Detect spikes in one trace ``v`` (1-D) by threshold crossings."""
    v = np.asarray(v, dtype=float)
    # State +1 above, -1 below; samples exactly at the threshold keep the previous state.
    state = np.sign(v - threshold)
    state[0] = state[0] if state[0] != 0 else -1
    nonzero = np.flatnonzero(state)
    filled = state[nonzero][np.searchsorted(nonzero, np.arange(v.size), side="right") - 1]
    change = np.flatnonzero(np.diff(filled)) + 1
    starts = change[filled[change] > 0]
    stops = change[filled[change] < 0]
    if state[0] > 0:  # a trace that begins above threshold: Neuroptimus starts a spike at 0
        starts = np.concatenate([[0], starts])
    stops = stops[stops > starts[0]] if starts.size else stops[:0]
    starts = starts[: stops.size]
    peaks = np.array([s + int(np.argmax(v[s:e])) for s, e in zip(starts, stops, strict=True)], dtype=int)
    values = v[peaks] if peaks.size else np.empty(0)
    return Spikes(start=starts, stop=stops, peak=peaks, peak_value=values)
