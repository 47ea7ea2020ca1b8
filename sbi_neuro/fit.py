"""An optimiser run: generations asked from an ask/tell optimiser, evaluated in parallel.

Resuming replays the optimiser: its proposals are a pure function of its seed
and the errors it was told, so generations already in the bank are read back
instead of simulated.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np

from sbi_neuro.bank import atomic_write_text
from sbi_neuro.evaluation import EvalBatch
from sbi_neuro.optimizers import AskTell, make_optimizer
from sbi_neuro.outputs import plot_best_fit, plot_convergence, write_evaluations_csv, write_metadata
from sbi_neuro.runner import Runner, batch_seed
from sbi_neuro.runs import Run


def run_optimizer(run: Run, runner: Runner) -> dict[str, Any]:
    """Run (or continue) an optimiser run to its budget; returns the summary."""
    start = time.perf_counter()
    cfg, prior = run.config, run.usecase.prior
    optimizer = make_optimizer(cfg.method, prior.dim, cfg.seed, cfg.population_size)
    batches = optimize(run, runner, optimizer, cfg.budget)
    evaluations = EvalBatch.concat(batches)
    best = int(np.argmin(evaluations.error))
    truth = run.usecase.truth_vector if run.target.from_ground_truth else None
    summary: dict[str, Any] = {
        "method": cfg.method,
        "usecase": run.usecase.name,
        "target": run.target.source,
        "simulations": len(evaluations),
        "best_fit": prior.as_dict(evaluations.theta[best]),
        "best_error": float(evaluations.error[best]),
        "best_evaluation": best,
    }
    if truth is not None:
        summary["truth"] = prior.as_dict(truth)
    wall = time.perf_counter() - start
    summary["wall_time_s"] = wall
    summary["finished_early"] = optimizer.finished
    algorithm = {"name": cfg.method, "settings": optimizer.settings()}
    write_metadata(run, evaluations, best, algorithm, wall, {"resumed": run.resumed})
    write_evaluations_csv(run, evaluations)
    atomic_write_text(run.folder / "summary.json", json.dumps(summary, indent=1))
    plot_best_fit(run, evaluations.theta[best], run.plots / "best_fit.png")
    plot_convergence(evaluations.error, run.plots / "convergence.png", cfg.method)
    return summary


def optimize(
    run: Run, runner: Runner, optimizer: AskTell, budget: int, first_index: int = 0
) -> list[EvalBatch]:
    """Ask, evaluate and tell until ``budget`` evaluations are spent or the optimiser finishes.

    Batch g is bank batch ``first_index + g``; batches already in the bank are read back
    (the optimiser is replayed), so a killed run continues where it stopped.
    """
    prior, seed = run.usecase.prior, run.config.seed
    batches: list[EvalBatch] = []
    spent, generation = 0, 0
    while spent < budget and not optimizer.finished:
        u = optimizer.ask()
        size = min(len(u), budget - spent)
        theta = prior.from_unit(u[:size])
        index = first_index + generation
        if run.bank.has(index):
            batch = run.bank.read(index)
            if batch.theta.shape != theta.shape or not np.allclose(batch.theta, theta, rtol=1e-9, atol=0):
                raise RuntimeError(
                    f"batch {index} in {run.bank.folder} does not match this optimiser's "
                    "proposals; the bank was made by another version or seed — use another --out"
                )
        else:
            batch = runner.evaluate(
                theta, batch_seed(seed, index), desc=f"{optimizer.name} generation {generation}"
            )
            run.bank.write(index, batch)
        if size == len(u):
            optimizer.tell(u, batch.error, batch.components)
        batches.append(batch)
        spent += size
        generation += 1
    return batches
