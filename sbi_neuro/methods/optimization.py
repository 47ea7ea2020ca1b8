"""An optimiser run: generations asked from an ask/tell optimiser, evaluated in parallel.

Resuming replays the optimiser: its proposals are a pure function of its seed and the errors it
was told, so generations already in the bank are read back instead of simulated.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from sbi_neuro.core.convergence import Convergence
from sbi_neuro.core.evaluation import EvalBatch
from sbi_neuro.core.seeds import batch_seed
from sbi_neuro.execution.dispatcher import Dispatcher
from sbi_neuro.methods.outcomes import BestFit, FitResult, Simulations
from sbi_neuro.methods.workspace import Workspace
from sbi_neuro.optimizers import AskTell, OptimizerFactory


def run_optimizer(ws: Workspace, dispatcher: Dispatcher, factory: OptimizerFactory) -> FitResult:
    """Run (or continue) the optimiser ``factory`` makes to the run's budget."""
    start = time.perf_counter()
    cfg, prior = ws.config, ws.usecase.prior
    optimizer = factory(dim=prior.dim, seed=cfg.seed, population_size=cfg.population_size)
    evaluations = EvalBatch.concat(optimize(ws, dispatcher, optimizer, cfg.budget))
    simulations = Simulations.of(evaluations, ws.bank.columns)
    best = int(np.argmin(evaluations.error))
    truth = ws.usecase.truth_vector if ws.target.from_ground_truth else None
    summary: dict[str, Any] = {
        "method": cfg.method,
        "usecase": ws.usecase.name,
        "target": ws.target.source,
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
    return FitResult(
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
        algorithm={"name": cfg.method, "settings": optimizer.settings()},
    )


def optimize(
    ws: Workspace, dispatcher: Dispatcher, optimizer: AskTell, budget: int, first_index: int = 0
) -> list[EvalBatch]:
    """Ask, evaluate and tell until ``budget`` evaluations are spent or the optimiser finishes.

    Batch g is bank batch ``first_index + g``; batches already in the bank are read back
    (the optimiser is replayed), so a killed run continues where it stopped.
    """
    prior, seed = ws.usecase.prior, ws.config.seed
    batches: list[EvalBatch] = []
    spent, generation = 0, 0
    while spent < budget and not optimizer.finished:
        u = optimizer.ask()
        size = min(len(u), budget - spent)
        theta = prior.from_unit(u[:size])
        index = first_index + generation
        if ws.bank.has(index):
            batch = ws.bank.read(index)
            if batch.theta.shape != theta.shape or not np.allclose(batch.theta, theta, rtol=1e-9, atol=0):
                raise RuntimeError(
                    f"batch {index} in {ws.folder} does not match this optimiser's proposals; the bank "
                    "was made by another version or seed — use another --out"
                )
        else:
            batch = dispatcher.evaluate(
                theta, batch_seed(seed, index), desc=f"{optimizer.name} generation {generation}"
            )
            ws.bank.write(index, batch)
        if size == len(u):
            optimizer.tell(u, batch.error, batch.components)
        batches.append(batch)
        spent += size
        generation += 1
    return batches
