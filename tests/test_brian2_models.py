"""Brian2 simulators (UC5 AdEx, Gonçalves HH with M-current), their features and the Allen loader.

Fast tier: the first run on a machine compiles the Brian2 Cython code (cached on
disk afterwards); later runs take a few seconds per simulator.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from simulators.base import STATUS_FAILED, STATUS_OK
from simulators.brian2_adex import AdExBrian2
from simulators.brian2_hh_goncalves import GROUND_TRUTH, HHMCurrentBrian2
from simulators.errors import DataError
from summaries.hh_features import GoncalvesFeatures
from summaries.spikes import detect_spikes
from usecases.allen_data import list_allen_cells, load_allen_sweep

REGULAR = [0.005, 30.0, -65.0, 10.0, -45.0, 2.0, 1.0, 0.05, 2.0, 100.0]  # C = 150 pF, Vreset = −55 mV
UNSTABLE = [0.001, 10.0, -40.0, 10.0, -30.0, 2.0, -5.0, 0.0, 2.0, 10.0]  # gL + a < 0: V runs away


@pytest.fixture(scope="module")
def adex_result():  # type: ignore[no-untyped-def]
    theta = np.array([REGULAR, UNSTABLE, [np.nan] * 10, [*REGULAR[:8], 0.0, 100.0]])
    return AdExBrian2()(theta)


def test_adex_grid_matches_the_uc5_recording(adex_result, data_dir) -> None:  # type: ignore[no-untyped-def]
    target = np.loadtxt(data_dir / "neuroptimus/uc5_adex_ca3/target_voltages.tsv")
    assert adex_result.traces.shape == (4, 4, target.shape[0]) == (4, 4, 5500)
    np.testing.assert_allclose(adex_result.t, np.arange(5500) * 0.2)
    assert AdExBrian2().sweep_names == ["150pA", "200pA", "300pA", "600pA"]


def test_adex_regular_firing_is_visible_to_threshold_detection(adex_result) -> None:  # type: ignore[no-untyped-def]
    assert adex_result.status[0] == STATUS_OK and adex_result.messages[0] == ""
    t = adex_result.t
    counts = []
    for sweep in adex_result.traces[0]:
        spikes = detect_spikes(sweep, threshold=0.0)  # UC5's Neuroptimus threshold
        counts.append(spikes.count)
        assert np.all((t[spikes.start] > 100.0) & (t[spikes.start] < 900.0))  # only during the step
        np.testing.assert_allclose(sweep[spikes.start], 30.0)  # one marker sample per spike
        np.testing.assert_allclose(sweep[spikes.stop], -55.0)  # then Vreset, held for tref
        assert np.all(sweep[t < 100.0] < -59.9)  # relaxes from −60 mV towards EL = −65 mV
    assert 2 <= counts[0] < counts[1] < counts[2] < counts[3] < 150  # more current, more spikes


def test_adex_bad_parameter_sets_fail_without_raising(adex_result) -> None:  # type: ignore[no-untyped-def]
    np.testing.assert_array_equal(
        adex_result.status, [STATUS_OK, STATUS_FAILED, STATUS_FAILED, STATUS_FAILED]
    )
    assert "diverged" in adex_result.messages[1]
    assert "non-finite" in adex_result.messages[2]
    assert "Delta_T" in adex_result.messages[3]
    assert np.all(np.isnan(adex_result.traces[1:]))


def test_adex_marker_at_vpeak_and_configuration_checks() -> None:
    sim = AdExBrian2(spike_marker_mV=None, amplitudes_pA=(600.0,), tstop_ms=300.0, stim_end_ms=250.0)
    assert pickle.loads(pickle.dumps(sim)) == sim
    trace = sim(np.array([REGULAR])).traces[0, 0]
    assert trace.max() == pytest.approx(-45.0 + 5 * 2.0)  # Vpeak = Vθ + 5ΔT
    with pytest.raises(ValueError, match="record_dt_ms"):
        AdExBrian2(record_dt_ms=0.03)
    with pytest.raises(ValueError, match="codegen_target"):
        AdExBrian2(codegen_target="cpp_standalone")
    with pytest.raises(ValueError, match=r"shape \(n, 10\)"):
        sim(np.zeros((1, 9)))


@pytest.fixture(scope="module")
def hh_runs():  # type: ignore[no-untyped-def]
    sim = HHMCurrentBrian2()
    theta = np.array([GROUND_TRUTH, GROUND_TRUTH, [np.nan] * 8, [*GROUND_TRUTH[:2], -0.1, *GROUND_TRUTH[3:]]])
    return sim, sim(theta, seed=1), sim(theta, seed=1), sim(theta, seed=2)


def test_hh_ground_truth_spikes_during_the_stimulus(hh_runs) -> None:  # type: ignore[no-untyped-def]
    sim, result, _, _ = hh_runs
    assert result.traces.shape == (4, 1, 12_001) and result.t[-1] == pytest.approx(120.0)
    np.testing.assert_array_equal(result.status, [STATUS_OK, STATUS_OK, STATUS_FAILED, STATUS_FAILED])
    assert "non-finite" in result.messages[2] and "g_leak" in result.messages[3]
    v, t = result.traces[0, 0], result.t
    assert (
        v[0] == -70.0 and v[t < 10.0].max() < -60.0 and v[t > 111.0].max() < -40.0
    )  # spikes only in the step
    features = GoncalvesFeatures(sim.stim_start_ms, sim.stim_end_ms)
    x = features(t, result.traces)
    assert np.all(np.isfinite(x[:2])) and np.all(np.isnan(x[2:]))
    count, rest_mean, rest_sd, mean, variance, skewness, kurtosis = x[0]
    assert 3 <= count <= 10
    assert -71.0 < rest_mean < -69.0 and 0.0 < rest_sd < 1.0  # σ = 0.1 gives small resting noise
    assert rest_mean < mean < -40.0 and variance > 50.0 and skewness > 1.0 and kurtosis > 3.0  # spikes


def test_hh_noise_follows_the_seed(hh_runs) -> None:  # type: ignore[no-untyped-def]
    _, first, again, other = hh_runs
    np.testing.assert_array_equal(first.traces, again.traces)
    rest = first.t < 10.0
    assert not np.allclose(first.traces[0, 0, rest], other.traces[0, 0, rest])
    assert not np.allclose(first.traces[0, 0], first.traces[1, 0])  # rows draw their own noise


def test_hh_starts_at_e_leak_when_asked() -> None:
    sim = HHMCurrentBrian2(duration_ms=5.0, stim_start_ms=1.0, stim_end_ms=4.0, v_init_mV=None)
    assert pickle.loads(pickle.dumps(sim)) == sim
    theta = np.array(GROUND_TRUTH)
    theta[7] = -65.0
    assert sim(theta[None], seed=0).traces[0, 0, 0] == pytest.approx(-65.0)
    with pytest.raises(ValueError, match="record_dt_ms"):
        HHMCurrentBrian2(record_dt_ms=0.015)


def test_features_of_a_flat_trace_and_failed_rows() -> None:
    t = np.arange(12_001) * 0.01
    features = GoncalvesFeatures(10.0, 110.0, sweep_names=("a", "b"))
    assert features.names[:2] == ["a.spike_count", "a.rest_mean"] and len(features.names) == 14
    assert len(features.units) == 14
    traces = np.full((2, 2, t.size), -65.0)
    traces[1, 1, 5] = np.nan
    x = features(t, traces)
    np.testing.assert_allclose(x[0, :5], [0.0, -65.0, 0.0, -65.0, 0.0], atol=1e-12)
    assert np.all(np.isnan(x[0, 5:7])) and np.all(np.isnan(x[1, 7:]))
    filled = features.fill_undefined(x)
    np.testing.assert_allclose(filled[0, 5:7], [0.0, 3.0])
    assert np.all(np.isnan(filled[1, 7:]))  # a failed sweep stays NaN


def test_spike_count_follows_the_original_definition() -> None:
    t = np.arange(2000) * 0.01  # 20 ms
    v = np.full(t.size, -65.0)
    for peak_ms, height in ((2.0, 20.0), (8.0, 20.0), (8.3, 20.0), (12.0, -20.0), (15.0, 0.0), (19.0, 20.0)):
        v += (height + 65.0) * np.exp(-(((t - peak_ms) / 0.1) ** 2))
    features = GoncalvesFeatures(5.0, 18.0)
    # 2 ms: before the stimulus; 8.3 ms: 0.3 ms after the previous peak; 12 ms: below −10 mV;
    # 19 ms: after the stimulus. Counted: 8 and 15 ms.
    np.testing.assert_allclose(features.spike_times(t, v), [7.99, 14.99])
    assert features(t, v[None, None])[0, 0] == 2.0


def test_moments_are_variance_skewness_and_pearson_kurtosis() -> None:
    t = np.arange(3000) * 0.1
    rng = np.random.default_rng(0)
    v = -60.0 + rng.gamma(2.0, 2.0, t.size)
    x = GoncalvesFeatures(50.0, 250.0)(t, v[None, None])[0]
    window = v[(t > 50.0) & (t < 250.0)]
    np.testing.assert_allclose(x[1], np.mean(v[t < 50.0]))
    np.testing.assert_allclose(x[2], np.std(v[(t >= 45.0) & (t < 50.0)]))
    np.testing.assert_allclose(
        x[3:], [window.mean(), window.var(), stats.skew(window), stats.kurtosis(window, fisher=False)]
    )


def test_compiled_spike_count_agrees_with_the_per_trace_definition() -> None:
    """The batch count (numba) against ``spike_times`` on noisy spiking traces, many sweeps at once."""
    rng = np.random.default_rng(3)
    t = np.arange(4000) * 0.05
    v = -65.0 + np.cumsum(rng.normal(0.0, 1.0, (40, 2, t.size)), axis=2)
    v += 80.0 * (rng.random(v.shape) < 0.01)  # isolated jumps: peaks, some closer than 0.5 ms
    features = GoncalvesFeatures(20.0, 180.0, sweep_names=("a", "b"))
    x = features(t, v)
    for i in range(v.shape[0]):
        for s in range(2):
            assert x[i, 7 * s] == features.spike_times(t, v[i, s]).size
    assert x[:, 0].max() > 5


def test_allen_loader_applies_the_junction_potential(data_dir) -> None:  # type: ignore[no-untyped-def]
    cells = list_allen_cells()
    assert len(cells) == 10 and len(set(cells)) == 10
    index = json.loads((data_dir / "allen_cell_types/index.json").read_text())
    for cell, entry in zip(cells, index["sweeps"], strict=True):
        sweep = load_allen_sweep(cell)
        assert sweep.t_ms.shape == sweep.v_mV.shape == (72_500,)
        assert np.all(np.isfinite(sweep.v_mV)) and sweep.t_ms[1] == pytest.approx(0.02)
        with np.load(data_dir / "allen_cell_types" / entry["file"]) as raw:
            np.testing.assert_allclose(sweep.v_mV, raw["v_mV"] - 14.0, rtol=1e-6)
        assert (sweep.stim_start_ms, sweep.stim_end_ms) == pytest.approx((205.0, 1205.0))
        density = entry["step_amplitude_uA"] / entry["soma_area_cm2_used_by_goncalves"]
        assert sweep.amplitude_uA_per_cm2 == pytest.approx(density) and 0.5 < density < 3.0
    assert load_allen_sweep(str(cells[0])).specimen_id == cells[0]


def test_allen_loader_names_the_bad_file(tmp_path: Path, data_dir) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "allen_cell_types"
    folder.mkdir()
    index = json.loads((data_dir / "allen_cell_types/index.json").read_text())
    (folder / "index.json").write_text(json.dumps(index))
    with pytest.raises(DataError, match=r"cell_509881736_sweep_39\.npz is missing"):
        load_allen_sweep(509881736, data_dir=tmp_path)
    with pytest.raises(DataError, match="no sweep for cell"):
        load_allen_sweep(123, data_dir=tmp_path)
    (folder / "cell_509881736_sweep_39.npz").write_bytes(b"not an npz")
    with pytest.raises(DataError, match=r"cell_509881736_sweep_39\.npz is not a readable npz"):
        load_allen_sweep(509881736, data_dir=tmp_path)
    (folder / "index.json").write_text("{")
    with pytest.raises(DataError, match=r"index\.json is not valid JSON"):
        list_allen_cells(data_dir=tmp_path)
