"""Posterior predictive checks on a small real NPE run of UC1 (batched backend): files, numbers, reuse."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from sbi_neuro.analysis.predictive import (
    PredictiveCheck,
    feature_scale,
    posterior_predictive,
    target_percentile,
)
from sbi_neuro.api.execute import dispatcher_for
from sbi_neuro.core.seeds import PREDICTIVE_OFFSET, batch_seed
from sbi_neuro.results.folder import final_posterior, reopen

N = 30


def predictive_folder(folder: Path, n: int = 100, tolerance: float = 0.1, workers: int = 1) -> dict:
    """The predictive check of a finished run folder, on ``workers`` local processes."""
    workspace = reopen(folder, workers=workers)
    dispatcher = dispatcher_for(workspace, None)
    return posterior_predictive(workspace, final_posterior(workspace), dispatcher, n, tolerance)


@pytest.fixture(scope="module")
def report(npe_run: Path) -> dict:
    return predictive_folder(npe_run, n=N, tolerance=0.5, workers=1)


def test_report_figures_and_samples_are_written(npe_run: Path, report: dict) -> None:
    out = npe_run / "predictive"
    for name in ("predictive.json", "predictive.npz", "features.png", "traces.png"):
        assert (out / name).stat().st_size > 0, name
    assert json.loads((out / "predictive.json").read_text()) == report
    assert report["samples"] == N and report["new_simulations"] == N and report["tolerance_sd"] == 0.5
    assert report["seed"] == 2 + PREDICTIVE_OFFSET
    for key in ("valid_fraction", "within_tolerance_fraction"):
        assert 0 <= report[key] <= 1
    assert report["within_tolerance_fraction"] <= report["valid_fraction"]  # NaN never fits


def test_fractions_and_per_feature_numbers_follow_from_saved_features(npe_run: Path, report: dict) -> None:
    saved = np.load(npe_run / "predictive" / "predictive.npz")
    theta, x = saved["theta"], saved["x"]
    run_ = reopen(npe_run, workers=1)
    x_o, scale = run_.x_o, feature_scale(run_)
    assert theta.shape == (N, 3) and x.shape == (N, len(x_o))
    fits = np.abs(x - x_o) <= 0.5 * scale
    assert report["within_tolerance_fraction"] == pytest.approx(np.mean(np.all(fits, axis=1)))
    assert report["valid_fraction"] == pytest.approx(np.mean(np.all(np.isfinite(x), axis=1)))
    assert list(report["features"]) == run_.usecase.features.names
    for j, feature in enumerate(report["features"].values()):
        assert feature["target"] == pytest.approx(x_o[j])
        assert feature["undefined"] == int(np.sum(~np.isfinite(x[:, j])))
        assert feature["within_tolerance_fraction"] == pytest.approx(np.mean(fits[:, j]))
        if feature["target_percentile"] is not None:
            assert 0 <= feature["target_percentile"] <= 100
            assert feature["target_in_central_interval"] == (5 <= feature["target_percentile"] <= 95)
    # The saved features are those of the saved samples: simulate the first chunk again.
    again = run_.evaluator(theta[:3], batch_seed(report["seed"], 0))
    np.testing.assert_array_equal(again.x, x[:3])


def test_a_second_call_reuses_the_simulations(npe_run: Path, report: dict) -> None:
    npz = npe_run / "predictive" / "predictive.npz"
    before = npz.stat().st_mtime_ns
    same = predictive_folder(npe_run, n=N, tolerance=0.5, workers=1)
    assert same["new_simulations"] == 0 and npz.stat().st_mtime_ns == before
    assert {k: v for k, v in same.items() if k != "new_simulations"} == {
        k: v for k, v in report.items() if k != "new_simulations"
    }
    looser = predictive_folder(npe_run, n=N, tolerance=5.0, workers=1)
    assert looser["new_simulations"] == 0
    assert looser["within_tolerance_fraction"] >= report["within_tolerance_fraction"]
    fewer = predictive_folder(npe_run, n=10, tolerance=0.5, workers=1)
    assert fewer["new_simulations"] == 10 and np.load(npz)["x"].shape[0] == 10


def test_check_counts_undefined_features_as_misfits() -> None:
    x = np.array([[1.0, 2.0], [1.05, np.nan], [3.0, 2.0]])
    check = PredictiveCheck(np.zeros((3, 1)), x, np.array([1.0, 2.0]), np.array([1.0, 1.0]), 0.1)
    assert check.valid.tolist() == [True, False, True]
    assert check.within.tolist() == [True, False, False]
    assert check.distance_sd.tolist() == [0.0, np.inf, 2.0]
    assert check.summary()["median_max_distance_sd"] == 2.0
    per = check.per_feature(["f", "g"], ["mV", "ms"])
    assert per["g"]["undefined"] == 1 and per["g"]["within_tolerance_fraction"] == pytest.approx(2 / 3)


def test_target_percentile_counts_ties_half() -> None:
    assert target_percentile(np.array([1.0, 2.0, 3.0, 4.0]), 2.5) == 50.0
    assert target_percentile(np.array([1.0, 2.0, 2.0, 3.0]), 2.0) == 50.0
    assert target_percentile(np.array([1.0, 2.0]), 0.0) == 0.0
    assert np.isnan(target_percentile(np.array([]), 1.0))


def test_bad_input_is_explained(npe_run: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a run folder"):
        predictive_folder(tmp_path)
    with pytest.raises(ValueError, match="at least one sample"):
        predictive_folder(npe_run, n=0)
    with pytest.raises(ValueError, match="tolerance must be > 0"):
        predictive_folder(npe_run, n=5, tolerance=0.0)


def test_a_folder_written_before_targets_were_kept_still_opens(npe_run: Path, tmp_path: Path) -> None:
    """Run folders of earlier versions have no target.npz: the target is loaded as config.json names it."""
    from sbi_neuro import check, report

    old = tmp_path / "old"
    shutil.copytree(npe_run, old)
    (old / "target.npz").unlink()
    result = check(old, predictive=10, calibration=0, tolerance=0.5, workers=1)
    assert result.predictive is not None and result.predictive["samples"] == 10
    assert report(old) == old / "report.html" and (old / "target.npz").is_file()
