"""The 7 summary features of Gonçalves et al. 2020 for the Hodgkin–Huxley model.

Definitions follow the original feature code (mackelab/IdentifyMechanisticModels_2020,
``HodgkinHuxleyStatsMoments`` with n_xcorr = 0, n_mom = 4, n_summary = 7), which
is what the paper used for the synthetic and the Allen fits. Per sweep, with the
stimulus window t_on < t < t_off (strict, as in the original):

1. ``spike_count``: local maxima above −10 mV. A spike is at sample i when
   V[i] > −10 mV, V[i+1] ≥ V[i] and V[i+2] < V[i+1] (the peak is i+1; the original
   times it at i). Spikes with t_on < t_i < t_off are kept; after the first, a
   spike counts only if it is more than 0.5 ms after the previous detected one.
2. ``rest_mean``: mean of V over *all* samples before t_on (the original's
   definition; USECASES.md's "last 10%" applies to the SD only).
3. ``rest_sd``: SD (ddof 0) of V over the last 10% before t_on,
   0.9·t_on ≤ t < t_on (the original slices samples int(0.9·t_on/dt) .. int(t_on/dt),
   which can include one more sample through floating-point truncation).
4. ``stim_mean``: mean of V in the stimulus window.
5. ``stim_variance``: second central moment (ddof 0), mV².
6. ``stim_skewness``: third central moment / SD³.
7. ``stim_kurtosis``: fourth central moment / SD⁴ (Pearson's kurtosis, 3 for a
   Gaussian; not the excess kurtosis).

No transforms: the original fed the raw count and moments to the network (delfi
z-scored them with pilot simulations); no logarithm is taken.

Undefined values are NaN: the skewness and kurtosis of a trace that is constant
during the stimulus (SD below 1e-9 of its scale), any feature whose window
holds no sample, and any moment that overflows (values near the float limit).
Non-finite traces (failed simulations) give all-NaN blocks.
For inference, ``fill_undefined`` replaces a flat trace's skewness by 0 and its
kurtosis by 3 (the values of Gaussian noise, which a nearly flat noisy trace
approaches); the other features have no fill and stay NaN.

Speed: the spike count and the moments run as compiled loops over the whole
batch (numba), about 0.05 ms per 12,000-sample trace; ``spike_times`` is the
readable per-trace definition the compiled count agrees with (tested).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

# name, unit, fill value for inference (NaN: none)
FEATURES: tuple[tuple[str, str, float], ...] = (
    ("spike_count", "1", 0.0),
    ("rest_mean", "mV", np.nan),
    ("rest_sd", "mV", np.nan),
    ("stim_mean", "mV", np.nan),
    ("stim_variance", "mV2", np.nan),
    ("stim_skewness", "1", 0.0),
    ("stim_kurtosis", "1", 3.0),
)


@dataclass(frozen=True)
class GoncalvesFeatures:
    """The 7 features of every sweep of a batch of traces (same interface as ``EfelFeatures``).

    Args:
        stim_start_ms, stim_end_ms: stimulus window (t_on, t_off) in ms.
        sweep_names: one prefix per sweep; features of all sweeps are concatenated.
        spike_threshold_mV: peaks must exceed this (−10 mV).
        min_spike_interval_ms: a spike closer than this to the previous one is not counted (0.5 ms).
        rest_sd_fraction: the resting SD uses the last fraction of the pre-stimulus time (0.1).
    """

    stim_start_ms: float
    stim_end_ms: float
    sweep_names: tuple[str, ...] = ("",)
    spike_threshold_mV: float = -10.0
    min_spike_interval_ms: float = 0.5
    rest_sd_fraction: float = 0.1

    def __post_init__(self) -> None:
        if not (math.isfinite(self.stim_start_ms) and math.isfinite(self.stim_end_ms)):
            raise ValueError(
                f"stimulus window must be finite, got [{self.stim_start_ms}, {self.stim_end_ms}]"
            )
        if self.stim_end_ms <= self.stim_start_ms:
            raise ValueError(
                f"stimulus window must have stim_end_ms > stim_start_ms, got "
                f"[{self.stim_start_ms}, {self.stim_end_ms}]"
            )
        if not 0 < self.rest_sd_fraction <= 1:
            raise ValueError(f"rest_sd_fraction must lie in (0, 1], got {self.rest_sd_fraction}")
        if not self.min_spike_interval_ms >= 0:
            raise ValueError(f"min_spike_interval_ms must be ≥ 0, got {self.min_spike_interval_ms}")
        if not self.sweep_names:
            raise ValueError("sweep_names must name at least one sweep")
        object.__setattr__(self, "sweep_names", tuple(self.sweep_names))

    @property
    def names(self) -> list[str]:
        prefix = [f"{s}." if s and len(self.sweep_names) > 1 else "" for s in self.sweep_names]
        return [p + name for p in prefix for name, _, _ in FEATURES]

    @property
    def units(self) -> list[str]:
        return [unit for _ in self.sweep_names for _, unit, _ in FEATURES]

    def __call__(self, t: np.ndarray, traces: np.ndarray) -> np.ndarray:
        """Features ``(n, n_sweeps * 7)`` of traces ``(n, n_sweeps, T)`` in mV (t in ms); NaN if undefined."""
        t = np.asarray(t, dtype=float)
        traces = np.asarray(traces, dtype=float)
        if traces.ndim == 2:
            traces = traces[:, None, :]
        if traces.ndim != 3 or traces.shape[2] != t.size:
            raise ValueError(f"traces must have shape (n, n_sweeps, {t.size}), got {traces.shape}")
        n, n_sweeps, _ = traces.shape
        if n_sweeps != len(self.sweep_names):
            raise ValueError(f"expected {len(self.sweep_names)} sweeps, got {n_sweeps}")
        k = len(FEATURES)
        out = np.full((n, n_sweeps * k), np.nan)
        before = t < self.stim_start_ms
        # half a sample of tolerance at the start of the resting-SD window
        half = 0.5 * float(np.median(np.diff(t))) if t.size > 1 else 0.0
        rest_sd_window = before & (t >= (1.0 - self.rest_sd_fraction) * self.stim_start_ms - half)
        during = (t > self.stim_start_ms) & (t < self.stim_end_ms)
        for s in range(n_sweeps):
            v = traces[:, s, :]
            finite = np.all(np.isfinite(v), axis=1)
            if finite.any():
                with np.errstate(over="ignore", invalid="ignore"):  # overflow of huge values: NaN below
                    block = self._block(t, v[finite], before, rest_sd_window, during)
                out[finite, s * k : (s + 1) * k] = block
        out[~np.isfinite(out)] = np.nan
        return out

    def _block(
        self, t: np.ndarray, v: np.ndarray, before: np.ndarray, rest_sd_window: np.ndarray, during: np.ndarray
    ) -> np.ndarray:
        """The 7 features of finite traces ``v`` (m, T), vectorised over the batch."""
        block = np.full((v.shape[0], len(FEATURES)), np.nan)
        block[:, 0] = _spike_counts(
            t, v, self.spike_threshold_mV, self.stim_start_ms, self.stim_end_ms, self.min_spike_interval_ms
        )
        if before.any():
            block[:, 1] = v[:, before].mean(axis=1)
        if rest_sd_window.any():
            block[:, 2] = v[:, rest_sd_window].std(axis=1)
        if not during.any():
            return block
        index = np.flatnonzero(during)  # a contiguous window of the sorted time grid
        block[:, 3:7] = _moments(v, int(index[0]), int(index[-1]) + 1)
        return block

    def spike_times(self, t: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Times (ms) of the counted spikes of one trace (the sample before each peak, as in the original)."""
        v = np.asarray(v, dtype=float)
        if v.size < 3:
            return np.empty(0)
        rising = (v[:-2] > self.spike_threshold_mV) & (v[1:-1] >= v[:-2]) & (v[2:] < v[1:-1])
        times = np.asarray(t, dtype=float)[:-2][rising]
        times = times[(times > self.stim_start_ms) & (times < self.stim_end_ms)]
        if times.size > 1:
            gap_ok = np.concatenate([[True], np.diff(times) > self.min_spike_interval_ms])
            times = times[gap_ok]
        return times

    def fill_undefined(self, x: np.ndarray) -> np.ndarray:
        """Replace NaN features by their fill values (failed sweeps and features without fill stay NaN)."""
        x = np.array(x, dtype=float, copy=True)
        single = x.ndim == 1
        x = np.atleast_2d(x)
        k = len(FEATURES)
        for s in range(len(self.sweep_names)):
            block = x[:, s * k : (s + 1) * k]
            failed = np.all(np.isnan(block), axis=1)
            for j, (_, _, fill) in enumerate(FEATURES):
                if np.isfinite(fill):
                    block[np.isnan(block[:, j]) & ~failed, j] = fill
        return x[0] if single else x


@numba.njit(cache=True)
def _spike_counts(
    t: np.ndarray, v: np.ndarray, threshold: float, t_on: float, t_off: float, min_interval: float
) -> np.ndarray:
    """``spike_times(...).size`` for every row of ``v`` (m, T), in one compiled pass."""
    counts = np.zeros(v.shape[0])
    for row in range(v.shape[0]):
        previous = -np.inf
        for i in range(v.shape[1] - 2):
            peak_next = v[row, i] > threshold and v[row, i + 1] >= v[row, i] and v[row, i + 2] < v[row, i + 1]
            if peak_next and t_on < t[i] < t_off:
                if counts[row] == 0 or t[i] - previous > min_interval:
                    counts[row] += 1
                previous = t[i]
    return counts


@numba.njit(cache=True)
def _moments(v: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Mean, variance, skewness and kurtosis of ``v[:, lo:hi]`` per row; NaN shape for a constant trace."""
    out = np.full((v.shape[0], 4), np.nan)
    n = hi - lo
    for row in range(v.shape[0]):
        mean = 0.0
        for i in range(lo, hi):
            mean += v[row, i]
        mean /= n
        m2 = m3 = m4 = 0.0
        for i in range(lo, hi):
            d = v[row, i] - mean
            d2 = d * d
            m2 += d2
            m3 += d2 * d
            m4 += d2 * d2
        m2, m3, m4 = m2 / n, m3 / n, m4 / n
        out[row, 0], out[row, 1] = mean, m2
        sd = np.sqrt(m2)
        if sd > 1e-9 * max(1.0, abs(mean)):  # a constant trace has no shape
            out[row, 2], out[row, 3] = m3 / sd**3, m4 / sd**4
    return out
