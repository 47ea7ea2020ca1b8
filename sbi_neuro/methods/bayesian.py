"""A Bayesian run: prior simulations → NPE → posterior at the target → MAP and best fit.

Budget accounting: ``budget = training simulations + best-fit simulations``. NPE's best-fit
search simulates the MAP and the top posterior samples (by posterior density), each charged; the
run's best fit is its lowest-error evaluation, as for every method. ``sbi_neuro.methods.sequential``
adds TSNPE and the posterior-seeded CMA-ES on the same pieces. Nothing here writes files but the
trained posterior (a checkpoint that a resumed run reuses); ``sbi_neuro.results`` writes the rest.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from sbi_neuro.core.convergence import Convergence
from sbi_neuro.core.evaluation import EvalBatch, Task
from sbi_neuro.core.seeds import batch_seed
from sbi_neuro.execution.dispatcher import Dispatcher
from sbi_neuro.inference.npe import train_npe
from sbi_neuro.inference.posterior import TrainedPosterior
from sbi_neuro.methods.outcomes import BankResult, BestFit, InferenceResult, Posterior, Simulations
from sbi_neuro.methods.workspace import Workspace


def simulate_prior(ws: Workspace, dispatcher: Dispatcher, n: int) -> EvalBatch:
    """Fill the bank with ``n`` prior simulations, continuing where a previous call stopped."""
    cfg, prior = ws.config, ws.usecase.prior
    n_batches = math.ceil(n / cfg.batch_size)
    done = ws.bank.done()
    tasks = []
    for index in range(n_batches):
        if index in done:
            continue
        size = min(cfg.batch_size, n - index * cfg.batch_size)
        seed = batch_seed(cfg.seed, index)
        theta = prior.sample(size, np.random.default_rng(seed))
        tasks.append(Task(index, theta, seed))
    for index, batch in dispatcher.dispatch(tasks, desc="prior simulations"):
        ws.bank.write(index, batch)
    return ws.bank.load(list(range(n_batches)))


def run_prior(ws: Workspace, dispatcher: Dispatcher) -> BankResult:
    """A bank of ``budget`` prior simulations and the throughput reached (``sbi-neuro simulate``)."""
    start = time.perf_counter()
    batch = simulate_prior(ws, dispatcher, ws.config.budget)
    wall = time.perf_counter() - start
    simulations = Simulations.of(batch, ws.bank.columns)
    # evaluations = simulation + features + cost, including worker start-up and compilation
    rate = dispatcher.simulations / wall if dispatcher.simulations else None
    summary: dict[str, Any] = {
        "method": "prior",
        "usecase": ws.usecase.name,
        "backend": ws.usecase.backend,
        "workers": ws.config.workers,
        "executor": ws.config.executor,
        "scheduler": ws.config.scheduler,
        "simulations": len(batch),
        "new_simulations": dispatcher.simulations,
        "failed": simulations.failed,
        "wall_time_s": wall,
        "evaluations_per_s": rate,
        "bank": str(ws.folder / "bank") if ws.folder is not None else None,
    }
    return BankResult(
        usecase=ws.usecase.name,
        simulations=simulations,
        new_simulations=dispatcher.simulations,
        wall_time_s=wall,
        evaluations_per_s=rate,
        folder=ws.folder,
        summary=summary,
    )


def run_npe(ws: Workspace, dispatcher: Dispatcher) -> InferenceResult:
    """Run (or continue) a one-round NPE run end to end."""
    start = time.perf_counter()
    training, posterior, stages = prior_round(ws, dispatcher)
    fit_index = math.ceil(ws.config.training_simulations / ws.config.batch_size)
    search = fit_candidates(fit_index)
    return finish_bayesian(ws, dispatcher, training, posterior, start, stages, search, "NPE (sbi)")


def prior_round(
    ws: Workspace, dispatcher: Dispatcher
) -> tuple[EvalBatch, TrainedPosterior, dict[str, float]]:
    """The training simulations from the prior and the posterior trained on them, with stage times."""
    start = time.perf_counter()
    training = simulate_prior(ws, dispatcher, ws.config.training_simulations)
    simulated = time.perf_counter()
    posterior = trained_posterior(ws, training)
    return (
        training,
        posterior,
        {"prior_simulations": simulated - start, "training": time.perf_counter() - simulated},
    )


Search = Callable[[Workspace, Dispatcher, TrainedPosterior, np.ndarray, np.ndarray, np.ndarray], EvalBatch]


def fit_candidates(fit_index: int) -> Search:
    """NPE's best-fit search: simulate the MAP and the top posterior samples (bank batch ``fit_index``)."""

    def search(
        ws: Workspace,
        dispatcher: Dispatcher,
        posterior: TrainedPosterior,
        samples: np.ndarray,
        theta_map: np.ndarray,
        x_o: np.ndarray,
    ) -> EvalBatch:
        if ws.bank.has(fit_index):
            return ws.bank.read(fit_index)
        theta_fit = _fit_candidates(posterior, samples, theta_map, x_o, ws.config.n_fit_candidates)
        candidates = dispatcher.evaluate(
            theta_fit, batch_seed(ws.config.seed, fit_index), desc="best-fit candidates"
        )
        ws.bank.write(fit_index, candidates)
        return candidates

    return search


def finish_bayesian(
    ws: Workspace,
    dispatcher: Dispatcher,
    training: EvalBatch,
    posterior: TrainedPosterior,
    start: float,
    stages: dict[str, float],
    search: Search,
    algorithm: str,
    extra: dict[str, Any] | None = None,
) -> InferenceResult:
    """Posterior at the target, the best-fit search (its first evaluation is the MAP), the result;
    ``algorithm`` names the method in ``metadata.json``."""
    cfg, prior, features = ws.config, ws.usecase.prior, ws.usecase.features
    searched = time.perf_counter()
    x_o = ws.x_o
    samples = posterior.sample(cfg.posterior_samples, x_o, seed=cfg.seed)
    theta_map = posterior.map(x_o, seed=cfg.seed)
    candidates = search(ws, dispatcher, posterior, samples, theta_map, x_o)
    stages["best_fit_search"] = time.perf_counter() - searched
    evaluations = EvalBatch.concat([training, candidates])
    simulations = Simulations.of(evaluations, ws.bank.columns)
    # The run's best fit is its lowest-error evaluation, as for every method (almost always a candidate).
    best = int(np.argmin(evaluations.error))
    map_row = len(training)

    lo, hi = np.percentile(samples, [5, 95], axis=0)
    truth = ws.usecase.truth_vector if ws.target.from_ground_truth else None
    summary: dict[str, Any] = {
        "method": cfg.method,
        "usecase": ws.usecase.name,
        "target": ws.target.source,
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
    record = {
        "name": algorithm,
        "settings": {
            **cfg.to_json()["npe"],
            "fit_candidates": cfg.n_fit_candidates,
            **{k: v for k, v in (extra or {}).items() if k.endswith("_settings")},
        },
    }
    summary["wall_time_s"] = wall
    summary["stage_wall_s"] = {k: round(v, 1) for k, v in stages.items()}
    return InferenceResult(
        method=cfg.method,
        usecase=ws.usecase.name,
        target=ws.target.source,
        best_fit=BestFit.of(simulations, best),
        convergence=Convergence(evaluations.error, cfg.budget),
        simulations=simulations,
        truth=summary.get("truth"),
        wall_time_s=wall,
        folder=ws.folder,
        summary=summary,
        algorithm=record,
        posterior=Posterior(posterior, x_o, features.names),
        map=BestFit.of(simulations, map_row),
        samples=samples,
        interval_90={n: (float(a), float(b)) for n, a, b in zip(prior.names, lo, hi, strict=True)},
        workspace=ws,
    )


def trained_posterior(ws: Workspace, training: EvalBatch, name: str = "posterior") -> TrainedPosterior:
    """The run's trained posterior ``name``: read back from the run folder, or trained on ``training``
    (and saved there, when the run has a folder)."""
    folder = ws.checkpoint(name)
    prior, features = ws.usecase.prior, ws.usecase.features
    if folder is not None and (folder / "spec.json").exists():
        return TrainedPosterior.load(folder, prior)
    x = features.fill_undefined(training.x)
    posterior = train_npe(
        prior, training.theta, x, ws.config.npe, seed=ws.config.seed, progress=ws.config.progress
    )
    if folder is not None:
        posterior.save(folder)
    return posterior


def _fit_candidates(
    posterior: TrainedPosterior, samples: np.ndarray, theta_map: np.ndarray, x_o: np.ndarray, n: int
) -> np.ndarray:
    """The MAP followed by the ``n - 1`` posterior samples of highest posterior density."""
    log_p = posterior.log_prob(samples, x_o)
    top = samples[np.argsort(-log_p)[: max(0, n - 1)]]
    return np.vstack([theta_map[None, :], top])
