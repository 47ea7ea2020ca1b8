"""Parallel evaluation of parameter batches with joblib (local processes by default)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
from joblib import Parallel, delayed
from tqdm.auto import tqdm

from sbi_neuro.evaluation import EvalBatch, Evaluator


def batch_seed(run_seed: int, index: int) -> int:
    """The seed of batch ``index`` of a run: independent streams, reproducible."""
    return int(np.random.SeedSequence([run_seed, index]).generate_state(1)[0])


@dataclass(frozen=True)
class Task:
    """One unit of parallel work: a batch of parameter sets and its seed."""

    index: int
    theta: np.ndarray
    seed: int


def _evaluate(evaluator: Evaluator, task: Task) -> tuple[int, EvalBatch]:
    return task.index, evaluator(task.theta, task.seed)


class Runner:
    """Evaluates tasks on ``workers`` local processes (joblib/loky), as they finish.

    Args:
        evaluator: what to run for each parameter set.
        workers: number of processes; 1 runs in this process.
        progress: show a progress bar counting simulations.
        chunk_size: parameter sets per task when ``evaluate`` splits a batch; None
            (default) cuts a batch into up to 8 tasks of at most 25. Never derived from
            ``workers``, so results do not depend on the worker count.
    """

    def __init__(
        self, evaluator: Evaluator, workers: int = 1, progress: bool = True, chunk_size: int | None = None
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.evaluator = evaluator
        self.workers = workers
        self.progress = progress
        self.chunk_size = chunk_size
        self.simulations = 0  # the counter every method is charged on

    def run(self, tasks: Iterable[Task], desc: str = "simulating") -> Iterator[tuple[int, EvalBatch]]:
        """Yield ``(task index, results)`` in completion order."""
        tasks = list(tasks)
        total = sum(len(t.theta) for t in tasks)
        if not tasks:
            return
        # disable=None: a bar on a terminal, none in a log file or CI output.
        bar = tqdm(total=total, desc=desc, unit="sim", disable=None if self.progress else True, leave=False)
        if self.workers == 1:
            results: Iterable[tuple[int, EvalBatch]] = (_evaluate(self.evaluator, t) for t in tasks)
        else:
            parallel = Parallel(n_jobs=self.workers, return_as="generator_unordered")
            results = parallel(delayed(_evaluate)(self.evaluator, t) for t in tasks)
        try:
            for index, batch in results:
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


def measure_throughput(evaluator: Evaluator, theta: np.ndarray, workers: int, chunk_size: int) -> float:
    """Evaluations per second of ``theta`` through a ``Runner`` with ``workers`` processes.

    The workers are started and warmed up (models built, kernels compiled) before the
    clock starts; tasks hold ``chunk_size`` parameter sets. For benchmarks.
    """
    runner = Runner(evaluator, workers=workers, progress=False)
    list(runner.run([Task(i, theta[:1], 0) for i in range(2 * workers)]))
    tasks = [
        Task(i, theta[s : s + chunk_size], batch_seed(0, i))
        for i, s in enumerate(range(0, len(theta), chunk_size))
    ]
    start = time.perf_counter()
    list(runner.run(tasks))
    return len(theta) / (time.perf_counter() - start)
