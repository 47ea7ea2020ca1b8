"""Where simulations run: local processes, joblib's processes, a Dask cluster or a Ray cluster.

``--executor`` says where simulations run; ``--backend`` says which simulator runs
them. An executor maps the evaluator over tasks and yields ``(task index, results)``
in completion order. The run's main process writes each result to the bank under
its task index, and a task's results are a pure function of the task, so where a
task ran, or how often (a worker that dies mid-task), never changes what a run records.

Faults: a task that overruns its time limit (local, Ray and Dask executors) or keeps killing its worker
process is isolated (``sbi_neuro.execution.faults``): only the parameter sets that hang or crash
on their own are recorded as failed, as ``STATUS_TIMEOUT`` or ``STATUS_CRASHED`` with
the reason in ``EvalBatch.faults``, and the run goes on.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from sbi_neuro.core.evaluation import EvalBatch, Evaluator, Task
from sbi_neuro.execution.faults import Fault, Job, TimeLimit, isolated_results
from sbi_neuro.execution.worker_pool import WorkerPool
from simulators import STATUS_TIMEOUT

EXECUTORS = ("local", "joblib", "dask", "ray")
CLUSTERS = ("dask", "ray")  # executors that take a --scheduler address
# Seconds one simulation may take before it counts as hung (--sim-timeout; None: no limit). Generous
# for every use case (the slowest, UC6, takes ~5 s); a task of n simulations gets n + 1 of these, the one
# more for what a fresh worker does first (build the model, load or compile kernels).
DEFAULT_SIM_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class ExecutorConfig:
    """Where simulations run.

    Attributes:
        kind: ``local`` (processes on this machine, each hang or crash isolated), ``joblib``
            (joblib's loky processes: no time limit, a crash ends the run; for trusted simulators)
            ``dask`` (a dask.distributed cluster) or ``ray`` (a Ray cluster).
        scheduler: dask: address of a running scheduler (``tcp://host:8786``); ray: address of a
            Ray cluster (``ray://host:10001``, ``host:6379`` or ``auto``). None starts a cluster of
            ``workers`` processes on this machine for the duration of the run.
        workers: local processes, or the worker processes of the cluster started on this machine;
            ignored when connecting to a scheduler (its cluster has its own workers).
        sim_timeout_s: local, ray and dask: seconds a simulation may take before it counts as
            hung and is recorded as timed out (None: no limit); joblib has none.
    """

    kind: str = "local"
    scheduler: str | None = None
    workers: int = 1
    sim_timeout_s: float | None = DEFAULT_SIM_TIMEOUT_S

    def __post_init__(self) -> None:
        if self.kind not in EXECUTORS:
            raise ValueError(f"executor must be one of {EXECUTORS}, got {self.kind!r}")
        if self.scheduler is not None and self.kind not in CLUSTERS:
            raise ValueError(f"a scheduler address ({self.scheduler}) needs --executor dask or ray")
        if self.scheduler is not None and not self.scheduler.strip():
            raise ValueError("the scheduler address is empty; give tcp://HOST:PORT or leave it out")
        if int(self.workers) < 1:
            raise ValueError(f"workers must be a positive integer, got {self.workers}")
        if self.sim_timeout_s is not None and not self.sim_timeout_s > 0:
            raise ValueError(f"the simulation time limit must be > 0 seconds, got {self.sim_timeout_s}")


class Executor(Protocol):
    """Maps an evaluator over tasks; results come in completion order."""

    def map_unordered(self, evaluator: Evaluator, tasks: list[Task]) -> Iterator[tuple[int, EvalBatch]]: ...

    def warm_up(self, evaluator: Evaluator, theta: np.ndarray) -> None:
        """Evaluate ``theta`` (one row) on every worker: models built, kernels compiled."""
        ...


class LocalExecutor:
    """``workers`` processes on this machine; a simulation that hangs or crashes its process fails alone.

    A task gets ``sim_timeout_s`` per simulation, plus one more for what a fresh worker does
    first (build the model, load or compile kernels); one that overruns, or whose worker
    dies, is isolated (``sbi_neuro.execution.faults``), each of its simulations alone getting two.

    Args:
        workers: worker processes (1 too runs in a worker, so that a crash cannot end the run).
        sim_timeout_s: seconds one simulation may take (None: no limit); see ``DEFAULT_SIM_TIMEOUT_S``.
    """

    def __init__(self, workers: int = 1, sim_timeout_s: float | None = DEFAULT_SIM_TIMEOUT_S) -> None:
        ExecutorConfig("local", None, workers, sim_timeout_s)  # validates
        self.workers = workers
        self.sim_timeout_s = sim_timeout_s
        self._limit = TimeLimit(sim_timeout_s, "its worker process was killed")
        self._pool: WorkerPool | None = None
        self._evaluator: Evaluator | None = None

    def map_unordered(self, evaluator: Evaluator, tasks: list[Task]) -> Iterator[tuple[int, EvalBatch]]:
        pool = self._pool_for(evaluator)
        try:
            yield from isolated_results(pool, evaluator, tasks, self._limit.job, self._reason)
        finally:
            if pool.busy:  # stopped early (the caller, or an error): running jobs are stale
                self.close()

    def warm_up(self, evaluator: Evaluator, theta: np.ndarray) -> None:
        pool = self._pool_for(evaluator)
        for i in range(self.workers):  # all idle: one job each
            pool.submit(Job(("warm-up", i, 0), theta, 0))
        while pool.busy:
            pool.next_outcome()

    def close(self) -> None:
        """Stop the worker processes (a new call starts others)."""
        if self._pool is not None:
            self._pool.close()
        self._pool = self._evaluator = None

    def _pool_for(self, evaluator: Evaluator) -> WorkerPool:
        """The workers holding ``evaluator``; new ones for another evaluator, or if a caller left jobs."""
        if self._pool is None or evaluator is not self._evaluator or self._pool.busy:
            self.close()
            self._pool, self._evaluator = WorkerPool(evaluator, self.workers), evaluator
        return self._pool

    def _reason(self, fault: Fault) -> str:
        reason = self._limit.reason(fault)
        return reason if fault.status == STATUS_TIMEOUT else f"{reason} while simulating it"


class JoblibExecutor:
    """``workers`` joblib/loky processes (1: this process), results in completion order.

    Without isolation: a simulation that hangs holds its worker, one that crashes it ends the
    run with joblib's error (re-running the command resumes). Slightly less overhead per task
    than ``LocalExecutor``, and joblib's route to other backends.
    """

    def __init__(self, workers: int = 1) -> None:
        ExecutorConfig("joblib", None, workers, None)  # validates
        self.workers = workers

    def map_unordered(self, evaluator: Evaluator, tasks: list[Task]) -> Iterator[tuple[int, EvalBatch]]:
        from joblib import Parallel, delayed
        from joblib.externals.loky.process_executor import TerminatedWorkerError

        if self.workers == 1:
            yield from (_evaluate(evaluator, t) for t in tasks)
            return
        parallel = Parallel(n_jobs=self.workers, return_as="generator_unordered")
        try:
            yield from parallel(delayed(_evaluate)(evaluator, t) for t in tasks)
        except TerminatedWorkerError as error:
            raise RuntimeError(
                "a simulation ended its joblib worker process (the results so far are in the bank); "
                "re-run with --executor local, which records such a simulation as crashed and goes on"
            ) from error

    def warm_up(self, evaluator: Evaluator, theta: np.ndarray) -> None:
        # loky hands tasks to idle processes: 2 per worker reach every one in practice
        list(self.map_unordered(evaluator, [Task(i, theta, 0) for i in range(2 * self.workers)]))


def _evaluate(evaluator: Evaluator, task: Task) -> tuple[int, EvalBatch]:
    return task.index, evaluator(task.theta, task.seed)


@contextmanager
def open_executor(config: ExecutorConfig) -> Iterator[Executor]:
    """The executor ``config`` describes. A cluster started here is closed on exit; a scheduler
    given by address is only disconnected from, its cluster keeps running."""
    if config.kind == "local":
        local = LocalExecutor(config.workers, config.sim_timeout_s)
        try:
            yield local
        finally:
            local.close()
        return
    if config.kind == "joblib":
        yield JoblibExecutor(config.workers)
        return
    if config.kind == "ray":
        try:
            from sbi_neuro.execution.ray_executor import ray_executor
        except ImportError as error:
            raise RuntimeError(
                f"--executor ray needs Ray ({error}); install it with `pip install 'sbi_neuro[ray]'` "
                "(or `pip install ray`), or use --executor dask or local"
            ) from error
        with ray_executor(config.scheduler, config.workers, config.sim_timeout_s) as on_ray:
            yield on_ray
        return
    try:
        from sbi_neuro.execution.dask_executor import dask_executor
    except ImportError as error:
        raise RuntimeError(
            f"--executor dask needs dask.distributed ({error}); install it with "
            "`pip install 'dask[distributed]'` or use --executor local"
        ) from error
    with dask_executor(config.scheduler, config.workers, config.sim_timeout_s) as executor:
        yield executor
