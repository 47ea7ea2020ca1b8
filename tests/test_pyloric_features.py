"""PyloricFeatures on synthetic PD/LP/PY traces whose burst timing is known by construction."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import savgol_filter

from simulators.errors import DataError
from summaries.pyloric import OBSERVED_FILE, PyloricFeatures, load_observed

DT = 0.1  # ms
T_END = 10_000.0  # ms
REST_MV, PLATEAU_MV, SPIKE_AMPLITUDE_MV, SPIKE_SD_MS = -60.0, -20.0, 80.0, 0.3
ISI_MS = 10.0  # spike interval inside a burst

# the reference rhythm: period 1,170 ms, PD 200 ms, LP at 480 ms for 210 ms, PY at 740 ms for 410 ms
PERIOD, PD_START0 = 1170.0, 50.0
PD_DUR, LP_DELAY, LP_DUR, PY_DELAY, PY_DUR = 200.0, 480.0, 210.0, 740.0, 410.0


def grid(dt: float = DT, t_end: float = T_END) -> np.ndarray:
    return np.arange(round(t_end / dt)) * dt


def burst(start: float, duration: float) -> np.ndarray:
    """Spike times of a burst: every ISI_MS from start to start + duration (both included)."""
    return start + np.arange(round(duration / ISI_MS) + 1) * ISI_MS


def trace(
    t: np.ndarray, spikes: np.ndarray, plateaus: list[tuple[float, float]] | tuple[()] = ()
) -> np.ndarray:
    """Rest at −60 mV, boxes at −20 mV for (start, end) plateaus, Gaussian spikes of +80 mV on top."""
    v = np.full(t.size, REST_MV)
    for lo, hi in plateaus:
        v[(t >= lo) & (t < hi)] = PLATEAU_MV
    dt = t[1] - t[0]
    half = round(3 * SPIKE_SD_MS / dt) + 1
    shape = SPIKE_AMPLITUDE_MV * np.exp(-0.5 * (np.arange(-half, half + 1) * dt / SPIKE_SD_MS) ** 2)
    for s in spikes:
        i = round((s - t[0]) / dt)
        lo, hi = max(i - half, 0), min(i + half + 1, t.size)
        if lo < hi:
            v[lo:hi] += shape[lo - (i - half) : hi - (i - half)]
    return v


def bursts_of(starts: np.ndarray, durations: np.ndarray) -> np.ndarray:
    return np.concatenate([burst(s, d) for s, d in zip(starts, durations, strict=True)])


def reference_network(t: np.ndarray, lp_delay: float = LP_DELAY, py_delay: float = PY_DELAY) -> np.ndarray:
    """9 PD bursts (8 full cycles), 8 LP and 8 PY bursts, all inside the window."""
    pd_starts = PD_START0 + PERIOD * np.arange(9)
    pd = bursts_of(pd_starts, np.full(9, PD_DUR))
    lp = bursts_of(pd_starts[:8] + lp_delay, np.full(8, LP_DUR))
    py = bursts_of(pd_starts[:8] + py_delay, np.full(8, PY_DUR))
    return np.stack([trace(t, pd), trace(t, lp), trace(t, py)])


def expected_reference() -> dict[str, float]:
    gap_pd_lp, gap_lp_py = LP_DELAY - PD_DUR, PY_DELAY - (LP_DELAY + LP_DUR)
    return {
        "cycle_period_ms": PERIOD,
        "burst_duration_PD_ms": PD_DUR,
        "burst_duration_LP_ms": LP_DUR,
        "burst_duration_PY_ms": PY_DUR,
        "gap_end_PD_to_start_LP_ms": gap_pd_lp,
        "gap_end_LP_to_start_PY_ms": gap_lp_py,
        "delay_start_PD_to_start_LP_ms": LP_DELAY,
        "delay_start_PD_to_start_PY_ms": PY_DELAY,
        "duty_cycle_PD": PD_DUR / PERIOD,
        "duty_cycle_LP": LP_DUR / PERIOD,
        "duty_cycle_PY": PY_DUR / PERIOD,
        "phase_gap_PD_LP": gap_pd_lp / PERIOD,
        "phase_gap_LP_PY": gap_lp_py / PERIOD,
        "phase_LP": LP_DELAY / PERIOD,
        "phase_PY": PY_DELAY / PERIOD,
        "max_plateau_duration_PD_ms": 2.5,
        "max_plateau_duration_LP_ms": 2.5,
        "max_plateau_duration_PY_ms": 2.5,
    }


def assert_features(x: np.ndarray, expected: dict[str, float], names: list[str], dt: float = DT) -> None:
    """Times within one sample; ratios within one sample over the period."""
    assert names == list(expected)
    for name, value, want in zip(names, x, expected.values(), strict=True):
        tol = dt * 1.01 if name.endswith("_ms") else dt * 1.01 / PERIOD * 2
        assert value == pytest.approx(want, abs=tol), name


@pytest.fixture(scope="module")
def features() -> PyloricFeatures:
    return PyloricFeatures()


@pytest.fixture(scope="module")
def t() -> np.ndarray:
    return grid()


def test_names_and_units(features: PyloricFeatures) -> None:
    assert len(features.names) == len(features.units) == 18
    assert features.units[0] == "ms" and features.units[8] == "1" and features.units[-1] == "ms"


def test_reference_rhythm_gives_the_constructed_features(features: PyloricFeatures, t: np.ndarray) -> None:
    net = reference_network(t)
    x, reasons = features.evaluate(t, net[None])
    assert reasons == [""]
    assert_features(x[0], expected_reference(), features.names)
    starts, ends = features.bursts(t, net[1])
    np.testing.assert_allclose(starts, PD_START0 + PERIOD * np.arange(8) + LP_DELAY, atol=1e-9)
    np.testing.assert_allclose(ends - starts, LP_DUR, atol=1e-9)


def test_noise_and_other_grids_do_not_change_the_features(features: PyloricFeatures) -> None:
    rng = np.random.default_rng(0)
    t = grid()
    noisy = reference_network(t) + rng.normal(0.0, 0.5, (3, t.size))
    assert_features(features(t, noisy[None])[0], expected_reference(), features.names)
    fine = grid(0.025)  # the original's dt: smoothing window 21 samples instead of 5
    assert_features(features(fine, reference_network(fine)[None])[0], expected_reference(), features.names)
    # a coarse record grid after a 1 s burn-in: 0.25 ms is too coarse for a cubic smoothing window
    coarse = grid(0.25)
    x = features(coarse + 1000.0, reference_network(coarse)[None])[0]
    assert_features(x, expected_reference(), features.names, dt=0.25)


def test_averages_use_all_bursts_for_durations_and_triphasic_cycles_for_delays(
    features: PyloricFeatures, t: np.ndarray
) -> None:
    periods = np.array([1100.0, 1240.0, 1170.0, 1100.0, 1240.0, 1170.0, 1100.0, 1240.0])
    pd_starts = 120.0 + np.concatenate([[0.0], np.cumsum(periods)])  # 9 bursts, 8 cycles
    pd_dur = np.array([180.0, 220.0] * 4 + [200.0])
    lp_delay = np.array([470.0, 490.0] * 4)
    lp_dur = np.array([200.0, 220.0, 210.0, 210.0] * 2)
    py_delay = np.array([730.0, 750.0, 740.0, 740.0] * 2)
    py_dur = np.array([300.0, 340.0] * 4)
    lp_starts, py_starts = pd_starts[:8] + lp_delay, pd_starts[:8] + py_delay
    # a PY burst cut by the window start (visible 10..100 ms: 90 ms, > 50 ms) counts for PY's duration
    # only; two LP spikes 30 ms apart (a group shorter than 50 ms) are not a burst
    cut_py = burst(-310.0, 410.0)
    short_lp = pd_starts[3] + 250.0 + np.array([0.0, 30.0])
    net = np.stack(
        [
            trace(t, bursts_of(pd_starts, pd_dur)),
            trace(t, np.sort(np.concatenate([bursts_of(lp_starts, lp_dur), short_lp]))),
            trace(t, np.concatenate([cut_py, bursts_of(py_starts, py_dur)])),
        ]
    )
    period = float(np.mean(periods))
    pd_ends, lp_ends = pd_starts[:8] + pd_dur[:8], lp_starts + lp_dur
    durations = [float(np.mean(pd_dur)), float(np.mean(lp_dur)), float(np.mean(np.append(py_dur, 90.0)))]
    gaps = [float(np.mean(lp_starts - pd_ends)), float(np.mean(py_starts - lp_ends))]
    delays = [float(np.mean(lp_delay)), float(np.mean(py_delay))]
    expected = dict(
        zip(
            features.names,
            [
                period,
                *durations,
                *gaps,
                *delays,
                *(d / period for d in durations),
                *(g / period for g in gaps),
                *(d / period for d in delays),
                2.5,
                2.5,
                2.5,
            ],
            strict=True,
        )
    )
    x, reasons = features.evaluate(t, net[None])
    assert reasons == [""]
    assert_features(x[0], expected, features.names)


def test_plateau_is_the_mean_longest_stretch_above_minus_30_mV(
    features: PyloricFeatures, t: np.ndarray
) -> None:
    net = reference_network(t)
    lp_starts = PD_START0 + PERIOD * np.arange(8) + LP_DELAY
    # mean 150 ms, measured from the burst's first spike; each plateau ends between two spikes
    plateaus = [(s - 5, s + length) for s, length in zip(lp_starts, [105.0, 195.0] * 4, strict=True)]
    net[1] = trace(t, bursts_of(lp_starts, np.full(8, LP_DUR)), plateaus)
    x = dict(zip(features.names, features(t, net[None])[0], strict=True))
    assert x["max_plateau_duration_LP_ms"] == pytest.approx(150.0, abs=2 * DT)
    assert x["max_plateau_duration_PD_ms"] == x["max_plateau_duration_PY_ms"] == 2.5
    assert x["burst_duration_LP_ms"] == pytest.approx(LP_DUR)  # spikes ride on the plateau unchanged

    # as in the original, a stretch still above −30 mV at the end of its window does not count: here
    # the last burst's plateau outlasts the neuron's last spike, where that burst's window ends
    plateaus[-1] = (lp_starts[-1] - 5, lp_starts[-1] + LP_DUR + 20)
    net[1] = trace(t, bursts_of(lp_starts, np.full(8, LP_DUR)), plateaus)
    x = dict(zip(features.names, features(t, net[None])[0], strict=True))
    assert x["max_plateau_duration_LP_ms"] == pytest.approx((4 * 105 + 3 * 195 + 0) / 8, abs=2 * DT)

    # a plateau shorter than 5 ms is a spike's worth: the 2.5 ms placeholder
    net[1] = trace(t, bursts_of(lp_starts, np.full(8, LP_DUR)), [(s - 1, s + 3) for s in lp_starts])
    assert features(t, net[None])[0][features.names.index("max_plateau_duration_LP_ms")] == 2.5


def test_plateau_is_the_same_at_the_original_dt(features: PyloricFeatures) -> None:
    fine = grid(0.025)
    net = reference_network(fine)
    pd_starts = PD_START0 + PERIOD * np.arange(9)
    net[0] = trace(fine, bursts_of(pd_starts, np.full(9, PD_DUR)), [(s - 2, s + 65) for s in pd_starts])
    x = dict(zip(features.names, features(fine, net[None])[0], strict=True))
    assert x["max_plateau_duration_PD_ms"] == pytest.approx(65.0, abs=0.1)


def silent(t: np.ndarray) -> np.ndarray:
    return np.full((3, t.size), REST_MV)


def tonic(t: np.ndarray) -> np.ndarray:
    net = reference_network(t)
    net[0] = trace(t, np.arange(20.0, T_END - 20, 25.0))  # 40 spikes/s, never a pause of 150 ms
    return net


def two_phase(t: np.ndarray) -> np.ndarray:
    net = reference_network(t)
    net[2] = REST_MV  # PD and LP alternate, PY never fires
    return net


def single_pd_burst(t: np.ndarray) -> np.ndarray:
    net = reference_network(t)
    net[0] = trace(t, burst(PD_START0, PD_DUR))
    return net


def double_lp(t: np.ndarray) -> np.ndarray:
    net = reference_network(t)
    pd_starts = PD_START0 + PERIOD * np.arange(8)
    lp = np.concatenate(
        [bursts_of(pd_starts + 300.0, np.full(8, 100.0)), bursts_of(pd_starts + 600, np.full(8, 100.0))]
    )
    net[1] = trace(t, np.sort(lp))  # two LP bursts in every cycle
    return net


def non_finite(t: np.ndarray) -> np.ndarray:
    net = reference_network(t)
    net[1, 5000] = np.nan
    return net


BROKEN = {
    "silent": (silent, "PD is silent"),
    "tonic": (tonic, "PD fires tonically"),
    "two-phase": (two_phase, "PY is silent"),
    "one PD burst": (single_pd_burst, "PD has fewer than 2 bursts"),
    "two LP bursts per cycle": (double_lp, "not triphasic"),
    "non-finite": (non_finite, "non-finite trace (LP)"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_networks_that_are_not_triphasic_give_nan_and_say_why(
    features: PyloricFeatures, t: np.ndarray, case: str
) -> None:
    build, reason = BROKEN[case]
    x, reasons = features.evaluate(t, build(t)[None])
    assert np.all(np.isnan(x))
    assert reasons[0].startswith(reason), reasons[0]
    assert np.all(np.isnan(features.fill_undefined(x)))  # no fill: such rows are dropped


@pytest.mark.parametrize(
    ("lp_delay", "py_delay", "says"),
    [(740.0, 480.0, "PY starts before LP"), (100.0, 740.0, "LP starts before PD ends")],
)
def test_triphasic_but_out_of_order_is_flagged_and_nan_only_on_request(
    features: PyloricFeatures, t: np.ndarray, lp_delay: float, py_delay: float, says: str
) -> None:
    net = reference_network(t, lp_delay=lp_delay, py_delay=py_delay)
    x, reasons = features.evaluate(t, net[None])
    assert reasons[0].startswith("not pyloric") and says in reasons[0], reasons[0]
    assert np.all(np.isfinite(x))  # the original defines features for every triphasic network
    named = dict(zip(features.names, x[0], strict=True))
    assert named["delay_start_PD_to_start_LP_ms"] == pytest.approx(lp_delay)
    strict = PyloricFeatures(require_pyloric=True)
    x_strict, reasons_strict = strict.evaluate(t, net[None])
    assert np.all(np.isnan(x_strict)) and reasons_strict == reasons


def test_batch_equals_one_network_at_a_time(features: PyloricFeatures, t: np.ndarray) -> None:
    nets = [reference_network(t), *(build(t) for build, _ in BROKEN.values()), reference_network(t, 740, 480)]
    batch_x, batch_reasons = features.evaluate(t, np.stack(nets))
    for i, net in enumerate(nets):
        x, reasons = features.evaluate(t, net[None])
        np.testing.assert_array_equal(batch_x[i], x[0])
        assert batch_reasons[i] == reasons[0]


def test_window_drops_the_burn_in(features: PyloricFeatures) -> None:
    t_long = grid(t_end=T_END + 1000.0)
    net = np.concatenate([tonic(grid(t_end=1000.0)), reference_network(grid())], axis=1)
    windowed = PyloricFeatures(window_ms=(1000.0, T_END + 1000.0))
    assert_features(windowed(t_long, net[None])[0], expected_reference(), features.names)
    # without the window, the tonic burn-in merges with the first PD burst and breaks a cycle
    assert features.reasons(t_long, net[None])[0].startswith("not triphasic")


@pytest.mark.parametrize("dt", [DT, 0.025])
def test_compiled_smoothing_equals_scipy(features: PyloricFeatures, dt: float) -> None:
    rng = np.random.default_rng(1)
    v = rng.normal(size=(2, 3, 400))
    smoothed = features._smooth(v, np.ones(2, dtype=bool), dt)
    width = 5 if dt == DT else 21
    np.testing.assert_allclose(smoothed, savgol_filter(v, width, 3, axis=-1), rtol=0, atol=1e-12)


def test_spike_times_are_the_peaks(features: PyloricFeatures, t: np.ndarray) -> None:
    spikes = burst(100.0, 200.0)
    np.testing.assert_allclose(features.spike_times(t, trace(t, spikes)), spikes, atol=1e-9)


def test_bad_input_raises(features: PyloricFeatures, t: np.ndarray) -> None:
    with pytest.raises(ValueError, match="shape"):
        features(t, np.zeros((1, 2, t.size)))
    with pytest.raises(ValueError, match="uniform"):
        features(t**1.01, np.zeros((1, 3, t.size)))
    with pytest.raises(ValueError, match="triphasic_fraction"):
        PyloricFeatures(triphasic_fraction=0.0)
    with pytest.raises(ValueError, match="window_ms"):
        PyloricFeatures(window_ms=(5.0, 1.0))


def test_batch_of_50_networks_is_fast(features: PyloricFeatures, t: np.ndarray) -> None:
    batch = np.repeat(reference_network(t)[None], 50, axis=0)
    features(t, batch[:1])  # compile / load the numba cache
    start = time.perf_counter()
    x = features(t, batch)
    elapsed = time.perf_counter() - start
    assert np.all(np.isfinite(x))
    assert elapsed < 1.0, f"50 networks × 3 × {t.size} samples took {elapsed:.2f} s"


# -- the observed file ---------------------------------------------------------------------------


def test_observed_file_matches_the_feature_names_and_is_consistent(
    features: PyloricFeatures, data_dir: Path
) -> None:
    path = data_dir / OBSERVED_FILE
    names, values = load_observed(path)
    assert names == features.names == list(json.loads(path.read_text())["features"])
    x = dict(zip(names, values, strict=True))
    assert x["cycle_period_ms"] == pytest.approx(1170.85859)
    for neuron in ("PD", "LP", "PY"):
        assert x[f"duty_cycle_{neuron}"] == pytest.approx(
            x[f"burst_duration_{neuron}_ms"] / x["cycle_period_ms"]
        )
        assert x[f"max_plateau_duration_{neuron}_ms"] == 2.5
    assert x["phase_LP"] == pytest.approx(x["delay_start_PD_to_start_LP_ms"] / x["cycle_period_ms"])
    assert x["phase_gap_LP_PY"] == pytest.approx(x["gap_end_LP_to_start_PY_ms"] / x["cycle_period_ms"])


def test_features_round_trip_through_an_observed_file(
    features: PyloricFeatures, t: np.ndarray, tmp_path: Path
) -> None:
    x = features(t, reference_network(t)[None])[0]
    path = tmp_path / "observed.json"
    path.write_text(
        json.dumps({"features": dict(reversed(list(zip(features.names, x.tolist(), strict=True))))})
    )
    names, values = load_observed(path)  # any key order; returned in the canonical order
    assert names == features.names
    np.testing.assert_array_equal(values, x)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ("{not json", "not valid JSON"),
        ('{"values": {}}', '"features"'),
        ('{"features": {"cycle_period_ms": 1.0}}', "missing"),
        ("RENAMED", "unexpected \\['phase_AB'\\]"),
        ("STRING", "must be a finite number"),
    ],
)
def test_malformed_observed_files_raise_data_error_naming_the_file(
    features: PyloricFeatures, tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "observed.json"
    good = dict.fromkeys(features.names, 1.0)
    if content == "RENAMED":
        good["phase_AB"] = good.pop("phase_LP")
        content = json.dumps({"features": good})
    elif content == "STRING":
        good["phase_LP"] = "0.4"  # type: ignore[assignment]
        content = json.dumps({"features": good})
    if content is not None:
        path.write_text(content)
    with pytest.raises(DataError, match=message) as err:
        load_observed(path)
    assert str(path) in str(err.value)
