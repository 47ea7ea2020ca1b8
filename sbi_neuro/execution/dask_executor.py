"""The Dask executor: tasks on a dask.distributed cluster, the evaluator sent once per worker.

Without a scheduler address a ``LocalCluster`` of single-threaded worker processes on
loopback is started and closed afterwards; with an address we connect to that
scheduler and leave its cluster running. The evaluator (about 0.6 MB pickled for UC1)
travels as a worker plugin: the scheduler hands it to every worker, including workers
that join or restart later, so a task carries only its parameters. (A scattered
evaluator would be lost once every worker that held it had died, even with live
workers left.) A worker killed mid-task loses that task; the scheduler runs it again
elsewhere, up to ``distributed.scheduler.allowed-failures`` deaths per task (3 by
default). A task that still kills its worker (``KilledWorker``) is isolated as on local
processes (``sbi_neuro.execution.faults``): its parameter sets that crash on their own are recorded
as ``STATUS_CRASHED`` and the run goes on.

With a time limit (``--sim-timeout``), at most as many jobs are in flight as the cluster has
worker threads, so a job does not queue behind others and its clock starts at dispatch. A job
over its limit is cancelled and the worker running it is restarted by its nanny (the only way
to stop a running Python call); it comes back as ``STATUS_TIMEOUT``. The clock also covers
what Dask does for the job meanwhile (a retry after a worker's death). Without a limit every
job is submitted at once and Dask schedules them.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dask
import numpy as np
from distributed import Client, Future, LocalCluster, Worker, get_worker, wait
from distributed.diagnostics.plugin import WorkerPlugin
from distributed.scheduler import KilledWorker

from sbi_neuro.core.evaluation import EvalBatch, Evaluator, Task
from sbi_neuro.execution.faults import Fault, Job, TimedJobs, TimeLimit, isolated_results
from simulators import STATUS_CRASHED


class EvaluatorPlugin(WorkerPlugin):
    """Holds one evaluator on each worker."""

    def __init__(self, evaluator: Evaluator) -> None:
        self.evaluator = evaluator


class DaskExecutor:
    """Submits tasks to a ``Client``; yields results as they complete."""

    def __init__(self, client: Client, sim_timeout_s: float | None = None) -> None:
        self.client = client
        self.sim_timeout_s = sim_timeout_s
        self._limit = TimeLimit(sim_timeout_s, "its Dask worker was restarted")
        self._evaluator: Evaluator | None = None
        self._plugin: str | None = None

    def map_unordered(self, evaluator: Evaluator, tasks: list[Task]) -> Iterator[tuple[int, EvalBatch]]:
        slots = None if self.sim_timeout_s is None else _threads(self.client)
        jobs = _DaskJobs(self.client, self._install(evaluator), slots)
        try:
            # one isolation job at a time: a worker's death fails every task queued on it (KilledWorker
            # once allowed-failures is reached), so only a job that ran there alone is known to be a culprit
            yield from isolated_results(
                jobs, evaluator, tasks, self._limit.job, self._limit.reason, isolating_at_once=1
            )
        finally:
            jobs.cancel()  # left when the caller stopped early, or a job raised

    def warm_up(self, evaluator: Evaluator, theta: np.ndarray) -> None:
        self.client.run(_warm_up_on_worker, self._install(evaluator), theta)

    def close(self) -> None:
        """Remove the evaluator from the workers (their cluster may outlive this executor)."""
        if self._plugin is not None:
            self.client.unregister_worker_plugin(self._plugin)
            self._evaluator = self._plugin = None

    def _install(self, evaluator: Evaluator) -> str:
        """Send ``evaluator`` to every worker once, replacing the previous one; returns its name."""
        if evaluator is not self._evaluator or self._plugin is None:
            self.close()
            name = f"sbi_neuro-evaluator-{uuid.uuid4().hex}"
            self.client.register_plugin(EvaluatorPlugin(evaluator), name=name)
            self._evaluator, self._plugin = evaluator, name
        return self._plugin


def _threads(client: Client) -> int:
    """Worker threads of the cluster (at least 1: jobs wait for workers to join)."""
    return max(sum(w["nthreads"] for w in client.scheduler_info()["workers"].values()), 1)


class _DaskJobs(TimedJobs[Future]):
    """Jobs as Dask futures; a job that kept killing its workers comes back as a crash ``Fault``.

    ``slots``: jobs in flight at most, each timed from its dispatch (None: all at once, untimed).
    """

    def __init__(self, client: Client, plugin: str, slots: int | None = None) -> None:
        super().__init__(slots)
        self._client, self._plugin = client, plugin

    def _start(self, job: Job, first: bool) -> Future:
        return self._client.submit(_evaluate_on_worker, self._plugin, job, pure=False, priority=int(first))

    def _wait(self, handles: list[Future], timeout: float | None) -> Future | None:
        try:
            done = wait(
                handles,
                timeout=None if timeout is None else max(timeout, 0.01),
                return_when="FIRST_COMPLETED",
            ).done
        except TimeoutError:
            return None
        return next(iter(done), None)

    def _outcome(self, future: Future, job: Job) -> EvalBatch | Fault:
        if future.status != "error":
            return future.result()
        error = future.exception()
        if isinstance(error, KilledWorker):
            reason = f"its Dask worker died on every try while simulating it ({error})"
            return Fault(STATUS_CRASHED, reason)
        raise error

    def _stop(self, future: Future) -> None:
        """Cancel an overdue job and restart the worker running it (its call cannot be interrupted)."""
        worker = self._client.run_on_scheduler(_processing_on, future.key)
        self._client.cancel([future])
        if worker is not None:
            try:
                self._client.restart_workers([worker])
            except Exception as error:  # no nanny: the worker stays busy with the hung call
                print(f"warning: could not restart Dask worker {worker} ({error})", file=sys.stderr)

    def _cancel(self, futures: list[Future]) -> None:
        self._client.cancel(futures)


def _processing_on(key: Any, dask_scheduler: Any) -> str | None:
    """The address of the worker running ``key`` (on the scheduler), None if none is."""
    task = dask_scheduler.tasks.get(key)
    return task.processing_on.address if task is not None and task.processing_on is not None else None


def _evaluate_on_worker(plugin: str, job: Job) -> EvalBatch:
    return job.run(_worker_evaluator(get_worker(), plugin))


def _warm_up_on_worker(plugin: str, theta: np.ndarray, dask_worker: Worker) -> None:
    _worker_evaluator(dask_worker, plugin)(theta, 0)  # Client.run passes ``dask_worker`` by name


def _worker_evaluator(worker: Worker, plugin: str) -> Evaluator:
    installed = worker.plugins.get(plugin)
    if not isinstance(installed, EvaluatorPlugin):
        raise RuntimeError(
            f"Dask worker {worker.address} has no evaluator {plugin}: is sbi_neuro (the same "
            "version) installed where the workers run?"
        )
    return installed.evaluator


@contextmanager
def dask_executor(
    scheduler: str | None, workers: int, sim_timeout_s: float | None = None
) -> Iterator[DaskExecutor]:
    """A ``DaskExecutor`` on the scheduler at ``scheduler``, or on a new ``LocalCluster`` of ``workers``."""
    clients = _connect(scheduler) if scheduler else _local_cluster(workers)
    with clients as client:
        executor = DaskExecutor(client, sim_timeout_s)
        try:
            yield executor
        finally:
            executor.close()


@contextmanager
def _local_cluster(workers: int) -> Iterator[Client]:
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,  # serial kernels: parallelism comes from processes, as with local workers
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    with cluster, Client(cluster) as client:
        yield client


@contextmanager
def _connect(address: str) -> Iterator[Client]:
    timeout = dask.config.get("distributed.comm.timeouts.connect")
    try:
        client = Client(address, timeout=timeout)
    except (OSError, TimeoutError) as error:
        raise RuntimeError(
            f"cannot reach the Dask scheduler at {address} within {timeout} "
            f"(dask setting distributed.comm.timeouts.connect): {error}. Check the address "
            "(tcp://HOST:PORT, as printed by `dask scheduler`) and that the scheduler is running, "
            "or leave out --scheduler to start a local cluster"
        ) from error
    try:
        if not client.scheduler_info().get("workers"):
            print(
                f"warning: the Dask scheduler at {address} has no workers yet; tasks wait until "
                "workers connect (`dask worker ADDRESS`)",
                file=sys.stderr,
            )
        yield client
    finally:
        client.close()  # our connection only: the scheduler and its workers keep running
