"""UC1: the batched kernel against NEURON itself, on prior samples and the ground truth."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from sbi_neuro.registry import get_usecase
from simulators.base import STATUS_FAILED, STATUS_OK
from simulators.batched_hh import HHSomaBatched, hh_rate_table, hh_rates
from simulators.neuron_hh import HHSomaNeuron
from summaries import detect_spikes

TRUTH = [0.12, 0.036, 0.0003]


@pytest.fixture(scope="module")
def pair():  # type: ignore[no-untyped-def]
    uc = get_usecase("hh")
    theta = np.vstack([TRUTH, uc.prior.sample(60, np.random.default_rng(21))])
    return theta, HHSomaNeuron()(theta), HHSomaBatched()(theta)


def test_traces_match_neuron_to_round_off(pair) -> None:  # type: ignore[no-untyped-def]
    _, ref, fast = pair
    np.testing.assert_array_equal(fast.status, ref.status)
    assert np.all(ref.status == STATUS_OK)
    np.testing.assert_array_equal(fast.t, ref.t)
    assert np.max(np.abs(fast.traces - ref.traces)) < 1e-6  # measured: 1e-9 mV


def test_spike_times_and_subthreshold_voltage_agree(pair) -> None:  # type: ignore[no-untyped-def]
    theta, ref, fast = pair
    spiking = 0
    for r, f in zip(ref.traces[:, 0], fast.traces[:, 0], strict=True):
        a, b = detect_spikes(r, 0.0), detect_spikes(f, 0.0)
        assert a.count == b.count
        assert np.all(np.abs(a.start - b.start) <= 1)  # within one time step
        below = (r < -20.0) & (f < -20.0)
        assert np.sqrt(np.mean((r[below] - f[below]) ** 2)) < 0.5
        spiking += a.count > 0
    assert 10 <= spiking <= len(theta) - 10  # the sample holds spiking and silent cells


def test_features_agree_with_efel_on_neuron_traces(pair) -> None:  # type: ignore[no-untyped-def]
    _, ref, fast = pair
    efel_ref = get_usecase("hh").features(ref.t, ref.traces)
    batched = get_usecase("hh", backend="batched").features(fast.t, fast.traces)
    np.testing.assert_array_equal(np.isnan(efel_ref), np.isnan(batched))
    np.testing.assert_array_equal(efel_ref[:, 0], batched[:, 0])  # spike counts
    np.testing.assert_allclose(batched, efel_ref, rtol=1e-4, atol=1e-6, equal_nan=True)


def test_rate_table_is_hh_mod_at_its_grid_points() -> None:
    table = hh_rate_table()
    assert table.shape == (201, 6)
    np.testing.assert_allclose(table[35], hh_rates(-65.0))  # −100 + 35 mV
    m_inf, m_tau, *_ = hh_rates(-40.0)  # vtrap's 0/0 point
    assert np.isfinite(m_inf) and np.isfinite(m_tau)


def test_bad_rows_fail_alone_and_the_simulator_pickles() -> None:
    sim = HHSomaBatched(record_dt_ms=0.5)
    theta = np.array([TRUTH, [np.nan, 0.036, 0.0003], [-0.1, 0.036, 0.0003], TRUTH])
    result = pickle.loads(pickle.dumps(sim))(theta)
    assert list(result.status) == [STATUS_OK, STATUS_FAILED, STATUS_FAILED, STATUS_OK]
    assert "non-finite" in result.messages[1] and ">= 0" in result.messages[2]
    assert np.all(np.isnan(result.traces[1:3])) and np.array_equal(result.traces[0], result.traces[3])
    with pytest.raises(ValueError, match=r"\(n, 3\)"):
        sim(np.ones((2, 4)))
