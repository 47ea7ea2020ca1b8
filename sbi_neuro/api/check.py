"""Checks of a finished Bayesian run: posterior predictive check, calibration, connecting paths.

Each opens the run (a folder, or a result in memory), builds the dispatcher its simulations run on
(the run's own executor unless told another) and calls the analysis; for a folder, the results go
to the run's sub-folders and the report is rewritten.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sbi_neuro.analysis.calibration import calibrate
from sbi_neuro.analysis.path_study import path_study
from sbi_neuro.analysis.predictive import posterior_predictive
from sbi_neuro.analysis.structure import analyse_posterior, saved_samples
from sbi_neuro.api.execute import _executor, dispatcher_for, write_report_safely
from sbi_neuro.execution.executors import ExecutorConfig
from sbi_neuro.inference.posterior import TrainedPosterior
from sbi_neuro.methods.outcomes import InferenceResult
from sbi_neuro.methods.workspace import Workspace
from sbi_neuro.registry import method_spec
from sbi_neuro.results.folder import final_posterior, reopen
from sbi_neuro.results.outputs import SAVED_SAMPLES
from usecases import UseCase

Run = str | Path | InferenceResult  # a run folder, or a Bayesian result in memory


@dataclass(frozen=True)
class CheckResult:
    """What ``check`` found; a part not asked for (0 samples) or not applicable is None.

    Attributes:
        predictive: the posterior predictive check's report (``within_tolerance_fraction``,
            ``valid_fraction``, per feature...); also ``RUN/predictive/predictive.json``.
        calibration: the calibration report (``max_coverage_deviation``, SBC, TARP...); also
            ``RUN/calibration/calibration.json``. None for TSNPE (not amortised), with ``notes``.
        structure: the posterior analysis, when it was missing from the run folder.
        report: the rewritten ``report.html`` (None for a run in memory).
        notes: what was skipped and why.
    """

    predictive: dict[str, Any] | None
    calibration: dict[str, Any] | None
    structure: dict[str, Any] | None
    report: Path | None
    notes: list[str]


def check(
    run: Run,
    predictive: int = 100,
    calibration: int = 200,
    samples: int = 1000,
    tolerance: float = 0.1,
    executor: ExecutorConfig | None = None,
    workers: int | None = None,
    index: str | Path | None = None,
    usecase: UseCase | None = None,
) -> CheckResult:
    """Check a Bayesian run's posterior; for a folder, write the results there and rewrite its report.

    Args:
        run: a run folder, or the ``InferenceResult`` of a run in memory.
        predictive: posterior samples simulated for the predictive check (0 skips it).
        calibration: held-out prior simulations for calibration (0 skips it; about 1,000 resolve a
            coverage deviation of 0.05).
        samples: posterior samples per held-out simulation.
        tolerance: a predictive sample fits when every feature is within this many scales.
        executor: where the simulations run; default: where the run ran (its ``config.json``).
        workers: with the default executor, this many workers instead of the run's.
        index: the results index the report compares with.
        usecase: the run's use case when it is not registered by name (built in Python).
    """
    ws, posterior = _open(run, usecase)
    notes: list[str] = []
    structure = None
    with _executor(None, _where(ws, executor, workers)) as chosen:
        dispatcher = dispatcher_for(ws, chosen)
        if ws.folder is not None and not (ws.folder / "analysis" / "structure.json").exists():
            # runs made before the analysis existed
            structure = analyse_posterior(ws, posterior, saved_samples(ws, posterior, SAVED_SAMPLES))
        ppc = (
            posterior_predictive(ws, posterior, dispatcher, predictive, tolerance) if predictive > 0 else None
        )
        cal = None
        if calibration > 0 and not method_spec(ws.config.method).amortised:
            notes.append(
                f"calibration skipped: a {ws.config.method} posterior is trained on a truncated proposal, "
                "not amortised over the prior"
            )
        elif calibration > 0:
            cal = calibrate(ws, posterior, dispatcher, calibration, samples)
    report = write_report_safely(ws.folder, index) if ws.folder is not None else None
    return CheckResult(ppc, cal, structure, report, notes)


def study_paths(
    run: str | Path,
    tolerance: float = 0.1,
    samples: int = 200,
    endpoints: str | None = None,
    executor: ExecutorConfig | None = None,
    workers: int | None = None,
    usecase: UseCase | None = None,
) -> dict[str, Any]:
    """Posterior predictive check of a finished Bayesian run folder, the two fitting samples farthest
    apart (or the two rows of the CSV ``endpoints``), and the paths between them; writes ``RUN/path/``
    and returns its report. Simulations run on ``executor`` (default: where the run ran, with
    ``workers`` workers if given)."""
    ws, posterior = _open(run, usecase)
    with _executor(None, _where(ws, executor, workers)) as chosen:
        return path_study(ws, posterior, dispatcher_for(ws, chosen), tolerance, samples, endpoints)


def _where(ws: Workspace, executor: ExecutorConfig | None, workers: int | None) -> ExecutorConfig:
    """Where a check's simulations run: ``executor``, else the run's own (with ``workers``)."""
    if executor is not None:
        return executor
    return ws.config.execution if workers is None else replace(ws.config.execution, workers=workers)


def _open(run: Run, usecase: UseCase | None) -> tuple[Workspace, TrainedPosterior]:
    """The run's workspace and final posterior."""
    if isinstance(run, InferenceResult):
        return run.workspace, run.posterior.trained
    ws = reopen(run, usecase=usecase)
    if not method_spec(ws.config.method).bayesian:
        raise ValueError(
            f"{ws.folder} holds a {ws.config.method} run, which has no posterior; check a Bayesian run "
            "(sbi-neuro infer)"
        )
    return ws, final_posterior(ws)
