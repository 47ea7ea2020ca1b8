"""Calibration: the coverage computations on Gaussian cases with a known answer, and `calibrate` end to
end on a small real NPE run of UC1 (batched backend)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from sbi_neuro.analysis.calibration import (
    DEFAULT_LEVELS,
    box_log_density,
    calibrate,
    calibrated_deviation_quantile,
    draw_in_box,
    empirical_coverage,
    hpd_credibility,
    max_deviation,
    rank_statistics,
    sbc_ranks,
    tarp_credibility,
)
from sbi_neuro.api.check import check
from sbi_neuro.api.execute import dispatcher_for
from sbi_neuro.results.folder import final_posterior, reopen

PAIRS, SAMPLES, DIM, NOISE_SD = 1000, 500, 2, 0.5


def calibrate_folder(
    folder: Path, n_held_out: int = 200, n_samples: int = 1000, levels: np.ndarray = DEFAULT_LEVELS
) -> dict:
    """The calibration of a finished run folder's posterior, held-out simulations on one local worker."""
    workspace = reopen(folder, workers=1)
    posterior = final_posterior(workspace)
    return calibrate(workspace, posterior, dispatcher_for(workspace, None), n_held_out, n_samples, levels)


def gaussian_case(width: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """θ ~ N(0, I), x = θ + N(0, σ²I); samples from the exact posterior with its SD scaled by ``width``.

    Returns the truths, the samples and the HPD credibility of each truth under the sampled Gaussian.
    """
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=(PAIRS, DIM))
    x = theta + NOISE_SD * rng.normal(size=(PAIRS, DIM))
    mean = x / (1 + NOISE_SD**2)
    sd = width * NOISE_SD / np.sqrt(1 + NOISE_SD**2)
    samples = mean[:, None, :] + sd * rng.normal(size=(PAIRS, SAMPLES, DIM))
    log_prob_samples = -0.5 * np.sum(((samples - mean[:, None, :]) / sd) ** 2, axis=-1)
    log_prob_truth = -0.5 * np.sum(((theta - mean) / sd) ** 2, axis=-1)
    return theta, samples, hpd_credibility(log_prob_samples, log_prob_truth)


def dkw_bound(n: int, delta: float) -> float:
    """Dvoretzky–Kiefer–Wolfowitz: the empirical CDF of n draws is this close everywhere w.p. 1 − delta."""
    return float(np.sqrt(np.log(2 / delta) / (2 * n)))


def test_coverage_is_nominal_for_the_exact_posterior_and_known_for_an_overconfident_one() -> None:
    levels = DEFAULT_LEVELS
    tolerance = dkw_bound(PAIRS, 1e-3) + 1 / SAMPLES
    _, _, exact = gaussian_case(width=1.0, seed=0)
    assert max_deviation(empirical_coverage(exact, levels), levels) < tolerance
    # Samples half as wide: the truth's squared distance is 4 χ²₂ in the samples' units, so the α HPD
    # region (χ²₂ < −2 ln(1 − α)) holds it with probability 1 − (1 − α)^(1/4).
    _, _, narrow = gaussian_case(width=0.5, seed=1)
    coverage = empirical_coverage(narrow, levels)
    np.testing.assert_allclose(coverage, 1 - (1 - levels) ** 0.25, atol=tolerance)
    assert max_deviation(coverage, levels) > 0.4


def test_sbc_ranks_and_tarp_separate_calibrated_from_overconfident() -> None:
    levels = DEFAULT_LEVELS
    references = np.random.default_rng(2).normal(size=(PAIRS, DIM))
    results = {}
    for width in (1.0, 0.5):
        theta, samples, _ = gaussian_case(width, seed=3)
        stats = rank_statistics(sbc_ranks(samples, theta), SAMPLES, ["a", "b"])
        tarp = empirical_coverage(tarp_credibility(samples, theta, references), levels)
        results[width] = (stats, max_deviation(tarp, levels))
    for name in ("a", "b"):
        calibrated, overconfident = results[1.0][0][name], results[0.5][0][name]
        assert calibrated["ks_pvalue"] > 1e-3 and abs(calibrated["sd_normalised_rank"] - 12**-0.5) < 0.02
        assert overconfident["ks_pvalue"] < 1e-6 and overconfident["sd_normalised_rank"] > 0.35
    assert results[1.0][1] < dkw_bound(PAIRS, 1e-3) + 1 / SAMPLES
    assert results[0.5][1] > 0.15


def test_tarp_matches_sbi_on_the_same_samples() -> None:
    from sbi.diagnostics.tarp import _run_tarp

    theta, samples, _ = gaussian_case(width=0.7, seed=4)
    references = np.random.default_rng(5).normal(size=(PAIRS, DIM))
    as_tensor = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    ecp, alpha = _run_tarp(
        as_tensor(samples.transpose(1, 0, 2)), as_tensor(theta), as_tensor(references), num_bins=99
    )
    credibility = tarp_credibility(samples, theta, references)
    edges = alpha.numpy()[1:-1]
    # 99 bins over multiples of 1/500: no credibility on an inner edge, so sbi's histogram and ours agree
    assert np.min(np.abs(credibility[:, None] - edges[None, :])) > 1e-5
    np.testing.assert_allclose(empirical_coverage(credibility, edges), ecp.numpy()[1:-1], atol=1e-6)


def test_small_cases_by_hand() -> None:
    samples = np.array([[[0.1, 0.9], [0.2, 0.8], [0.3, 0.7], [0.4, 0.6]]])  # one pair, 4 samples, 2 dims
    np.testing.assert_array_equal(sbc_ranks(samples, np.array([[0.25, 0.75]])), [[2, 2]])
    assert hpd_credibility(np.array([[1.0, 2.0, 3.0, 4.0]]), np.array([2.5]))[0] == 0.5
    coverage = empirical_coverage(np.array([0.0, 0.5, 0.5, 0.9]), np.array([0.5, 0.95]))
    np.testing.assert_array_equal(coverage, [0.25, 1.0])
    assert max_deviation(np.array([0.1, 0.6]), np.array([0.2, 0.5])) == pytest.approx(0.1)


def test_calibrated_deviation_yardstick_shrinks_with_more_pairs() -> None:
    small, large = (calibrated_deviation_quantile(n, 1000, DEFAULT_LEVELS) for n in (50, 800))
    assert small > large
    for n, value in ((50, small), (800, large)):
        assert 0.5 / np.sqrt(n) < value < dkw_bound(n, 0.05)


def test_calibrate_writes_its_report_and_figures(npe_run: Path) -> None:
    report = calibrate_folder(npe_run, n_held_out=60, n_samples=200)
    out = npe_run / "calibration"
    for name in ("calibration.json", "held_out.npz", "sbc_ranks.png", "coverage.png"):
        assert (out / name).stat().st_size > 0, name
    assert json.loads((out / "calibration.json").read_text()) == report
    assert report["n_held_out"] == 60 and report["n_valid"] + report["n_invalid"] == 60
    assert report["n_valid"] > 30 and report["n_samples"] == 200 and not report["held_out_reused"]
    levels = np.array(report["levels"])
    for key in ("hpd", "tarp"):
        coverage = np.array(report[key]["empirical_coverage"])
        assert np.all((coverage >= 0) & (coverage <= 1)) and np.all(np.diff(coverage) >= 0)
        assert report[key]["max_coverage_deviation"] == max_deviation(coverage, levels)
    assert report["max_coverage_deviation"] == report["hpd"]["max_coverage_deviation"]
    # even a briefly trained posterior is far from useless: not every truth lands in the tails
    assert report["max_coverage_deviation"] < 0.3
    assert 0 < report["calibrated_deviation_95"] < 0.3
    assert set(report["sbc"]) == {"gnabar_hh", "gkbar_hh", "gl_hh"}
    for stats in report["sbc"].values():
        assert 0 <= stats["ks_pvalue"] <= 1 and 0 < stats["mean_normalised_rank"] < 1
    assert np.isfinite(report["tarp"]["atc"]) and 0 <= report["tarp"]["ks_pvalue"] <= 1


def test_a_rerun_reuses_the_held_out_simulations(npe_run: Path) -> None:
    first = calibrate_folder(npe_run, n_held_out=40, n_samples=100)
    held_out = npe_run / "calibration" / "held_out.npz"
    stamp = held_out.stat().st_mtime_ns
    second = calibrate_folder(npe_run, n_held_out=40, n_samples=100)
    assert held_out.stat().st_mtime_ns == stamp and second["held_out_reused"]
    same = {k: v for k, v in second.items() if k not in ("held_out_reused", "wall_time_s")}
    assert same == {k: v for k, v in first.items() if k not in ("held_out_reused", "wall_time_s")}
    other = calibrate_folder(npe_run, n_held_out=30, n_samples=100)  # another set: simulated anew
    assert not other["held_out_reused"] and held_out.stat().st_mtime_ns != stamp
    with np.load(held_out) as data:
        assert len(data["theta"]) == 30


def test_box_sampling_stays_in_the_box_and_its_density_integrates_to_one(npe_run: Path) -> None:
    run = reopen(npe_run, 1)
    posterior = final_posterior(run)
    prior = posterior.prior
    x_o = run.x_o
    box = draw_in_box(posterior, x_o, 500, seed=3, max_draws=50_000)
    assert box.z is not None and box.z.shape == (500, prior.dim)
    low, high = prior.z_bounds
    assert np.all((box.z >= low) & (box.z <= high)) and np.all(box.log_mass <= 0)
    again = draw_in_box(posterior, x_o, 500, seed=3, max_draws=50_000)
    np.testing.assert_array_equal(again.z, box.z)
    # Monte Carlo over the box: the truncated, renormalised density integrates to 1 (within a few %).
    uniform = low + np.random.default_rng(0).uniform(size=(200_000, prior.dim)) * (high - low)
    density = np.exp(box_log_density(posterior, x_o, uniform, box.log_mass))
    assert abs(np.mean(density) * np.prod(high - low) - 1) < 0.1
    # Fewer draws allowed than samples asked for: the pair is given up as leaking, within the cap.
    leak = draw_in_box(posterior, x_o, 500, seed=3, max_draws=300)
    assert leak.z is None and leak.draws <= 300 and np.all(np.isnan(leak.log_mass))


def test_a_truncated_posterior_and_bad_input_are_refused(npe_run: Path, tmp_path: Path) -> None:
    config = json.loads((npe_run / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "method": "tsnpe"}))
    truncated = reopen(tmp_path, workers=1)
    posterior = final_posterior(reopen(npe_run, workers=1))
    with pytest.raises(ValueError, match=r"'tsnpe'.*not amortised"):
        calibrate(truncated, posterior, dispatcher_for(truncated, None))
    shutil.copytree(npe_run / "posterior", tmp_path / "posterior")
    skipped = check(tmp_path, predictive=0, calibration=20, workers=1)  # the check says why it skips
    assert skipped.calibration is None and "not amortised" in skipped.notes[0]
    with pytest.raises(ValueError, match="not a run folder"):
        calibrate_folder(tmp_path / "nothing")
    with pytest.raises(ValueError, match="levels"):
        calibrate_folder(npe_run, levels=np.array([0.5, 1.0]))
