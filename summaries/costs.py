"""The Neuroptimus error components (Mohácsi et al. 2024), as shared/docs/USECASES.md defines them.

Every component compares one model trace with one target trace sampled on the
same grid. Spike-based components are 0 when neither trace spikes and 1 when
only one does. ``TraceCost`` combines weighted components and sums them over
the sweeps of a protocol; a failed simulation costs ``FAILED_ERROR``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from summaries.spikes import Spikes, detect_spikes

FAILED_ERROR = 100.0  # Neuroptimus' error for a simulation that did not run


@dataclass(frozen=True)
class TracePair:
    """A model and a target trace with their spikes (detected once, used by every component)."""

    model: np.ndarray
    target: np.ndarray
    model_spikes: Spikes
    target_spikes: Spikes
    spike_window: int  # samples zeroed on each side of a spike for "MSE (excl. spikes)"
    threshold: float
    stim_slice: slice


def mse(pair: TracePair) -> float:
    """mean((target − model)²) / (max(target) − min(target))²."""
    return _normalised_mse(pair.model, pair.target)


def mse_excluding_spikes(pair: TracePair) -> float:
    """MSE after zeroing ±window samples around every spike of either trace, in both traces."""
    if pair.model_spikes.count == 0 and pair.target_spikes.count == 0:
        return mse(pair)
    model, target = pair.model.copy(), pair.target.copy()
    n = min(model.size, target.size)
    for spikes in (pair.model_spikes, pair.target_spikes):
        for start, stop in zip(spikes.start, spikes.stop, strict=True):
            lo, hi = max(0, start - pair.spike_window), min(n, stop + pair.spike_window)
            model[lo:hi] = 0.0
            target[lo:hi] = 0.0
    return _normalised_mse(model, target)


def spike_count(pair: TracePair) -> float:
    """|n_model − n_target| / (n_model + n_target + 1) over the whole trace."""
    return _count_difference(pair.model_spikes.count, pair.target_spikes.count)


def spike_count_stimulus(pair: TracePair) -> float:
    """Spike count difference counting only spikes inside the stimulus window."""
    n_model = detect_spikes(pair.model[pair.stim_slice], pair.threshold).count
    n_target = detect_spikes(pair.target[pair.stim_slice], pair.threshold).count
    return _count_difference(n_model, n_target)


def latency_first_spike(pair: TracePair) -> float:
    """(difference of first-spike start samples)² / N²."""
    only_one = _spike_presence(pair)
    if only_one is not None:
        return only_one
    diff = float(pair.model_spikes.start[0] - pair.target_spikes.start[0])
    return diff**2 / float(pair.target.size) ** 2


def ap_amplitude(pair: TracePair) -> float:
    """Mean over paired spikes of ((peak − thr)_model − (peak − thr)_target)² / (max target overshoot)²."""
    only_one = _spike_presence(pair)
    if only_one is not None:
        return only_one
    m, t = pair.model_spikes.peak_value, pair.target_spikes.peak_value
    k = min(m.size, t.size)
    max_overshoot = float(np.max(t - pair.threshold)) or 1e-12
    return float(np.mean((m[:k] - t[:k]) ** 2)) / max_overshoot**2


def ap_width(pair: TracePair) -> float:
    """((w_target − w_model) / w_target)², widths at threshold level over paired spikes."""
    only_one = _spike_presence(pair)
    if only_one is not None:
        return only_one
    k = min(pair.model_spikes.count, pair.target_spikes.count)
    w_model = float(np.mean(pair.model_spikes.half_widths()[:k]))
    w_target = float(np.mean(pair.target_spikes.half_widths()[:k]))
    return ((w_target - w_model) / w_target) ** 2


def ahp_depth(pair: TracePair) -> float:
    """(mean inter-spike minimum, target − model)² / (target subthreshold range)²."""
    only_one = _spike_presence(pair)
    if only_one is not None:
        return only_one
    k = min(pair.model_spikes.count, pair.target_spikes.count)
    m_min = _interspike_minima(pair.model, pair.model_spikes, k)
    t_min = _interspike_minima(pair.target, pair.target_spikes, k)
    sub = pair.target[pair.target < pair.threshold]
    sub_range = float(sub.max() - sub.min()) if sub.size else 1.0
    return (float(np.mean(t_min)) - float(np.mean(m_min))) ** 2 / (sub_range or 1.0) ** 2


COMPONENTS: dict[str, Callable[[TracePair], float]] = {
    "mse": mse,
    "mse_excl_spikes": mse_excluding_spikes,
    "spike_count": spike_count,
    "spike_count_stim": spike_count_stimulus,
    "latency": latency_first_spike,
    "ap_amplitude": ap_amplitude,
    "ap_width": ap_width,
    "ahp_depth": ahp_depth,
}


@dataclass(frozen=True)
class TraceCost:
    """Weighted Neuroptimus error of model traces against target traces.

    Args:
        weights: ``{component name: weight}``; names from ``COMPONENTS``.
        threshold_mV: spike threshold (upward crossings).
        spike_window_samples: samples zeroed on each side of a spike in "MSE (excl. spikes)".
        stim_start_ms, stim_end_ms: stimulus window for "during stimulus" components.
        dt_ms: sampling interval of the traces.
    """

    weights: dict[str, float]
    threshold_mV: float = 0.0
    spike_window_samples: int = 40
    stim_start_ms: float = 0.0
    stim_end_ms: float = np.inf
    dt_ms: float = 0.025
    names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.weights) - set(COMPONENTS))
        if unknown:
            raise ValueError(f"unknown cost components {unknown}; known: {sorted(COMPONENTS)}")
        if not self.weights:
            raise ValueError("a cost needs at least one weighted component")
        object.__setattr__(self, "names", tuple(self.weights))

    @property
    def weight_vector(self) -> np.ndarray:
        return np.array([self.weights[n] for n in self.names])

    def components(self, model: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Unweighted components, summed over sweeps. ``model`` and ``target``: ``(n_sweeps, T)``."""
        model, target = np.atleast_2d(model), np.atleast_2d(target)
        if model.shape[0] != target.shape[0]:
            raise ValueError(f"model has {model.shape[0]} sweeps, target {target.shape[0]}")
        total = np.zeros(len(self.names))
        stim = self._stim
        for m, t in zip(model, target, strict=True):
            pair = TracePair(
                model=m,
                target=t,
                model_spikes=detect_spikes(m, self.threshold_mV),
                target_spikes=detect_spikes(t, self.threshold_mV),
                spike_window=self.spike_window_samples,
                threshold=self.threshold_mV,
                stim_slice=stim,
            )
            total += [COMPONENTS[name](pair) for name in self.names]
        return total

    @property
    def labels(self) -> list[str]:
        return component_labels(self.names)

    def batch(
        self, t: np.ndarray, traces: np.ndarray, x: np.ndarray, target: Any, ok: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Components ``(n, c)`` (NaN for failed runs) and weighted totals ``(n,)`` vs ``target.traces``.

        One compiled call for the whole batch (``summaries.batched_costs``); it agrees with
        ``components`` to round-off. A row counts as failed (NaN components, ``FAILED_ERROR``) when
        ``ok`` says so, when its traces are not finite, or when a component overflows (traces near
        the float limit): the error of every row is a finite number.
        """
        from summaries.batched_costs import batch_components

        traces = np.asarray(traces, dtype=float)
        ok = np.asarray(ok, dtype=bool) & np.isfinite(traces).reshape(traces.shape[0], -1).all(axis=1)
        comps = batch_components(
            traces, target.traces, ok, self.names, self.threshold_mV, self.spike_window_samples, self._stim
        )
        with np.errstate(over="ignore", invalid="ignore"):
            totals = comps @ self.weight_vector
        failed = ~ok | ~np.isfinite(totals) | ~np.isfinite(comps).all(axis=1)
        comps[failed], totals[failed] = np.nan, FAILED_ERROR
        return comps, totals

    @property
    def _stim(self) -> slice:
        return slice(round(self.stim_start_ms / self.dt_ms), _end_index(self.stim_end_ms, self.dt_ms))


def _normalised_mse(model: np.ndarray, target: np.ndarray) -> float:
    n = min(model.size, target.size)
    err = float(np.mean((target[:n] - model[:n]) ** 2))
    span = float(np.max(target) - np.min(target))
    return err / span**2 if span > 0 else err


def _count_difference(n_model: int, n_target: int) -> float:
    return abs(n_model - n_target) / (n_model + n_target + 1)


def _spike_presence(pair: TracePair) -> float | None:
    """0 if neither trace spikes, 1 if only one does, None if both do."""
    has_model, has_target = pair.model_spikes.count > 0, pair.target_spikes.count > 0
    if not has_model and not has_target:
        return 0.0
    if has_model != has_target:
        return 1.0
    return None


def _interspike_minima(v: np.ndarray, spikes: Spikes, k: int) -> np.ndarray:
    ends = np.append(spikes.start[1:], v.size)
    return np.array([v[spikes.stop[i] : max(ends[i], spikes.stop[i] + 1)].min() for i in range(k)])


def _end_index(end_ms: float, dt_ms: float) -> int | None:
    return None if not np.isfinite(end_ms) else round(end_ms / dt_ms)


def component_labels(names: Sequence[str]) -> list[str]:
    """Neuroptimus' display names of components, for metadata.json."""
    labels = {
        "mse": "MSE",
        "mse_excl_spikes": "MSE (excl. spikes)",
        "spike_count": "Spike count",
        "spike_count_stim": "Spike count (stim.)",
        "latency": "Latency to 1st spike",
        "ap_amplitude": "AP amplitude",
        "ap_width": "AP width",
        "ahp_depth": "AHP depth",
    }
    return [labels.get(n, n) for n in names]
