"""Posterior structure: ArviZ export and summary, constraint ranking and correlations.

On a small real NPE run of UC1 (batched backend) for the files, and on a toy simulator whose data
depend only on a + b, where the answers are known: a and b are confined to a + b ≈ 0.3 (90% width
0.27 of 0.9) and anticorrelated, c is left as the prior had it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pytest
import sbi

from priors import Parameter, Prior
from sbi_neuro.analysis.structure import (
    GRID_EVALUATIONS,
    MAX_RESOLUTION,
    analyse_posterior,
    conditional_correlations,
    constraint_ranking,
    grid_resolution,
    marginal_correlations,
    sample_box,
    saved_samples,
)
from sbi_neuro.inference.npe import train_npe
from sbi_neuro.inference.posterior import TrainedPosterior
from sbi_neuro.inference.settings import NPESettings
from sbi_neuro.results.folder import final_posterior, reopen

RIDGE = Prior(
    [
        Parameter("a", "mV", 0.0, 1.0),
        Parameter("b", "mV", 0.0, 1.0),
        Parameter("c", "nS", 0.1, 10.0, "log"),
    ]
)
RIDGE_X_O = np.array([0.3])
Ridge = tuple[TrainedPosterior, np.ndarray]


def analyse_folder(folder: Path) -> dict:
    """The posterior analysis of a finished run folder, on its saved posterior samples."""
    workspace = reopen(folder)
    posterior = final_posterior(workspace)
    return analyse_posterior(workspace, posterior, saved_samples(workspace, posterior, 1000))


@pytest.fixture(scope="module")
def structure(npe_run: Path) -> dict:
    return analyse_folder(npe_run)


@pytest.fixture(scope="module")
def ridge() -> Ridge:
    """NPE on x = a + b + noise (SD 0.02): c does not affect the data."""
    rng = np.random.default_rng(0)
    theta = RIDGE.sample(1000, rng)
    x = (theta[:, 0] + theta[:, 1] + 0.02 * rng.standard_normal(len(theta)))[:, None]
    posterior = train_npe(RIDGE, theta, x, NPESettings(stop_after_epochs=10, max_num_epochs=200), seed=0)
    return posterior, posterior.sample(1000, RIDGE_X_O, seed=0)


def _saved(npe_run: Path) -> np.ndarray:
    return np.loadtxt(npe_run / "posterior_samples.csv", delimiter=",", skiprows=1)


def test_inference_data_round_trips_with_names_units_and_shapes(npe_run: Path, structure: dict) -> None:
    summary = json.loads((npe_run / "summary.json").read_text())
    names = list(summary["best_fit"])
    idata = az.from_netcdf(npe_run / "analysis" / "posterior.nc")
    assert {"posterior", "prior", "observed_data"} <= set(idata.groups())
    assert list(idata.posterior.data_vars) == names == list(idata.prior.data_vars)
    samples = _saved(npe_run)
    for j, name in enumerate(names):
        var = idata.posterior[name]
        assert var.dims == ("chain", "draw") and var.shape == (1, len(samples))
        np.testing.assert_allclose(var.values[0], samples[:, j], rtol=1e-9)
        assert var.attrs["unit"] == "S/cm2" and var.attrs["scale"] == "log"
        low, high = var.attrs["low"], var.attrs["high"]
        drawn = idata.prior[name].values[0]
        assert idata.prior[name].shape == (1, len(samples))
        assert np.all((drawn >= low) & (drawn <= high)) and not np.allclose(drawn, var.values[0])
    assert (idata.posterior["gl_hh"].attrs["low"], idata.posterior["gl_hh"].attrs["high"]) == (1e-5, 1e-3)
    observed = {name: float(idata.observed_data[name]) for name in idata.observed_data.data_vars}
    assert observed == pytest.approx(summary["x_o"])
    assert idata.observed_data["voltage_base"].attrs["unit"] == "mV"
    assert idata.attrs["usecase"] == "hh" and idata.attrs["method"] == "npe"
    assert int(idata.attrs["seed"]) == 2 and idata.attrs["inference_library_version"] == sbi.__version__


def test_summary_table_has_statistics_and_units(npe_run: Path, structure: dict) -> None:
    table = pd.read_csv(npe_run / "analysis" / "posterior_summary.csv", index_col="parameter")
    assert list(table.columns) == ["mean", "sd", "hdi_5%", "hdi_95%", "unit"]
    samples = _saved(npe_run)
    assert list(table.index) == list(json.loads((npe_run / "summary.json").read_text())["best_fit"])
    np.testing.assert_allclose(table["mean"], samples.mean(axis=0), rtol=1e-5)  # unrounded (gl ~ 1e-4)
    np.testing.assert_allclose(table["sd"], samples.std(axis=0, ddof=0), rtol=1e-3)
    assert np.all(table["hdi_5%"] < table["hdi_95%"]) and set(table["unit"]) == {"S/cm2"}
    assert structure["summary"]["gl_hh"]["mean"] == pytest.approx(table.loc["gl_hh", "mean"], rel=1e-5)


def test_structure_json_ranking_and_correlations(npe_run: Path, structure: dict) -> None:
    out = npe_run / "analysis"
    assert json.loads((out / "structure.json").read_text()) == structure
    for name in structure["files"].values():
        assert (npe_run / name).stat().st_size > 0, name
    ranking = structure["constraint"]
    ratios = [row["ratio"] for row in ranking]
    assert ratios == sorted(ratios) and all(0 < r <= 1.5 for r in ratios)
    assert {row["name"] for row in ranking} == set(structure["names"])
    gnabar = next(row for row in ranking if row["name"] == "gnabar_hh")
    assert gnabar["space"] == "log10" and gnabar["prior_width"] == pytest.approx(0.9 * 3.0)  # 3 decades
    for key in ("marginal_correlation", "conditional_correlation"):
        m = np.array(structure[key], dtype=float)
        assert m.shape == (3, 3) and np.allclose(m, m.T) and np.allclose(np.diag(m), 1.0)
        assert np.all(np.abs(m) <= 1.0 + 1e-6)
    summary = json.loads((npe_run / "summary.json").read_text())
    assert structure["conditional"]["theta"] == summary["map"]
    assert structure["conditional"]["resolution"] == MAX_RESOLUTION


def test_a_parameter_the_data_pin_down_ranks_tighter_than_one_they_ignore(ridge: Ridge) -> None:
    _, samples = ridge
    ranking = constraint_ranking(RIDGE, samples)
    assert [row["name"] for row in ranking][-1] == "c"
    ratio = {row["name"]: row["ratio"] for row in ranking}
    assert 0.15 < ratio["a"] < 0.5 and 0.15 < ratio["b"] < 0.5  # a, b in [0, 0.3]: 0.27 of 0.9
    assert ratio["c"] > 0.7  # the prior's width, up to NPE's error


def test_correlations_of_a_ridge_are_negative_marginally_and_conditionally(ridge: Ridge) -> None:
    posterior, samples = ridge
    marginal = marginal_correlations(RIDGE, samples)
    condition = np.median(samples, axis=0)
    conditional = conditional_correlations(posterior, RIDGE_X_O, condition, sample_box(RIDGE, samples))
    for m in (marginal, conditional):
        assert m[0, 1] < -0.8  # a + b ≈ 0.3
        assert abs(m[0, 2]) < 0.3 and abs(m[1, 2]) < 0.3  # c is independent of both


def test_constraint_is_measured_in_inference_space() -> None:
    rng = np.random.default_rng(1)
    ratio = {r["name"]: r["ratio"] for r in constraint_ranking(RIDGE, RIDGE.sample(20_000, rng))}
    assert ratio == pytest.approx({"a": 1.0, "b": 1.0, "c": 1.0}, abs=0.03)  # the prior itself
    one_decade = RIDGE.sample(20_000, rng)
    one_decade[:, 2] = 10 ** rng.uniform(-1.0, 0.0, 20_000)  # c in [0.1, 1]: half of the log range
    ratio = {r["name"]: r["ratio"] for r in constraint_ranking(RIDGE, one_decade)}
    assert ratio["c"] == pytest.approx(0.5, abs=0.03)  # linear widths would give 0.9/9.9 ≈ 0.09


def test_grid_resolution_stays_within_the_evaluation_budget() -> None:
    assert grid_resolution(3, networks=2) == MAX_RESOLUTION
    assert grid_resolution(31, networks=2) == MAX_RESOLUTION  # stg: about 20 s
    for dim in range(2, 60):
        for networks in (1, 2, 5):
            res = grid_resolution(dim, networks)
            pairs = dim * (dim - 1) // 2
            assert res == 10 or pairs * networks * res**2 <= GRID_EVALUATIONS


def test_bad_input_is_explained(npe_run: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a run folder"):
        analyse_folder(tmp_path)
    untrained = tmp_path / "untrained"
    untrained.mkdir()
    shutil.copy(npe_run / "config.json", untrained / "config.json")
    with pytest.raises(ValueError, match="holds no trained posterior"):
        analyse_folder(untrained)
    with pytest.raises(ValueError, match="samples of 3 parameters"):
        constraint_ranking(RIDGE, np.zeros((10, 2)))
