"""100,000 simulations of the Gonçalves et al. 2020 HH model + NPE, on one Allen recording, timed.

Run: .venv/bin/python benchmarks/goncalves_100k.py [--cell 509881736] [--simulations 100000] [--workers 2]

The whole Bayesian run (prior simulations on the batched backend, NPE training,
posterior, MAP, best fit, plots) goes through ``sbi_neuro.api.run``, exactly what
``sbi-neuro infer hh_allen --cell ID --backend batched`` does. The goal of issue 4
is under 30 minutes on this 2-core machine. Re-running continues the run folder.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from sbi_neuro.api.execute import execute
from sbi_neuro.methods.config import RunConfig
from sbi_neuro.registry import get_usecase


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cell", default="509881736", help="Allen specimen id (sbi-neuro usecases)")
    parser.add_argument("--simulations", type=int, default=100_000, help="training simulations")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=1000, help="simulations per bank file and task")
    parser.add_argument("--out", default="runs/benchmarks/goncalves_100k")
    parser.add_argument("--predictive", type=int, default=200, help="posterior samples simulated for the PPC")
    args = parser.parse_args()

    fit = 100
    config = RunConfig(
        usecase="hh_allen",
        method="npe",
        budget=args.simulations + fit,
        seed=args.seed,
        target="data",
        workers=args.workers,
        backend="batched",
        options={"cell": args.cell},
        batch_size=args.batch_size,
        fit_candidates=fit,
    )
    out = Path(args.out) / f"cell{args.cell}_seed{args.seed}"
    start = time.perf_counter()
    summary = execute(config, out).summary
    wall = time.perf_counter() - start

    stages = summary["stage_wall_s"]
    training = summary["training"]
    print(f"\nGonçalves HH model, Allen cell {args.cell}, {args.workers} workers, batched backend")
    print("| stage | wall time (s) |\n|---|---|")
    for stage, seconds in stages.items():
        print(f"| {stage} | {seconds:.0f} |")
    print(f"| total | {wall:.0f} ({wall / 60:.1f} min; goal < 30 min) |")
    print(
        f"\n{summary['training_simulations']} simulations "
        f"({training['dropped_invalid']} dropped as invalid), "
        f"{training['epochs']} epochs, best validation loss {training['best_validation_loss']:.3f}"
    )
    print("\n| parameter | posterior mean | 90% interval | best fit |\n|---|---|---|---|")
    for name, mean in summary["posterior_mean"].items():
        lo, hi = summary["interval_90"][name]
        print(f"| {name} | {mean:.4g} | [{lo:.4g}, {hi:.4g}] | {summary['best_fit'][name]:.4g} |")
    print(f"\nbest error {summary['best_error']:.4g} (MAP {summary['map_error']:.4g}); x_o:")
    print(json.dumps(summary["x_o"]))
    print(f"plots: {out}/plots/ (pairplot.png, posterior_predictive.png, best_fit.png)")
    posterior_predictive(config, out, summary["x_o"], args.predictive)


def posterior_predictive(config: RunConfig, out: Path, x_o: dict[str, float], n: int) -> None:
    """Simulate ``n`` saved posterior samples (analysis only, not charged) and compare features with x_o."""
    uc = get_usecase(config.usecase, backend=config.backend, **config.options)
    samples = np.loadtxt(out / "posterior_samples.csv", delimiter=",", skiprows=1)[:n]
    result = uc.simulator(samples, seed=config.seed + 1)
    x = uc.features(result.t, result.traces)
    count = x[:, 0]
    target_count = x_o["spike_count"]
    within = np.abs(count - target_count) <= 0.2 * target_count
    print(f"\nposterior predictive, {n} posterior samples simulated (not charged to the budget):")
    print(
        f"spike count median {np.nanmedian(count):.0f} (target {target_count:.0f}); within ±20% of the "
        f"target: {within.mean():.0%}; silent: {np.mean(count == 0):.0%}"
    )
    print("| feature | target | posterior predictive median [5%, 95%] |\n|---|---|---|")
    for j, name in enumerate(uc.features.names):
        lo, med, hi = np.nanpercentile(x[:, j], [5, 50, 95])
        print(f"| {name} | {x_o[name]:.4g} | {med:.4g} [{lo:.4g}, {hi:.4g}] |")


if __name__ == "__main__":
    main()
