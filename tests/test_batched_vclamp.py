"""UC2's compiled kernel against the NEURON reference it reproduces (real NEURON, no mocks)."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest

from simulators.base import STATUS_FAILED, STATUS_OK, SimulationResult
from simulators.batched_vclamp import VClampSynapseBatched
from simulators.neuron_vclamp import VClampSynapseNeuron
from usecases import vclamp

TRUTH = [vclamp.GROUND_TRUTH[name] for name in vclamp.PRIOR.names]  # weight µS, delay ms, tau_rise, tau_decay
TOL_NA = 1e-9  # measured: ≤ 1.5e-12 nA (isolated one-ulp flips of v)


pytestmark = pytest.mark.usefixtures("release_neuron_models")


def both(theta: np.ndarray, **config: Any) -> tuple[SimulationResult, SimulationResult]:
    """The reference's and the kernel's results for the same configuration."""
    return VClampSynapseNeuron(**config)(theta), VClampSynapseBatched(**config)(theta)


def assert_same(reference: SimulationResult, batched: SimulationResult) -> None:
    """Same status, messages, grid and failed rows; traces within TOL_NA."""
    np.testing.assert_array_equal(batched.status, reference.status)
    assert batched.messages == reference.messages
    np.testing.assert_array_equal(batched.t, reference.t)
    np.testing.assert_array_equal(np.isnan(batched.traces), np.isnan(reference.traces))
    ok = reference.status == STATUS_OK
    assert np.max(np.abs(batched.traces[ok] - reference.traces[ok]), initial=0.0) < TOL_NA


def test_prior_samples_and_ground_truth_match_neuron() -> None:
    theta = np.vstack([TRUTH, vclamp.PRIOR.sample(100, np.random.default_rng(7))])
    reference, batched = both(theta)
    assert np.all(reference.status == STATUS_OK)
    assert_same(reference, batched)
    features = vclamp.build().features
    x_ref, x_batched = features(reference.t, reference.traces), features(batched.t, batched.traces)
    assert np.all(np.isfinite(x_ref))
    np.testing.assert_allclose(x_batched, x_ref, rtol=0, atol=TOL_NA)


def test_event_delivery_matches_neuron() -> None:
    """Delays off the dt grid, zero, and exactly half a step (ties at t + dt/2) land in NEURON's step."""
    delays = [0.0, 1e-13, 0.0125, 0.0125 - 1e-15, 0.0125 + 1e-15, 0.025, 1.2345, 1.2375, 2.4875, 5.0]
    theta = np.array([[0.3, d, 0.3, 3.0] for d in delays])
    assert_same(*both(theta, tstop_ms=120.0))


def neuron_delivery_times(dt: float, n_steps: int) -> np.ndarray:
    """t + dt/2 at the start of each step; t grows by two dt/2 additions per step, as in NEURON."""
    t, out = 0.0, []
    for _ in range(n_steps):
        out.append(t + 0.5 * dt)
        t = t + 0.5 * dt
        t = t + 0.5 * dt
    return np.array(out)


def test_events_exactly_at_t_plus_half_dt_are_delivered_in_that_step() -> None:
    """Exact ties: NEURON delivers an event with te ≤ t + dt/2 (inclusive) before the step."""
    t_deliver = neuron_delivery_times(0.025, 4100)
    start = float(t_deliver[54])  # NetStim's first spike is (start + interval) − interval = start exactly
    assert (start + 100.0) - 100.0 == start
    delay = float(t_deliver[4049] - 100.0)  # 100 + delay = t_deliver[4049] exactly (101.2375000000145 ms)
    assert 100.0 + delay == t_deliver[4049]
    theta = np.array([[0.3, 0.0, 0.3, 3.0]])
    assert_same(*both(theta, stim_start_ms=start, stim_interval_ms=100.0, stim_number=1, tstop_ms=5.0))
    assert_same(*both(np.array([[0.3, delay, 0.3, 3.0]]), tstop_ms=105.0))


def test_the_comparison_sees_an_event_one_step_late() -> None:
    """The tolerance is far below what a wrong delivery step would give (so the tests can fail)."""
    sim = VClampSynapseBatched(tstop_ms=120.0)
    on_time = sim(np.array([TRUTH])).traces
    late = sim(np.array([[TRUTH[0], TRUTH[1] + sim.dt_ms, *TRUTH[2:]]])).traces
    assert np.max(np.abs(late - on_time)) > 1e4 * TOL_NA


@pytest.mark.parametrize("tau_order", ["adjust", "fail"])
def test_tau_order_and_invalid_rows_like_the_reference(tau_order: str) -> None:
    theta = np.array(
        [
            [0.3, 2.0, 3.0, 3.0],  # tau_rise = tau_decay
            [0.3, 2.0, 4.0, 3.0],  # tau_rise > tau_decay
            [0.3, 2.0, 2.99995, 3.0],  # tau_rise < tau_decay but ratio > 0.9999: Exp2Syn adjusts it
            [0.3, 2.0, 1e-12, 3.0],  # ratio < 1e-9: Exp2Syn raises tau1
            [np.nan, 2.0, 0.3, 3.0],
            [0.3, np.inf, 0.3, 3.0],
            [0.3, -1.0, 0.3, 3.0],
            [0.3, 2.0, 0.0, 3.0],
            [0.3, 2.0, 1e300, 1e301],  # finite parameters, non-finite current
            TRUTH,
        ]
    )
    reference, batched = both(theta, tstop_ms=150.0, tau_order=tau_order)
    assert_same(reference, batched)
    expected_ok = [tau_order == "adjust"] * 2 + [True, True] + [False] * 5 + [True]
    np.testing.assert_array_equal(batched.status == STATUS_OK, expected_ok)
    if tau_order == "adjust":  # both run with tau1 = 0.9999·tau2
        np.testing.assert_array_equal(batched.traces[0], batched.traces[1])
    assert batched.messages[8] == "non-finite clamp current"


def test_other_protocols_match_neuron() -> None:
    theta = np.array([TRUTH, [0.05, 0.7, 0.01, 1.0]])
    assert_same(*both(theta, record_dt_ms=0.1, tstop_ms=150.0, celsius_degC=20.0))
    assert_same(*both(theta, hold_mV=-60.0, stim_start_ms=0.3, stim_interval_ms=0.7, tstop_ms=10.0))


def test_deterministic_and_picklable() -> None:
    sim = VClampSynapseBatched(tstop_ms=150.0)
    theta = vclamp.PRIOR.sample(4, np.random.default_rng(1))
    first = sim(theta, seed=0)
    again = pickle.loads(pickle.dumps(sim))
    assert again == sim and type(again) is VClampSynapseBatched
    second = again(theta, seed=123)
    np.testing.assert_array_equal(second.traces, first.traces)
    np.testing.assert_array_equal(second.status, first.status)


def test_shapes_and_empty_batches() -> None:
    sim = VClampSynapseBatched(tstop_ms=150.0)
    with pytest.raises(ValueError, match="shape"):
        sim(np.ones((2, 3)))
    empty = sim(np.empty((0, 4)))
    assert empty.traces.shape == (0, 1, sim.t.size)
    failed = sim(np.array([[np.nan, 1.0, 0.3, 3.0]]))
    assert failed.status[0] == STATUS_FAILED and np.all(np.isnan(failed.traces))
