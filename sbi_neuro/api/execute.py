"""Run one configured method: resolve its names, open its folder (or not), run it, write its outputs.

``execute`` is what the command line and ``compare`` call with a ``RunConfig``; the public verbs
(``sbi_neuro.api.verbs``) build the configuration from objects and call it too. With a folder the
run is resumable and ends with its outputs, posterior analysis, results-index record and report;
without one it runs in memory and writes nothing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from pathlib import Path

from sbi_neuro.analysis.structure import analyse_posterior
from sbi_neuro.execution.dispatcher import Dispatcher
from sbi_neuro.execution.executors import DEFAULT_SIM_TIMEOUT_S, Executor, ExecutorConfig, open_executor
from sbi_neuro.methods.config import RunConfig
from sbi_neuro.methods.outcomes import BankResult, FitResult, InferenceResult
from sbi_neuro.methods.workspace import Workspace, in_memory
from sbi_neuro.registry import method_spec, usecase_of
from sbi_neuro.results import layout
from sbi_neuro.results.folder import open_run
from sbi_neuro.results.index import ResultsIndex
from sbi_neuro.results.outputs import SAVED_SAMPLES, write_outputs, write_summary
from sbi_neuro.results.report import write_report
from usecases import Target, UseCase

Result = FitResult | InferenceResult | BankResult


def execute(
    config: RunConfig,
    out: str | Path | None,
    index: str | Path | None = None,
    executor: Executor | None = None,
    sim_timeout_s: float | None = DEFAULT_SIM_TIMEOUT_S,
    usecase: UseCase | None = None,
    target: Target | None = None,
) -> Result:
    """Run (or continue) ``config`` in the folder ``out`` (None: in memory); returns its result.

    Args:
        config: the run's settings; its use case and method are looked up by name unless ``usecase``
            is given (a use case built in Python).
        out: the run folder; re-running into it continues the run.
        index: results index of finished runs (default ``$SBI_NEURO_INDEX`` or ``runs/index.sqlite``).
        executor: an open executor to share (``compare`` runs every run on one cluster); default: the
            one ``config`` describes, opened for this run, where a simulation taking more than
            ``sim_timeout_s`` seconds (None: no limit) is recorded as timed out.
        target: the target itself; default: the one ``config.target`` names.
    """
    spec = method_spec(config.method)
    spec.check(config)
    execution = replace(config.execution, sim_timeout_s=sim_timeout_s)  # validated before any file is written
    if out is not None:
        ws = open_run(config, out, usecase, target)
    else:
        usecase = usecase or usecase_of(config)
        target = target or usecase.target_from(config.target, config.data_dir)
        ws = in_memory(config, usecase, target, spec.bayesian)
    with _executor(executor, execution) as chosen:
        result = spec.run(ws, dispatcher_for(ws, chosen))
    if ws.folder is not None:
        finish(ws, result, index)
    return result


def dispatcher_for(ws: Workspace, executor: Executor | None) -> Dispatcher:
    """The dispatcher of a workspace: its evaluator on ``executor``, faults logged in its folder."""
    fault_log = None if ws.folder is None else ws.folder / layout.FAULT_LOG
    config = ws.config
    return Dispatcher(ws.evaluator, config.workers, config.progress, executor=executor, fault_log=fault_log)


@contextmanager
def _executor(shared: Executor | None, config: ExecutorConfig) -> Iterator[Executor]:
    """``shared`` as it is, or the executor ``config`` describes, opened and closed here."""
    with nullcontext(shared) if shared is not None else open_executor(config) as chosen:
        yield chosen


def finish(ws: Workspace, result: Result, index: str | Path | None = None) -> None:
    """What a run with a folder does at its end: outputs, the posterior analysis of a Bayesian run,
    summary.json, its row in the results index and its report."""
    start = time.perf_counter()
    write_outputs(ws, result)
    if isinstance(result, InferenceResult):
        # ArviZ InferenceData (netCDF), az.summary, constraint ranking, correlations: RUN/analysis/
        theta_map = result.map.theta
        analyse_posterior(ws, result.posterior.trained, result.samples[:SAVED_SAMPLES], theta_map)
        # Of this invocation (a resumed run skips what is already on disk).
        result.summary["stage_wall_s"]["outputs"] = round(time.perf_counter() - start, 1)
    write_summary(ws, result)
    if isinstance(result, BankResult):
        return
    assert ws.folder is not None
    with ResultsIndex(index) as results:
        results.record_run(ws.folder)
    write_report_safely(ws.folder, index)


def write_report_safely(folder: Path, index: str | Path | None = None) -> Path | None:
    """Write ``RUN/report.html``; a failure is reported on stderr and never fails the finished run."""
    try:
        return write_report(folder, index)
    except Exception as error:
        print(
            f"warning: could not write {folder}/report.html ({type(error).__name__}: {error}); "
            f"the run's results are complete. Retry with `sbi-neuro report {folder}`.",
            file=sys.stderr,
        )
        return None
