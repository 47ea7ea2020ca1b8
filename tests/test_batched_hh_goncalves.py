"""The compiled Gonçalves HH kernel against the Brian2 reference (``HHMCurrentBrian2``).

Noise-free (σ = 0) the two must agree to round-off; with noise the streams differ, so
distributions over seeds are compared. Fast tier: ~10 s once Brian2's Cython code and
numba's kernel are cached on disk.
"""

from __future__ import annotations

import math
import pickle
from typing import Any

import numpy as np
import pytest
from scipy import stats

from simulators.base import STATUS_FAILED, STATUS_OK, SimulationResult
from simulators.batched_hh_goncalves import HHMCurrentBatched, row_noise
from simulators.brian2_hh_goncalves import GROUND_TRUTH, HHMCurrentBrian2
from summaries.hh_features import GoncalvesFeatures
from usecases.allen_data import list_allen_cells, load_allen_sweep
from usecases.hh_allen import PRIOR

SIGMA = 6  # column of σ in θ
# Besides the ground truth: two sets whose spike count varies with the noise (count SD ~0.6
# over seeds) and a subthreshold one, σ at the top of the prior.
NOISY_SETS = np.array(
    [
        GROUND_TRUTH,
        [37.627, 1.1843, 0.1624, 0.0235, 1646.11, -56.9988, 0.15, -41.608],
        [43.661, 0.9071, 0.0782, 0.2242, 2320.53, -46.5528, 0.15, -56.8504],
        [20.0, 5.0, 0.1, 0.3, 1000.0, -50.0, 0.15, -80.0],
    ]
)
N_NOISY = 50  # samples per parameter set and simulator


def _noise_free_prior_samples(n: int, seed: int) -> np.ndarray:
    theta = PRIOR.sample(n, np.random.default_rng(seed))
    theta[:, SIGMA] = 0.0
    return theta


def _assert_equivalent(
    batched: SimulationResult, reference: SimulationResult, features: GoncalvesFeatures, dt_ms: float
) -> None:
    """Same status, spike times to one step, subthreshold V and the 7 features to round-off."""
    np.testing.assert_array_equal(batched.status, reference.status)
    np.testing.assert_array_equal(batched.t, reference.t)
    t = reference.t
    for b, r in zip(batched.traces[:, 0], reference.traces[:, 0], strict=True):
        spikes_b, spikes_r = features.spike_times(t, b), features.spike_times(t, r)
        assert spikes_b.size == spikes_r.size
        np.testing.assert_allclose(spikes_b, spikes_r, rtol=0, atol=dt_ms + 1e-9)
        subthreshold = (b < -50.0) & (r < -50.0)
        assert np.sqrt(np.mean((b[subthreshold] - r[subthreshold]) ** 2)) < 0.5
    # Measured: 2e-9 mV at most over whole traces (spikes included); the scheme is the same.
    assert np.nanmax(np.abs(batched.traces - reference.traces)) < 1e-6
    np.testing.assert_allclose(
        features(t, batched.traces), features(t, reference.traces), rtol=1e-6, atol=1e-6
    )


def test_noise_free_prior_samples_match_brian2() -> None:
    theta = np.vstack([GROUND_TRUTH, _noise_free_prior_samples(60, 1)])
    theta[0, SIGMA] = 0.0
    batched, reference = HHMCurrentBatched(), HHMCurrentBrian2()
    result, expected = batched(theta, seed=0), reference(theta, seed=0)
    assert np.all(expected.status == STATUS_OK)
    features = GoncalvesFeatures(reference.stim_start_ms, reference.stim_end_ms)
    counts = features(expected.t, expected.traces)[:, 0]
    assert np.sum(counts > 0) >= 20 and np.sum(counts == 0) >= 10  # both regimes are covered
    _assert_equivalent(result, expected, features, reference.dt_ms)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # Brian2, the 1e308 row
def test_recording_interval_initial_voltage_and_row_screening_match_brian2() -> None:
    config: dict[str, Any] = {"duration_ms": 30.0, "stim_start_ms": 5.0, "stim_end_ms": 25.0}
    config |= {"v_init_mV": None, "record_dt_ms": 0.05, "amplitude_uA_per_cm2": 10.0}
    theta = np.vstack([_noise_free_prior_samples(4, 2), np.tile(GROUND_TRUTH, (6, 1))])
    theta[4:, SIGMA] = 0.0
    theta[4, 0] = np.nan
    theta[5, 2] = -0.1  # g_leak
    theta[6, 4] = 0.0  # tau_max
    theta[7, SIGMA] = -1.0
    theta[8, 1] = -2.0  # gbar_K
    theta[9, :4] = 1e308  # valid, but the conductances overflow: V becomes NaN
    result = HHMCurrentBatched(**config)(theta, seed=0)
    expected = HHMCurrentBrian2(**config)(theta, seed=0)
    assert result.traces.shape == (10, 1, 601)
    np.testing.assert_array_equal(result.status, [STATUS_OK] * 4 + [STATUS_FAILED] * 6)
    assert result.messages == expected.messages
    assert "non-finite membrane potential" in result.messages[9]
    np.testing.assert_array_equal(result.traces[:4, 0, 0], theta[:4, 7])  # V(0) = E_leak
    assert np.all(np.isnan(result.traces[4:]))
    np.testing.assert_allclose(result.traces, expected.traces, rtol=0, atol=1e-6)


@pytest.fixture(scope="module")
def noisy_features() -> tuple[np.ndarray, np.ndarray]:
    """Features (set, sample, 7) of NOISY_SETS: batched over seeds 0..N−1, Brian2 over rows."""
    batched, reference = HHMCurrentBatched(), HHMCurrentBrian2()
    features = GoncalvesFeatures(reference.stim_start_ms, reference.stim_end_ms)
    x_batched = np.stack(
        [features(batched.t, batched(NOISY_SETS, seed=seed).traces) for seed in range(N_NOISY)], axis=1
    )
    # Every Brian2 row draws its own noise, so replicated rows of one batch are independent samples.
    expected = reference(np.repeat(NOISY_SETS, N_NOISY, axis=0), seed=3)
    x_reference = features(expected.t, expected.traces).reshape(len(NOISY_SETS), N_NOISY, -1)
    return x_batched, x_reference


@pytest.mark.parametrize("index", range(len(NOISY_SETS)))
def test_noisy_feature_distributions_match_brian2(noisy_features, index: int) -> None:  # type: ignore[no-untyped-def]
    x_batched, x_reference = (x[index] for x in noisy_features)
    assert np.all(np.isfinite(x_batched)) and np.all(np.isfinite(x_reference))
    for column, name in ((0, "spike_count"), (2, "rest_sd"), (3, "stim_mean"), (4, "stim_variance")):
        b, r = x_batched[:, column], x_reference[:, column]
        # 4 standard errors of the difference: p ≈ 6e-5 per comparison if the models agree.
        standard_error = math.sqrt(b.var(ddof=1) / b.size + r.var(ddof=1) / r.size)
        assert abs(b.mean() - r.mean()) <= 4 * standard_error + 1e-9, name
    # The noise sets the resting SD (0 without noise); its distributions must agree as a whole.
    assert x_batched[:, 2].min() > 0
    for column in (2, 3):
        assert stats.ks_2samp(x_batched[:, column], x_reference[:, column]).pvalue > 1e-3
    if index in (1, 2):  # these sets were chosen because the noise changes their spike count
        assert x_batched[:, 0].std() > 0.2 and x_reference[:, 0].std() > 0.2


def test_noise_amplitude_of_a_passive_membrane() -> None:
    """Without active conductances V is an AR(1) process with a known stationary variance."""
    g_leak, sigma, dt = 0.1, 0.1, 0.01
    sim = HHMCurrentBatched(duration_ms=1000.0, stim_start_ms=0.0, stim_end_ms=0.0, v_init_mV=None)
    theta = np.tile([0.0, 0.0, g_leak, 0.0, 100.0, -60.0, sigma, -70.0], (20, 1))
    v = sim(theta, seed=5).traces[:, 0, sim.t > 100.0]  # after ten membrane time constants
    a = math.exp(-g_leak * dt)
    # V' = a V + (1 − a) σ ξ/(g √dt) around E_leak: variance (1 − a)² σ²/(g² dt (1 − a²))
    variance = (1 - a) ** 2 * sigma**2 / (g_leak**2 * dt * (1 - a**2))
    assert abs(np.mean(v) + 70.0) < 0.05
    assert np.var(v) == pytest.approx(variance, rel=0.1)


def test_seed_and_row_position_determine_the_noise() -> None:
    sim = HHMCurrentBatched()
    theta = np.tile(GROUND_TRUTH, (3, 1))
    first, again, other = sim(theta, seed=11), sim(theta, seed=11), sim(theta, seed=12)
    np.testing.assert_array_equal(first.traces, again.traces)
    rest = first.t < 10.0
    assert not np.allclose(first.traces[0, 0, rest], other.traces[0, 0, rest])
    assert not np.allclose(first.traces[0, 0, rest], first.traces[1, 0, rest])  # own stream per row
    # A row's noise does not depend on the batch size or on the other rows.
    np.testing.assert_array_equal(sim(theta[:2], seed=11).traces, first.traces[:2])
    mixed = theta.copy()
    mixed[0, 0] = np.nan
    np.testing.assert_array_equal(sim(mixed, seed=11).traces[1:], first.traces[1:])
    # The documented stream: a passive membrane started at rest sees exactly the first ξ.
    passive = HHMCurrentBatched(duration_ms=0.01, stim_start_ms=0.0, stim_end_ms=0.0, v_init_mV=None)
    row = [0.0, 0.0, 0.1, 0.0, 100.0, -60.0, 0.1, -70.0]
    v1 = passive(np.array([row, row]), seed=11).traces[:, 0, 1]
    xi = np.array([row_noise(11, i, 1)[0] for i in range(2)])
    a = math.exp(-0.1 * 0.01)
    np.testing.assert_allclose(v1, -70.0 + (1 - a) * 0.1 * xi / (0.1 * math.sqrt(0.01)), rtol=0, atol=1e-12)
    state = np.random.get_state(legacy=False)
    sim(theta, seed=13)
    after = np.random.get_state(legacy=False)  # numpy's global state is untouched
    assert after["state"]["pos"] == state["state"]["pos"]
    np.testing.assert_array_equal(after["state"]["key"], state["state"]["key"])
    with pytest.raises(ValueError, match="seed"):
        sim(theta, seed=-1)
    with pytest.raises(ValueError, match=r"shape \(n, 8\)"):
        sim(np.zeros((1, 7)))


def test_pickling_keeps_the_configuration_and_the_results() -> None:
    sim = HHMCurrentBatched(duration_ms=20.0, stim_start_ms=2.0, stim_end_ms=18.0, record_dt_ms=0.1)
    copy = pickle.loads(pickle.dumps(sim))
    assert copy == sim and isinstance(copy, HHMCurrentBatched)
    assert sim != HHMCurrentBrian2(duration_ms=20.0, stim_start_ms=2.0, stim_end_ms=18.0, record_dt_ms=0.1)
    theta = np.array([GROUND_TRUTH])
    np.testing.assert_array_equal(copy(theta, seed=4).traces, sim(theta, seed=4).traces)
    with pytest.raises(ValueError, match="record_dt_ms"):
        HHMCurrentBatched(record_dt_ms=0.015)


def test_allen_protocol_noise_free_matches_brian2(data_dir) -> None:  # type: ignore[no-untyped-def]
    sweep = load_allen_sweep(list_allen_cells(data_dir)[0], data_dir)
    config: dict[str, Any] = {
        "dt_ms": sweep.dt_ms,
        "duration_ms": float(sweep.t_ms[-1]),
        "stim_start_ms": sweep.stim_start_ms,
        "stim_end_ms": sweep.stim_end_ms,
        "amplitude_uA_per_cm2": sweep.amplitude_uA_per_cm2,
        "v_init_mV": float(sweep.v_mV[0]),
    }  # as usecases.hh_allen.build
    theta = np.vstack([GROUND_TRUTH, _noise_free_prior_samples(5, 3)])
    theta[0, SIGMA] = 0.0
    result = HHMCurrentBatched(**config)(theta, seed=0)
    expected = HHMCurrentBrian2(**config)(theta, seed=0)
    assert result.traces.shape == (6, 1, 72_500) and np.all(expected.status == STATUS_OK)
    features = GoncalvesFeatures(sweep.stim_start_ms, sweep.stim_end_ms - sweep.dt_ms)
    assert features(expected.t, expected.traces)[:, 0].max() >= 5  # spiking rows are compared
    _assert_equivalent(result, expected, features, sweep.dt_ms)
