"""BatchedEfelFeatures against eFEL itself (EfelFeatures): UC1 and UC5 traces, settings, edge cases.

Tolerance: spike counts and the NaN pattern must be identical; every other
value within RTOL = 1e-12 relative. The batched code reproduces eFEL's
resampling and arithmetic, so the only differences left are summation order
(numpy's pairwise sums in eFEL's means) and eFEL re-resampling V once per
uncached feature (about 1 ulp per pass). Measured: ≤ 1.1e-15 relative on UC1
and UC5. Without reproducing the resampling, steady_state_voltage_stimend
differs by up to 0.06 mV on UC1 (the drifted time grid moves the window's
last sample), which this tolerance catches.

``python tests/test_batched_features.py`` prints the speed of both on a UC1 batch.
"""

from __future__ import annotations

import time
from typing import Any

import efel
import numpy as np
import pytest

from sbi_neuro.registry import get_usecase
from simulators.batched_hh import HHSomaBatched
from summaries import EfelFeatures, Feature
from summaries.batched_features import DEFAULT_SETTINGS, EFEL_FEATURES, BatchedEfelFeatures

RTOL = 1e-12
UC1_TRUTH = (0.12, 0.036, 0.0003)


def batched(features: EfelFeatures, **settings: Any) -> BatchedEfelFeatures:
    """The batched twin of ``features`` (settings overridden by ``settings``)."""
    return BatchedEfelFeatures(
        features.features,
        features.stim_start_ms,
        features.stim_end_ms,
        {**features.settings, **settings},
        features.sweep_names,
    )


def efel_reference(features: EfelFeatures, **settings: Any) -> EfelFeatures:
    """eFEL itself with the arguments of ``features`` (which a use case may build as BatchedEfelFeatures)."""
    return EfelFeatures(
        features.features,
        features.stim_start_ms,
        features.stim_end_ms,
        {**features.settings, **settings},
        features.sweep_names,
    )


def assert_same(features: EfelFeatures, reference: np.ndarray, x: np.ndarray) -> dict[str, float]:
    """Same NaN pattern, identical spike counts, other values within RTOL; returns max relative errors."""
    assert x.shape == reference.shape
    k = len(features.features)
    errors = {}
    for j, name in enumerate(features.names):
        ref, got = reference[:, j], x[:, j]
        np.testing.assert_array_equal(np.isnan(got), np.isnan(ref), err_msg=f"{name}: NaN pattern")
        if features.features[j % k].efel_name == "Spikecount_stimint":
            np.testing.assert_array_equal(got, ref, err_msg=name)
        else:
            np.testing.assert_allclose(got, ref, rtol=RTOL, atol=0.0, equal_nan=True, err_msg=name)
        nonzero = ~np.isnan(ref) & (ref != 0)
        errors[name] = float(np.max(np.abs(got - ref)[nonzero] / np.abs(ref[nonzero]), initial=0.0))
    return errors


@pytest.fixture(scope="module")
def uc1() -> Any:
    """UC1 traces of 60 prior draws and the ground truth (last row), simulated by the compiled kernel."""
    uc = get_usecase("hh")
    theta = np.vstack([uc.prior.sample(60, np.random.default_rng(0)), [UC1_TRUTH]])
    result = HHSomaBatched()(theta)
    assert np.all(result.status == 0)
    return uc, result.t, result.traces


def test_uc1_prior_draws_match_efel(uc1) -> None:  # type: ignore[no-untyped-def]
    uc, t, traces = uc1
    reference = efel_reference(uc.features)(t, traces)
    x = batched(uc.features)(t, traces)
    assert_same(uc.features, reference, x)
    named = {name: reference[:, j] for j, name in enumerate(uc.features.names)}
    # the batch covers spiking, silent and irregular traces, so the comparison means something
    assert np.sum(named["spike_count"] > 3) >= 15 and np.sum(named["spike_count"] == 0) >= 10
    assert np.sum(np.isfinite(named["isi_cv"])) >= 15 and np.sum(np.isfinite(named["ap_amplitude"])) >= 15
    assert named["spike_count"][-1] == 34  # the ground truth, as in test_features


@pytest.mark.parametrize(
    "settings",
    [
        {"Threshold": -20.0, "interp_step": 0.025, "strict_stiminterval": True, "ignore_first_ISI": False},
        {"Threshold": 0.0, "interp_step": 0.025, "DerivativeThreshold": 0.0},  # ties with flat samples
        {
            "Threshold": 0.0,
            "interp_step": 0.025,
            "DerivativeThreshold": 25.0,
            "DerivativeWindow": 6,
            "voltage_base_start_perc": 0.5,
            "voltage_base_end_perc": 0.75,  # ends on the peak of the spike at 150 ms
            "precision_threshold": 0.03,
        },
    ],
)
def test_uc1_settings_match_efel(uc1, settings) -> None:  # type: ignore[no-untyped-def]
    uc, t, traces = uc1
    traces = np.concatenate([traces[:20], edge_case_traces(t)])
    reference = efel_reference(uc.features, **settings)(t, traces)
    x = batched(uc.features, **settings)(t, traces)
    assert_same(uc.features, reference, x)
    default = efel_reference(uc.features)(t, traces)
    assert not np.array_equal(x, default, equal_nan=True)  # the settings changed something


def test_uc5_brian2_traces_and_recordings_match_efel(data_dir) -> None:  # type: ignore[no-untyped-def]
    from simulators.brian2_adex import AdExBrian2

    uc: Any = get_usecase("adex")
    result = AdExBrian2()(uc.prior.sample(20, np.random.default_rng(1)))
    recordings = uc.load_target("data", data_dir).traces
    traces = np.concatenate([result.traces, recordings[None]])
    reference = efel_reference(uc.features)(result.t, traces)
    x = batched(uc.features)(result.t, traces)
    assert_same(uc.features, reference, x)
    assert np.sum(np.isfinite(reference[:, uc.features.names.index("600pA.isi_cv")])) >= 10
    assert np.all(np.isfinite(x[-1, : len(uc.features.features)]) == [True, False, False, False, True, True])


def _spike(t: np.ndarray, at_ms: float) -> np.ndarray:
    """A smooth 100 mV spike with an AHP 2 ms later."""
    return 100.0 * np.exp(-(((t - at_ms) / 0.3) ** 2)) - 12.0 * np.exp(-(((t - at_ms - 2.0) / 2.0) ** 2))


EDGE_CASES = (
    "flat",
    "one NaN",
    "one inf",
    "subthreshold step",
    "one spike",
    "two spikes",
    "four spikes",
    "starts above threshold",
    "starts above threshold, then a spike",
    "ends above threshold",
    "last sample above threshold",
    "AHP at the last sample",
    "samples exactly at threshold",
    "plateaus exactly at threshold",
    "notch in the AHP",
    "linear spike after an exactly flat rest",
    "spike before the stimulus",
    "only a spike before the stimulus",
    "spike after the stimulus",
    "spike at stimulus onset",
    "single-sample spikes (UC5 marker)",
    "1e12 everywhere",
    "above threshold everywhere",
)


def edge_case_traces(t: np.ndarray) -> np.ndarray:
    """Traces ``(len(EDGE_CASES), 1, T)`` on UC1's grid (stimulus 200–700 ms, threshold 0 mV)."""
    rest = np.full(t.size, -65.0)
    v = {name: rest.copy() for name in EDGE_CASES}
    v["one NaN"][100] = np.nan
    v["one inf"][100] = np.inf
    v["subthreshold step"] += 10.0 * ((t >= 200) & (t < 700))
    v["one spike"] += _spike(t, 300.0)
    v["two spikes"] += _spike(t, 300.0) + _spike(t, 350.0)
    v["four spikes"] += _spike(t, 250.0) + _spike(t, 300.0) + _spike(t, 370.0) + _spike(t, 460.0)
    v["starts above threshold"] += _spike(t, 0.0)
    v["starts above threshold, then a spike"] += _spike(t, 0.0) + _spike(t, 300.0)
    v["ends above threshold"] += _spike(t, 300.0)
    v["ends above threshold"][-5:] = 20.0
    v["last sample above threshold"] += _spike(t, 300.0)
    v["last sample above threshold"][-1] = 20.0
    v["AHP at the last sample"] += _spike(t, 300.0) + _spike(t, 999.0)
    v["AHP at the last sample"][-40:] = np.linspace(-60.0, -70.0, 40)
    v["samples exactly at threshold"][8000:8013] = [-1.0, 0.0, 1.0, 5, 5, 5, 5, 5, 5, 5, 1.0, 0.0, -1.0]
    v["plateaus exactly at threshold"][12000:12011] = [0.0, 0.0, 0.0, 20, 20, 20, 20, 20, 0.0, 0.0, 0.0]
    v["notch in the AHP"] += _spike(t, 300.0)
    v["notch in the AHP"][12060:12064] = [
        -90.0,
        -80.0,
        -80.0,
        -95.0,
    ]  # a minimum followed by two higher samples
    ramp = np.concatenate([np.linspace(-65.0, 40.0, 106)[1:], np.linspace(40.0, -75.0, 116)[1:]])
    v["linear spike after an exactly flat rest"][14000 : 14000 + ramp.size] = ramp
    v["spike before the stimulus"] += _spike(t, 150.0) + _spike(t, 300.0) + _spike(t, 400.0)
    v["only a spike before the stimulus"] += _spike(t, 150.0)
    v["spike after the stimulus"] += _spike(t, 300.0) + _spike(t, 800.0)
    v["spike at stimulus onset"] += _spike(t, 200.0) + _spike(t, 260.0)
    v["single-sample spikes (UC5 marker)"][[9000, 12000, 14000, 17000]] = 30.0
    v["1e12 everywhere"][:] = 1e12
    v["above threshold everywhere"][:] = 10.0
    return np.stack([v[name] for name in EDGE_CASES])[:, None, :]


def test_edge_cases_match_efel(hh) -> None:  # type: ignore[no-untyped-def]
    t = hh.simulator.t
    traces = edge_case_traces(t)
    reference = efel_reference(hh.features)(t, traces)
    x = batched(hh.features)(t, traces)
    assert_same(hh.features, reference, x)
    row = {name: dict(zip(hh.features.names, x[i], strict=True)) for i, name in enumerate(EDGE_CASES)}
    for name in ("one NaN", "one inf"):
        assert np.all(np.isnan(x[EDGE_CASES.index(name)]))
    for name in ("flat", "subthreshold step", "starts above threshold", "above threshold everywhere"):
        assert row[name]["spike_count"] == 0 and np.isnan(row[name]["ap_half_width"])
        assert np.isfinite(row[name]["voltage_base"])
    assert row["one spike"]["spike_count"] == 1 and row["one spike"]["time_to_first_spike"] == pytest.approx(
        100
    )
    assert np.isnan(row["two spikes"]["isi_mean"])  # eFEL ignores the first ISI
    assert row["four spikes"]["isi_mean"] == pytest.approx(80.0) and np.isfinite(row["four spikes"]["isi_cv"])
    assert row["spike before the stimulus"]["time_to_first_spike"] == pytest.approx(-50.0)
    assert row["ends above threshold"]["spike_count"] == 1  # the unfinished spike is not counted
    assert np.isnan(row["single-sample spikes (UC5 marker)"]["ap_amplitude"])


def test_ap_begin_search_that_never_ends_in_efel_is_skipped() -> None:
    """Two spikes in the last DerivativeWindow samples: eFEL 5.7 loops forever here (seen: > 60 s)."""
    t = np.arange(40001) * 0.025
    v = np.full(t.size, -65.0)
    v[-40], v[-20] = 30.0, 30.0
    v[-35:-32] = [-70.0, -60.0, -60.0]  # the first spike's AHP, within 50 samples of the end
    features = BatchedEfelFeatures(
        (Feature("amplitude", "AP_amplitude", "mV", "mean"), Feature("n", "Spikecount_stimint", "1")),
        200.0,
        1000.0,
        {"Threshold": 0.0, "interp_step": 0.025, "DerivativeWindow": 50},
    )
    np.testing.assert_array_equal(features(t, v[None, None]), [[np.nan, 2.0]])


def test_fill_undefined_is_efelfeatures(hh) -> None:  # type: ignore[no-untyped-def]
    t = hh.simulator.t
    x = batched(hh.features)(t, edge_case_traces(t))
    fast, reference = batched(hh.features), efel_reference(hh.features)
    np.testing.assert_array_equal(fast.fill_undefined(x), reference.fill_undefined(x))
    assert fast.names == reference.names and fast.units == reference.units


def test_default_settings_are_efels() -> None:
    defaults = efel.Settings()
    assert set(EFEL_FEATURES) <= set(efel.get_feature_names())
    for key, value in DEFAULT_SETTINGS.items():
        assert getattr(defaults, key) == value, key


def test_unsupported_features_settings_and_grids_raise(hh) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="AP_width"):
        BatchedEfelFeatures((Feature("w", "AP_width", "ms"),), 200.0, 700.0)
    with pytest.raises(ValueError, match="min_spike_height"):
        BatchedEfelFeatures(
            (Feature("n", "Spikecount_stimint", "1"),), 200.0, 700.0, {"min_spike_height": 10.0}
        )
    with pytest.raises(ValueError, match="voltage_base_mode"):
        BatchedEfelFeatures(
            (Feature("v", "voltage_base", "mV"),), 200.0, 700.0, {"voltage_base_mode": "median"}
        )
    with pytest.raises(ValueError, match="Threshold"):
        BatchedEfelFeatures((Feature("n", "Spikecount_stimint", "1"),), 200.0, 700.0, {"Threshold": "high"})
    with pytest.raises(ValueError, match="stim_end_ms > stim_start_ms"):
        BatchedEfelFeatures((Feature("n", "Spikecount_stimint", "1"),), 700.0, 200.0)
    features = batched(hh.features)
    t = hh.simulator.t
    flat = np.full((1, 1, t.size), -65.0)
    with pytest.raises(ValueError, match="interp_step"):
        batched(hh.features, interp_step=0.1)(t, flat)  # eFEL would resample: not handled
    uneven = t.copy()
    uneven[5:] += 0.01
    with pytest.raises(ValueError, match="uniform grid"):
        features(uneven, flat)
    with pytest.raises(ValueError, match="sweeps"):
        features(t, np.full((1, 2, t.size), -65.0))


def benchmark(n: int = 100, seed: int = 0) -> None:
    """Print ms per UC1 trace for eFEL and the batched kernels (one core, after compilation)."""
    uc: Any = get_usecase("hh")
    result = HHSomaBatched()(uc.prior.sample(n, np.random.default_rng(seed)))
    fast = batched(uc.features)
    fast(result.t, result.traces[:2])  # compile / load the cache
    start = time.perf_counter()
    x = fast(result.t, result.traces)
    batched_ms = (time.perf_counter() - start) * 1e3 / n
    start = time.perf_counter()
    reference = efel_reference(uc.features)(result.t, result.traces)
    efel_ms = (time.perf_counter() - start) * 1e3 / n
    errors = assert_same(uc.features, reference, x)
    spiking = int(np.sum(reference[:, 0] > 0))
    print(f"UC1, {n} prior draws ({spiking} spiking), {result.t.size} samples per trace:")
    print(f"  eFEL     {efel_ms:8.3f} ms/trace")
    print(f"  batched  {batched_ms:8.3f} ms/trace  ({efel_ms / batched_ms:.0f}x)")
    print("  max relative difference: " + ", ".join(f"{k} {v:.1e}" for k, v in errors.items()))


if __name__ == "__main__":
    benchmark()
