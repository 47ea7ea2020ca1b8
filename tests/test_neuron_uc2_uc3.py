"""UC2 (voltage-clamped synapse) and UC3 (passive CA1 morphology) NEURON simulators, and SWC loading."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from simulators.base import STATUS_FAILED, STATUS_OK
from simulators.errors import DataError
from simulators.neuron_models import current_model, release_models
from simulators.neuron_passive import PassiveMorphologyNeuron
from simulators.neuron_vclamp import VClampSynapseNeuron
from usecases.ca1_passive import uc3_simulator
from usecases.data import load_two_column_trace

UC2 = "neuroptimus/uc2_vclamp"
UC3 = "neuroptimus/uc3_ca1_passive"
UC2_TRUTH = [0.01, 2.0, 0.3, 3.0]  # weight µS, delay ms, tau_rise ms, tau_decay ms
UC3_REFERENCE = [1.0, 100.0, 5e-5]  # cm µF/cm², Ra Ω·cm, g_pas S/cm²
UC3_FITTED = [7.7398, 142.069, 3.8583e-4]  # best of a short Nelder–Mead search, file nseg


pytestmark = pytest.mark.usefixtures("release_neuron_models")


def nmse(target: np.ndarray, model: np.ndarray) -> float:
    """Neuroptimus' MSE component: mean squared error over the squared target range."""
    return float(np.mean((target - model) ** 2) / np.ptp(target) ** 2)


# ---------------------------------------------------------------- UC2


def test_uc2_grid_is_the_target_grid(data_dir: Path) -> None:
    target = load_two_column_trace(data_dir / UC2 / "target_clamp_current.dat", "clamp current", "nA")
    t = VClampSynapseNeuron().t
    assert t.size == target.t.size == 20_000
    np.testing.assert_allclose(t, target.t, rtol=0, atol=1e-9)  # 0.0125, 0.0375, …, 499.9875 ms
    coarse = VClampSynapseNeuron(record_dt_ms=0.1).t
    np.testing.assert_allclose(coarse, target.t[::4], rtol=0, atol=1e-9)


def test_uc2_ground_truth_reproduces_the_shipped_target(data_dir: Path) -> None:
    target = load_two_column_trace(data_dir / UC2 / "target_clamp_current.dat", "clamp current", "nA")
    result = VClampSynapseNeuron()(np.array([UC2_TRUTH]))
    assert result.status[0] == STATUS_OK and result.traces.shape == (1, 1, 20_000)
    assert nmse(target.values, result.traces[0, 0]) < 1e-10
    assert np.max(np.abs(target.values - result.traces[0, 0])) < 1e-5  # nA; the file has 6 digits


def test_uc2_record_dt_subsamples_the_fine_trace() -> None:
    fine = VClampSynapseNeuron()(np.array([UC2_TRUTH])).traces[0, 0]
    coarse = VClampSynapseNeuron(record_dt_ms=0.1)(np.array([UC2_TRUTH])).traces[0, 0]
    np.testing.assert_array_equal(coarse, fine[::4])


def test_uc2_tau_rise_at_or_above_tau_decay() -> None:
    # tau_rise 3 and 5 ms ≥ tau_decay 3 ms; 2.9999 < 3 is valid but within NEURON's 0.9999 adjustment.
    theta = np.array([[0.01, 2.0, 3.0, 3.0], [0.01, 2.0, 5.0, 3.0], [0.01, 2.0, 2.9999, 3.0], UC2_TRUTH])
    adjusted = VClampSynapseNeuron()(theta)  # default "adjust": NEURON's tau1 = 0.9999·tau2
    np.testing.assert_array_equal(adjusted.status, STATUS_OK)
    np.testing.assert_array_equal(adjusted.traces[0], adjusted.traces[1])
    np.testing.assert_array_equal(adjusted.traces[0], adjusted.traces[2])
    assert np.max(np.abs(adjusted.traces[0] - adjusted.traces[3])) > 0.01  # nA: a different waveform

    failing = VClampSynapseNeuron(tau_order="fail")(theta)
    np.testing.assert_array_equal(failing.status, [STATUS_FAILED, STATUS_FAILED, STATUS_OK, STATUS_OK])
    assert "tau_rise" in failing.messages[0] and "tau_decay" in failing.messages[1]
    assert np.all(np.isnan(failing.traces[:2]))
    np.testing.assert_array_equal(failing.traces[2:], adjusted.traces[2:])


def test_uc2_bad_rows_fail_and_the_batch_goes_on() -> None:
    sim = VClampSynapseNeuron()
    theta = np.array(
        [
            [np.nan, 2.0, 0.3, 3.0],
            UC2_TRUTH,
            [0.01, -1.0, 0.3, 3.0],  # negative delay
            [0.01, 2.0, 0.0, 3.0],  # tau_rise 0
            [1.0, 0.0, 1.0, 5.0],  # prior corner: valid
        ]
    )
    result = sim(theta)
    np.testing.assert_array_equal(
        result.status, [STATUS_FAILED, STATUS_OK, STATUS_FAILED, STATUS_FAILED, STATUS_OK]
    )
    assert all(result.messages[i] for i in (0, 2, 3)) and "delay" in result.messages[2]
    assert np.all(np.isnan(result.traces[[0, 2, 3]]))
    np.testing.assert_array_equal(result.traces[1], sim(np.array([UC2_TRUTH])).traces[0])
    assert np.all(np.isfinite(result.traces[4]))


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"dt_ms": -0.025}, "dt_ms"),
        ({"record_dt_ms": 0.03}, "record_dt_ms"),
        ({"tstop_ms": 500.01}, "tstop_ms"),
        ({"clamp_rs_MOhm": 0.0}, "clamp_rs_MOhm"),
        ({"stim_number": 2.5}, "stim_number"),
        ({"tau_order": "swap"}, "tau_order"),
    ],
)
def test_uc2_bad_configuration_is_rejected(options: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        VClampSynapseNeuron(**options)  # type: ignore[arg-type]


# ---------------------------------------------------------------- UC3 morphology


def test_uc3_areas_of_the_geometry_json_and_the_swc(data_dir: Path) -> None:
    from simulators.morphology import instantiate, load_geometry_json, total_area_um2
    from simulators.swc import delete_swc_cell, load_swc

    release_models()
    sections = instantiate(load_geometry_json(data_dir / UC3 / "morphology.geometry.json"), prefix="area_")
    json_area = total_area_um2(sections)
    del sections  # Python-owned sections go with their last reference
    swc = load_swc(data_dir / UC3 / "morphology.swc")
    try:
        swc_area = total_area_um2(swc)
        assert next(iter(swc)) == "soma[0]" and len(swc) == 128  # Import3d merges unbranched runs
    finally:
        delete_swc_cell()
    assert json_area == pytest.approx(12_416.8, abs=0.1)
    assert swc_area == pytest.approx(12_448.8, abs=0.1)
    assert swc_area / json_area - 1 == pytest.approx(0.0026, abs=0.0001)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("1 1 0 0 0 5 -1\n2 3 10 0 0\n", "line 2: expected 7 columns"),
        ("1 1 0 0 0 5 -1\n2 3 ten 0 0 1 1\n", "line 2: non-numeric"),
        ("1 1 0 0 0 5 -1\n2 3 10 0 0 1 7\n", "parent 7 is not a point"),
        ("# only a comment\n", "no points"),
        ("1 1 0 0 0 5 -1\n2 3 10 0 0 0 1\n", "line 2: radius must be > 0"),
        ("1 1 0 0 0 5 -1\n3 3 10 0 0 1 4\n4 3 20 0 0 1 1\n", "parent id 4 must be smaller"),
        ("1 1 0 0 0 5 -1\n1 3 10 0 0 1 1\n", "not unique"),
    ],
)
def test_malformed_swc_gives_data_error_naming_the_file(tmp_path: Path, content: str, message: str) -> None:
    from simulators.swc import load_swc

    path = tmp_path / "cell.swc"
    path.write_text(content)
    with pytest.raises(DataError, match=message) as info:
        load_swc(path)
    assert str(path) in str(info.value)


def test_import3d_rejection_is_a_data_error_and_leaves_no_sections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from neuron import h

    from simulators import swc

    release_models()
    path = tmp_path / "unordered.swc"
    path.write_text("1 1 0 0 0 5 -1\n2 3 10 0 0 1 3\n3 3 20 0 0 1 1\n")  # Import3d needs parent < id
    monkeypatch.setattr(swc, "read_swc", lambda _path: None)  # let the file reach Import3d
    with pytest.raises(DataError, match=r"unordered\.swc.*Import3d"):
        swc.load_swc(path)
    assert sum(1 for _ in h.allsec()) == 0


def test_missing_or_malformed_files_in_the_uc3_simulator(data_dir: Path, tmp_path: Path) -> None:
    from simulators.swc import load_swc

    with pytest.raises(DataError, match=r"nope\.swc"):
        load_swc(tmp_path / "nope.swc")
    stimulus = str(data_dir / UC3 / "stimulus_current.dat")
    with pytest.raises(DataError, match=r"morphology_path.*nope\.swc"):
        PassiveMorphologyNeuron(str(tmp_path / "nope.swc"), stimulus)
    bad_swc = tmp_path / "bad.swc"
    bad_swc.write_text("1 1 0 0 0 5\n")
    with pytest.raises(DataError, match=r"bad\.swc"):
        PassiveMorphologyNeuron(str(bad_swc), stimulus)(np.array([UC3_REFERENCE]))
    bad_stimulus = tmp_path / "stim.dat"
    bad_stimulus.write_text("0\n0.5\nabc\n")
    morphology = str(data_dir / UC3 / "morphology.geometry.json")
    with pytest.raises(DataError, match=r"stim\.dat"):
        PassiveMorphologyNeuron(morphology, str(bad_stimulus))(np.array([UC3_REFERENCE]))


# ---------------------------------------------------------------- UC3 simulations


def test_uc3_response_to_the_stimulus(data_dir: Path) -> None:
    target = load_two_column_trace(data_dir / UC3 / "target_voltage.dat")
    sim = uc3_simulator(PassiveMorphologyNeuron, data_dir)
    assert sim.t.size == target.t.size == 30_000
    np.testing.assert_allclose(sim.t, target.t, rtol=0, atol=1e-6)  # 0, 0.05, …, 1499.95 ms
    result = sim(np.array([UC3_REFERENCE, UC3_FITTED]))
    np.testing.assert_array_equal(result.status, STATUS_OK)
    v = result.traces[0, 0]
    assert np.all(np.isfinite(v))
    t = sim.t
    assert np.all(v[t <= 200.0 + 1e-9] == 0.0)  # e_pas = v_init = 0 and no current before 200 ms
    pulse = (t > 200.0) & (t <= 203.0 + 1e-9)
    assert np.all(np.diff(v[pulse]) > 0)  # charging during the 0.5 nA pulse
    assert t[np.argmax(v)] == pytest.approx(203.0) and 10 < v.max() < 40  # mV
    assert v[t.searchsorted(250.0)] < 0.2 * v.max()  # decays after the pulse
    assert nmse(target.values, v) < 0.1
    assert nmse(target.values, result.traces[1, 0]) < 4e-5  # the fitted set matches the recording


def test_uc3_d_lambda_is_applied_per_parameter_set(data_dir: Path) -> None:

    sim = uc3_simulator(PassiveMorphologyNeuron, data_dir, discretisation="d_lambda")
    other = [2.0, 200.0, 1e-4]
    first = sim(np.array([UC3_REFERENCE]))
    n_reference = current_model().n_segments
    result = sim(np.array([other, UC3_REFERENCE]))  # nseg changes twice between runs
    assert n_reference == 584  # d_lambda 0.1 at 100 Hz for Ra 100, cm 1 (144 with the file's nseg)
    np.testing.assert_array_equal(result.status, STATUS_OK)
    np.testing.assert_array_equal(result.traces[1], first.traces[0])
    file_v = uc3_simulator(PassiveMorphologyNeuron, data_dir)(np.array([UC3_REFERENCE])).traces[0, 0]
    assert 0.01 < np.max(np.abs(file_v - first.traces[0, 0])) < 2.0  # mV: close, not equal


def test_uc3_swc_morphology_is_close_to_the_json(data_dir: Path) -> None:
    json_v = uc3_simulator(PassiveMorphologyNeuron, data_dir)(np.array([UC3_FITTED])).traces[0, 0]
    swc_v = uc3_simulator(PassiveMorphologyNeuron, data_dir, swc=True)(np.array([UC3_FITTED])).traces[0, 0]
    assert np.max(np.abs(swc_v - json_v)) < 0.05 * np.max(json_v)


def test_uc3_bad_rows_fail_and_the_batch_goes_on(data_dir: Path) -> None:
    sim = uc3_simulator(PassiveMorphologyNeuron, data_dir)
    theta = np.array([[np.nan, 100.0, 5e-5], UC3_REFERENCE, [0.0, 100.0, 5e-5], [1.0, 100.0, -1e-5]])
    result = sim(theta)
    np.testing.assert_array_equal(result.status, [STATUS_FAILED, STATUS_OK, STATUS_FAILED, STATUS_FAILED])
    assert np.all(np.isnan(result.traces[[0, 2, 3]])) and all(result.messages[i] for i in (0, 2, 3))
    np.testing.assert_array_equal(result.traces[1], sim(np.array([UC3_REFERENCE])).traces[0])


def test_uc3_configuration_is_small_picklable_and_validated(data_dir: Path) -> None:
    sim = uc3_simulator(PassiveMorphologyNeuron, data_dir, discretisation="d_lambda")
    blob = pickle.dumps(sim)
    assert len(blob) < 1_000 and pickle.loads(blob) == sim
    paths = (sim.morphology_path, sim.stimulus_path)
    for options, field in [
        ({"discretisation": "fine"}, "discretisation"),
        ({"dt_ms": 0.0}, "dt_ms"),
        ({"record_dt_ms": 0.07}, "record_dt_ms"),
        ({"d_lambda": -0.1}, "d_lambda"),
        ({"site_x": 1.5}, "site_x"),
    ]:
        with pytest.raises(ValueError, match=field):
            PassiveMorphologyNeuron(*paths, **options)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="site_section"):
        PassiveMorphologyNeuron(*paths, site_section="nope")(np.array([UC3_REFERENCE]))


def test_a_new_neuron_model_releases_the_previous_one(data_dir: Path) -> None:
    from neuron import h

    uc3_simulator(PassiveMorphologyNeuron, data_dir)(np.array([UC3_REFERENCE]))
    assert sum(1 for _ in h.allsec()) >= 144
    VClampSynapseNeuron()(np.array([UC2_TRUTH]))
    assert sum(1 for _ in h.allsec()) == 1  # only the UC2 soma is left
