"""Parallel evaluation of parameter batches: local processes (joblib/loky) or a Dask cluster."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator

import numpy as np
from tqdm.auto import tqdm

from sbi_neuro.evaluation import EvalBatch, Evaluator
from sbi_neuro.executors import Executor, LocalExecutor, Task

__all__ = ["Runner", "Task", "batch_seed", "measure_throughput"]


def batch_seed(run_seed: int, index: int) -> int:
    """The seed of batch ``index`` of a run: independent streams, reproducible."""
    return int(np.random.SeedSequence([run_seed, index]).generate_state(1)[0])


class Runner:
    """Evaluates tasks where ``executor`` runs them (default: ``workers`` local processes), as they finish.

    Args:
        evaluator: what to run for each parameter set.
        workers: local processes when no ``executor`` is given; 1 runs in this process.
        progress: show a progress bar counting simulations.
        chunk_size: parameter sets per task when ``evaluate`` splits a batch; None
            (default) cuts a batch into up to 8 tasks of at most 25. Never derived from
            ``workers``, so results do not depend on the worker count.
        executor: where tasks run (``sbi_neuro.executors.open_executor``); None: local processes.
    """

    def __init__(
        self,
        evaluator: Evaluator,
        workers: int = 1,
        progress: bool = True,
        chunk_size: int | None = None,
        executor: Executor | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.evaluator = evaluator
        self.workers = workers
        self.progress = progress
        self.chunk_size = chunk_size
        self.executor: Executor = executor if executor is not None else LocalExecutor(workers)
        self.simulations = 0  # the counter every method is charged on

    def run(self, tasks: Iterable[Task], desc: str = "simulating") -> Iterator[tuple[int, EvalBatch]]:
        """Yield ``(task index, results)`` in completion order."""
        tasks = list(tasks)
        total = sum(len(t.theta) for t in tasks)
        if not tasks:
            return
        # disable=None: a bar on a terminal, none in a log file or CI output.
        bar = tqdm(total=total, desc=desc, unit="sim", disable=None if self.progress else True, leave=False)
        try:
            for index, batch in self.executor.map_unordered(self.evaluator, tasks):
                self.simulations += len(batch)
                bar.update(len(batch))
                yield index, batch
        finally:
            bar.close()

    def evaluate(self, theta: np.ndarray, seed: int, desc: str = "simulating") -> EvalBatch:
        """Evaluate one batch, split across the workers, results in input order."""
        size = self.chunk_size or min(25, max(1, math.ceil(theta.shape[0] / 8)))
        starts = range(0, theta.shape[0], size)
        tasks = [Task(i, theta[s : s + size], batch_seed(seed, i)) for i, s in enumerate(starts)]
        done = dict(self.run(tasks, desc))
        return EvalBatch.concat([done[i] for i in range(len(tasks))])


def measure_throughput(
    evaluator: Evaluator, theta: np.ndarray, workers: int, chunk_size: int, executor: Executor | None = None
) -> float:
    """Evaluations per second of ``theta`` through a ``Runner`` (``workers`` local processes, or
    ``executor``).

    The workers are started and warmed up (models built, kernels compiled) before the
    clock starts; tasks hold ``chunk_size`` parameter sets. For benchmarks.
    """
    runner = Runner(evaluator, workers=workers, progress=False, executor=executor)
    runner.executor.warm_up(evaluator, theta[:1])
    tasks = [
        Task(i, theta[s : s + chunk_size], batch_seed(0, i))
        for i, s in enumerate(range(0, len(theta), chunk_size))
    ]
    start = time.perf_counter()
    list(runner.run(tasks))
    return len(theta) / (time.perf_counter() - start)
