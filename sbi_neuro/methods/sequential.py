"""Bayesian methods in stages: truncated sequential NPE, and NPE followed by a posterior-seeded CMA-ES.

TSNPE (Deistler et al. 2022, "Truncated proposals for scalable and hassle-free
simulation-based inference"): round 0 simulates the prior; each later round
simulates the prior *truncated* to the current posterior's highest-density
region at the target (prior samples whose posterior log-density is above the
1e-4 quantile of the posterior's own samples, as sbi's
``get_density_thresholder`` + ``RestrictedPrior`` do), and NPE is retrained on
every simulation so far with the ordinary (first-round) loss, which the
truncated proposal keeps valid. sbi recommends this over SNPE-C's multi-round
loss, which leaks mass on hard problems (shared/docs/SBI_NOTES.md).

NPE + CMA-ES (ours): a share of the budget trains NPE on prior simulations; the
MAP is simulated; CMA-ES then starts at the MAP with the posterior's covariance
(both in the unit cube of the prior's inference space) and spends the rest of
the budget. Every simulation is charged to the same budget.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np

from priors import Prior
from sbi_neuro.core.evaluation import EvalBatch, Task
from sbi_neuro.core.seeds import TRUNCATION_OFFSET, batch_seed
from sbi_neuro.execution.dispatcher import Dispatcher
from sbi_neuro.inference.posterior import TrainedPosterior
from sbi_neuro.inference.restriction import learn_valid_region
from sbi_neuro.methods.bayesian import (
    Search,
    finish_bayesian,
    fit_candidates,
    prior_round,
    simulate_prior,
    trained_posterior,
)
from sbi_neuro.methods.optimization import optimize
from sbi_neuro.methods.outcomes import InferenceResult
from sbi_neuro.methods.workspace import Workspace
from sbi_neuro.optimizers import SeededCMAES

TRUNCATION_QUANTILE = 1e-4  # sbi's default for get_density_thresholder
MIN_VALID_FOR_NPE = 500  # restricted runs: below this, a round samples the restricted prior only
MAX_PROPOSED = 2_000_000  # prior draws per round before falling back to posterior samples


def run_tsnpe(ws: Workspace, dispatcher: Dispatcher) -> InferenceResult:
    """Run (or continue) TSNPE over ``config.rounds`` rounds.

    With ``config.restrict``, every later round's proposal is also restricted to where a
    classifier (``sbi_neuro.inference.restriction``), trained on all simulations so far, predicts valid
    simulations; while fewer than ``MIN_VALID_FOR_NPE`` simulations are valid, a round draws
    from the restricted prior alone.
    """
    start = time.perf_counter()
    cfg, prior = ws.config, ws.usecase.prior
    sizes = cfg.round_sizes
    data = simulate_prior(ws, dispatcher, sizes[0])
    x_o = ws.x_o
    index = math.ceil(sizes[0] / cfg.batch_size)
    rounds = [{"round": 0, "simulations": sizes[0], "proposal": "prior", "acceptance": 1.0,
               "valid_fraction": valid_fraction(data)}]  # fmt: skip
    for r, size in enumerate(sizes[1:], start=1):
        posterior = _round_posterior(ws, data, r - 1)
        region = None
        if cfg.restrict:
            region = learn_valid_region(prior, data.theta, data.x, batch_seed(cfg.seed, r))
        seed = batch_seed(cfg.seed, TRUNCATION_OFFSET + r)
        propose = region.draw if region else prior.sample
        if posterior is None:
            theta, acceptance, proposal = propose(size, np.random.default_rng(seed)), 1.0, "restricted prior"
        else:
            theta, acceptance = truncated_prior_sample(posterior, prior, x_o, size, seed, propose)
            proposal = "truncated restricted prior" if region else "truncated prior"
        batch = simulate_batches(ws, dispatcher, theta, index, f"round {r} simulations")
        index += math.ceil(size / cfg.batch_size)
        data = EvalBatch.concat([data, batch])
        entry = {"round": r, "simulations": size, "proposal": proposal, "acceptance": acceptance,
                 "valid_fraction": valid_fraction(batch)}  # fmt: skip
        if region:
            entry["classifier_wall_s"] = round(region.training_wall_s, 1)
        rounds.append(entry)
    posterior = trained_posterior(ws, data, f"posterior_round{len(sizes) - 1}")
    stages = {"simulations_and_training": time.perf_counter() - start}
    settings = {
        "rounds": cfg.rounds,
        "round_sizes": sizes,
        "truncation_quantile": TRUNCATION_QUANTILE,
        "restrict": cfg.restrict,
    }
    extra = {"tsnpe_settings": settings, "rounds": rounds}
    search = fit_candidates(index)
    return finish_bayesian(ws, dispatcher, data, posterior, start, stages, search, "TSNPE (sbi)", extra)


def valid_fraction(batch: EvalBatch) -> float:
    """The share of simulations whose features are all defined."""
    return float(np.mean(np.all(np.isfinite(batch.x), axis=1))) if len(batch.x) else 0.0


def _round_posterior(ws: Workspace, data: EvalBatch, r: int) -> TrainedPosterior | None:
    """NPE on the data of rounds 0..r; None (restricted runs only) while too few simulations are valid."""
    valid = int(np.sum(np.all(np.isfinite(ws.usecase.features.fill_undefined(data.x)), axis=1)))
    if ws.config.restrict and valid < MIN_VALID_FOR_NPE:
        return None
    return trained_posterior(ws, data, f"posterior_round{r}")


def run_npe_cmaes(ws: Workspace, dispatcher: Dispatcher) -> InferenceResult:
    """Run (or continue) NPE on a share of the budget, then CMA-ES from the posterior on the rest."""
    start = time.perf_counter()
    cfg = ws.config
    training, posterior, stages = prior_round(ws, dispatcher)
    fit_index = math.ceil(cfg.training_simulations / cfg.batch_size)
    population = cfg.search_population or _cma_default_population(ws.usecase.prior.dim)
    settings = {"npe_fraction": cfg.npe_fraction, "cma_population": population}
    search = posterior_seeded_cmaes(fit_index, cfg.budget - cfg.training_simulations, population)
    name = "NPE + posterior-seeded CMA-ES"
    return finish_bayesian(
        ws, dispatcher, training, posterior, start, stages, search, name, {"hybrid_settings": settings}
    )


def posterior_seeded_cmaes(fit_index: int, budget: int, population: int) -> Search:
    """Simulate the MAP (bank batch ``fit_index``), then CMA-ES from it with the posterior's covariance."""

    def search(
        ws: Workspace,
        dispatcher: Dispatcher,
        posterior: TrainedPosterior,
        samples: np.ndarray,
        theta_map: np.ndarray,
        x_o: np.ndarray,
    ) -> EvalBatch:
        prior = ws.usecase.prior
        first = simulate_batches(ws, dispatcher, theta_map[None, :], fit_index, "MAP")
        optimizer = SeededCMAES(
            prior.to_unit(theta_map[None, :])[0], prior.to_unit(samples), ws.config.seed, population
        )
        batches = optimize(ws, dispatcher, optimizer, budget - 1, first_index=fit_index + 1)
        return EvalBatch.concat([first, *batches])

    return search


def truncated_prior_sample(
    posterior: TrainedPosterior,
    prior: Prior,
    x_o: np.ndarray,
    n: int,
    seed: int,
    propose: Callable[[int, np.random.Generator], np.ndarray] | None = None,
) -> tuple[np.ndarray, float]:
    """``n`` prior samples inside the posterior's 1 − 1e-4 highest-density region at ``x_o``, and the
    acceptance rate. If fewer than ``n`` are found in ``MAX_PROPOSED`` draws, posterior samples fill up.

    ``propose(k, rng)`` draws the candidates (default: the prior; a restricted prior in restricted runs).
    """
    propose = propose or prior.sample
    reference = posterior.sample(10_000, x_o, seed=seed)
    # Unnormalised densities: the threshold and the candidates are compared at the same x_o.
    threshold = float(np.quantile(posterior.log_prob(reference, x_o, normalised=False), TRUNCATION_QUANTILE))
    rng = np.random.default_rng(seed)
    accepted: list[np.ndarray] = []
    found = proposed = 0
    while found < n and proposed < MAX_PROPOSED:
        candidates = propose(20_000, rng)
        proposed += len(candidates)
        keep = candidates[posterior.log_prob(candidates, x_o, normalised=False) >= threshold]
        accepted.append(keep)
        found += len(keep)
    if found < n:
        accepted.append(reference[: n - found])
    return np.concatenate(accepted)[:n], found / proposed


def simulate_batches(
    ws: Workspace, dispatcher: Dispatcher, theta: np.ndarray, first_index: int, desc: str
) -> EvalBatch:
    """Evaluate ``theta`` as bank batches ``first_index, ...`` (batches on disk are reused)."""
    size = ws.config.batch_size
    starts = range(0, len(theta), size)
    indices = [first_index + i for i in range(len(starts))]
    tasks = [
        Task(index, theta[s : s + size], batch_seed(ws.config.seed, index))
        for index, s in zip(indices, starts, strict=True)
        if not ws.bank.has(index)
    ]
    for index, batch in dispatcher.dispatch(tasks, desc=desc):
        ws.bank.write(index, batch)
    return ws.bank.load(indices)


def _cma_default_population(dim: int) -> int:
    """CMA-ES's default population, 4 + ⌊3 ln d⌋ (Hansen's rule)."""
    return 4 + int(3 * math.log(dim))
