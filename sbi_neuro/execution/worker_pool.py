"""Worker processes that a hung or crashing simulation cannot take down with it.

Each worker holds the evaluator (sent once, when it starts) and runs one job at a time,
handed to it over its own pipe, so the main process always knows which job a worker
runs. A worker that dies (segfault, abort, ``os._exit``, the out-of-memory killer) or
overruns its job's time limit is killed and replaced, and only that job is reported,
as a ``Fault``; every other job goes on. Workers are forked from multiprocessing's fork
server, which has imported the pipeline once (a replacement starts in about 0.3 s
instead of 2.5 s for a spawned interpreter), and on Linux they die with it
(``PR_SET_PDEATHSIG``), so a killed run leaves no hung simulation behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import pickle
import signal
import sys
import time
import traceback
import weakref
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess

from sbi_neuro.core.evaluation import EvalBatch, Evaluator
from sbi_neuro.execution.faults import Fault, Job
from simulators import STATUS_CRASHED, STATUS_TIMEOUT

STARTUP_TIMEOUT_S = 600.0  # a worker's start: imports and the evaluator, not its first simulation
_PRELOAD = ["sbi_neuro.core.evaluation"]  # what the fork server imports once for every worker
_MAIN_GUARD = (
    "; workers import the main module, so a script that runs simulations must start them under "
    "`if __name__ == '__main__':`"
)


class WorkerError(RuntimeError):
    """A worker could not start, or the evaluation raised: a bug or a broken set-up, not a fault of
    one simulation (simulators record bad parameter sets as failed rows and never raise)."""


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    job: Job | None = None
    deadline: float | None = None


class WorkerPool:
    """``size`` worker processes evaluating jobs with ``evaluator``, each job on its own worker
    (a ``sbi_neuro.execution.faults.JobQueue``).

    ``submit`` queues jobs; ``next_outcome`` hands them to idle workers and returns the next
    finished one with its ``EvalBatch``, or with a ``Fault`` once its worker was killed
    (overran) or found dead, and replaced.
    """

    def __init__(self, evaluator: Evaluator, size: int) -> None:
        if size < 1:
            raise ValueError(f"a worker pool needs at least 1 process, got {size}")
        self._blob = pickle.dumps(evaluator)
        self._context = _context()
        self._queue: deque[Job] = deque()
        self._workers: list[_Worker] = []
        self._closer = weakref.finalize(self, _stop_all, self._workers)
        self._workers.extend(self._start(size))

    @property
    def busy(self) -> bool:
        """Jobs are queued or running."""
        return bool(self._queue) or any(w.job is not None for w in self._workers)

    @property
    def pids(self) -> list[int]:
        """The worker processes' ids."""
        return [w.process.pid for w in self._workers if w.process.pid is not None]

    def submit(self, job: Job, first: bool = False) -> None:
        """Queue ``job``, at the front if ``first``."""
        if first:
            self._queue.appendleft(job)
        else:
            self._queue.append(job)

    def next_outcome(self) -> tuple[Job, EvalBatch | Fault]:
        """The next job to finish, fail or overrun (blocks); raises ``WorkerError`` if one raised."""
        while True:
            self._dispatch()
            running = [w for w in self._workers if w.job is not None]
            if not running:
                raise RuntimeError("next_outcome: no job submitted")
            ready = set(wait([x for w in running for x in (w.conn, w.process.sentinel)], _left(running)))
            now = time.monotonic()
            for worker in running:  # overruns first: a steady flow of results must not delay them
                done = worker.conn in ready or worker.process.sentinel in ready
                if not done and worker.deadline is not None and now >= worker.deadline:
                    limit = worker.job.limit_s if worker.job else None
                    return self._fail(worker, Fault(STATUS_TIMEOUT, f"no result within {limit:g} s"))
            for worker in running:
                if worker.conn in ready or worker.process.sentinel in ready:
                    return self._collect(worker)

    def close(self) -> None:
        """Stop every worker (a running job is killed) and forget queued jobs."""
        self._queue.clear()
        self._closer()

    def _dispatch(self) -> None:
        for worker in self._workers:
            if not self._queue:
                return
            if worker.job is not None:
                continue
            job = self._queue.popleft()
            try:
                worker.conn.send(job)
            except OSError:  # the idle worker died (killed from outside): not the job's fault
                self._queue.appendleft(job)
                self._replace(worker)
                continue
            worker.job = job
            worker.deadline = None if job.limit_s is None else time.monotonic() + job.limit_s

    def _collect(self, worker: _Worker) -> tuple[Job, EvalBatch | Fault]:
        job = worker.job
        assert job is not None
        if worker.conn.poll():
            try:
                kind, value = worker.conn.recv()
            except (EOFError, OSError):  # died before or while sending its result
                pass
            else:
                if kind == "error":
                    raise WorkerError(f"the evaluation raised in a worker process:\n{value}")
                worker.job = worker.deadline = None
                return job, value
        worker.process.join(1.0)
        return self._fail(worker, Fault(STATUS_CRASHED, f"its worker process died ({_exit(worker.process)})"))

    def _fail(self, worker: _Worker, fault: Fault) -> tuple[Job, Fault]:
        job = worker.job
        assert job is not None
        self._replace(worker)
        return job, fault

    def _replace(self, worker: _Worker) -> None:
        _stop(worker)
        self._workers[self._workers.index(worker)] = self._start(1)[0]

    def _start(self, n: int) -> list[_Worker]:
        """``n`` new workers, each ready (evaluator loaded); WorkerError if one cannot start."""
        started: list[_Worker] = []
        try:
            for _ in range(n):
                started.append(self._launch())
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            for worker in started:
                _await_ready(worker, deadline)
        except BaseException:
            _stop_all(started)
            raise
        return started

    def _launch(self) -> _Worker:
        ours, theirs = self._context.Pipe()
        process = self._context.Process(  # type: ignore[attr-defined]
            target=_worker_main, args=(theirs, self._blob), name="sbi_neuro-worker", daemon=True
        )
        try:
            process.start()
        except OSError as error:
            raise WorkerError(f"could not start a worker process ({error}){_MAIN_GUARD}") from error
        finally:
            theirs.close()
        return _Worker(process, ours)


def _await_ready(worker: _Worker, deadline: float) -> None:
    if not worker.conn.poll(max(0.0, deadline - time.monotonic())):
        raise WorkerError(f"a worker process did not start within {STARTUP_TIMEOUT_S:g} s")
    try:
        kind, value = worker.conn.recv()
    except (EOFError, OSError):
        worker.process.join(1.0)
        died = f"a worker process died while starting ({_exit(worker.process)})"
        raise WorkerError(died + _MAIN_GUARD) from None
    if kind != "ready":
        raise WorkerError(f"a worker process could not load the evaluator:\n{value}")


def _left(running: list[_Worker]) -> float | None:
    """Seconds until the first deadline among ``running`` (None: no deadline)."""
    deadlines = [w.deadline for w in running if w.deadline is not None]
    return max(0.0, min(deadlines) - time.monotonic()) if deadlines else None


def _exit(process: BaseProcess) -> str:
    code = process.exitcode
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _stop(worker: _Worker) -> None:
    if worker.process.is_alive():
        worker.process.kill()
    worker.process.join()
    worker.conn.close()


def _stop_all(workers: list[_Worker]) -> None:
    for worker in workers:
        _stop(worker)
    workers.clear()


def _context() -> BaseContext:
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)  # only read when the fork server starts
    return context


def _worker_main(conn: Connection, blob: bytes) -> None:
    """A worker: load the evaluator, then evaluate jobs until the pipe closes."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    try:
        evaluator: Evaluator = pickle.loads(blob)
    except BaseException:
        conn.send(("error", traceback.format_exc()))
        return
    conn.send(("ready", None))
    while True:
        try:
            job: Job = conn.recv()
        except (EOFError, OSError):  # the pool closed
            return
        try:
            result = job.run(evaluator)
        except Exception:
            conn.send(("error", traceback.format_exc()))
        else:
            conn.send(("done", result))


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent (the fork server, or the run) ends."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
