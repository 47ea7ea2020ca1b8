"""Every use case at a meaningful budget (slow tier: `bash scripts/test.sh -m slow`, about 15 minutes).

The bounds are claims about the methods, set with margin from
benchmarks/suite_npe_vs_cmaes.py (docs/usecases.md), not the measured values.
"""

from pathlib import Path

import pytest

from sbi_neuro import RunConfig
from sbi_neuro.api.execute import execute

pytestmark = pytest.mark.slow


def fit(name: str, budget: int, tmp_path: Path, popsize: int = 100, **options: str) -> dict:
    config = RunConfig(
        usecase=name, method="cmaes", budget=budget, population_size=popsize, workers=2, options=options,
        progress=False,
    )  # fmt: skip
    return execute(config, tmp_path / f"{name}-cmaes").summary


def infer(name: str, budget: int, tmp_path: Path, **options: str) -> dict:
    config = RunConfig(usecase=name, method="npe", budget=budget, workers=2, options=options, progress=False)
    return execute(config, tmp_path / f"{name}-npe").summary


def test_vclamp_cmaes_reaches_round_off(tmp_path: Path) -> None:
    summary = fit("vclamp", 3000, tmp_path)
    assert summary["best_error"] < 1e-10  # Neuroptimus: round-off optimum within about 4,000 evaluations
    for name, value in summary["best_fit"].items():
        assert value == pytest.approx(summary["truth"][name], rel=1e-2, abs=1e-3)


def test_ca1_passive_both_methods_reach_the_optimum_region(tmp_path: Path) -> None:
    # the paper's easiest case: most methods reach the same optimum
    assert fit("ca1_passive", 2000, tmp_path)["best_error"] < 4e-5
    assert infer("ca1_passive", 2000, tmp_path)["best_error"] < 6e-5


def test_adex_cmaes_fits_the_ca3_recordings(tmp_path: Path) -> None:
    assert fit("adex", 3000, tmp_path)["best_error"] < 0.05


def test_hh_allen_synthetic_posterior_contains_the_truth(tmp_path: Path) -> None:
    summary = infer("hh_allen", 3000, tmp_path)
    assert sum(summary["truth_in_interval_90"].values()) >= 6, summary["interval_90"]
    assert (tmp_path / "hh_allen-npe" / "plots" / "posterior_predictive.png").exists()


def test_ca1_detailed_cmaes_improves_on_random_sampling(tmp_path: Path) -> None:
    summary = fit("ca1_detailed", 100, tmp_path, popsize=10)
    assert summary["best_error"] < 20  # a silent cell costs about 380, the best of 30 random draws about 6
