"""The comparison harness, TSNPE and NPE + CMA-ES: budgets, resumption, tables, figures and the index."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from sbi_neuro.api.execute import execute
from sbi_neuro.cli import _parse_seeds as parse_seeds
from sbi_neuro.core.convergence import best_so_far, convergence_score, evaluations_to_reach
from sbi_neuro.inference.settings import NPESettings
from sbi_neuro.methods.config import RunConfig, check_bayesian_budget
from sbi_neuro.results.index import ResultsIndex
from tests.conftest import run_cli

QUICK_NPE = NPESettings(stop_after_epochs=5, max_num_epochs=30)  # the pipeline, not the posterior, is tested


def small(method: str, budget: int, **extra: object) -> RunConfig:
    return RunConfig(
        usecase="hh", method=method, budget=budget, backend="batched", target="simulated", seed=3,
        workers=1, progress=False, batch_size=100, npe=QUICK_NPE, **extra,  # type: ignore[arg-type]
    )  # fmt: skip


def test_convergence_metrics_follow_the_neuroptimus_definitions() -> None:
    errors = np.array([5.0, 3.0, 4.0, 1.0] * 50)  # 200 evaluations: best 1 from evaluation 4 on
    assert best_so_far(errors, 200)[:5].tolist() == [5.0, 3.0, 3.0, 1.0, 1.0]
    assert convergence_score(errors, 200) == pytest.approx(2 * np.log10(1.0))
    early = np.array([10.0, 0.1])  # a local method that stopped after 2 evaluations
    assert best_so_far(early, 300)[-1] == 0.1
    assert convergence_score(early, 300) == pytest.approx(3 * np.log10(0.1))
    assert evaluations_to_reach(errors, 3.0) == 2 and evaluations_to_reach(errors, 0.5) is None
    assert parse_seeds("3") == [1, 2, 3] and parse_seeds("4,9") == [4, 9]
    with pytest.raises(ValueError, match="--seeds"):
        parse_seeds("0")


def test_tsnpe_spends_its_budget_over_rounds_and_resumes(tmp_path: Path) -> None:
    config = small("tsnpe", 430, rounds=2, fit_candidates=10)
    first = execute(config, tmp_path / "ts").summary
    assert first["simulations"] == 430 and first["training_simulations"] == 420
    assert [r["simulations"] for r in first["rounds"]] == [210, 210]
    assert all(0 < r["acceptance"] <= 1 for r in first["rounds"])
    for r in range(2):
        assert (tmp_path / "ts" / f"posterior_round{r}" / "spec.json").is_file()
    again = execute(config, tmp_path / "ts").summary  # everything on disk: nothing re-simulated or retrained
    assert again["best_error"] == first["best_error"] and again["rounds"] == first["rounds"]
    with open(tmp_path / "ts" / "evaluations.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 430


def test_tsnpe_first_round_takes_its_share_and_the_rest_is_split() -> None:
    assert small("tsnpe", 1010, rounds=3, fit_candidates=10, first_round=600).round_sizes == [600, 200, 200]
    assert small("tsnpe", 910, rounds=3, fit_candidates=10).round_sizes == [300, 300, 300]
    with pytest.raises(ValueError, match="later rounds"):
        check_bayesian_budget(small("tsnpe", 1010, rounds=3, fit_candidates=10, first_round=900))


def test_posterior_seeded_cmaes_is_charged_to_the_same_budget(tmp_path: Path) -> None:
    config = small("npe_cmaes", 400, npe_fraction=0.5)
    summary = execute(config, tmp_path / "hy").summary
    assert summary["training_simulations"] == 200 and summary["simulations"] == 400
    assert summary["hybrid_settings"] == {"npe_fraction": 0.5, "cma_population": 7}
    # the search (MAP first, then CMA-ES) improves on the MAP it started from
    assert summary["best_error"] <= summary["map_error"]
    assert execute(config, tmp_path / "hy").summary["best_error"] == summary["best_error"]


def test_compare_command_writes_tables_figures_ranking_and_index(tmp_path: Path) -> None:
    out, index = tmp_path / "cmp", tmp_path / "index.sqlite"
    args = [
        "compare", "hh", "--backend", "batched", "--target", "simulated", "--budget", "300",
        "--seeds", "2", "--methods", "cmaes,random,lbfgsb", "--popsize", "50",
        "--out", str(out), "--index", str(index), "--quiet",
    ]  # fmt: skip
    done = run_cli(*args)
    assert done.returncode == 0, done.stderr
    root = out / "hh"
    for name in ("table.md", "table.csv", "best_error_boxplot.png", "convergence.png"):
        assert (root / name).is_file(), name
    with open(root / "table.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["method"] for r in rows) == ["cmaes", "lbfgsb", "random"]
    assert all(r["seeds"] == "2" for r in rows)
    medians = [float(f"{float(r['median_best_error']):.3g}") for r in rows]
    assert medians == sorted(medians)  # ranked by median best error (3 digits; ties by convergence score)
    assert "| method | mean rank |" in (out / "ranking.md").read_text()
    with ResultsIndex(index) as results:
        recorded = results.query(usecase="hh")
    assert len(recorded) == 6 and {r["method"] for r in recorded} == {"cmaes", "random", "lbfgsb"}

    # A run stored before a configuration field existed (here: without "restrict") is still finished.
    config_path = root / "cmaes" / "seed1" / "config.json"
    old = json.loads(config_path.read_text())
    del old["restrict"]
    config_path.write_text(json.dumps(old))
    wall = json.loads((root / "cmaes" / "seed1" / "summary.json").read_text())["wall_time_s"]
    again = run_cli(*args)  # finished runs are reused, not recomputed
    assert again.returncode == 0 and "hh: cmaes, seed" not in again.stdout
    stored = json.loads((root / "cmaes" / "seed1" / "summary.json").read_text())
    assert stored["simulations"] == 300 and stored["wall_time_s"] == wall  # the run's own time is kept

    bad = run_cli("compare", "hh", "--budget", "300", "--methods", "cmaes,annealing", "--out", str(out))
    assert bad.returncode == 2 and "annealing" in bad.stderr
