"""The 18 summary features of the pyloric rhythm (STG model of Gonçalves et al. 2020).

Definitions follow the original feature code (mackelab/IdentifyMechanisticModels_2020,
``7_stg/model/inference/summstats.py``: ``PrinzStats`` with include_plateaus=True, the
feature code of the paper's 31-parameter fit), which builds on the rhythm classification of
Prinz, Bucher & Marder 2004. Traces are ``(n, 3, T)``: membrane voltage (mV) of PD (the AB/PD
pacemaker), LP and PY on a uniform time grid t (ms).

Per neuron:

- **Spikes**: the trace is smoothed with a Savitzky–Golay filter (order 3, window
  ``int(0.5 ms / dt)`` samples made odd, scipy's edge handling), then a spike is a sample with
  V > −10 mV, V ≥ the previous and the next ≤ it. The spike time is the peak sample (the
  original reports the sample before the peak; features 1–15 are differences of spike times, so
  this cancels, and a plateau window starts one sample later).
- **Bursts**: spikes are split into groups wherever an inter-spike interval is ≥ 150 ms; a group
  is a burst if last − first spike > 50 ms (the original's threshold for simulations; its code for
  the recorded data used 40 ms). A burst starts at its first spike and ends at its last one. Bursts
  cut by the window edges are used as they come, as in the original.

Network (the original's ``analyse_data`` and ``calc_summ_stats``):

- **Cycles** run from one PD burst start to the next. A cycle is *triphasic* if exactly one LP
  burst and exactly one PY burst start in [PD start, next PD start). The network is triphasic if
  PD has ≥ 2 bursts and ≥ 90% of its cycles are triphasic; only then are all 18 features defined
  (the original still reports cycle period, burst durations, duty cycles and plateaus of
  non-triphasic networks, but Gonçalves et al. trained only on simulations whose gaps were defined,
  i.e. triphasic ones, so such rows are NaN here and get dropped).
- **Pyloric-like** (Prinz et al. 2004, the original's ``pyloric_like``): triphasic and in ≥ 70% of
  the triphasic cycles PD ends no later than LP starts, LP starts no later than PY, and LP ends no
  later than PY. The original only reports this flag (its training set did not require it); with
  ``require_pyloric=True`` rows that are triphasic but not pyloric-like are NaN as well.

Features, in the order of the observed file (``load_observed``):

1. ``cycle_period_ms``: mean interval between consecutive PD burst starts (all PD bursts).
2–4. ``burst_duration_{PD,LP,PY}_ms``: mean last − first spike over *all* bursts of the neuron.
5–6. ``gap_end_PD_to_start_LP_ms``, ``gap_end_LP_to_start_PY_ms``: LP start − PD end and
   PY start − LP end, with the bursts of one triphasic cycle, averaged over triphasic cycles.
7–8. ``delay_start_PD_to_start_LP_ms``, ``delay_start_PD_to_start_PY_ms``: LP (PY) start − PD
   start, likewise.
9–11. ``duty_cycle_*``: burst duration / cycle period.
12–13. ``phase_gap_PD_LP``, ``phase_gap_LP_PY``: gap / cycle period.
14–15. ``phase_LP``, ``phase_PY``: delay / cycle period.
16–18. ``max_plateau_duration_*_ms``: for each burst, the longest stretch of the smoothed voltage
   above −30 mV that starts at or after the burst's first spike and falls back to −30 mV or below
   before the next burst's first spike (for the last burst: before the neuron's last spike); a
   stretch still above −30 mV at the end of that window does not count (the original's loop only
   records a run when a sample below threshold ends it). The feature is the mean of these maxima over
   the bursts ("max" is per burst). If it is below 5 ms (a spike, not a plateau) it is set to
   2.5 ms. The original writes this in samples ("< 200 → 100") at its dt of 0.025 ms; we state it in
   ms so that it holds at any dt (the original's code at dt = 0.1 ms would give 10 ms instead).
   Recorded data (spike times only) get 2.5 ms, so the observed file holds 2.5 ms for all three.

Where this differs from the original code: stretches are measured at full resolution (the
original counts every 10th sample, for speed: a difference of at most 10 samples per burst), and
the plateau thresholds are in ms rather than samples (the same values at dt = 0.025 ms).
While writing this module we compared it with a transcription of the original on random,
jittered, noisy synthetic rhythms at dt = 0.1 and 0.025 ms: features 1–15 and the triphasic and
pyloric decisions agreed within one sample, the plateaus (at dt = 0.025 ms) within 10 samples.

``reasons`` gives, per network, "" if it is pyloric-like, otherwise the first failed criterion:
a non-finite trace, a silent or tonic neuron, too few bursts, not triphasic, not pyloric-like.

Speed: smoothing, spike detection and plateau stretches are compiled loops (numba); bursts and
cycles are a few numpy operations per network. A batch of 50 networks × 3 × 100,000 samples takes
about 0.06 s on a 2-core machine (after numba's first compilation, which is cached).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np

from simulators.errors import DataError

NEURONS: tuple[str, str, str] = ("PD", "LP", "PY")
OBSERVED_FILE = "stg_pyloric/observed_features_prep845_082_0044.json"  # inside the data directory
SMOOTHING_ORDER = 3  # Savitzky–Golay polynomial order of the original
TONIC_RATE_HZ = 30.0  # the original's "tonic" spike rate; used here only to word a reason

FEATURES: tuple[tuple[str, str], ...] = (
    ("cycle_period_ms", "ms"),
    ("burst_duration_PD_ms", "ms"),
    ("burst_duration_LP_ms", "ms"),
    ("burst_duration_PY_ms", "ms"),
    ("gap_end_PD_to_start_LP_ms", "ms"),
    ("gap_end_LP_to_start_PY_ms", "ms"),
    ("delay_start_PD_to_start_LP_ms", "ms"),
    ("delay_start_PD_to_start_PY_ms", "ms"),
    ("duty_cycle_PD", "1"),
    ("duty_cycle_LP", "1"),
    ("duty_cycle_PY", "1"),
    ("phase_gap_PD_LP", "1"),
    ("phase_gap_LP_PY", "1"),
    ("phase_LP", "1"),
    ("phase_PY", "1"),
    ("max_plateau_duration_PD_ms", "ms"),
    ("max_plateau_duration_LP_ms", "ms"),
    ("max_plateau_duration_PY_ms", "ms"),
)
FEATURE_NAMES: tuple[str, ...] = tuple(name for name, _ in FEATURES)


@dataclass(frozen=True)
class _Bursts:
    """Spikes and kept bursts of one neuron; indices are samples of the analysed window."""

    spike_index: np.ndarray  # (k,) peak samples
    start_index: np.ndarray  # (b,) first spike of each kept burst
    starts_ms: np.ndarray  # (b,)
    ends_ms: np.ndarray  # (b,)


@dataclass(frozen=True)
class PyloricFeatures:
    """The 18 pyloric-rhythm features of a batch of PD/LP/PY traces (same interface as ``GoncalvesFeatures``).

    Args:
        window_ms: analyse only start ≤ t < end (the original's burn-in cut); None: the whole trace.
        spike_threshold_mV: spike peaks must exceed this (−10 mV).
        smoothing_window_ms: Savitzky–Golay window before spike detection (0.5 ms; order 3).
        burst_gap_ms: an inter-spike interval this long or longer ends a burst (150 ms).
        min_burst_duration_ms: bursts must last longer than this (50 ms; 40 ms for recorded data).
        plateau_threshold_mV: plateaus are stretches above this (−30 mV).
        min_plateau_ms: a mean longest stretch below this is no plateau (5 ms) ...
        plateau_placeholder_ms: ... and is reported as this (2.5 ms).
        triphasic_fraction: share of PD cycles that must be triphasic (0.9).
        pyloric_fraction: share of triphasic cycles that must be in pyloric order (0.7).
        require_pyloric: also give NaN for triphasic networks that are not pyloric-like.
    """

    window_ms: tuple[float, float] | None = None
    spike_threshold_mV: float = -10.0
    smoothing_window_ms: float = 0.5
    burst_gap_ms: float = 150.0
    min_burst_duration_ms: float = 50.0
    plateau_threshold_mV: float = -30.0
    min_plateau_ms: float = 5.0
    plateau_placeholder_ms: float = 2.5
    triphasic_fraction: float = 0.9
    pyloric_fraction: float = 0.7
    require_pyloric: bool = False

    def __post_init__(self) -> None:
        if self.window_ms is not None:
            start, end = (float(x) for x in self.window_ms)
            if not (math.isfinite(start) and math.isfinite(end) and end > start):
                raise ValueError(f"window_ms must be finite (start, end), end > start; got {self.window_ms}")
            object.__setattr__(self, "window_ms", (start, end))
        for field in ("spike_threshold_mV", "plateau_threshold_mV"):
            if not math.isfinite(getattr(self, field)):
                raise ValueError(f"{field} must be finite, got {getattr(self, field)}")
        if not (math.isfinite(self.burst_gap_ms) and self.burst_gap_ms > 0):
            raise ValueError(f"burst_gap_ms must be > 0, got {self.burst_gap_ms}")
        for field in ("smoothing_window_ms", "min_burst_duration_ms", "min_plateau_ms"):
            if not (math.isfinite(getattr(self, field)) and getattr(self, field) >= 0):
                raise ValueError(f"{field} must be ≥ 0, got {getattr(self, field)}")
        if not (math.isfinite(self.plateau_placeholder_ms) and self.plateau_placeholder_ms >= 0):
            raise ValueError(f"plateau_placeholder_ms must be ≥ 0, got {self.plateau_placeholder_ms}")
        for field in ("triphasic_fraction", "pyloric_fraction"):
            if not 0 < getattr(self, field) <= 1:
                raise ValueError(f"{field} must lie in (0, 1], got {getattr(self, field)}")

    @property
    def names(self) -> list[str]:
        return list(FEATURE_NAMES)

    @property
    def units(self) -> list[str]:
        return [unit for _, unit in FEATURES]

    def __call__(self, t: np.ndarray, traces: np.ndarray) -> np.ndarray:
        """Features ``(n, 18)`` of traces ``(n, 3, T)`` (PD, LP, PY in mV, t in ms); NaN rows if undefined."""
        return self.evaluate(t, traces)[0]

    def reasons(self, t: np.ndarray, traces: np.ndarray) -> list[str]:
        """Per network: "" if the rhythm is pyloric-like, otherwise why not (the first failed criterion).

        Every NaN row has a reason; a triphasic network out of pyloric order has a reason ("not
        pyloric: ...") but keeps its features unless ``require_pyloric``.
        """
        return self.evaluate(t, traces)[1]

    def evaluate(self, t: np.ndarray, traces: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """Features ``(n, 18)`` and reasons (as ``__call__`` and ``reasons``) in one pass over the traces."""
        t, traces = self._window(t, traces)
        n = traces.shape[0]
        dt = (t[-1] - t[0]) / (t.size - 1)
        out = np.full((n, len(FEATURES)), np.nan)
        finite = np.isfinite(traces).all(axis=(1, 2))
        reasons = ["" if ok else self._non_finite_reason(traces[i]) for i, ok in enumerate(finite)]
        if not finite.any():
            return out, reasons
        smoothed = self._smooth(traces, finite, dt)
        offsets, peaks = _find_peaks(smoothed, finite, self.spike_threshold_mV)
        for i in np.flatnonzero(finite):
            spikes = [peaks[offsets[3 * i + j] : offsets[3 * i + j + 1]] for j in range(3)]
            out[i], reasons[i] = self._network(t, dt, smoothed[i], spikes)
        return out, reasons

    def spike_times(self, t: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Spike times (ms) of one trace ``(T,)``, as the features see them (empty if non-finite)."""
        t, index = self._single(t, v)
        return t[index]

    def bursts(self, t: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(starts, ends) in ms of the bursts of one trace ``(T,)`` that the features use."""
        t, index = self._single(t, v)
        found = self._bursts(t, index)
        return found.starts_ms, found.ends_ms

    def fill_undefined(self, x: np.ndarray) -> np.ndarray:
        """A copy of ``x``: nothing is filled.

        A NaN row is a network without a triphasic rhythm, for which no feature has a meaningful value;
        Gonçalves et al. trained only on networks with defined features, and rows that stay NaN are
        dropped the same way here. (An absent plateau is not undefined: it is the 2.5 ms placeholder.)
        """
        return np.array(x, dtype=float, copy=True)

    # -- one network ------------------------------------------------------------------------------

    def _network(
        self, t: np.ndarray, dt: float, smoothed: np.ndarray, spikes: list[np.ndarray]
    ) -> tuple[np.ndarray, str]:
        """Features (18,) and reason of one network from its smoothed traces (3, T) and spike samples."""
        out = np.full(len(FEATURES), np.nan)
        neurons = [self._bursts(t, index) for index in spikes]
        duration_s = t.size * dt / 1000.0
        for name, bursts, needed in zip(NEURONS, neurons, (2, 1, 1), strict=True):
            problem = self._neuron_problem(name, bursts, needed, duration_s)
            if problem:
                return out, problem
        pd, lp, py = neurons
        # LP and PY bursts starting in each PD cycle [start_k, start_k+1)
        lp_edges = np.searchsorted(lp.starts_ms, pd.starts_ms, side="left")
        py_edges = np.searchsorted(py.starts_ms, pd.starts_ms, side="left")
        lp_count, py_count = np.diff(lp_edges), np.diff(py_edges)
        triphasic = (lp_count == 1) & (py_count == 1)
        n_cycles = triphasic.size
        if triphasic.sum() < self.triphasic_fraction * n_cycles - 1e-9:
            lp_wrong, py_wrong = int(np.sum(lp_count != 1)), int(np.sum(py_count != 1))
            return out, (
                f"not triphasic: {n_cycles - triphasic.sum()} of {n_cycles} PD cycles do not hold exactly "
                f"one LP and one PY burst start (LP wrong in {lp_wrong}, PY in {py_wrong}; "
                f"at most {1 - self.triphasic_fraction:.0%} allowed)"
            )
        cycles = np.flatnonzero(triphasic)
        pd_start, pd_end = pd.starts_ms[cycles], pd.ends_ms[cycles]
        lp_start, lp_end = lp.starts_ms[lp_edges[cycles]], lp.ends_ms[lp_edges[cycles]]
        py_start, py_end = py.starts_ms[py_edges[cycles]], py.ends_ms[py_edges[cycles]]

        period = float(np.mean(np.diff(pd.starts_ms)))
        durations = [float(np.mean(b.ends_ms - b.starts_ms)) for b in neurons]
        gaps = [float(np.mean(lp_start - pd_end)), float(np.mean(py_start - lp_end))]
        delays = [float(np.mean(lp_start - pd_start)), float(np.mean(py_start - pd_start))]
        plateaus = [self._plateau(smoothed[j], b, dt) for j, b in enumerate(neurons)]
        out[:] = [
            period,
            *durations,
            *gaps,
            *delays,
            *(d / period for d in durations),
            *(g / period for g in gaps),
            *(d / period for d in delays),
            *plateaus,
        ]

        lp_early = pd_end > lp_start  # LP starts before PD ends
        py_early = lp_start > py_start  # PY starts before LP
        py_short = lp_end > py_end  # PY ends before LP
        in_order = ~(lp_early | py_early | py_short)
        if in_order.sum() >= self.pyloric_fraction * cycles.size - 1e-9:
            return out, ""
        details = [
            f"{text} in {int(flags.sum())}"
            for text, flags in (
                ("LP starts before PD ends", lp_early),
                ("PY starts before LP", py_early),
                ("PY ends before LP", py_short),
            )
            if flags.any()
        ]
        reason = (
            f"not pyloric: {cycles.size - in_order.sum()} of {cycles.size} triphasic cycles out of order "
            f"({', '.join(details)}; at most {1 - self.pyloric_fraction:.0%} allowed)"
        )
        if self.require_pyloric:
            out[:] = np.nan
        return out, reason

    def _bursts(self, t: np.ndarray, spike_index: np.ndarray) -> _Bursts:
        """Group one neuron's spikes (peak samples) into bursts and keep those longer than the minimum."""
        times = t[spike_index]
        if times.size == 0:
            empty = np.empty(0)
            return _Bursts(spike_index, np.empty(0, dtype=np.int64), empty, empty)
        breaks = np.flatnonzero(np.diff(times) >= self.burst_gap_ms)
        first = np.concatenate([[0], breaks + 1])
        last = np.concatenate([breaks, [times.size - 1]])
        keep = times[last] - times[first] > self.min_burst_duration_ms
        first, last = first[keep], last[keep]
        return _Bursts(spike_index, spike_index[first], times[first], times[last])

    def _plateau(self, smoothed: np.ndarray, bursts: _Bursts, dt: float) -> float:
        """Mean over bursts of the longest stretch above threshold (ms), or the placeholder if short."""
        lo = bursts.start_index
        hi = np.append(lo[1:], bursts.spike_index[-1])
        longest = _longest_runs(smoothed, self.plateau_threshold_mV, lo, hi)
        mean_ms = float(np.mean(longest)) * dt
        return mean_ms if mean_ms >= self.min_plateau_ms else self.plateau_placeholder_ms

    def _neuron_problem(self, name: str, bursts: _Bursts, needed: int, duration_s: float) -> str:
        """Why a neuron rules out the rhythm ("" if it has enough bursts to go on)."""
        n_spikes = bursts.spike_index.size
        if n_spikes == 0:
            return f"{name} is silent (no spike above {self.spike_threshold_mV:g} mV)"
        n_bursts = bursts.starts_ms.size
        if n_bursts >= needed:
            return ""
        rate = n_spikes / duration_s
        if rate >= TONIC_RATE_HZ:
            return f"{name} fires tonically ({rate:.0f} spikes/s, {n_bursts} burst(s))"
        fewer = "no bursts" if needed == 1 else f"fewer than {needed} bursts"
        return (
            f"{name} has {fewer} (spike groups split at pauses ≥ {self.burst_gap_ms:g} ms that last "
            f"longer than {self.min_burst_duration_ms:g} ms)"
        )

    @staticmethod
    def _non_finite_reason(network: np.ndarray) -> str:
        bad = [name for name, v in zip(NEURONS, network, strict=True) if not np.isfinite(v).all()]
        return f"non-finite trace ({', '.join(bad)})"

    # -- batch helpers ----------------------------------------------------------------------------

    def _window_mask(self, t: np.ndarray) -> np.ndarray:
        if self.window_ms is None:
            return np.ones(t.size, dtype=bool)
        tol = 1e-9 * max(1.0, abs(float(t[-1])))
        return (t >= self.window_ms[0] - tol) & (t < self.window_ms[1] - tol)

    def _window(self, t: np.ndarray, traces: np.ndarray, sweeps: int = 3) -> tuple[np.ndarray, np.ndarray]:
        """Validate the time grid and traces; return the analysed window of both (float64, C order)."""
        t = np.asarray(t, dtype=float)
        traces = np.asarray(traces, dtype=float)
        if t.ndim != 1 or traces.ndim != 3 or traces.shape[1:] != (sweeps, t.size):
            expected = "(n, 3, T) (PD, LP, PY)" if sweeps == 3 else "(T,)"
            raise ValueError(f"traces must have shape {expected}, T = t.size = {t.size}; got {traces.shape}")
        keep = self._window_mask(t)
        if keep.sum() < 3:
            raise ValueError(f"the analysis window {self.window_ms} holds fewer than 3 samples of t")
        t = t[keep]
        dt = (t[-1] - t[0]) / (t.size - 1)
        if not (dt > 0 and np.all(np.abs(np.diff(t) - dt) <= 1e-6 * dt)):
            raise ValueError("t must be a uniform, increasing time grid (ms)")
        if not keep.all():
            traces = traces[:, :, keep]
        return t, np.ascontiguousarray(traces)

    def _single(self, t: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The analysed time grid and the spike samples of one trace ``(T,)``."""
        v = np.asarray(v, dtype=float)
        t, traces = self._window(t, v.reshape(1, 1, -1), sweeps=1)
        rows = np.isfinite(traces).all(axis=(1, 2))
        if not rows[0]:
            return t, np.empty(0, dtype=np.int64)
        smoothed = self._smooth(traces, rows, (t[-1] - t[0]) / (t.size - 1))
        offsets, peaks = _find_peaks(smoothed, rows, self.spike_threshold_mV)
        return t, peaks[offsets[0] : offsets[1]]

    def _smooth(self, traces: np.ndarray, rows: np.ndarray, dt: float) -> np.ndarray:
        """Savitzky–Golay smoothing (order 3, scipy's 'interp' edges) of the selected rows."""
        width = int(self.smoothing_window_ms / dt + 1e-9)
        width += 1 - width % 2
        if width <= SMOOTHING_ORDER:  # a cubic through ≤ 4 points is the points themselves
            width = 1
        if width > traces.shape[2]:
            raise ValueError(f"traces of {traces.shape[2]} samples are shorter than the smoothing window")
        half = width // 2
        if width == 1:
            centre, left, right = np.ones(1), np.empty((0, 1)), np.empty((0, 1))
        else:
            from scipy.signal import savgol_coeffs  # 0.5 s to import: only when features are computed

            centre = savgol_coeffs(width, SMOOTHING_ORDER, use="dot")
            left = np.array([savgol_coeffs(width, SMOOTHING_ORDER, pos=p, use="dot") for p in range(half)])
            right = np.array(
                [savgol_coeffs(width, SMOOTHING_ORDER, pos=width - half + p, use="dot") for p in range(half)]
            )
        out = np.empty(traces.shape)  # rows not selected are never read
        _savgol(traces, rows, centre, left, right, out)
        return out


def load_observed(path: str | Path) -> tuple[list[str], np.ndarray]:
    """The observed features ``(names, values (18,))`` of a JSON file like ``OBSERVED_FILE``.

    The file holds ``{"features": {name: value, ...}}`` with exactly the 18 names of
    ``PyloricFeatures.names`` (any order; returned in the canonical order) and finite numbers.
    Raises DataError naming the file and the problem.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"observed feature file {path} does not exist")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"observed feature file {path} is not valid JSON: {err}") from None
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, dict):
        raise DataError(f'observed feature file {path} needs an object "features": {{name: value}}')
    missing = [name for name in FEATURE_NAMES if name not in features]
    unexpected = [name for name in features if name not in FEATURE_NAMES]
    if missing or unexpected:
        raise DataError(
            f"observed feature file {path} has the wrong feature names: missing {missing}, "
            f"unexpected {unexpected}; expected {list(FEATURE_NAMES)}"
        )
    values = []
    for name in FEATURE_NAMES:
        value = features[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise DataError(f"observed feature file {path}: {name} must be a finite number, got {value!r}")
        values.append(float(value))
    return list(FEATURE_NAMES), np.array(values)


@numba.njit(cache=True)
def _savgol(
    v: np.ndarray, rows: np.ndarray, centre: np.ndarray, left: np.ndarray, right: np.ndarray, out: np.ndarray
) -> None:
    """``out[i, j] = savgol_filter(v[i, j], ...)`` for selected rows, given the filter's coefficients."""
    width = centre.size
    half = width // 2
    n_samples = v.shape[2]
    for i in range(v.shape[0]):
        if not rows[i]:
            continue
        for j in range(v.shape[1]):
            x = v[i, j]
            y = out[i, j]
            for p in range(half, n_samples - half):
                acc = 0.0
                for q in range(width):
                    acc += centre[q] * x[p - half + q]
                y[p] = acc
            for p in range(half):  # polynomial fit to the first / last window
                head = 0.0
                tail = 0.0
                for q in range(width):
                    head += left[p, q] * x[q]
                    tail += right[p, q] * x[n_samples - width + q]
                y[p] = head
                y[n_samples - half + p] = tail


@numba.njit(cache=True)
def _find_peaks(s: np.ndarray, rows: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Spike peaks of every trace ``s[i, j]``: ``(offsets (n·k + 1,), samples)``.

    The peaks of trace (i, j) are ``samples[offsets[i·k + j] : offsets[i·k + j + 1]]``. A peak is a sample
    above threshold that is ≥ the previous sample and ≥ the next one.
    """
    n, k, n_samples = s.shape
    counts = np.zeros(n * k, dtype=np.int64)
    for i in range(n):
        if not rows[i]:
            continue
        for j in range(k):
            y = s[i, j]
            c = 0
            for p in range(1, n_samples - 1):
                if y[p] > threshold and y[p] >= y[p - 1] and y[p + 1] <= y[p]:
                    c += 1
            counts[i * k + j] = c
    offsets = np.zeros(n * k + 1, dtype=np.int64)
    offsets[1:] = np.cumsum(counts)
    peaks = np.empty(offsets[-1], dtype=np.int64)
    for i in range(n):
        if not rows[i]:
            continue
        for j in range(k):
            y = s[i, j]
            c = offsets[i * k + j]
            for p in range(1, n_samples - 1):
                if y[p] > threshold and y[p] >= y[p - 1] and y[p + 1] <= y[p]:
                    peaks[c] = p
                    c += 1
    return offsets, peaks


@numba.njit(cache=True)
def _longest_runs(y: np.ndarray, threshold: float, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Longest run (samples) of ``y > threshold`` within each window ``lo[b] ≤ p < hi[b]``.

    Only runs that end inside the window (a sample at or below threshold follows) count.
    """
    out = np.zeros(lo.size, dtype=np.int64)
    for b in range(lo.size):
        current = 0
        longest = 0
        for p in range(lo[b], hi[b]):
            if y[p] > threshold:
                current += 1
            else:
                longest = max(longest, current)
                current = 0
        out[b] = longest
    return out
