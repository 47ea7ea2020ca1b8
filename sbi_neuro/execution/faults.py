"""What becomes of a task whose simulations hang or crash their process: only the culprits fail.

An executor runs jobs through a ``JobQueue`` (local worker processes, or Dask futures) that
reports a job which overran its time limit or took its worker down as a ``Fault``, not an
exception. ``isolated_results`` turns task outcomes into task results: a task that failed as a
whole is isolated in two steps.

1. Each of its parameter sets runs alone, at its position in the task (its noise stream),
   with its own limit: the sets that fail alone are the culprits, failed as
   ``STATUS_TIMEOUT`` or ``STATUS_CRASHED``.
2. The task runs again with the culprits failed instead of simulated (a stand-in keeps the
   batch's size and row positions), so every other set gets, bit for bit, what it gets when
   the simulator itself fails the culprits. Features and costs are computed over the whole
   batch, and their round-off can depend on it, so step 1's values alone are not enough.
   If this run fails too (the task fails only as a whole), each set keeps what it gave alone.

Each parameter set is yielded once, inside its task, so the simulation counter charges it once.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar, cast

import numpy as np

from sbi_neuro.core.evaluation import EvalBatch, Evaluator, Task
from simulators import STATUS_TIMEOUT

Handle = TypeVar("Handle")  # an engine's reference to a running job


@dataclass(frozen=True)
class Job:
    """Evaluate ``theta``, rows ``first_row, …`` of a batch with ``seed``, within ``limit_s`` seconds;
    ``failed`` rows are not simulated (see ``Evaluator``)."""

    key: Hashable
    theta: np.ndarray
    seed: int
    first_row: int = 0
    limit_s: float | None = None
    failed: Mapping[int, int] | None = None

    def run(self, evaluator: Evaluator) -> EvalBatch:
        """The job's results, in whichever process holds ``evaluator``."""
        return evaluator(self.theta, self.seed, first_row=self.first_row, failed=self.failed)


@dataclass(frozen=True)
class Fault:
    """A job that overran its limit (``STATUS_TIMEOUT``) or took its worker down (``STATUS_CRASHED``)."""

    status: int
    reason: str


@dataclass(frozen=True)
class TimeLimit:
    """``--sim-timeout``: seconds one simulation may take (None: no limit), and how its faults read.

    A job of n simulations gets n + 1 of these, the one more for what a fresh worker does
    first (build the model, load or compile kernels).
    """

    sim_timeout_s: float | None
    stopped: str  # what happens to a job over its limit, e.g. "its worker process was killed"

    def job(self, simulations: int) -> float | None:
        return None if self.sim_timeout_s is None else self.sim_timeout_s * (simulations + 1)

    def reason(self, fault: Fault) -> str:
        """The text recorded for a culprit (``EvalBatch.faults``)."""
        if fault.status != STATUS_TIMEOUT:
            return fault.reason
        return (
            f"{fault.reason} (the limit: {self.sim_timeout_s:g} s per simulation, --sim-timeout, and as "
            f"much again for a worker's start); {self.stopped}"
        )


class JobQueue(Protocol):
    """Runs jobs somewhere; a job that hangs or crashes comes back as a ``Fault``."""

    @property
    def busy(self) -> bool:
        """Jobs are queued or running."""
        ...

    def submit(self, job: Job, first: bool = False) -> None:
        """Queue ``job``, ahead of the others if ``first``."""
        ...

    def next_outcome(self) -> tuple[Job, EvalBatch | Fault]:
        """The next job to finish (blocks)."""
        ...


class TimedJobs(ABC, Generic[Handle]):
    """A ``JobQueue`` on a cluster engine (Dask futures, Ray object refs), for the engine to fill in.

    At most ``slots`` jobs are in flight (None: all at once), so a job does not queue behind
    others and, when ``slots`` is set, its clock starts at dispatch. A job over its ``limit_s``
    is stopped (``_stop``) and comes back as a ``STATUS_TIMEOUT`` fault.
    """

    def __init__(self, slots: int | None) -> None:
        self._slots = slots
        self._waiting: deque[tuple[Job, bool]] = deque()  # job, ahead of the tasks
        self._running: dict[Handle, tuple[Job, float | None]] = {}  # job, deadline

    @property
    def busy(self) -> bool:
        return bool(self._waiting or self._running)

    def submit(self, job: Job, first: bool = False) -> None:
        if first:
            self._waiting.appendleft((job, first))
        else:
            self._waiting.append((job, first))
        self._dispatch()

    def next_outcome(self) -> tuple[Job, EvalBatch | Fault]:
        while True:
            deadlines = [d for _, d in self._running.values() if d is not None]
            timeout = max(min(deadlines) - time.monotonic(), 0.0) if deadlines else None
            done = self._wait(list(self._running), timeout)
            if done is not None:
                job, _ = self._running.pop(done)
                outcome = self._outcome(done, job)
                self._dispatch()
                if outcome is not None:
                    return job, outcome
                continue  # the engine sent it again (``_again``)
            now = time.monotonic()
            overdue = [h for h, (_, d) in self._running.items() if d is not None and d <= now]
            if overdue:
                job, _ = self._running.pop(overdue[0])
                self._stop(overdue[0])
                self._dispatch()
                return job, Fault(STATUS_TIMEOUT, f"no result within {job.limit_s:g} s")

    def cancel(self) -> None:
        if self._running:
            self._cancel(list(self._running))
        self._running.clear()
        self._waiting.clear()

    def _again(self, job: Job) -> None:
        """Queue ``job`` once more, first, with a fresh clock (from ``_outcome``, which returns None)."""
        self._waiting.appendleft((job, True))

    def _dispatch(self) -> None:
        while self._waiting and (self._slots is None or len(self._running) < self._slots):
            job, first = self._waiting.popleft()
            deadline = (
                time.monotonic() + job.limit_s
                if job.limit_s is not None and self._slots is not None
                else None
            )
            self._running[self._start(job, first)] = (job, deadline)

    @abstractmethod
    def _start(self, job: Job, first: bool) -> Handle:
        """Send ``job`` to the engine (ahead of the tasks if ``first``)."""

    @abstractmethod
    def _wait(self, handles: list[Handle], timeout: float | None) -> Handle | None:
        """One finished job's handle, or None after ``timeout`` seconds (None: wait for one)."""

    @abstractmethod
    def _outcome(self, handle: Handle, job: Job) -> EvalBatch | Fault | None:
        """A finished job's results or fault; None if it was sent again with ``_again``."""

    @abstractmethod
    def _stop(self, handle: Handle) -> None:
        """Stop an overdue job, its worker with it."""

    @abstractmethod
    def _cancel(self, handles: list[Handle]) -> None:
        """Drop jobs still running (the caller stopped early, or a job raised)."""


def isolated_results(
    queue: JobQueue,
    evaluator: Evaluator,
    tasks: list[Task],
    limit: Callable[[int], float | None],
    reason: Callable[[Fault], str],
    isolating_at_once: int | None = None,
) -> Iterator[tuple[int, EvalBatch]]:
    """Run ``tasks`` on ``queue``; yield ``(index, results)`` as they finish, failed tasks isolated.

    Args:
        limit: the time limit of a job of n simulations.
        reason: the text recorded for a culprit (``EvalBatch.faults``).
        isolating_at_once: isolation jobs in flight at most (None: all), for a queue where a crash
            can take other jobs with it (Dask: the tasks queued on the worker that died).
    """
    by_index = {task.index: task for task in tasks}
    for task in tasks:
        queue.submit(Job(("task", task.index, 0), task.theta, task.seed, 0, limit(len(task.theta))))
    isolating: dict[int, _Isolation] = {}
    steps = _Steps(queue, isolating_at_once)
    while queue.busy:
        job, outcome = queue.next_outcome()
        step, index, row = cast(tuple[str, int, int], job.key)
        if step == "task" and isinstance(outcome, EvalBatch):
            yield index, outcome
            continue
        if step == "task":  # overran or lost its worker
            isolating[index] = _Isolation(by_index[index], limit, reason)
            steps.add(isolating[index].row_jobs())
            continue
        steps.done()
        if step == "row" and isolating[index].record(row, outcome):
            again = isolating[index].again_job()
            if again is None:
                yield index, isolating.pop(index).finish(evaluator, None)
            else:
                steps.add([again])
        elif step == "again":
            yield index, isolating.pop(index).finish(evaluator, outcome)


class _Steps:
    """Isolation jobs, ahead of the tasks, ``at_once`` in flight at most (None: all)."""

    def __init__(self, queue: JobQueue, at_once: int | None) -> None:
        self.queue, self.at_once = queue, at_once
        self.waiting: deque[Job] = deque()
        self.running = 0

    def add(self, jobs: list[Job]) -> None:
        self.waiting.extend(jobs)
        self._fill()

    def done(self) -> None:
        self.running -= 1
        self._fill()

    def _fill(self) -> None:
        while self.waiting and (self.at_once is None or self.running < self.at_once):
            self.queue.submit(self.waiting.popleft(), first=True)
            self.running += 1


class _Isolation:
    """A task that failed as a whole, on its way through the two steps."""

    def __init__(
        self, task: Task, limit: Callable[[int], float | None], reason: Callable[[Fault], str]
    ) -> None:
        self.task, self.limit, self.reason = task, limit, reason
        self.outcomes: list[EvalBatch | Fault | None] = [None] * len(task.theta)

    def row_jobs(self) -> list[Job]:
        """Step 1: each row alone, at its position."""
        task = self.task
        return [
            Job(("row", task.index, row), task.theta[row : row + 1], task.seed, row, self.limit(1))
            for row in range(len(task.theta))
        ]

    def record(self, row: int, outcome: EvalBatch | Fault) -> bool:
        """Keep row ``row``'s outcome; True once every row has one."""
        self.outcomes[row] = outcome
        return all(o is not None for o in self.outcomes)

    def again_job(self) -> Job | None:
        """Step 2: the task with its culprits failed instead of simulated; None if all are culprits."""
        task, failed = self.task, self.failed
        if len(failed) == len(task.theta):
            return None
        return Job(("again", task.index, 0), task.theta, task.seed, 0, self.limit(len(task.theta)), failed)

    @property
    def culprits(self) -> dict[int, Fault]:
        """Rows that overran or crashed on their own."""
        return {row: o for row, o in enumerate(self.outcomes) if isinstance(o, Fault)}

    @property
    def failed(self) -> dict[int, int]:
        """The culprits' statuses, by row."""
        return {row: fault.status for row, fault in self.culprits.items()}

    def finish(self, evaluator: Evaluator, again: EvalBatch | Fault | None) -> EvalBatch:
        """The task's results, from step 2, else row by row from step 1; with the culprits' reasons."""
        batch = again if isinstance(again, EvalBatch) else EvalBatch.concat(self._rows(evaluator))
        batch.faults = {row: self.reason(fault) for row, fault in self.culprits.items()}
        return batch

    def _rows(self, evaluator: Evaluator) -> list[EvalBatch]:
        seed = self.task.seed
        return [
            o if isinstance(o, EvalBatch) else evaluator(one, seed, failed={0: cast(Fault, o).status})
            for one, o in zip(self.task.theta, self.outcomes, strict=True)
        ]
