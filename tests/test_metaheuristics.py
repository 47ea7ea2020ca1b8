"""The metaheuristic baselines through the real ask/tell loop: analytic problems, then run() once."""

from __future__ import annotations

import csv
import gc
import json
import random
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from sbi_neuro.optimizers import BUILTIN as OPTIMIZERS
from sbi_neuro.optimizers import LBFGSB, AskTell, NelderMead, RandomSearch
from sbi_neuro.optimizers.base import objectives
from summaries.costs import FAILED_ERROR

Problem = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
METHODS = sorted(OPTIMIZERS)
SEARCHERS = [m for m in METHODS if m != "random"]
MULTI_OBJECTIVE = ["ibea", "nsga2"]
LOCAL = ["lbfgsb", "nelder_mead"]
OURS = [m for m in METHODS if m != "cmaes"]  # the baselines besides CMA-ES
DIM, POPULATION, BUDGET = 4, 20, 600


def make_optimizer(name: str, dim: int, seed: int, population_size: int, **settings: object) -> AskTell:
    """The registered optimiser ``name`` (what a run builds), with settings passed to its class."""
    return OPTIMIZERS[name](dim=dim, seed=seed, population_size=population_size, **settings)


def shifted_sphere(centre: np.ndarray) -> Problem:
    """Error Σ (u − centre)², components the per-dimension squared terms."""

    def problem(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        components = (u - centre) ** 2
        return components.sum(axis=1), components

    return problem


SPHERE = shifted_sphere(np.array([0.62, 0.27, 0.45, 0.71]))


def drive(
    opt: AskTell, problem: Problem, budget: int, between: Callable[[], None] | None = None
) -> tuple[float, list[np.ndarray], int]:
    """The fit loop in miniature: ask, evaluate, tell until the budget is spent or the optimiser finishes.

    Returns the best error, the batches asked, and the evaluations spent.
    """
    best, asked, spent = np.inf, [], 0
    while spent < budget and not opt.finished:
        u = opt.ask()
        assert u.ndim == 2 and u.shape[1] == DIM and len(u) >= 1
        assert np.all(u >= 0.0) and np.all(u <= 1.0), f"{opt.name} left the unit cube"
        asked.append(u)
        u = u[: budget - spent]
        errors, components = problem(u)
        best = min(best, float(errors.min()))
        spent += len(u)
        if between is not None:
            between()
        if len(u) == len(asked[-1]):
            opt.tell(u, errors, components)
    return best, asked, spent


def random_search_median(problem: Problem, budget: int) -> float:
    return float(
        np.median([drive(RandomSearch(DIM, seed, POPULATION), problem, budget)[0] for seed in range(7)])
    )


@pytest.mark.parametrize("method", SEARCHERS)
def test_every_method_beats_random_search_on_a_sphere(method: str) -> None:
    reference = random_search_median(SPHERE, BUDGET)
    best, _, spent = drive(make_optimizer(method, DIM, 1, POPULATION), SPHERE, BUDGET)
    assert spent <= BUDGET
    assert best < 0.1 * reference, f"{method}: best {best:.3g}, random search median {reference:.3g}"


@pytest.mark.parametrize("method", METHODS)
def test_proposals_stay_in_the_unit_cube_with_the_optimum_on_its_boundary(method: str) -> None:
    corner = shifted_sphere(np.array([1.0, 0.0, 1.0, 0.0]))
    best, asked, _ = drive(make_optimizer(method, DIM, 2, POPULATION), corner, BUDGET)  # drive checks bounds
    assert len(asked) >= 2
    if method != "random":
        assert best < 0.05


@pytest.mark.parametrize("method", METHODS)
def test_proposals_are_a_pure_function_of_seed_and_errors(method: str) -> None:
    _, reference, _ = drive(make_optimizer(method, DIM, 3, POPULATION), SPHERE, 300)

    # Replay on a fresh instance while another instance of the method runs interleaved and the
    # global random generators are reseeded: the proposals must not move.
    other = make_optimizer(method, DIM, 4, POPULATION)
    other_asked: list[np.ndarray] = []

    def disturb() -> None:
        random.seed(len(other_asked))
        np.random.seed(len(other_asked))
        if not other.finished:
            u = other.ask()
            other_asked.append(u)
            other.tell(u, *SPHERE(u))

    _, replay, _ = drive(make_optimizer(method, DIM, 3, POPULATION), SPHERE, 300, between=disturb)
    assert len(replay) == len(reference)
    for a, b in zip(reference, replay, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(other_asked[0], reference[0]), "another seed gave the same proposals"


@pytest.mark.parametrize("method", OURS)
def test_asking_again_before_telling_returns_the_same_batch(method: str) -> None:
    opt = make_optimizer(method, DIM, 5, POPULATION)
    u = opt.ask()
    np.testing.assert_array_equal(opt.ask(), u)
    other = u * 0.5
    with pytest.raises(ValueError, match="last asked batch"):
        opt.tell(other, *SPHERE(other))
    opt.tell(u, *SPHERE(u))


def failing(problem: Problem, all_fail_first: bool) -> Problem:
    """Rows with u₀ > 0.8, every fifth row, and optionally every row of the first batch fail."""
    calls = [0]

    def wrapped(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        errors, components = problem(u)
        failed = (u[:, 0] > 0.8) | (np.arange(len(u)) % 5 == 4)
        if all_fail_first and calls[0] == 0:
            failed[:] = True
        calls[0] += 1
        return np.where(failed, FAILED_ERROR, errors), np.where(failed[:, None], np.nan, components)

    return wrapped


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("all_fail_first", [False, True])
def test_failed_simulations_do_not_crash_the_search(method: str, all_fail_first: bool) -> None:
    problem = failing(SPHERE, all_fail_first)
    opt = make_optimizer(method, DIM, 6, POPULATION)
    best, asked, _ = drive(opt, problem, BUDGET)
    # A local method may stop at once when its first gradient or simplex is flat (all failed).
    assert len(asked) >= 2 or (method in LOCAL and all_fail_first and opt.finished)
    if method in MULTI_OBJECTIVE:
        assert best < 1e-2


def test_failed_rows_count_failed_error_on_every_objective() -> None:
    components = np.array([[0.1, 0.2], [np.nan, np.nan], [0.3, np.inf]])
    np.testing.assert_array_equal(
        objectives(components), [[0.1, 0.2], [FAILED_ERROR, FAILED_ERROR], [FAILED_ERROR, FAILED_ERROR]]
    )
    with pytest.raises(ValueError, match="components"):
        objectives(np.zeros((3, 0)))


@pytest.mark.parametrize("method", LOCAL)
def test_local_methods_converge_and_finish_on_a_convex_problem(method: str) -> None:
    opt = make_optimizer(method, DIM, 7, POPULATION)
    best, _, spent = drive(opt, SPHERE, 5000)
    assert opt.finished
    assert spent < 5000
    assert best < 1e-6
    with pytest.raises(RuntimeError, match="finished"):
        opt.ask()


def test_nelder_mead_asks_one_point_at_a_time_from_its_seeded_start() -> None:
    opt = NelderMead(DIM, seed=8)
    u = opt.ask()
    assert u.shape == (1, DIM)
    np.testing.assert_array_equal(u[0], np.random.default_rng(8).uniform(0.1, 0.9, DIM))


def test_lbfgsb_asks_each_gradient_as_one_batch_of_forward_steps() -> None:
    eps = 1e-3
    opt = LBFGSB(DIM, seed=9, eps=eps)
    corner = shifted_sphere(np.array([1.0, 0.0, 1.0, 0.0]))
    _, asked, _ = drive(opt, corner, 400)
    assert len(asked) >= 2
    for u in asked:
        assert u.shape == (DIM + 1, DIM)
        steps = u[1:] - u[0]
        np.testing.assert_allclose(np.abs(np.diag(steps)), eps, rtol=1e-9)
        np.testing.assert_array_equal(steps[~np.eye(DIM, dtype=bool)], 0.0)
        forward = u[0] + eps <= 1.0
        assert np.all(np.diag(steps)[forward] > 0) and np.all(np.diag(steps)[~forward] < 0)
    assert any(np.any(np.diag(u[1:] - u[0]) < 0) for u in asked), "the upper bound was never reached"


def _solver_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "sbi_neuro-scipy-solver"}


@pytest.mark.parametrize("cls", [NelderMead, LBFGSB])
def test_abandoned_local_optimiser_stops_its_helper_thread(cls: type) -> None:
    # Threads are told apart by identity: another test's abandoned solver may end meanwhile.
    before = _solver_threads()
    opt = cls(DIM, seed=10)
    u = opt.ask()
    opt.tell(u, *SPHERE(u))
    opt.ask()  # the solver now waits for an answer that never comes
    (mine,) = _solver_threads() - before
    del opt, u
    gc.collect()
    mine.join(timeout=10)
    assert not mine.is_alive()


def test_a_closed_local_optimiser_refuses_to_continue() -> None:
    opt = LBFGSB(DIM, seed=11)
    u = opt.ask()
    opt.close()
    with pytest.raises(RuntimeError, match="closed"):
        opt.tell(u, *SPHERE(u))


def test_settings_are_recorded_passed_through_and_checked() -> None:
    for method in METHODS:
        settings = make_optimizer(method, DIM, 1, POPULATION).settings()
        assert json.loads(json.dumps(settings)) == settings
    pso = make_optimizer("pso", DIM, 1, POPULATION, w=0.7)
    assert pso.settings()["w"] == 0.7
    assert make_optimizer("lbfgsb", DIM, 1, POPULATION).population_size == DIM + 1
    with pytest.raises(TypeError, match="sigma0"):
        make_optimizer("de", DIM, 1, POPULATION, sigma0=0.2)
    with pytest.raises(ValueError, match="population_size"):
        make_optimizer("de", DIM, 1, 3)


@pytest.mark.parametrize("method", ["pso", "lbfgsb"])
def test_hh_run_and_its_resume_give_the_same_best_fit(method: str, tmp_path: Path) -> None:
    from sbi_neuro.api.execute import execute
    from sbi_neuro.methods.config import RunConfig

    config = RunConfig(
        usecase="hh",
        method=method,
        budget=300,
        population_size=50,
        backend="batched",
        target="simulated",
        seed=1,
        progress=False,
    )
    first = execute(config, tmp_path / method).summary
    saved = json.loads((tmp_path / method / "summary.json").read_text())
    assert saved["method"] == method and saved["best_error"] == first["best_error"]
    assert set(saved["best_fit"]) == {"gnabar_hh", "gkbar_hh", "gl_hh"}
    if method == "pso":
        assert first["simulations"] == 300
    else:  # converged before the budget; batches of d + 1 = 4
        assert first["simulations"] < 300 and first["simulations"] % 4 == 0
    with (tmp_path / method / "evaluations.csv").open() as f:
        errors = np.array([float(row["error"]) for row in csv.DictReader(f)])
    assert len(errors) == first["simulations"]
    first_batch = 50 if method == "pso" else 4
    assert first["best_error"] < errors[:first_batch].min()  # the search improved on its first batch
    again = execute(config, tmp_path / method).summary
    assert again["best_error"] == first["best_error"]
    assert again["simulations"] == first["simulations"]
    assert again["best_fit"] == first["best_fit"]
