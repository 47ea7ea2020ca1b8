"""Amortisation: one NPE trained once, fitted to 20 synthetic UC1 targets, against 20 separate CMA-ES runs.

Run: .venv/bin/python benchmarks/amortised_uc1.py [--targets 20] [--training 10000] [--cmaes-budget 5000]

Targets: UC1 traces of prior draws that spike 3–60 times in the stimulus (the
spiking regime the benchmark is about), simulated on the batched backend.
Methods, all charged by simulations:
- NPE, amortised: one network trained on ``--training`` prior simulations, then
  per target the MAP and the 99 posterior samples of highest density (100 sims);
- NPE + CMA-ES, amortised: the same network, then per target CMA-ES started at
  the MAP with the posterior covariance for ``--search`` more simulations;
- CMA-ES: one run per target from scratch with ``--cmaes-budget`` simulations.
Prints total simulations and the distribution of best errors over the targets.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from sbi_neuro.core.evaluation import Evaluator
from sbi_neuro.core.seeds import batch_seed
from sbi_neuro.execution.dispatcher import Dispatcher
from sbi_neuro.inference.npe import train_npe
from sbi_neuro.inference.settings import NPESettings
from sbi_neuro.optimizers import CMAES, AskTell, SeededCMAES
from sbi_neuro.registry import get_usecase
from usecases.base import Target


def run_optimizer(runner: Dispatcher, optimizer: AskTell, prior: object, budget: int, seed: int) -> float:
    """Best error of an ask/tell optimiser over ``budget`` evaluations."""
    best, spent, generation = np.inf, 0, 0
    while spent < budget and not optimizer.finished:
        u = optimizer.ask()
        size = min(len(u), budget - spent)
        batch = runner.evaluate(prior.from_unit(u[:size]), batch_seed(seed, generation))  # type: ignore[attr-defined]
        if size == len(u):
            optimizer.tell(u, batch.error, batch.components)
        best = min(best, float(batch.error.min()))
        spent += size
        generation += 1
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--targets", type=int, default=20)
    parser.add_argument("--training", type=int, default=10_000, help="NPE training simulations (once)")
    parser.add_argument("--candidates", type=int, default=100, help="NPE best-fit simulations per target")
    parser.add_argument("--search", type=int, default=900, help="NPE+CMA-ES search simulations per target")
    parser.add_argument("--cmaes-budget", type=int, default=5000, help="CMA-ES simulations per target")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default="runs/benchmarks/amortised_uc1.json")
    args = parser.parse_args()

    uc = get_usecase("hh", backend="batched")
    prior, sim, features = uc.prior, uc.simulator, uc.features
    rng = np.random.default_rng(args.seed)

    # Targets: spiking prior draws.
    draws = prior.sample(20 * args.targets, rng)
    traces = sim(draws).traces
    counts = features(sim.t, traces)[:, 0]
    keep = np.flatnonzero((counts >= 3) & (counts <= 60))[: args.targets]
    targets = [Target(sim.t, traces[i], f"synthetic {i}", from_ground_truth=True) for i in keep]
    print(f"{len(targets)} targets, spike counts {counts[keep].astype(int).tolist()}")

    start = time.perf_counter()
    trainer = Dispatcher(Evaluator(sim, features, uc.cost, targets[0]), workers=args.workers, progress=False)
    theta = prior.sample(args.training, np.random.default_rng(batch_seed(args.seed, 0)))
    bank = trainer.evaluate(theta, args.seed)
    posterior = train_npe(prior, bank.theta, features.fill_undefined(bank.x), NPESettings(), seed=args.seed)
    training_s = time.perf_counter() - start
    print(f"NPE trained once on {args.training} simulations in {training_s:.0f} s")

    results: dict[str, list[float]] = {"npe": [], "npe_cmaes": [], "cmaes": []}
    seconds = {"npe": 0.0, "npe_cmaes": 0.0, "cmaes": 0.0}
    for k, target in enumerate(targets):
        runner = Dispatcher(Evaluator(sim, features, uc.cost, target), workers=args.workers, progress=False)
        x_o = features.fill_undefined(features(sim.t, target.traces[None])[0])
        t0 = time.perf_counter()
        samples = posterior.sample(5000, x_o, seed=args.seed)
        theta_map = posterior.map(x_o, seed=args.seed)
        top = samples[np.argsort(-posterior.log_prob(samples, x_o))[: args.candidates - 1]]
        fit = runner.evaluate(np.vstack([theta_map[None], top]), batch_seed(args.seed, 10_000 + k))
        results["npe"].append(float(fit.error.min()))
        t1 = time.perf_counter()
        seeded = SeededCMAES(prior.to_unit(theta_map[None])[0], prior.to_unit(samples), args.seed, 10)
        search = run_optimizer(runner, seeded, prior, args.search, batch_seed(args.seed, 20_000 + k))
        results["npe_cmaes"].append(min(results["npe"][-1], search))
        t2 = time.perf_counter()
        cma = CMAES(prior.dim, seed=args.seed + k, population_size=100)
        results["cmaes"].append(
            run_optimizer(runner, cma, prior, args.cmaes_budget, batch_seed(args.seed, 30_000 + k))
        )
        t3 = time.perf_counter()
        seconds["npe"] += t1 - t0
        seconds["npe_cmaes"] += t2 - t0
        seconds["cmaes"] += t3 - t2
        print(f"target {k}: " + ", ".join(f"{m} {v[-1]:.3g}" for m, v in results.items()), flush=True)

    n = len(targets)
    totals = {
        "npe": args.training + n * args.candidates,
        "npe_cmaes": args.training + n * (args.candidates + args.search),
        "cmaes": n * args.cmaes_budget,
    }
    print(f"\nUC1, {n} synthetic targets, seed {args.seed}\n")
    print("| method | total simulations | best error: median [min, max] | below 1e-6 | wall time (s) |")
    print("|---|---|---|---|---|")
    for method, errors in results.items():
        e = np.array(errors)
        wall = seconds[method] + (training_s if method != "cmaes" else 0.0)
        print(
            f"| {method} | {totals[method]:,} | {np.median(e):.3g} [{e.min():.3g}, {e.max():.3g}] | "
            f"{int(np.sum(e < 1e-6))}/{n} | {wall:.0f} |"
        )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps({"totals": totals, "best_errors": results, "seconds": seconds}, indent=1)
    )


if __name__ == "__main__":
    main()
