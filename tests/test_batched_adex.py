"""The compiled UC5 kernel (``AdExBatched``) against its Brian2 reference (``AdExBrian2``).

Fast tier: one Brian2 run of ~70 parameter sets (a few seconds once Brian2's
Cython code is cached). On the project machine the two agree bitwise; the
tolerances below are tight but leave room for a Brian2 compiled by another
compiler (round-off, ~10⁻¹¹ mV, and rarely a spike that moves by round-off).
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from simulators.base import STATUS_FAILED, STATUS_OK
from simulators.batched_adex import AdExBatched
from simulators.brian2_adex import AdExBrian2
from summaries.spikes import detect_spikes
from usecases import adex

REGULAR = [0.005, 30.0, -65.0, 10.0, -45.0, 2.0, 1.0, 0.05, 2.0, 100.0]  # C = 150 pF, Vreset = −55 mV
UNSTABLE = [0.001, 10.0, -40.0, 10.0, -30.0, 2.0, -5.0, 0.0, 2.0, 10.0]  # gL + a < 0: V runs away
BAD_ROWS = [
    UNSTABLE,
    [np.nan] * 10,
    [*REGULAR[:8], 0.0, 100.0],  # Delta_T = 0
    [*REGULAR[:5], -1.0, *REGULAR[6:]],  # t_ref < 0
    [*REGULAR[:3], -12.0, *REGULAR[4:]],  # Vreset = Vpeak + 2 mV
]
N_PRIOR = 64
ROUND_OFF_MV = 1e-6


@pytest.fixture(scope="module")
def runs():  # type: ignore[no-untyped-def]
    theta = adex.PRIOR.sample(N_PRIOR, np.random.default_rng(2024))
    theta = np.vstack([theta[:10], BAD_ROWS, [REGULAR], theta[10:]])  # bad rows inside the batch
    return theta, AdExBrian2()(theta), AdExBatched()(theta)


def _spike_samples(trace: np.ndarray) -> np.ndarray:
    return detect_spikes(trace, threshold=0.0).start  # UC5's Neuroptimus threshold


def test_status_and_messages_match_the_reference(runs) -> None:  # type: ignore[no-untyped-def]
    _, ref, new = runs
    np.testing.assert_array_equal(new.status, ref.status)
    assert new.messages == ref.messages
    np.testing.assert_array_equal(np.isnan(new.traces), np.isnan(ref.traces))
    np.testing.assert_array_equal(new.t, ref.t)
    bad = slice(10, 10 + len(BAD_ROWS))
    assert np.all(new.status[bad] == STATUS_FAILED) and np.all(np.isnan(new.traces[bad]))
    assert "diverged below -1000 mV" in new.messages[10]
    assert new.messages[11] == "non-finite parameter value"
    assert "Delta_T" in new.messages[12] and "t_ref" in new.messages[13] and "Vpeak" in new.messages[14]
    assert new.status[15] == STATUS_OK  # REGULAR
    assert (new.status == STATUS_OK).sum() >= 55  # most prior draws run


def test_spikes_and_subthreshold_voltage_match(runs) -> None:  # type: ignore[no-untyped-def]
    _, ref, new = runs
    ok = np.flatnonzero(ref.status == STATUS_OK)
    same_spikes, round_off, n_spikes = 0, 0, 0
    for i in ok:
        for r, b in zip(ref.traces[i], new.traces[i], strict=True):
            sr, sb = _spike_samples(r), _spike_samples(b)
            n_spikes += sr.size
            if sr.size == sb.size and np.all(np.abs(sr - sb) <= 1):
                same_spikes += 1
                sub = (r < 0.0) & (b < 0.0)
                assert np.sqrt(np.mean((r[sub] - b[sub]) ** 2)) < 0.5  # RMS, mV
                # round-off everywhere unless a spike moved by a step (+30 mV markers and the
                # first sample above 0 mV where Vpeak > 0 mV included)
                round_off += np.array_equal(sr, sb) and np.max(np.abs(r - b)) < ROUND_OFF_MV
    n_sweeps = ok.size * 4
    assert n_spikes > 1000  # the draws do fire
    assert same_spikes >= 0.98 * n_sweeps  # spike times within one sample
    assert round_off >= 0.98 * n_sweeps


def test_uc5_features_match(runs) -> None:  # type: ignore[no-untyped-def]
    _, ref, new = runs
    features = adex.build().features
    ok = ref.status == STATUS_OK
    f_ref, f_new = features(ref.t, ref.traces[ok]), features(new.t, new.traces[ok])
    names = [f.name for f in adex.FEATURES]
    count = np.array([names.index("spike_count") + k * len(names) for k in range(4)])
    np.testing.assert_array_equal(f_new[:, count], f_ref[:, count])
    np.testing.assert_allclose(f_new, f_ref, rtol=1e-9, atol=1e-6)  # NaN where both are NaN


def test_other_protocol_and_vpeak_marker_match() -> None:
    theta = np.vstack([[REGULAR], adex.PRIOR.sample(8, np.random.default_rng(5))])
    ref, new = (
        cls(
            amplitudes_pA=(600.0, -50.0),
            stim_start_ms=12.5,
            stim_end_ms=250.0,
            tstop_ms=300.0,
            record_dt_ms=0.1,
            spike_marker_mV=None,
        )(theta)
        for cls in (AdExBrian2, AdExBatched)
    )
    assert new.traces.shape == ref.traces.shape == (9, 2, 3000)
    assert new.messages == ref.messages
    np.testing.assert_allclose(new.traces, ref.traces, rtol=0, atol=ROUND_OFF_MV)
    assert new.traces[0, 0].max() == pytest.approx(-45.0 + 5 * 2.0)  # marker at Vpeak = Vθ + 5ΔT


def test_all_invalid_batch_and_shape_check() -> None:
    sim = AdExBatched()
    result = sim(np.array(BAD_ROWS[1:]))
    reference = AdExBrian2()(np.array(BAD_ROWS[1:]))  # screened: Brian2 never runs
    assert result.messages == reference.messages and np.all(result.status == STATUS_FAILED)
    assert np.all(np.isnan(result.traces))
    with pytest.raises(ValueError, match=r"shape \(n, 10\)"):
        sim(np.zeros((2, 9)))


def test_deterministic_and_picklable(runs) -> None:  # type: ignore[no-untyped-def]
    theta, _, new = runs
    sim = AdExBatched()
    clone = pickle.loads(pickle.dumps(sim))
    assert clone == sim and isinstance(clone, AdExBatched)
    again = clone(theta[:12], seed=123)
    np.testing.assert_array_equal(again.traces, new.traces[:12])  # seed unused, batch-independent
    assert again.messages == new.messages[:12]
