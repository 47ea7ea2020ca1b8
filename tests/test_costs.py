"""The Neuroptimus error components on traces whose answers are known by hand."""

from types import SimpleNamespace

import numpy as np
import pytest

from summaries import FAILED_ERROR, TraceCost, detect_spikes
from summaries.costs import COMPONENTS


def spiky(
    n: int = 2000, spikes: tuple[int, ...] = (300, 900), width: int = 10, peak: float = 30.0
) -> np.ndarray:
    v = np.full(n, -65.0)
    for s in spikes:
        v[s : s + width] = peak
    return v


def test_detect_spikes_start_stop_peak() -> None:
    v = spiky()
    v[305] = 40.0
    sp = detect_spikes(v, 0.0)
    assert sp.count == 2
    np.testing.assert_array_equal(sp.start, [300, 900])
    np.testing.assert_array_equal(sp.stop, [310, 910])
    np.testing.assert_array_equal(sp.peak, [305, 900])
    np.testing.assert_array_equal(sp.peak_value, [40.0, 30.0])


def test_spike_not_back_below_threshold_is_not_counted() -> None:
    v = spiky(spikes=(300,))
    v[1990:] = 10.0
    assert detect_spikes(v, 0.0).count == 1


def test_trace_starting_above_threshold() -> None:
    v = spiky(spikes=(300,))
    v[:5] = 10.0
    assert detect_spikes(v, 0.0).count == 2


def cost(**weights: float) -> TraceCost:
    return TraceCost(weights=weights, threshold_mV=0.0, spike_window_samples=4, dt_ms=0.1, stim_end_ms=100.0)


def test_identical_traces_cost_nothing() -> None:
    c = TraceCost(weights={name: 1.0 for name in COMPONENTS}, spike_window_samples=4, dt_ms=0.1)
    np.testing.assert_allclose(c.components(spiky(), spiky()), 0.0)


def test_mse_normalised_by_target_range() -> None:
    target = np.linspace(-70, -50, 100)
    model = target + 2.0
    assert cost(mse=1).components(model, target)[0] == pytest.approx(4.0 / 400.0)


def test_mse_excluding_spikes_ignores_spike_windows() -> None:
    target = spiky()
    model = spiky(spikes=(302, 900))  # shifted first spike, same subthreshold trace
    assert cost(mse_excl_spikes=1).components(model, target)[0] == pytest.approx(0.0)
    model[1500] = -55.0  # a subthreshold difference counts
    value = cost(mse_excl_spikes=1).components(model, target)[0]
    # normalised by the range of the zeroed target: 0 − (−65) mV
    assert value == pytest.approx(100.0 / 2000 / 65.0**2)


def test_spike_count_formula_and_stimulus_variant() -> None:
    target = spiky(spikes=(300, 900))
    model = spiky(spikes=(300, 900, 1500))
    assert cost(spike_count=1).components(model, target)[0] == pytest.approx(1 / 6)
    # stimulus window 0–100 ms = samples 0–1000: both have 2 spikes there
    assert cost(spike_count_stim=1).components(model, target)[0] == pytest.approx(0.0)


def test_spike_components_are_one_when_only_one_trace_spikes() -> None:
    flat = np.full(2000, -65.0)
    for name in ("latency", "ap_amplitude", "ap_width", "ahp_depth"):
        assert cost(**{name: 1}).components(flat, spiky())[0] == 1.0
        assert cost(**{name: 1}).components(flat, flat)[0] == 0.0


def test_ap_amplitude_and_width() -> None:
    target = spiky(peak=30.0, width=10)
    model = spiky(peak=20.0, width=14)
    comps = cost(ap_amplitude=1, ap_width=1, latency=1).components(model, target)
    assert comps[0] == pytest.approx(100.0 / 900.0)  # (20 − 30)² / 30²
    assert comps[1] == pytest.approx(((5 - 7) / 5) ** 2)  # half widths 5 vs 7 samples
    assert comps[2] == pytest.approx(0.0)


def test_latency() -> None:
    comps = cost(latency=1).components(spiky(spikes=(320, 900)), spiky())
    assert comps[0] == pytest.approx(20.0**2 / 2000.0**2)


def test_weighted_sum_summed_over_sweeps_and_failed_runs() -> None:
    c = cost(mse=0.5, spike_count=2.0)
    target = np.stack([spiky(), spiky(spikes=(500,))])
    traces = np.stack([target, target + 1.0, np.full_like(target, np.nan)])
    holder = SimpleNamespace(traces=target)
    comps, total = c.batch(
        np.arange(2000) * 0.1, traces, np.empty((3, 0)), holder, ok=np.array([True, True, False])
    )
    assert total[0] == pytest.approx(0.0)
    expected = 0.5 * (1 / 95**2 + 1 / 95**2)
    assert total[1] == pytest.approx(expected)
    assert total[2] == FAILED_ERROR and np.all(np.isnan(comps[2]))


def test_unknown_component_rejected() -> None:
    with pytest.raises(ValueError, match="unknown cost components"):
        TraceCost(weights={"mse": 1.0, "speed": 1.0})
