"""Evaluations per second per use case and backend: the reference simulators against the batched kernels.

Run: .venv/bin/python benchmarks/throughput.py [--usecases hh adex hh_allen vclamp] [--n-batched 4000]

An evaluation = simulate + features + Neuroptimus cost, end to end through the
project's runner (the work every method pays for). Every row is measured in one
run, side by side, so the ratios mean something on a shared, noisy machine. For
UC1 a plain NEURON simulation loop (no features, no cost) is the baseline, as in
Neuroptimus' comparison. The breakdown columns time each stage in one process.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass

import numpy as np

from sbi_neuro.core.evaluation import Evaluator
from sbi_neuro.execution.dispatcher import measure_throughput
from sbi_neuro.registry import get_usecase, usecase_spec

NEUROPTIMUS_S_PER_EVAL = 0.46  # Neuroptimus on UC1, this kind of machine (shared/docs/SBI_NOTES.md)
TARGETS = {"hh": "simulated", "vclamp": "simulated", "adex": "data", "hh_allen": "simulated"}


@dataclass
class Row:
    usecase: str
    backend: str
    workers: int
    per_s: float
    sim_ms: float = np.nan
    features_ms: float = np.nan
    cost_ms: float = np.nan


def stage_times(evaluator: Evaluator, theta: np.ndarray) -> tuple[float, float, float]:
    """ms per parameter set of simulation, features and cost, in this process (after a warm-up)."""
    evaluator(theta[:2], 0)  # build models, compile kernels
    n = len(theta)
    start = time.perf_counter()
    result = evaluator.simulator(theta, 1)
    sim = time.perf_counter() - start
    start = time.perf_counter()
    x = evaluator.features(result.t, result.traces)
    feat = time.perf_counter() - start
    start = time.perf_counter()
    evaluator.cost.batch(result.t, result.traces, x, evaluator.target, result.status == 0)
    cost = time.perf_counter() - start
    return sim / n * 1e3, feat / n * 1e3, cost / n * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--usecases", nargs="+", default=["hh", "adex", "hh_allen", "vclamp"])
    parser.add_argument("--cell", default="509881736", help="hh_allen: Allen specimen (its 1450 ms protocol)")
    parser.add_argument("--n-ref", type=int, default=400, help="evaluations per reference measurement")
    parser.add_argument("--n-batched", type=int, default=4000, help="evaluations per batched measurement")
    parser.add_argument("--batch-size", type=int, default=100, help="parameter sets per task")
    args = parser.parse_args()

    rows: list[Row] = []
    for name in args.usecases:
        options = {"cell": args.cell} if name == "hh_allen" else {}
        for backend in sorted(usecase_spec(name).backends, key=lambda b: b == "batched"):  # reference first
            uc = get_usecase(name, backend=backend, **options)
            target = uc.load_target(TARGETS[name] if name != "hh_allen" else "data", None)
            evaluator = Evaluator(uc.simulator, uc.features, uc.cost, target)
            n = args.n_batched if backend == "batched" else args.n_ref
            theta = uc.prior.sample(n, np.random.default_rng(0))
            sim_ms, feat_ms, cost_ms = stage_times(evaluator, theta[: min(n, 200)])
            if name == "hh" and backend == "neuron":
                rows.append(Row(name, "plain NEURON simulation loop", 1, 1e3 / sim_ms, sim_ms))
            for workers in (1, 2):
                rate = measure_throughput(evaluator, theta, workers, args.batch_size)
                rows.append(Row(name, backend, workers, rate, sim_ms, feat_ms, cost_ms))
                print(f"{name} {backend} {workers} worker(s): {rate:.1f} evaluations/s", flush=True)

    print(f"\nEnd-to-end evaluations per second, this machine ({os.cpu_count()} cores)\n")
    print(
        "| use case | backend | workers | evaluations/s | × reference, same workers | "
        "simulate ms | features ms | cost ms |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        ref = next(
            (
                r.per_s
                for r in rows
                if r.usecase == row.usecase and r.workers == row.workers and not r.backend.startswith("plain")
            ),
            row.per_s,
        )
        print(
            f"| {row.usecase} | {row.backend} | {row.workers} | {row.per_s:.1f} | {row.per_s / ref:.1f} | "
            f"{row.sim_ms:.2f} | {row.features_ms:.2f} | {row.cost_ms:.2f} |"
        )
    plain = [r.per_s for r in rows if r.backend.startswith("plain")]
    for row in rows if plain else []:
        if row.usecase == "hh" and not row.backend.startswith("plain"):
            print(f"UC1 {row.backend}, {row.workers} worker(s): {row.per_s / plain[0]:.1f}× plain NEURON")
    uc1 = [r for r in rows if r.usecase == "hh" and r.backend == "batched" and r.workers == 2]
    if uc1:
        rate = uc1[0].per_s
        print(
            f"\nUC1 batched, 2 workers: {rate:.0f} evaluations/s = {rate * NEUROPTIMUS_S_PER_EVAL:.0f}× "
            f"Neuroptimus ({NEUROPTIMUS_S_PER_EVAL} s per evaluation); goal ≥ 200/s (≥ 90×)"
        )


if __name__ == "__main__":
    main()
