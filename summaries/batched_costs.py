"""The Neuroptimus error components for a whole batch of traces in one compiled call.

Same definitions as ``summaries.costs`` (whose per-trace functions are the
readable specification and the test oracle): threshold-crossing spikes as in
``summaries.spikes.detect_spikes``, and the eight components of
shared/docs/USECASES.md. Results agree with the per-trace code to round-off
(tests/test_batched_costs.py); the whole batch costs a few passes over the
samples instead of a dozen numpy calls per trace.
"""

from __future__ import annotations

import numba
import numpy as np

# Component codes, in the order of summaries.costs.COMPONENTS.
CODES = {
    "mse": 0,
    "mse_excl_spikes": 1,
    "spike_count": 2,
    "spike_count_stim": 3,
    "latency": 4,
    "ap_amplitude": 5,
    "ap_width": 6,
    "ahp_depth": 7,
}


@numba.njit(cache=True)
def find_spikes(v: np.ndarray, threshold: float, start: np.ndarray, stop: np.ndarray) -> int:
    """Threshold-crossing spikes of ``v`` into ``start``/``stop`` (capacity ≥ len(v) // 2 + 1); their count.

    A spike starts at the first sample above the threshold and stops at the first
    later sample below it; samples exactly at the threshold keep the previous state;
    a trace that begins above threshold starts a spike at 0; an unfinished one is dropped.
    """
    state = 1 if v[0] > threshold else -1
    current = 0
    count = 0
    for i in range(1, v.size):
        if v[i] > threshold:
            s = 1
        elif v[i] < threshold:
            s = -1
        else:
            continue
        if s != state:
            if s > 0:
                current = i
            else:
                start[count] = current
                stop[count] = i
                count += 1
            state = s
    return count


@numba.njit(cache=True)
def _peaks(v: np.ndarray, start: np.ndarray, stop: np.ndarray, count: int) -> np.ndarray:
    values = np.empty(count)
    for j in range(count):
        best = v[start[j]]
        for i in range(start[j] + 1, stop[j]):
            if v[i] > best:
                best = v[i]
        values[j] = best
    return values


@numba.njit(cache=True)
def _presence(n_model: int, n_target: int) -> float:
    """0 if neither spikes, 1 if only one does, −1 if both do."""
    if n_model == 0 and n_target == 0:
        return 0.0
    if (n_model > 0) != (n_target > 0):
        return 1.0
    return -1.0


@numba.njit(cache=True)
def _interspike_min_mean(v: np.ndarray, start: np.ndarray, stop: np.ndarray, count: int, k: int) -> float:
    total = 0.0
    for j in range(k):
        end = start[j + 1] if j + 1 < count else v.size
        end = max(end, stop[j] + 1)
        low = v[stop[j]]
        for i in range(stop[j] + 1, end):
            low = min(low, v[i])
        total += low
    return total / k


@numba.njit(cache=True)
def _sweep_components(
    model: np.ndarray,
    target: np.ndarray,
    codes: np.ndarray,
    threshold: float,
    window: int,
    stim_lo: int,
    stim_hi: int,
    out: np.ndarray,
) -> None:
    """Add the components of one model sweep against one target sweep to ``out``."""
    n = min(model.size, target.size)
    cap = n // 2 + 2
    m_start, m_stop = np.empty(cap, np.int64), np.empty(cap, np.int64)
    t_start, t_stop = np.empty(cap, np.int64), np.empty(cap, np.int64)
    n_m = find_spikes(model, threshold, m_start, m_stop)
    n_t = find_spikes(target, threshold, t_start, t_stop)
    t_lo, t_hi = target.min(), target.max()
    span = t_hi - t_lo
    for c in range(codes.size):
        code = codes[c]
        value = 0.0
        if code == 0 or (code == 1 and n_m == 0 and n_t == 0):
            err = 0.0
            for i in range(n):
                err += (target[i] - model[i]) ** 2
            err /= n
            value = err / span**2 if span > 0 else err
        elif code == 1:
            excluded = np.zeros(n, np.bool_)
            for j in range(n_m):
                excluded[max(0, m_start[j] - window) : min(n, m_stop[j] + window)] = True
            for j in range(n_t):
                excluded[max(0, t_start[j] - window) : min(n, t_stop[j] + window)] = True
            err = 0.0
            # the span of the zeroed target (the whole target array, zeros included)
            lo, hi = np.inf, -np.inf
            for i in range(target.size):
                x = 0.0 if (i < n and excluded[i]) else target[i]
                lo, hi = min(lo, x), max(hi, x)
                if i < n and not excluded[i]:
                    err += (target[i] - model[i]) ** 2
            err /= n
            value = err / (hi - lo) ** 2 if hi - lo > 0 else err
        elif code == 2:
            value = abs(n_m - n_t) / (n_m + n_t + 1)
        elif code == 3:
            hi_m = model.size if stim_hi < 0 else min(stim_hi, model.size)
            hi_t = target.size if stim_hi < 0 else min(stim_hi, target.size)
            a = find_spikes(model[stim_lo:hi_m], threshold, np.empty(cap, np.int64), np.empty(cap, np.int64))
            b = find_spikes(target[stim_lo:hi_t], threshold, np.empty(cap, np.int64), np.empty(cap, np.int64))
            value = abs(a - b) / (a + b + 1)
        else:
            value = _presence(n_m, n_t)
            if value < 0:
                k = min(n_m, n_t)
                if code == 4:
                    value = float(m_start[0] - t_start[0]) ** 2 / float(target.size) ** 2
                elif code == 5:
                    pm, pt = _peaks(model, m_start, m_stop, n_m), _peaks(target, t_start, t_stop, n_t)
                    overshoot = (pt - threshold).max()
                    if overshoot == 0.0:
                        overshoot = 1e-12
                    value = ((pm[:k] - pt[:k]) ** 2).sum() / k / overshoot**2
                elif code == 6:
                    w_m = (m_stop[:k] - m_start[:k]).sum() / (2.0 * k)
                    w_t = (t_stop[:k] - t_start[:k]).sum() / (2.0 * k)
                    value = ((w_t - w_m) / w_t) ** 2
                else:
                    m_min = _interspike_min_mean(model, m_start, m_stop, n_m, k)
                    t_min = _interspike_min_mean(target, t_start, t_stop, n_t, k)
                    lo, hi, seen = np.inf, -np.inf, False
                    for i in range(target.size):
                        if target[i] < threshold:
                            lo, hi, seen = min(lo, target[i]), max(hi, target[i]), True
                    sub_range = hi - lo if seen else 1.0
                    if sub_range == 0.0:
                        sub_range = 1.0
                    value = (t_min - m_min) ** 2 / sub_range**2
        out[c] += value


@numba.njit(cache=True)
def _batch_components(
    traces: np.ndarray,
    target: np.ndarray,
    ok: np.ndarray,
    codes: np.ndarray,
    threshold: float,
    window: int,
    stim_lo: int,
    stim_hi: int,
    out: np.ndarray,
) -> None:
    for row in range(traces.shape[0]):
        if not ok[row]:
            continue
        for c in range(codes.size):
            out[row, c] = 0.0
        for s in range(traces.shape[1]):
            _sweep_components(traces[row, s], target[s], codes, threshold, window, stim_lo, stim_hi, out[row])


def batch_components(
    traces: np.ndarray,
    target: np.ndarray,
    ok: np.ndarray,
    names: tuple[str, ...],
    threshold_mV: float,
    spike_window_samples: int,
    stim_slice: slice,
) -> np.ndarray:
    """Unweighted components ``(n, c)`` of traces ``(n, sweeps, T)`` against ``target`` ``(sweeps, T)``,
    summed over sweeps; NaN for rows where ``ok`` is False."""
    traces = np.ascontiguousarray(traces, dtype=float)
    target = np.ascontiguousarray(np.atleast_2d(target), dtype=float)
    if traces.ndim != 3 or traces.shape[1] != target.shape[0]:
        raise ValueError(f"traces {traces.shape} and target {target.shape} have different sweeps")
    out = np.full((traces.shape[0], len(names)), np.nan)
    codes = np.array([CODES[n] for n in names], dtype=np.int64)
    stim_lo = stim_slice.start or 0
    stim_hi = -1 if stim_slice.stop is None else int(stim_slice.stop)
    _batch_components(
        traces,
        target,
        np.asarray(ok, dtype=np.bool_),
        codes,
        float(threshold_mV),
        int(spike_window_samples),
        int(stim_lo),
        stim_hi,
        out,
    )
    return out
