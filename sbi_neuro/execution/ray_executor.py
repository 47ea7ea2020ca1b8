"""The Ray executor: tasks as Ray remote functions, the evaluator put once in Ray's object store.

Without an address a Ray instance on this machine is started with ``workers`` CPUs and shut down
afterwards; with an address (``ray://HOST:10001`` through Ray Client, or ``HOST:6379`` from a
node of the cluster, or ``auto``) we connect to that cluster and only disconnect. If this process
has already initialised Ray (a notebook, a test), that instance is used and left running.

The evaluator is put in the object store once; a task carries only its parameters and a
reference, which each worker process resolves once and keeps (``_worker_evaluator``). The
object is owned by this process, so it outlives any worker.

Faults, as on local processes (``sbi_neuro.execution.faults``):

- at most as many jobs are in flight as the cluster has CPUs, so a job does not queue behind
  others and its clock can start at dispatch; one that overruns its limit is cancelled with
  ``ray.cancel(force=True)``, which kills its worker process (Ray starts another), and comes
  back as ``STATUS_TIMEOUT``;
- a worker process that dies mid-task (killed, out of memory, a segfault or abort in the
  simulator) costs that try; the job runs again, up to ``MAX_RETRIES`` times, each try with its
  own clock, after which it comes back as ``STATUS_CRASHED`` and is isolated.

Starting at dispatch, the clock also covers a fresh worker's start (Ray starts one after a crash
or a cancel; importing sbi_neuro takes seconds), which the one limit more that a job of n
simulations gets is meant for.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import ray
from ray.exceptions import RayTaskError, TaskCancelledError, WorkerCrashedError

from sbi_neuro.core.evaluation import EvalBatch, Evaluator, Task
from sbi_neuro.execution.faults import Fault, Job, TimedJobs, TimeLimit, isolated_results
from simulators import STATUS_CRASHED

CONNECT_TIMEOUT_S = 5.0  # to reach a cluster's port before handing the address to Ray
MAX_RETRIES = 2  # tries after a worker process died mid-task, before the task counts as crashing
_EVALUATORS: dict[str, Evaluator] = {}  # in a worker process: the evaluator it resolved, by object id


class RayExecutor:
    """Runs jobs as Ray tasks, as many at once as the cluster has CPUs; yields results as they complete.

    Args:
        sim_timeout_s: seconds one simulation may take before it counts as hung (None: no limit);
            a job of n simulations gets n + 1 of these, like on local processes.
    """

    def __init__(self, sim_timeout_s: float | None) -> None:
        self.sim_timeout_s = sim_timeout_s
        self._limit = TimeLimit(sim_timeout_s, "its Ray worker process was killed")
        self.slots = max(int(ray.cluster_resources().get("CPU", 1)), 1)
        self._evaluator: Evaluator | None = None
        self._ref: ray.ObjectRef | None = None

    def map_unordered(self, evaluator: Evaluator, tasks: list[Task]) -> Iterator[tuple[int, EvalBatch]]:
        jobs = _RayJobs(self._put(evaluator), self.slots)
        try:
            yield from isolated_results(jobs, evaluator, tasks, self._limit.job, self._limit.reason)
        finally:
            jobs.cancel()  # left when the caller stopped early, or a job raised

    def warm_up(self, evaluator: Evaluator, theta: np.ndarray) -> None:
        # one job per CPU, all at once: each lands on its own worker process
        holder = [self._put(evaluator)]
        ray.get([_remote.remote(holder, Job(("warm-up", i, 0), theta, 0)) for i in range(self.slots)])

    def close(self) -> None:
        """Release the evaluator's object (the cluster may outlive this executor)."""
        self._evaluator = self._ref = None

    def _put(self, evaluator: Evaluator) -> ray.ObjectRef:
        if evaluator is not self._evaluator or self._ref is None:
            self._evaluator, self._ref = evaluator, ray.put(evaluator)
        return self._ref


class _RayJobs(TimedJobs[ray.ObjectRef]):
    """Jobs as Ray tasks, at most ``slots`` in flight, each timed from its dispatch; a job whose
    worker died is sent again, up to ``MAX_RETRIES`` times, then comes back as a crash ``Fault``."""

    def __init__(self, evaluator: ray.ObjectRef, slots: int) -> None:
        super().__init__(slots)
        self._holder = [evaluator]  # in a list, so that Ray passes the reference, not the object
        self._tries: dict[Hashable, int] = {}  # tries that lost their worker, by job key

    def _start(self, job: Job, first: bool) -> ray.ObjectRef:  # Ray has no priorities: order is ours
        return _remote.remote(self._holder, job)

    def _wait(self, handles: list[ray.ObjectRef], timeout: float | None) -> ray.ObjectRef | None:
        ready, _ = ray.wait(handles, num_returns=1, timeout=timeout)
        return ready[0] if ready else None

    def _outcome(self, ref: ray.ObjectRef, job: Job) -> EvalBatch | Fault | None:
        tries = self._tries.pop(job.key, 0) + 1
        try:
            return ray.get(ref)
        except WorkerCrashedError as error:
            if tries <= MAX_RETRIES:
                self._tries[job.key] = tries  # its worker died: again, first, with a fresh clock
                self._again(job)
                return None
            reason = f"its Ray worker process died on each of {MAX_RETRIES + 1} tries while simulating it"
            return Fault(STATUS_CRASHED, f"{reason} ({type(error).__name__})")
        except TaskCancelledError as error:  # cancelled by someone else (we drop what we cancel)
            raise RuntimeError(f"a simulation task was cancelled on the Ray cluster: {error}") from error
        except RayTaskError as error:  # an exception in our code on the worker: raise it here
            raise error.as_instanceof_cause() from None

    def _stop(self, ref: ray.ObjectRef) -> None:
        ray.cancel(ref, force=True)  # kills the worker process running it

    def _cancel(self, refs: list[ray.ObjectRef]) -> None:
        for ref in refs:
            ray.cancel(ref, force=True)


def _evaluate_on_worker(holder: list[ray.ObjectRef], job: Job) -> EvalBatch:
    return job.run(_worker_evaluator(holder[0]))


# Retried here, not by Ray, so that each try gets its own clock (see ``_RayJobs._outcome``).
_remote = ray.remote(num_cpus=1, max_retries=0, retry_exceptions=False)(_evaluate_on_worker)


def _worker_evaluator(ref: ray.ObjectRef) -> Evaluator:
    """The evaluator behind ``ref``, resolved once per worker process (models built, kernels loaded)."""
    key = ref.hex()
    if key not in _EVALUATORS:
        _EVALUATORS.clear()  # a new run's evaluator replaces the last
        _EVALUATORS[key] = ray.get(ref)
    return _EVALUATORS[key]


@contextmanager
def ray_executor(address: str | None, workers: int, sim_timeout_s: float | None) -> Iterator[RayExecutor]:
    """A ``RayExecutor`` on the Ray cluster at ``address``, this process's Ray, or a new local one."""
    with _ray(address, workers):
        executor = RayExecutor(sim_timeout_s)
        try:
            yield executor
        finally:
            executor.close()


@contextmanager
def _ray(address: str | None, workers: int) -> Iterator[None]:
    if ray.is_initialized():
        if address is not None:
            raise RuntimeError(
                f"this process is already connected to a Ray cluster; cannot connect to {address} as well "
                "(call ray.shutdown() first, or leave out --scheduler to use the running one)"
            )
        yield  # someone else's Ray: leave it running
        return
    options: dict[str, Any] = {"logging_level": logging.WARNING, "include_dashboard": False}
    if address is None:
        # Ray lowers its workers' priority (nice 15) by default; here they do the run's work, so they
        # get this process's. (A cluster given by address keeps its own setting.)
        ray.init(num_cpus=workers, _system_config={"worker_niceness": 0}, **options)
    else:
        _connect(address, options)
    try:
        yield
    finally:
        ray.shutdown()  # stops a Ray started here; only disconnects from a cluster given by address


def _connect(address: str, options: dict[str, Any]) -> None:
    # Ray retries an unreachable address for minutes: try the port first, and fail in seconds.
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if address != "auto":
        try:
            socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
        except (OSError, ValueError) as error:
            raise RuntimeError(
                f"cannot reach the Ray cluster at {address} within {CONNECT_TIMEOUT_S:g} s ({error}). Give "
                "ray://HOST:10001 (Ray Client) or HOST:6379 (from a node of the cluster), as printed by "
                "`ray start --head`, and check that the cluster is running; or leave out --scheduler to "
                "start Ray on this machine"
            ) from error
    try:
        ray.init(address=address, **options)
    except (ConnectionError, TimeoutError, RuntimeError, ValueError) as error:
        raise RuntimeError(
            f"cannot connect to the Ray cluster at {address}: {error}. Give ray://HOST:10001 (Ray Client) or "
            "HOST:6379 (from a node of the cluster), as printed by `ray start --head`, or leave out "
            "--scheduler to start Ray on this machine"
        ) from error
