"""Where simulations run: local processes (joblib/loky) or a Dask cluster (dask.distributed).

``--executor`` says where simulations run; ``--backend`` says which simulator runs
them. An executor maps the evaluator over tasks and yields ``(task index, results)``
in completion order. The run's main process writes each result to the bank under
its task index, and a task's results are a pure function of the task, so where a
task ran, or how often (a worker that dies mid-task), never changes what a run records.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from joblib import Parallel, delayed

from sbi_neuro.evaluation import EvalBatch, Evaluator

EXECUTORS = ("local", "dask")


@dataclass(frozen=True)
class Task:
    """One unit of parallel work: a batch of parameter sets and its seed."""

    index: int
    theta: np.ndarray
    seed: int


@dataclass(frozen=True)
class ExecutorConfig:
    """Where simulations run.

    Attributes:
        kind: ``local`` (processes on this machine) or ``dask`` (a dask.distributed cluster).
        scheduler: dask: address of a running scheduler (``tcp://host:8786``); None starts a
            ``LocalCluster`` on this machine for the duration of the run.
        workers: local processes, or the workers of the ``LocalCluster`` that dask starts;
            ignored when connecting to a scheduler (its cluster has its own workers).
    """

    kind: str = "local"
    scheduler: str | None = None
    workers: int = 1

    def __post_init__(self) -> None:
        if self.kind not in EXECUTORS:
            raise ValueError(f"executor must be one of {EXECUTORS}, got {self.kind!r}")
        if self.scheduler is not None and self.kind != "dask":
            raise ValueError(f"a scheduler address ({self.scheduler}) needs --executor dask")
        if self.scheduler is not None and not self.scheduler.strip():
            raise ValueError("the scheduler address is empty; give tcp://HOST:PORT or leave it out")
        if int(self.workers) < 1:
            raise ValueError(f"workers must be a positive integer, got {self.workers}")


class Executor(Protocol):
    """Maps an evaluator over tasks; results come in completion order."""

    def map_unordered(self, evaluator: Evaluator, tasks: list[Task]) -> Iterator[tuple[int, EvalBatch]]: ...

    def warm_up(self, evaluator: Evaluator, theta: np.ndarray) -> None:
        """Evaluate ``theta`` (one row) on every worker: models built, kernels compiled."""
        ...


def evaluate_task(evaluator: Evaluator, task: Task) -> tuple[int, EvalBatch]:
    """One task's results, tagged with its index."""
    return task.index, evaluator(task.theta, task.seed)


class LocalExecutor:
    """``workers`` processes on this machine (joblib/loky); 1 runs in this process."""

    def __init__(self, workers: int = 1) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers

    def map_unordered(self, evaluator: Evaluator, tasks: list[Task]) -> Iterator[tuple[int, EvalBatch]]:
        if self.workers == 1:
            return (evaluate_task(evaluator, t) for t in tasks)
        parallel = Parallel(n_jobs=self.workers, return_as="generator_unordered")
        return iter(parallel(delayed(evaluate_task)(evaluator, t) for t in tasks))

    def warm_up(self, evaluator: Evaluator, theta: np.ndarray) -> None:
        # loky hands tasks to idle processes: 2 per worker reach every one in practice
        list(self.map_unordered(evaluator, [Task(i, theta, 0) for i in range(2 * self.workers)]))


@contextmanager
def open_executor(config: ExecutorConfig) -> Iterator[Executor]:
    """The executor ``config`` describes. A cluster started here is closed on exit; a scheduler
    given by address is only disconnected from, its cluster keeps running."""
    if config.kind == "local":
        yield LocalExecutor(config.workers)
        return
    try:
        from sbi_neuro.dask_executor import dask_executor
    except ImportError as error:
        raise RuntimeError(
            f"--executor dask needs dask.distributed ({error}); install it with "
            "`pip install 'dask[distributed]'` or use --executor local"
        ) from error
    with dask_executor(config.scheduler, config.workers) as executor:
        yield executor
