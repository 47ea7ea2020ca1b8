"""The compiled batch cost agrees with the per-trace definitions of summaries.costs."""

from __future__ import annotations

import numpy as np
import pytest

from sbi_neuro.registry import get_usecase
from simulators.batched_hh import HHSomaBatched
from summaries import FAILED_ERROR, TraceCost, detect_spikes
from summaries.batched_costs import find_spikes
from summaries.costs import COMPONENTS
from usecases.base import Target

ALL = {name: 1.0 for name in COMPONENTS}


def reference(cost: TraceCost, traces: np.ndarray, target: np.ndarray) -> np.ndarray:
    return np.array([cost.components(tr, target) for tr in traces])


def check(cost: TraceCost, traces: np.ndarray, target: np.ndarray) -> None:
    ok = np.ones(len(traces), dtype=bool)
    fast, totals = cost.batch(np.arange(traces.shape[2]), traces, np.empty(0), Target(None, target, "t"), ok)
    slow = reference(cost, traces, target)
    np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(totals, slow @ cost.weight_vector, rtol=1e-12, atol=1e-15)


def random_walks(n: int, length: int, seed: int) -> np.ndarray:
    """Traces that cross 0 often, start above or below it and sometimes sit exactly on it."""
    rng = np.random.default_rng(seed)
    walks = np.cumsum(rng.normal(0, 3, (n, 1, length)), axis=2) + rng.normal(0, 10, (n, 1, 1))
    walks[rng.random(walks.shape) < 0.05] = 0.0
    return np.round(walks, 1)


def test_find_spikes_matches_detect_spikes_on_awkward_traces() -> None:
    for v in random_walks(200, 300, seed=1)[:, 0]:
        ref = detect_spikes(v, 0.0)
        start, stop = np.empty(200, np.int64), np.empty(200, np.int64)
        k = find_spikes(v, 0.0, start, stop)
        assert k == ref.count
        np.testing.assert_array_equal(start[:k], ref.start)
        np.testing.assert_array_equal(stop[:k], ref.stop)


@pytest.mark.parametrize("seed", [2, 3])
def test_every_component_matches_on_random_walks(seed: int) -> None:
    traces = random_walks(60, 400, seed)
    for target in random_walks(5, 400, seed + 10):
        cost = TraceCost(
            ALL, threshold_mV=0.0, spike_window_samples=3, stim_start_ms=5.0, stim_end_ms=30.0, dt_ms=0.1
        )
        check(cost, traces, target)


def test_every_component_matches_on_uc1_simulations(hh) -> None:  # type: ignore[no-untyped-def]
    theta = hh.prior.sample(60, np.random.default_rng(4))
    sim = HHSomaBatched(record_dt_ms=0.1)
    traces = sim(theta).traces
    target = sim(np.array([[0.12, 0.036, 0.0003]])).traces[0]
    cost = TraceCost(
        ALL, threshold_mV=0.0, spike_window_samples=10, stim_start_ms=200, stim_end_ms=700, dt_ms=0.1
    )
    check(cost, traces, target)
    check(cost, traces, np.full_like(target, -65.0))  # a target that never spikes


def test_multi_sweep_costs_sum_over_sweeps_and_failed_rows_cost_the_maximum() -> None:
    traces = random_walks(12, 300, seed=5).reshape(4, 3, 300)
    target = random_walks(3, 300, seed=6)[:, 0]
    cost = TraceCost(
        ALL, threshold_mV=0.0, spike_window_samples=2, dt_ms=1.0, stim_start_ms=10, stim_end_ms=200
    )
    check(cost, traces, target)
    ok = np.array([True, False, True, True])
    comps, totals = cost.batch(np.arange(300), traces, np.empty(0), Target(None, target, "t"), ok)
    assert np.all(np.isnan(comps[1])) and totals[1] == FAILED_ERROR
    assert np.all(np.isfinite(comps[ok]))


def test_use_case_costs_match_their_reference() -> None:
    uc = get_usecase("hh", record_dt_ms=0.5)
    theta = uc.prior.sample(20, np.random.default_rng(7))
    traces = HHSomaBatched(record_dt_ms=0.5)(theta).traces
    check(uc.cost, traces, traces[0])  # type: ignore[arg-type]
