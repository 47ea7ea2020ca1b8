"""A Bayesian run: prior simulations → NPE → posterior at the target → MAP and best fit.

Budget accounting: ``budget = training simulations + best-fit simulations``.
NPE's best-fit search simulates the MAP and the top posterior samples (by
posterior density), each charged; the run's best fit is its lowest-error
evaluation, as for every method. ``sbi_neuro.sequential`` adds TSNPE and the
posterior-seeded CMA-ES on the same pieces.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from sbi_neuro.bank import atomic_write_text
from sbi_neuro.evaluation import EvalBatch
from sbi_neuro.inference import TrainedPosterior, train_npe
from sbi_neuro.outputs import (
    plot_best_fit,
    plot_convergence,
    plot_pairplot,
    plot_posterior_predictive,
    write_evaluations_csv,
    write_metadata,
    write_samples_csv,
)
from sbi_neuro.posterior_analysis import analyse_posterior
from sbi_neuro.runner import Runner, Task, batch_seed
from sbi_neuro.runs import Run, observed_features

SAVED_SAMPLES = 1000


def simulate_prior(run: Run, runner: Runner, n: int) -> EvalBatch:
    """Fill the bank with ``n`` prior simulations, continuing where a previous call stopped."""
    cfg, prior = run.config, run.usecase.prior
    n_batches = math.ceil(n / cfg.batch_size)
    done = run.bank.done()
    tasks = []
    for index in range(n_batches):
        if index in done:
            continue
        size = min(cfg.batch_size, n - index * cfg.batch_size)
        seed = batch_seed(cfg.seed, index)
        theta = prior.sample(size, np.random.default_rng(seed))
        tasks.append(Task(index, theta, seed))
    for index, batch in runner.run(tasks, desc="prior simulations"):
        run.bank.write(index, batch)
    return run.bank.load(list(range(n_batches)))


def run_prior(run: Run, runner: Runner) -> dict[str, Any]:
    """A bank of ``budget`` prior simulations and the throughput reached (``sbi-neuro simulate``)."""
    start = time.perf_counter()
    batch = simulate_prior(run, runner, run.config.budget)
    wall = time.perf_counter() - start
    summary: dict[str, Any] = {
        "method": "prior",
        "usecase": run.usecase.name,
        "backend": run.usecase.backend,
        "workers": run.config.workers,
        "executor": run.config.executor,
        "scheduler": run.config.scheduler,
        "simulations": len(batch),
        "new_simulations": runner.simulations,
        "failed": int(np.count_nonzero(batch.status != 0)),
        "wall_time_s": wall,
        # evaluations = simulation + features + cost, including worker start-up and compilation
        "evaluations_per_s": runner.simulations / wall if runner.simulations else None,
        "bank": str(run.bank.folder),
    }
    atomic_write_text(run.folder / "summary.json", json.dumps(summary, indent=1))
    return summary


def run_npe(run: Run, runner: Runner) -> dict[str, Any]:
    """Run (or continue) a Bayesian run end to end; returns the summary."""
    start = time.perf_counter()
    training, posterior, stages = prior_round(run, runner)
    fit_index = math.ceil(run.config.training_simulations / run.config.batch_size)
    return finish_bayesian(run, runner, training, posterior, start, stages, fit_candidates(fit_index))


def prior_round(run: Run, runner: Runner) -> tuple[EvalBatch, TrainedPosterior, dict[str, float]]:
    """The training simulations from the prior and the posterior trained on them, with stage times."""
    start = time.perf_counter()
    training = simulate_prior(run, runner, run.config.training_simulations)
    simulated = time.perf_counter()
    posterior = trained_posterior(run, training)
    return (
        training,
        posterior,
        {"prior_simulations": simulated - start, "training": time.perf_counter() - simulated},
    )


Search = Callable[[Run, Runner, TrainedPosterior, np.ndarray, np.ndarray, np.ndarray], EvalBatch]


def fit_candidates(fit_index: int) -> Search:
    """NPE's best-fit search: simulate the MAP and the top posterior samples (bank batch ``fit_index``)."""

    def search(
        run: Run,
        runner: Runner,
        posterior: TrainedPosterior,
        samples: np.ndarray,
        theta_map: np.ndarray,
        x_o: np.ndarray,
    ) -> EvalBatch:
        if run.bank.has(fit_index):
            return run.bank.read(fit_index)
        theta_fit = _fit_candidates(posterior, samples, theta_map, x_o, run.config.n_fit_candidates)
        candidates = runner.evaluate(
            theta_fit, batch_seed(run.config.seed, fit_index), desc="best-fit candidates"
        )
        run.bank.write(fit_index, candidates)
        return candidates

    return search


def finish_bayesian(
    run: Run,
    runner: Runner,
    training: EvalBatch,
    posterior: TrainedPosterior,
    start: float,
    stages: dict[str, float],
    search: Search,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Posterior at the target, the best-fit search (its first evaluation is the MAP), outputs, summary."""
    cfg, prior, features = run.config, run.usecase.prior, run.usecase.features
    searched = time.perf_counter()
    x_o = observed_features(run)
    samples = posterior.sample(cfg.posterior_samples, x_o, seed=cfg.seed)
    write_samples_csv(run.folder / "posterior_samples.csv", prior.names, samples[:SAVED_SAMPLES])
    theta_map = posterior.map(x_o, seed=cfg.seed)
    candidates = search(run, runner, posterior, samples, theta_map, x_o)
    stages["best_fit_search"] = time.perf_counter() - searched
    evaluations = EvalBatch.concat([training, candidates])
    # The run's best fit is its lowest-error evaluation, as for every method (almost always a candidate).
    best = int(np.argmin(evaluations.error))

    lo, hi = np.percentile(samples, [5, 95], axis=0)
    truth = run.usecase.truth_vector if run.target.from_ground_truth else None
    summary: dict[str, Any] = {
        "method": cfg.method,
        "usecase": run.usecase.name,
        "target": run.target.source,
        "simulations": len(evaluations),
        "training_simulations": len(training),
        "best_fit": prior.as_dict(evaluations.theta[best]),
        "best_error": float(evaluations.error[best]),
        "best_evaluation": best,
        "map": prior.as_dict(theta_map),
        "map_error": float(candidates.error[0]),
        "best_training_error": float(np.min(training.error)),
        "posterior_mean": prior.as_dict(samples.mean(axis=0)),
        "interval_90": {n: [float(a), float(b)] for n, a, b in zip(prior.names, lo, hi, strict=True)},
        "training": posterior.info,
        "x_o": dict(zip(features.names, map(float, x_o), strict=True)),
        **(extra or {}),
    }
    if truth is not None:
        summary["truth"] = prior.as_dict(truth)
        summary["truth_in_interval_90"] = {
            n: bool(a <= t <= b) for n, a, b, t in zip(prior.names, lo, hi, truth, strict=True)
        }
    wall = time.perf_counter() - start
    algorithm = {
        "name": {
            "npe": "NPE (sbi)",
            "tsnpe": "TSNPE (sbi)",
            "npe_cmaes": "NPE + posterior-seeded CMA-ES",
        }.get(cfg.method, cfg.method),
        "settings": {
            **run.config.to_json()["npe"],
            "fit_candidates": cfg.n_fit_candidates,
            **{k: v for k, v in (extra or {}).items() if k.endswith("_settings")},
        },
    }
    write_metadata(run, evaluations, best, algorithm, wall, {"resumed": run.resumed})
    write_evaluations_csv(run, evaluations)
    plot_best_fit(run, evaluations.theta[best], run.plots / "best_fit.png")
    plot_convergence(
        evaluations.error, run.plots / "convergence.png", f"{cfg.method} (training, then best-fit search)"
    )
    plot_pairplot(run, samples, run.plots / "pairplot.png")
    plot_posterior_predictive(run, samples, run.plots / "posterior_predictive.png")
    # ArviZ InferenceData (netCDF), az.summary, constraint ranking, correlations: RUN/analysis/
    analyse_posterior(run, posterior, samples[:SAVED_SAMPLES], theta_map)
    summary["wall_time_s"] = wall
    # Of this invocation (a resumed run skips what is already on disk).
    stages["outputs"] = time.perf_counter() - start - sum(stages.values())
    summary["stage_wall_s"] = {k: round(v, 1) for k, v in stages.items()}
    atomic_write_text(run.folder / "summary.json", json.dumps(summary, indent=1))
    return summary


def trained_posterior(run: Run, training: EvalBatch, name: str = "posterior") -> TrainedPosterior:
    """Load the run's trained posterior ``name``, or train it on ``training`` and save it."""
    folder = run.folder / name
    prior, features = run.usecase.prior, run.usecase.features
    if (folder / "spec.json").exists():
        return TrainedPosterior.load(folder, prior)
    x = features.fill_undefined(training.x)
    posterior = train_npe(
        prior, training.theta, x, run.config.npe, seed=run.config.seed, progress=run.config.progress
    )
    posterior.save(folder)
    return posterior


def _fit_candidates(
    posterior: TrainedPosterior, samples: np.ndarray, theta_map: np.ndarray, x_o: np.ndarray, n: int
) -> np.ndarray:
    """The MAP followed by the ``n - 1`` posterior samples of highest posterior density."""
    log_p = posterior.log_prob(samples, x_o)
    top = samples[np.argsort(-log_p)[: max(0, n - 1)]]
    return np.vstack([theta_map[None, :], top])
