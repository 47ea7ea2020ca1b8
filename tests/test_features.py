import efel
import numpy as np

from summaries import EfelFeatures, Feature


def test_uc1_features_of_the_target(hh, data_dir) -> None:  # type: ignore[no-untyped-def]
    target = hh.load_target("data", data_dir)
    x = hh.features(target.t, target.traces[None])[0]
    named = dict(zip(hh.features.names, x, strict=True))
    assert named["spike_count"] == 34
    assert 80 < named["ap_amplitude"] < 100
    assert 14 < named["isi_mean"] < 16
    assert -66 < named["voltage_base"] < -64
    assert np.all(np.isfinite(x))


def test_undefined_features_are_nan_and_filled_for_inference(hh) -> None:  # type: ignore[no-untyped-def]
    t = hh.simulator.t
    flat = np.full((1, 1, t.size), -65.0)
    x = hh.features(t, flat)[0]
    named = dict(zip(hh.features.names, x, strict=True))
    assert named["spike_count"] == 0
    assert np.isnan(named["ap_amplitude"]) and np.isnan(named["isi_cv"])
    filled = dict(zip(hh.features.names, hh.features.fill_undefined(x), strict=True))
    assert filled["ap_amplitude"] == 0.0
    assert filled["ahp_depth_abs"] == named["steady_state_voltage"]
    assert np.all(np.isfinite(list(filled.values())))


def test_nan_and_huge_traces_give_nan_not_errors(hh) -> None:  # type: ignore[no-untyped-def]
    t = hh.simulator.t
    traces = np.stack([np.full(t.size, np.nan), np.full(t.size, 1e12)])[:, None, :]
    x = hh.features(t, traces)
    assert np.all(np.isnan(x[0]))
    assert x.shape == (2, len(hh.features.names))
    # failed rows stay NaN after filling, so training can drop them
    assert np.all(np.isnan(hh.features.fill_undefined(x)[0]))


def test_settings_are_explicit_and_do_not_leak() -> None:
    t = np.arange(0, 300, 0.1)
    v = np.full(t.size, -70.0)
    v[(t > 100) & (t < 101)] = -10.0  # a "spike" that only a low threshold sees
    low = EfelFeatures((Feature("n", "Spikecount", "1"),), 50.0, 250.0, settings={"Threshold": -30.0})
    high = EfelFeatures((Feature("n", "Spikecount", "1"),), 50.0, 250.0, settings={"Threshold": 0.0})
    assert low(t, v[None, None])[0, 0] == 1
    assert high(t, v[None, None])[0, 0] == 0
    assert efel.get_settings().Threshold == -20.0  # eFEL's default is restored
