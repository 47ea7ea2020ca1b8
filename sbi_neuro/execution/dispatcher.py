"""Hands parameter batches to an executor and charges every simulation to one counter.

The ``Dispatcher`` is what every method and analysis evaluates through: it cuts batches into
tasks, runs them where its executor runs them (local processes, Dask or Ray), counts the
simulations (the budget every method is charged on), shows progress and records simulations
that hung or crashed their process.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from sbi_neuro.core.evaluation import EvalBatch, Evaluator, Task
from sbi_neuro.core.files import atomic_write_json
from sbi_neuro.core.seeds import batch_seed
from sbi_neuro.execution.executors import Executor, LocalExecutor
from simulators import STATUS_NAMES


class Dispatcher:
    """Evaluates tasks where ``executor`` runs them (default: ``workers`` local processes), as they finish.

    Args:
        evaluator: what to run for each parameter set.
        workers: local worker processes when no ``executor`` is given.
        progress: show a progress bar counting simulations.
        chunk_size: parameter sets per task when ``evaluate`` splits a batch; None
            (default) cuts a batch into up to 8 tasks of at most 25. Never derived from
            ``workers``, so results do not depend on the worker count.
        executor: where tasks run (``sbi_neuro.execution.executors.open_executor``); None: local processes.
        fault_log: a JSON file listing every simulation the executor failed (hung, crashed its
            process) with the reason; kept across resumed sessions. Each fault is also printed.
    """

    def __init__(
        self,
        evaluator: Evaluator,
        workers: int = 1,
        progress: bool = True,
        chunk_size: int | None = None,
        executor: Executor | None = None,
        fault_log: str | Path | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.evaluator = evaluator
        self.workers = workers
        self.progress = progress
        self.chunk_size = chunk_size
        self.executor: Executor = executor if executor is not None else LocalExecutor(workers)
        self.simulations = 0  # the counter every method is charged on
        self.fault_log = None if fault_log is None else Path(fault_log)
        self.faults: list[dict[str, Any]] = _read_faults(self.fault_log)

    def dispatch(self, tasks: Iterable[Task], desc: str = "simulating") -> Iterator[tuple[int, EvalBatch]]:
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
                if batch.faults:
                    self._record_faults(desc, index, batch)
                yield index, batch
        finally:
            bar.close()

    def _record_faults(self, desc: str, index: int, batch: EvalBatch) -> None:
        """Print each failed simulation's reason and add it to the fault log (once per simulation)."""
        for row, reason in sorted(batch.faults.items()):
            fault = {
                "stage": desc,
                "task": index,
                "row": row,
                "status": STATUS_NAMES.get(int(batch.status[row]), str(batch.status[row])),
                "theta": batch.theta[row].tolist(),
                "reason": reason,
            }
            status, theta = fault["status"], fault["theta"]
            warning = f"warning: {desc}: θ = {theta} failed ({status}): {reason}; the run goes on"
            print(warning, file=sys.stderr)
            if fault not in self.faults:
                self.faults.append(fault)
        if self.fault_log is not None:
            atomic_write_json(self.fault_log, self.faults)

    def evaluate(self, theta: np.ndarray, seed: int, desc: str = "simulating") -> EvalBatch:
        """Evaluate one batch, split across the workers, results in input order."""
        size = self.chunk_size or min(25, max(1, math.ceil(theta.shape[0] / 8)))
        starts = range(0, theta.shape[0], size)
        tasks = [Task(i, theta[s : s + size], batch_seed(seed, i)) for i, s in enumerate(starts)]
        done = dict(self.dispatch(tasks, desc))
        return EvalBatch.concat([done[i] for i in range(len(tasks))])


def _read_faults(path: Path | None) -> list[dict[str, Any]]:
    return json.loads(path.read_text()) if path is not None and path.exists() else []


def measure_throughput(
    evaluator: Evaluator, theta: np.ndarray, workers: int, chunk_size: int, executor: Executor | None = None
) -> float:
    """Evaluations per second of ``theta`` through a ``Dispatcher`` (``workers`` local processes, or
    ``executor``).

    The workers are started and warmed up (models built, kernels compiled) before the
    clock starts; tasks hold ``chunk_size`` parameter sets. For benchmarks.
    """
    dispatcher = Dispatcher(evaluator, workers=workers, progress=False, executor=executor)
    dispatcher.executor.warm_up(evaluator, theta[:1])
    tasks = [
        Task(i, theta[s : s + chunk_size], batch_seed(0, i))
        for i, s in enumerate(range(0, len(theta), chunk_size))
    ]
    start = time.perf_counter()
    list(dispatcher.dispatch(tasks))
    return len(theta) / (time.perf_counter() - start)
