"""Evaluations per second on UC1: plain NEURON vs the project's pipeline with 1 and 2 workers.

Run: .venv/bin/python benchmarks/throughput.py [--n 400]
All rows are measured in one run, side by side, so the ratios are meaningful on a
shared, noisy machine. An evaluation = simulate + eFEL features + Neuroptimus cost.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from sbi_neuro.evaluation import Evaluator
from sbi_neuro.runner import Runner, Task, batch_seed
from usecases import get_usecase

NEUROPTIMUS_S_PER_EVAL = 0.46  # measured with Neuroptimus itself on this kind of machine (USECASES.md)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=400, help="evaluations per measurement")
    parser.add_argument("--batch-size", type=int, default=25)
    args = parser.parse_args()

    uc = get_usecase("hh")
    target = uc.load_target("simulated", None)
    evaluator = Evaluator(uc.simulator, uc.features, uc.cost, target)
    theta = uc.prior.sample(args.n, np.random.default_rng(0))

    rows: list[tuple[str, float]] = []
    uc.simulator(theta[:2])  # build the model once
    start = time.perf_counter()
    result = uc.simulator(theta[:100])
    sim_s = (time.perf_counter() - start) / 100
    rows.append(("plain NEURON simulation (psolve), 1 process", 1.0 / sim_s))

    start = time.perf_counter()
    x = uc.features(result.t, result.traces)
    feat_s = (time.perf_counter() - start) / 100
    start = time.perf_counter()
    uc.cost.batch(result.t, result.traces, x, target, result.status == 0)
    cost_s = (time.perf_counter() - start) / 100

    for workers in (1, 2):
        runner = Runner(evaluator, workers=workers, progress=False)
        warm = [Task(i, theta[:2], 0) for i in range(workers)]
        list(runner.run(warm))  # start the worker processes and build their models
        tasks = [
            Task(i, theta[s : s + args.batch_size], batch_seed(0, i))
            for i, s in enumerate(range(0, args.n, args.batch_size))
        ]
        start = time.perf_counter()
        list(runner.run(tasks))
        rows.append((f"sbi_neuro evaluation, {workers} worker(s)", args.n / (time.perf_counter() - start)))

    base = rows[0][1]
    print(f"UC1, {args.n} prior samples, this machine ({os.cpu_count()} cores)\n")
    print("| what | per second | × plain NEURON | × Neuroptimus (0.46 s/eval) |")
    print("|---|---|---|---|")
    for label, rate in rows:
        print(f"| {label} | {rate:.1f} | {rate / base:.2f} | {rate * NEUROPTIMUS_S_PER_EVAL:.0f} |")
    print(
        f"\nper evaluation, 1 process: simulate {sim_s * 1e3:.1f} ms, eFEL features {feat_s * 1e3:.1f} ms, "
        f"cost {cost_s * 1e3:.1f} ms"
    )


if __name__ == "__main__":
    main()
