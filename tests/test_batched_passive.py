"""UC3's modal kernel against the NEURON reference it reproduces (real NEURON, real morphology)."""

from __future__ import annotations

import numpy as np
import pytest

from simulators.base import STATUS_FAILED, STATUS_OK
from simulators.batched_passive import PassiveMorphologyBatched
from simulators.neuron_models import release_models
from simulators.neuron_passive import PassiveMorphologyNeuron
from usecases import ca1_passive
from usecases.ca1_passive import uc3_simulator

TOL_MV = 1e-9  # measured: ≤ 5e-11 mV on traces of up to 44 mV (round-off of the eigendecomposition)


pytestmark = pytest.mark.usefixtures("release_neuron_models")


def test_prior_samples_and_extremes_match_neuron() -> None:
    prior = ca1_passive.PRIOR
    corners = np.array(np.meshgrid(*zip(prior.lows, prior.highs, strict=True))).reshape(3, -1).T
    theta = np.vstack([[1.0, 100.0, 1e-4], corners, prior.sample(12, np.random.default_rng(5))])
    reference = uc3_simulator(PassiveMorphologyNeuron)(theta)
    batched = uc3_simulator(PassiveMorphologyBatched)(theta)
    assert np.all(reference.status == STATUS_OK) and np.all(batched.status == STATUS_OK)
    np.testing.assert_array_equal(batched.t, reference.t)
    assert np.max(np.abs(batched.traces - reference.traces)) < TOL_MV
    # The step and the pulse both show: the comparison is not between flat traces.
    assert np.ptp(reference.traces[0]) > 1.0


def test_resting_level_protocol_and_swc_match_neuron() -> None:
    """A resting potential off zero, another recording step, and the SWC reconstruction of the cell."""
    theta = np.array([[2.0, 250.0, 5e-4], [7.5, 40.0, 2e-5]])
    options = {"e_pas_mV": -65.0, "v_init_mV": -60.0, "record_dt_ms": 0.1, "tstop_ms": 600.0}
    for swc in (False, True):
        reference = uc3_simulator(PassiveMorphologyNeuron, swc=swc, **options)(theta)
        batched = uc3_simulator(PassiveMorphologyBatched, swc=swc, **options)(theta)
        release_models()
        assert np.max(np.abs(batched.traces - reference.traces)) < TOL_MV


def test_invalid_rows_fail_alone_and_d_lambda_is_refused() -> None:
    theta = np.array([[1.0, 100.0, 1e-4], [np.nan, 100.0, 1e-4], [1.0, -5.0, 1e-4]])
    result = uc3_simulator(PassiveMorphologyBatched, tstop_ms=50.0)(theta)
    assert result.status.tolist() == [STATUS_OK, STATUS_FAILED, STATUS_FAILED]
    assert result.messages[1] == "non-finite parameter" and "Ra > 0" in result.messages[2]
    assert np.all(np.isnan(result.traces[1:])) and np.all(np.isfinite(result.traces[0]))
    with pytest.raises(ValueError, match="use --backend neuron"):
        uc3_simulator(PassiveMorphologyBatched, discretisation="d_lambda")


def test_modes_are_the_cells() -> None:
    """One uniform mode with λ = 0 (a sealed cell), all others positive; weights are finite."""
    simulator = uc3_simulator(PassiveMorphologyBatched)
    modes = simulator.modes()
    assert modes.eigenvalues.size == 144  # one per segment centre
    assert modes.eigenvalues[0] < 1e-9 * modes.eigenvalues[1] and np.all(modes.eigenvalues[1:] > 0)
    # A uniform voltage lies entirely in the uniform mode.
    assert np.max(np.abs(modes.uniform_weight[1:])) < 1e-9 * modes.uniform_weight[0]
    assert np.all(np.isfinite(modes.site_weight))


def test_usecase_backend_gives_the_same_errors() -> None:
    theta = ca1_passive.PRIOR.sample(6, np.random.default_rng(2))
    errors = []
    for backend in ("neuron", "batched"):
        uc = ca1_passive.build(backend=backend)
        target = uc.load_target("data")
        result = uc.simulator(theta)
        x = uc.features(result.t, result.traces)
        _, error = uc.cost.batch(result.t, result.traces, x, target, result.status == STATUS_OK)
        errors.append(error)
    release_models()
    np.testing.assert_allclose(errors[1], errors[0], rtol=1e-9)
