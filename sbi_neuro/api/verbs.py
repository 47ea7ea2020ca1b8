"""The verbs of the Python API: objects in, typed results out.

    uc = get_usecase("hh", backend="batched")        # or a UseCase built from its parts
    result = infer(uc, target=uc.target_from("simulated"), budget=2000, seed=1)
    result.posterior.sample(1000)                     # at the target
    fit(uc, method="cmaes", budget=2000).best_fit

Given ``out``, a run keeps a folder: it is resumable (re-run the same call to continue) and ends
with its outputs, report and results-index record. Without ``out`` it runs in memory and writes
nothing. Simulations run where ``executor`` says: local processes by default.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sbi_neuro.api.check import check, study_paths
from sbi_neuro.api.compare import Comparison, compare_runs
from sbi_neuro.api.execute import execute
from sbi_neuro.execution.executors import DEFAULT_SIM_TIMEOUT_S, ExecutorConfig
from sbi_neuro.inference.settings import NPESettings
from sbi_neuro.methods.config import RunConfig
from sbi_neuro.methods.outcomes import BankResult, FitResult, InferenceResult
from sbi_neuro.registry import method_spec
from sbi_neuro.results.report import write_report
from usecases import Target, UseCase
from usecases.base import NO_TARGET

__all__ = ["check", "compare", "fit", "infer", "report", "simulate", "study_paths"]


def default_executor() -> ExecutorConfig:
    """Local worker processes, one per core."""
    return ExecutorConfig("local", None, os.cpu_count() or 1)


def simulate(
    usecase: UseCase,
    n: int,
    *,
    target: Target | str | None = None,
    seed: int = 1,
    out: str | Path | None = None,
    executor: ExecutorConfig | None = None,
    batch_size: int = 100,
    progress: bool = True,
) -> BankResult:
    """``n`` prior simulations of ``usecase`` (a bank), and the evaluations per second reached.

    Their error components are computed against ``target`` (default: the use case's default target, or
    none for a use case that loads no target: then errors are NaN).
    """
    if target is None and usecase.load_target is None:
        target = NO_TARGET
    config = _config(usecase, "prior", n, seed, target, executor, progress, batch_size=batch_size)
    result = execute(config, out, sim_timeout_s=_timeout(executor), usecase=usecase, target=_target(target))
    assert isinstance(result, BankResult)
    return result


def infer(
    usecase: UseCase,
    *,
    target: Target | str | None = None,
    method: str = "npe",
    budget: int = 5000,
    seed: int = 1,
    out: str | Path | None = None,
    executor: ExecutorConfig | None = None,
    npe: NPESettings | None = None,
    progress: bool = True,
    index: str | Path | None = None,
    **settings: Any,
) -> InferenceResult:
    """A Bayesian method on ``usecase``: the posterior at ``target``, its MAP and best fit.

    Args:
        usecase: the problem (``get_usecase(name)``, or built from its parts).
        target: the target itself, or a name the use case loads (``data``, ``simulated``, a file);
            None: the use case's default.
        method: ``npe``, ``tsnpe``, ``npe_cmaes`` or another registered Bayesian method.
        budget: simulations charged to the run, training and best fit included.
        seed: every random choice derives from it.
        out: run folder (resumable); None: in memory.
        executor: where simulations run (default: a local process per core).
        npe: density estimator and training settings.
        progress: progress bars.
        index: results index for a run with a folder.
        settings: other ``RunConfig`` fields (``rounds``, ``first_round``, ``npe_fraction``,
            ``restrict``, ``fit_candidates``, ``posterior_samples``, ``batch_size``...).
    """
    if not method_spec(method).bayesian:
        raise ValueError(f"{method!r} is not a Bayesian method; use fit(..., method={method!r})")
    if npe is not None:
        settings["npe"] = npe
    config = _config(usecase, method, budget, seed, target, executor, progress, **settings)
    result = execute(
        config, out, index, sim_timeout_s=_timeout(executor), usecase=usecase, target=_target(target)
    )
    assert isinstance(result, InferenceResult)
    return result


def fit(
    usecase: UseCase,
    *,
    target: Target | str | None = None,
    method: str = "cmaes",
    budget: int = 5000,
    seed: int = 1,
    out: str | Path | None = None,
    executor: ExecutorConfig | None = None,
    population_size: int = 100,
    progress: bool = True,
    index: str | Path | None = None,
    batch_size: int = 100,
) -> FitResult:
    """An optimiser (``cmaes``, ``pso``, ``de``, ``random``, ``nelder_mead``, ``lbfgsb``, ``nsga2``,
    ``ibea`` or one registered) on ``usecase`` at ``budget`` simulations; the arguments are
    ``infer``'s."""
    if method_spec(method).kind != "optimizer":
        raise ValueError(f"{method!r} is not an optimiser; use infer(..., method={method!r})")
    config = _config(
        usecase,
        method,
        budget,
        seed,
        target,
        executor,
        progress,
        population_size=population_size,
        batch_size=batch_size,
    )
    result = execute(
        config, out, index, sim_timeout_s=_timeout(executor), usecase=usecase, target=_target(target)
    )
    assert isinstance(result, FitResult)
    return result


def compare(
    usecase: UseCase,
    *,
    methods: list[str] | None = None,
    seeds: int | list[int] = 10,
    budget: int = 10_000,
    out: str | Path = "runs/compare",
    target: Target | str | None = None,
    executor: ExecutorConfig | None = None,
    population_size: int = 100,
    progress: bool = True,
    index: str | Path | None = None,
) -> Comparison:
    """Every method (default: all registered) × seed (a count N: seeds 1..N) on ``usecase`` at one
    budget, each run in ``out/USECASE/METHOD/seedN/``; the table, figures and ranking."""
    seed_list = list(range(1, seeds + 1)) if isinstance(seeds, int) else list(seeds)
    base = _config(usecase, "cmaes", budget, 1, target, executor, progress, population_size=population_size)
    return compare_runs(
        base, methods, seed_list, out, index, _timeout(executor), usecase=usecase, target=_target(target)
    )


def report(run: str | Path | FitResult, index: str | Path | None = None) -> Path:
    """Write ``RUN/report.html``, the run on one self-contained page; returns its path."""
    folder = run.folder if isinstance(run, FitResult) else Path(run)
    if folder is None:
        raise ValueError("a run in memory has no folder for its report; run it with out=FOLDER")
    return write_report(folder, index)


def _config(
    usecase: UseCase,
    method: str,
    budget: int,
    seed: int,
    target: Target | str | None,
    executor: ExecutorConfig | None,
    progress: bool,
    **settings: Any,
) -> RunConfig:
    where = executor or default_executor()
    spec = "default" if target is None else target if isinstance(target, str) else target.source
    return RunConfig(
        usecase=usecase.name,
        method=method,
        budget=budget,
        seed=seed,
        target=spec,
        workers=where.workers,
        executor=where.kind,
        scheduler=where.scheduler,
        backend=usecase.backend,  # the recording interval is resolved from the simulator's grid
        options=dict(usecase.options),
        progress=progress,
        **settings,
    )


def _target(target: Target | str | None) -> Target | None:
    return target if isinstance(target, Target) else None


def _timeout(executor: ExecutorConfig | None) -> float | None:
    return DEFAULT_SIM_TIMEOUT_S if executor is None else executor.sim_timeout_s
