import numpy as np

from simulators import STATUS_FAILED, STATUS_OK, HHSomaNeuron


def test_ground_truth_reproduces_the_shipped_target(hh, data_dir) -> None:  # type: ignore[no-untyped-def]
    simulated = hh.load_target("simulated")
    shipped = hh.load_target("data", data_dir)
    assert shipped.traces.shape == simulated.traces.shape == (1, 40_001)
    assert np.max(np.abs(simulated.traces - shipped.traces)) < 0.01
    truth_error = hh.cost.components(simulated.traces, shipped.traces) @ hh.cost.weight_vector
    assert truth_error < 1e-9


def test_batch_in_traces_out_with_status() -> None:
    sim = HHSomaNeuron(tstop_ms=300.0, stim_delay_ms=50.0, stim_dur_ms=200.0)
    theta = np.array([[0.12, 0.036, 3e-4], [np.nan, 0.036, 3e-4], [0.001, 0.5, 1e-3]])
    result = sim(theta, seed=0)
    assert result.traces.shape == (3, 1, sim.t.size)
    np.testing.assert_array_equal(result.status, [STATUS_OK, STATUS_FAILED, STATUS_OK])
    assert np.all(np.isnan(result.traces[1])) and result.messages[1]
    assert result.traces[0, 0].max() > 20  # spikes
    assert result.traces[2, 0].max() < -40  # no Na: no spikes


def test_recording_interval_is_configurable() -> None:
    fine = HHSomaNeuron(tstop_ms=100.0, stim_delay_ms=20.0, stim_dur_ms=50.0)
    coarse = HHSomaNeuron(tstop_ms=100.0, stim_delay_ms=20.0, stim_dur_ms=50.0, record_dt_ms=0.1)
    theta = np.array([[0.12, 0.036, 3e-4]])
    a, b = fine(theta).traces[0, 0], coarse(theta).traces[0, 0]
    assert b.size == 1001 and a.size == 4001
    np.testing.assert_allclose(a[::4], b, atol=1e-9)


def test_bad_configuration_is_rejected() -> None:
    import pytest

    with pytest.raises(ValueError, match="record_dt_ms"):
        HHSomaNeuron(record_dt_ms=0.03)
    with pytest.raises(ValueError, match="tstop_ms"):
        HHSomaNeuron(tstop_ms=-1)
