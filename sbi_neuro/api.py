"""The Python entry point: run a configured inference or fit into a folder."""

from __future__ import annotations

import sys
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any

from sbi_neuro.bayes import run_npe, run_prior
from sbi_neuro.executors import DEFAULT_SIM_TIMEOUT_S, Executor, open_executor
from sbi_neuro.fit import run_optimizer
from sbi_neuro.runner import FAULT_LOG, Runner
from sbi_neuro.runs import RunConfig, open_run
from sbi_neuro.sequential import run_npe_cmaes, run_tsnpe

BAYESIAN = {"npe": run_npe, "tsnpe": run_tsnpe, "npe_cmaes": run_npe_cmaes, "prior": run_prior}


def run(
    config: RunConfig,
    out: str | Path,
    index: str | Path | None = None,
    executor: Executor | None = None,
    sim_timeout_s: float | None = DEFAULT_SIM_TIMEOUT_S,
) -> dict[str, Any]:
    """Run (or continue) ``config`` in the folder ``out``; returns the run summary.

    Simulations run on ``executor`` if given (several runs can share one cluster), else on
    the one ``config.execution`` describes, opened for this run, where a simulation taking
    more than ``sim_timeout_s`` seconds (None: no limit) is recorded as timed out. Simulations
    that hang or crash their process are listed in ``out/faults.json``. A finished fit or
    inference is recorded in the results index ``index`` (default: ``$SBI_NEURO_INDEX``
    or ``runs/index.sqlite``).
    """
    execution = replace(config.execution, sim_timeout_s=sim_timeout_s)  # validated before any file is written
    opened = open_run(config, out)
    where = nullcontext(executor) if executor is not None else open_executor(execution)
    with where as chosen:
        runner = Runner(
            opened.evaluator,
            workers=config.workers,
            progress=config.progress,
            executor=chosen,
            fault_log=opened.folder / FAULT_LOG,
        )
        summary = BAYESIAN.get(config.method, run_optimizer)(opened, runner)
    if config.method != "prior":
        from sbi_neuro.index import ResultsIndex

        with ResultsIndex(index) as results:
            results.record_run(opened.folder)
        write_report_safely(opened.folder, index)
    return summary


def write_report_safely(folder: Path, index: str | Path | None = None) -> Path | None:
    """Write ``RUN/report.html``; a failure is reported on stderr and never fails the finished run."""
    from sbi_neuro.report import write_report

    try:
        return write_report(folder, index)
    except Exception as error:
        print(
            f"warning: could not write {folder}/report.html ({type(error).__name__}: {error}); "
            f"the run's results are complete. Retry with `sbi-neuro report {folder}`.",
            file=sys.stderr,
        )
        return None
