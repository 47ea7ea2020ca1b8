"""The Dask executor: tasks on a dask.distributed cluster, the evaluator sent once per worker.

Without a scheduler address a ``LocalCluster`` of single-threaded worker processes on
loopback is started and closed afterwards; with an address we connect to that
scheduler and leave its cluster running. The evaluator (about 0.6 MB pickled for UC1)
travels as a worker plugin: the scheduler hands it to every worker, including workers
that join or restart later, so a task carries only its parameters. (A scattered
evaluator would be lost once every worker that held it had died, even with live
workers left.) A worker killed mid-task loses that task; the scheduler runs it again
elsewhere, up to ``distributed.scheduler.allowed-failures`` deaths per task (3 by
default), after which the run fails with ``KilledWorker``.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import dask
import numpy as np
from distributed import Client, LocalCluster, Worker, as_completed, get_worker
from distributed.diagnostics.plugin import WorkerPlugin

from sbi_neuro.evaluation import EvalBatch, Evaluator
from sbi_neuro.executors import Task, evaluate_task


class EvaluatorPlugin(WorkerPlugin):
    """Holds one evaluator on each worker."""

    def __init__(self, evaluator: Evaluator) -> None:
        self.evaluator = evaluator


class DaskExecutor:
    """Submits tasks to a ``Client``; yields results as they complete."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._evaluator: Evaluator | None = None
        self._plugin: str | None = None

    def map_unordered(self, evaluator: Evaluator, tasks: list[Task]) -> Iterator[tuple[int, EvalBatch]]:
        name = self._install(evaluator)
        futures = [self.client.submit(_evaluate_on_worker, name, t, pure=False) for t in tasks]
        pending = as_completed(futures, loop=self.client.loop, with_results=True)
        del futures  # as_completed holds the pending futures; a yielded result is released at once
        try:
            for _, result in pending:
                yield result
        finally:
            if pending.futures:  # the caller stopped early, or a task failed
                self.client.cancel(list(pending.futures))

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


def _evaluate_on_worker(plugin: str, task: Task) -> tuple[int, EvalBatch]:
    return evaluate_task(_worker_evaluator(get_worker(), plugin), task)


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
def dask_executor(scheduler: str | None, workers: int) -> Iterator[DaskExecutor]:
    """A ``DaskExecutor`` on the scheduler at ``scheduler``, or on a new ``LocalCluster`` of ``workers``."""
    clients = _connect(scheduler) if scheduler else _local_cluster(workers)
    with clients as client:
        executor = DaskExecutor(client)
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
