"""UC6 detailed CA1 cell: mechanisms, morphology, simulator and feature-statistics cost (fast tier).

Two full parameter sets are simulated (about 6–10 s each on one core): the middle of
the bounds (log-scale middle for densities spanning a decade or more; a silent cell, like
most of the prior) and a "reasonable" set found by random sampling (cost 6.4, all 66
features produced). The first build of the
mechanisms adds about 25 s (nrnivmodl); later runs reuse it.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from simulators import STATUS_FAILED, STATUS_OK
from simulators.errors import DataError

TARGET_FILE = "neuroptimus/uc6_ca1_detailed/target_features.json"
MORPHOLOGY = "neuroptimus/uc6_ca1_detailed/morphology.geometry.json"

# From 30 log-uniform random samples of the bounds (seed 7, sample 2): silent at −0.25 and
# 0.05 nA, 5, 10, 13 and 17 spikes at 0.1–0.25 nA, every target feature produced, cost 6.4.
REASONABLE_BY_NAME = {
    "na_shift": 5.357,
    "gkdr_dend": 0.04676,
    "gna_soma": 0.01239,
    "gkdr_soma": 0.3616,
    "gkdr_axon": 0.7721,
    "g_leak": 3.267e-05,
    "h_scale": 1.206,
    "e_leak": -62.57,
    "gkm_soma_dend": 5.322e-05,
    "gkm_axon": 8.018e-04,
    "ka_scale": 1.476,
    "gkd_soma": 3.998e-05,
}
REASONABLE = np.array(list(REASONABLE_BY_NAME.values()))


def _middle() -> np.ndarray:
    """Middle of the bounds: geometric for ranges of a decade or more, arithmetic otherwise."""
    from simulators.neuron_ca1_detailed import PARAMETERS

    lo = np.array([p.low for p in PARAMETERS])
    hi = np.array([p.high for p in PARAMETERS])
    wide = (lo > 0) & (hi >= 10 * np.where(lo > 0, lo, 1.0))
    return np.where(wide, np.sqrt(np.abs(lo * hi)), (lo + hi) / 2)


@pytest.fixture(scope="module", autouse=True)
def _release_model():  # type: ignore[no-untyped-def]
    """Drop the CA1 cell afterwards: psolve would otherwise integrate it in later tests too."""
    yield
    from simulators.neuron_models import release_models

    release_models()


@pytest.fixture(scope="module")
def sim(data_dir: Path):  # type: ignore[no-untyped-def]
    from simulators.neuron_ca1_detailed import CA1DetailedNeuron

    return CA1DetailedNeuron(morphology_path=str(data_dir / MORPHOLOGY))


@pytest.fixture(scope="module")
def batch(sim):  # type: ignore[no-untyped-def]
    """One batch: the middle of the bounds, a NaN row, the reasonable set."""
    bad = _middle()
    bad[3] = np.nan
    return sim(np.vstack([_middle(), bad, REASONABLE]), seed=0)


@pytest.fixture(scope="module")
def stats(data_dir: Path):  # type: ignore[no-untyped-def]
    from summaries.feature_stats import FeatureStatistics

    return FeatureStatistics.load(data_dir / TARGET_FILE)


def test_mechanisms_compile_and_load() -> None:
    from neuron import h

    from simulators.mechanisms import CA1_MECHANISMS, ensure_compiled, load_ca1_mechanisms

    build = ensure_compiled()
    assert (build / "SOURCES.sha256").is_file()
    assert ensure_compiled() == build  # up to date: no rebuild
    assert load_ca1_mechanisms() == build
    assert load_ca1_mechanisms() == build  # loading twice is harmless
    sec = h.Section(name="uc6_mechanism_probe")
    for name in CA1_MECHANISMS:
        sec.insert(name)
    assert all(getattr(sec(0.5), name).gbar >= 0 for name in CA1_MECHANISMS)


def test_missing_compiler_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import simulators.mechanisms as mechanisms

    monkeypatch.setattr(mechanisms.sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(mechanisms.MechanismError, match="nrnivmodl"):
        mechanisms.find_nrnivmodl()


def test_morphology_area_and_regions(sim) -> None:  # type: ignore[no-untyped-def]
    from simulators.morphology import total_area_um2

    model = sim._model()
    assert total_area_um2(model.sections) == pytest.approx(19187.7, abs=0.1)
    assert len(model.dendrites) == 158 and len(model.axon) == 5
    assert sum(sec.nseg for sec in model.sections.values()) == 554
    assert model.soma.Ra == 100.0 and model.soma.cm == 1.0
    assert model.distance_um.min() > 0 and model.distance_um.max() < 800  # Na stays > 0 everywhere
    # The Neuroptimus user function's distances (to axon[4] at the segment's x): 239–461 µm.
    quirk = dataclasses.replace(sim, distance_rule="neuroptimus_axon4")._model()
    assert quirk.distance_um.min() > 238 and quirk.distance_um.max() < 462


def test_density_rules() -> None:
    from simulators.neuron_ca1_detailed import PARAMETER_NAMES, dendritic_densities

    assert tuple(REASONABLE_BY_NAME) == PARAMETER_NAMES
    d = np.array([0.0, 50.0, 100.0, 150.0, 400.0, 600.0])
    dens = dendritic_densities(d, gna_soma=0.04, h_scale=2.0, ka_scale=0.5)
    np.testing.assert_allclose(dens["ca1_na_dend"], 0.04 * (1 - 0.00125 * d))
    np.testing.assert_allclose(dens["ca1_h_prox"], [4e-5, 8e-5, 1.2e-4, 0, 0, 0])
    np.testing.assert_allclose(dens["ca1_h_dist"], [0, 0, 0, 2 * (2e-5 + 4e-7 * 150), 3.6e-4, 3.6e-4])
    np.testing.assert_allclose(dens["ca1_ka_prox"], [0.00175, 0.5 * (0.0035 + 5.5e-5 * 50), 0.00450, 0, 0, 0])
    np.testing.assert_allclose(dens["ca1_ka_dist"][3:], [0.5 * (0.0035 + 5.5e-5 * 150), 0.01275, 0.01275])


def test_middle_of_bounds_gives_finite_hyperpolarising_sweeps(sim, batch) -> None:  # type: ignore[no-untyped-def]
    assert batch.traces.shape == (3, 6, 12001)
    assert batch.status[0] == STATUS_OK
    v = batch.traces[0]
    assert np.all(np.isfinite(v))
    rest = v[:, 3900:4000].mean(axis=1)
    assert np.all(np.abs(rest - rest[0]) < 1e-6)  # same settled state before every step
    assert v[0, 4000:10000].min() < rest[0] - 5  # −0.25 nA hyperpolarises
    assert abs(v[0, 0] - rest[0]) < 0.5  # settled: no initial transient


def test_nan_parameter_fails_alone(batch) -> None:  # type: ignore[no-untyped-def]
    np.testing.assert_array_equal(batch.status, [STATUS_OK, STATUS_FAILED, STATUS_OK])
    assert np.all(np.isnan(batch.traces[1])) and "gkdr_soma" in batch.messages[1]


def test_reasonable_set_spikes_and_matches_the_data(sim, batch, stats) -> None:  # type: ignore[no-untyped-def]
    import efel

    v = batch.traces[2]
    spikes = [int(np.sum((x[1:] > 0) & (x[:-1] <= 0))) for x in v]
    assert spikes[0] == 0 and spikes[-1] >= 3  # silent when hyperpolarised, fires at 0.25 nA
    values = stats.values(sim.t, batch.traces[2:])
    assert efel.get_settings().Threshold == -20.0  # eFEL's default restored after use
    assert np.isnan(values).sum() < 20
    cost = stats.cost(values)
    assert np.isfinite(cost).all() and cost[0] < 100
    comps, totals = stats.batch(sim.t, batch.traces, batch.status == STATUS_OK)
    assert np.isnan(comps[1]).all() and totals[1] == 100.0  # failed row: Neuroptimus' FAILED_ERROR
    assert totals[2] == pytest.approx(cost[0])


def test_shared_prestimulus_equals_full_runs(data_dir: Path) -> None:
    from simulators.neuron_ca1_detailed import CA1DetailedNeuron

    shared = CA1DetailedNeuron(
        morphology_path=str(data_dir / MORPHOLOGY),
        tstop_ms=120.0,
        stim_delay_ms=40.0,
        stim_dur_ms=60.0,
        amplitudes_nA=(-0.1, 0.3),
        settle_ms=50.0,
    )
    full = dataclasses.replace(shared, share_prestimulus=False)
    a, b = shared(REASONABLE[None]), full(REASONABLE[None])
    assert a.status[0] == b.status[0] == STATUS_OK
    np.testing.assert_allclose(a.traces, b.traces, atol=1e-9)


def test_feature_statistics_file_content(stats) -> None:  # type: ignore[no-untyped-def]
    assert len(stats.targets) == 66 and len(stats.feature_types) == 20
    assert stats.amplitudes_nA == (-0.25, 0.05, 0.1, 0.15, 0.2, 0.25)
    assert (stats.stim_start_ms, stats.stim_end_ms) == (200.0, 500.0)
    np.testing.assert_allclose(stats.weight_vector, 0.05)  # Neuroptimus settings; the file says 1
    assert stats.file_weights == (1.0,) * 20
    assert "Spikecount@0.25nA" in stats.names and "sag_ratio1@-0.25nA" in stats.names
    assert "AP_amplitude@0.05nA" not in stats.names  # only the file's pairs
    i = stats.names.index("Spikecount@0.25nA")
    assert stats.means[i] == pytest.approx(11.3333) and stats.stds[i] == pytest.approx(1.8499)


def test_feature_reduction_and_missing_error(stats) -> None:  # type: ignore[no-untyped-def]
    assert stats._reduce("AP_amplitude", np.array([90.0, 80.0, 70.0])) == pytest.approx(75.0)  # skips 1st
    assert stats._reduce("AHP_depth_abs", np.array([-50.0, -52.0])) == pytest.approx(-51.0)
    assert stats._reduce("AP_amplitude", np.array([90.0])) == 90.0
    assert np.isnan(stats._reduce("AP_amplitude", None))
    assert stats._reduce("inv_first_ISI", None) == 0.0  # older eFEL's value, which the file assumes
    values = stats.means.copy()[None]
    assert stats.cost(values)[0] == 0.0
    values[0, 0] = np.nan
    assert stats.components(values)[0].sum() == 250.0
    values[0, 0] = stats.means[0] + 2 * stats.stds[0]
    assert stats.cost(values)[0] == pytest.approx(2 * stats.weight_vector[0])
    assert stats.within_sd(values, 1)[0] == 65 and stats.within_sd(values, 2)[0] == 66


@pytest.mark.parametrize(
    "content",
    ["{not json", json.dumps({"stimuli": {"amplitudes": [0.1]}}), json.dumps({"features": {}})],
)
def test_malformed_target_file_names_the_file(tmp_path: Path, content: str) -> None:
    from summaries.feature_stats import FeatureStatistics

    path = tmp_path / "bad_targets.json"
    path.write_text(content)
    with pytest.raises(DataError, match=r"bad_targets\.json"):
        FeatureStatistics.load(path)
    with pytest.raises(DataError, match=r"missing\.json"):
        FeatureStatistics.load(tmp_path / "missing.json")


def test_bad_configuration_is_rejected(tmp_path: Path, data_dir: Path) -> None:
    from simulators.neuron_ca1_detailed import CA1DetailedNeuron

    morphology = str(data_dir / MORPHOLOGY)
    with pytest.raises(ValueError, match="record_dt_ms"):
        CA1DetailedNeuron(morphology, record_dt_ms=0.07)
    with pytest.raises(ValueError, match="distance_rule"):
        CA1DetailedNeuron(morphology, distance_rule="euclid")  # type: ignore[arg-type]
    with pytest.raises(DataError, match=r"nowhere\.json"):
        CA1DetailedNeuron(morphology_path=str(tmp_path / "nowhere.json"))
