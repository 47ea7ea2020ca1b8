"""Simulations per second on local processes, Dask and Ray, the scheduler's cost per task, and a
projection of 10⁶ UC6 simulations on a 64-core cluster.

Run: .venv/bin/python benchmarks/dask_scale.py [--usecases hh ca1_passive] [--n 20000] [--uc6 16]
     [--out FILE.md]

Throughput: end-to-end evaluations (simulate + features + cost) of a batched use
case through the project's runner, with the local executor (1, 2 processes), a Dask
``LocalCluster`` and a local Ray instance of 1, 2 and 4 single-threaded worker processes,
measured side by side in one run (the ratios mean something on a shared, noisy
machine). Workers are started and warmed up before the clock starts; the
cluster's start-up time is listed apart.

UC6 (ca1_detailed, NEURON, 4.5 s per evaluation): ``--uc6`` evaluations, tasks of 2, on 2
local processes, 2 Dask workers and 2 Ray workers; the projection takes its seconds per
evaluation per worker and the measured cost per task, and states its assumptions.

Overhead: a no-op evaluation (results of the same shape as the use case's, no
simulation) through the same executors: wall time per task at each batch size,
next to what a real task of that size computes, so the share the scheduler takes
at the batch sizes runs use (25 when a generation is split, 100 per bank file) is
visible.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sbi_neuro.core.evaluation import EvalBatch, Evaluator, Task
from sbi_neuro.core.seeds import batch_seed
from sbi_neuro.execution.dispatcher import Dispatcher, measure_throughput
from sbi_neuro.execution.executors import Executor, ExecutorConfig, open_executor
from sbi_neuro.registry import get_usecase

TARGETS = {"hh": "simulated", "ca1_passive": "data", "ca1_detailed": "data"}
BACKENDS = {"ca1_detailed": "neuron"}  # the others: batched
WHERE = [("local", 1), ("local", 2)] + [(kind, n) for kind in ("dask", "ray") for n in (1, 2, 4)]
OVERHEAD_WHERE = [("local", 1), ("local", 2), ("dask", 1), ("dask", 2), ("ray", 1), ("ray", 2)]
UC6_WHERE = [("local", 2), ("dask", 2), ("ray", 2)]
PROJECTION_SIMULATIONS, PROJECTION_CORES = 1_000_000, 64


class NoOpEvaluator(Evaluator):
    """Results shaped like the use case's, computed from nothing: what is left is the executor's cost."""

    def __call__(
        self, theta: np.ndarray, seed: int, first_row: int = 0, failed: Mapping[int, int] | None = None
    ) -> EvalBatch:
        n = len(theta)
        return EvalBatch(
            theta=np.asarray(theta, dtype=float),
            x=np.zeros((n, len(self.features.names))),
            components=np.zeros((n, len(self.cost.names))),
            error=np.zeros(n),
            status=np.zeros(n, dtype=np.int8),
            seed=np.full(n, seed, dtype=np.int64),
        )


@dataclass
class Throughput:
    usecase: str
    kind: str
    workers: int
    startup_s: float
    per_s: float


@dataclass
class Overhead:
    kind: str
    workers: int
    batch_size: int
    ms_per_task: float


def evaluator_for(name: str) -> Evaluator:
    uc = get_usecase(name, backend=BACKENDS.get(name, "batched"))
    return Evaluator(uc.simulator, uc.features, uc.cost, uc.load_target(TARGETS[name], None))


def prior_samples(name: str, n: int) -> np.ndarray:
    return get_usecase(name, backend=BACKENDS.get(name, "batched")).prior.sample(n, np.random.default_rng(0))


def measure_throughputs(
    names: list[str], n: int, batch_size: int, where: list[tuple[str, int]] = WHERE
) -> list[Throughput]:
    rows = []
    for name in names:
        evaluator, theta = evaluator_for(name), prior_samples(name, n)
        for kind, workers in where:
            start = time.perf_counter()
            with open_executor(ExecutorConfig(kind, None, workers)) as executor:
                startup = time.perf_counter() - start
                rate = measure_throughput(evaluator, theta, workers, batch_size, executor)
            rows.append(Throughput(name, kind, workers, startup, rate))
            print(f"{name} {kind} {workers} worker(s): {rate:.1f} evaluations/s", flush=True)
    return rows


def ms_per_task(
    executor: Executor, evaluator: Evaluator, theta: np.ndarray, batch_size: int, tasks: int
) -> float:
    """Wall time per task of ``tasks`` tasks of ``batch_size`` rows through a runner on ``executor``."""
    runner = Dispatcher(evaluator, progress=False, executor=executor)
    executor.warm_up(evaluator, theta[:1])
    batch = [Task(i, theta[:batch_size], batch_seed(0, i)) for i in range(tasks)]
    start = time.perf_counter()
    list(runner.run(batch))
    return (time.perf_counter() - start) / tasks * 1e3


def measure_overheads(name: str, batch_sizes: list[int], tasks: int) -> list[Overhead]:
    uc = get_usecase(name, backend="batched")
    noop = NoOpEvaluator(uc.simulator, uc.features, uc.cost, uc.load_target(TARGETS[name], None))
    theta = prior_samples(name, max(batch_sizes))
    rows = []
    for kind, workers in OVERHEAD_WHERE:
        with open_executor(ExecutorConfig(kind, None, workers)) as executor:
            for size in batch_sizes:
                ms = ms_per_task(executor, noop, theta, size, tasks)
                rows.append(Overhead(kind, workers, size, ms))
                print(f"no-op, {kind} {workers} worker(s), tasks of {size}: {ms:.2f} ms per task", flush=True)
    return rows


def markdown(
    throughputs: list[Throughput], overheads: list[Overhead], uc6: list[Throughput], args: argparse.Namespace
) -> str:
    cores = os.cpu_count()
    lines = [
        f"## Evaluations per second: local processes, Dask and Ray on this machine ({cores} cores)",
        "",
        f"{args.n} prior samples per measurement, tasks of {args.batch_size}; batched backend; workers",
        "warmed up before the clock starts. Start-up: opening the executor (Dask: scheduler + workers;",
        "Ray: GCS, raylet and workers).",
        f"Load average when the benchmark started: {args.load:.2f} (1 min; other jobs share the cores).",
        "",
        "| use case | executor | workers | start-up s | evaluations/s | × local, 1 worker |",
        "|---|---|---|---|---|---|",
    ]
    for row in throughputs:
        base = next(r.per_s for r in throughputs if r.usecase == row.usecase and r.kind == "local")
        lines.append(
            f"| {row.usecase} | {row.kind} | {row.workers} | {row.startup_s:.1f} | {row.per_s:.0f} | "
            f"{row.per_s / base:.2f} |"
        )
    name = args.usecases[0]
    compute = {  # ms a real task of that size computes, from the 1-worker local rate
        size: size / next(r.per_s for r in throughputs if r.usecase == name and r.kind == "local") * 1e3
        for size in args.overhead_batch_sizes
    }
    lines += [
        "",
        f"## Cost per task: a no-op evaluation ({args.overhead_tasks} tasks, results shaped like {name}'s)",
        "",
        "Local: the runner and our worker pool's pipes. A real task's compute is the",
        f"batch size over {name}'s 1-worker local rate above.",
        "",
        "| executor | workers | batch size | ms per task | real task computes, ms | overhead / compute |",
        "|---|---|---|---|---|---|",
    ]
    for cost in overheads:
        real = compute[cost.batch_size]
        lines.append(
            f"| {cost.kind} | {cost.workers} | {cost.batch_size} | {cost.ms_per_task:.2f} | {real:.0f} | "
            f"{cost.ms_per_task / real:.1%} |"
        )
    if uc6:
        lines += uc6_section(uc6, overheads, args)
    return "\n".join(lines) + "\n"


def uc6_section(uc6: list[Throughput], overheads: list[Overhead], args: argparse.Namespace) -> list[str]:
    lines = [
        "",
        f"## UC6 (ca1_detailed, NEURON): {args.uc6} evaluations, tasks of 2",
        "",
        "| executor | workers | start-up s | evaluations/s | s per evaluation per worker |",
        "|---|---|---|---|---|",
    ]
    for row in uc6:
        lines.append(
            f"| {row.kind} | {row.workers} | {row.startup_s:.1f} | {row.per_s:.3f} | "
            f"{row.workers / row.per_s:.2f} |"
        )
    per_worker = min(row.workers / row.per_s for row in uc6)
    simulating_h = PROJECTION_SIMULATIONS * per_worker / PROJECTION_CORES / 3600
    lines += [
        "",
        f"## Projection: {PROJECTION_SIMULATIONS:,} UC6 simulations on a {PROJECTION_CORES}-core cluster",
        "",
        f"Wall time ≈ N · t / C + (N / b) · o + s, with t = {per_worker:.2f} s per evaluation per worker",
        "(the best measured above: one worker per physical core, nothing else running), C cores, b",
        "simulations per task, o the scheduler's cost per task (measured above with 2 workers; a",
        "cluster's scheduler handles tasks one at a time, so this part does not shrink with C) and s",
        "the start-up (measured above; on a cluster, model build and mechanism load on every worker).",
        "",
        "| executor | b | o, ms per task | simulating, h | scheduling, h | total, h |",
        "|---|---|---|---|---|---|",
    ]
    for kind in ("dask", "ray"):
        start_s = next(r.startup_s for r in uc6 if r.kind == kind)
        costs = {r.batch_size: r.ms_per_task for r in overheads if r.kind == kind and r.workers == 2}
        for size, o_ms in sorted(costs.items()):
            scheduling_h = PROJECTION_SIMULATIONS / size * o_ms / 1e3 / 3600
            lines.append(
                f"| {kind} | {size} | {o_ms:.2f} | {simulating_h:.1f} | {scheduling_h:.3f} | "
                f"{simulating_h + scheduling_h + start_s / 3600:.1f} |"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--usecases", nargs="+", default=["hh", "ca1_passive"], choices=sorted(TARGETS))
    parser.add_argument("--n", type=int, default=20_000, help="evaluations per throughput measurement")
    parser.add_argument("--batch-size", type=int, default=100, help="parameter sets per task (bank file)")
    parser.add_argument(
        "--overhead-tasks", type=int, default=400, help="no-op tasks per overhead measurement"
    )
    parser.add_argument("--overhead-batch-sizes", type=int, nargs="+", default=[25, 100])
    parser.add_argument("--uc6", type=int, default=16, help="UC6 evaluations per executor (0: skip UC6)")
    parser.add_argument("--out", type=Path, help="also write the Markdown tables to this file")
    args = parser.parse_args()
    args.load = os.getloadavg()[0]

    throughputs = measure_throughputs(args.usecases, args.n, args.batch_size)
    overheads = measure_overheads(args.usecases[0], args.overhead_batch_sizes, args.overhead_tasks)
    uc6 = measure_throughputs(["ca1_detailed"], args.uc6, 2, UC6_WHERE) if args.uc6 else []
    text = markdown(throughputs, overheads, uc6, args)
    print("\n" + text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
