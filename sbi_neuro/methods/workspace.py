"""What a method works on: its settings, the problem, and where its simulations are kept.

A ``Workspace`` holds a run's ``RunConfig``, its use case and target, the evaluator that workers
run, and its bank: on disk when the run has a folder (``sbi_neuro.results.folder`` opens one and
resumes it), in memory otherwise. Methods read and write the bank only through it, so a method
is resumable exactly when its workspace has a folder.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np

from sbi_neuro.core.evaluation import Evaluator
from sbi_neuro.execution.bank import Bank, MemoryBank
from sbi_neuro.methods.config import RunConfig
from usecases import Summary, Target, UseCase


@dataclass
class Workspace:
    """A run's settings, problem and simulation bank.

    Attributes:
        config: the settings, with the use case's defaults resolved (backend, recording step).
        usecase: prior, simulator, features, cost.
        target: what is fitted.
        evaluator: simulator + features + cost against the target; what workers run.
        bank: every simulation so far, numbered batches.
        folder: the run folder; None for a run in memory (nothing is written).
        resumed: the folder held this run already.
    """

    config: RunConfig
    usecase: UseCase
    target: Target
    evaluator: Evaluator
    bank: Bank
    folder: Path | None = None
    resumed: bool = False

    def checkpoint(self, name: str) -> Path | None:
        """Where a resumable stage keeps its state (a trained posterior); None without a folder."""
        return None if self.folder is None else self.folder / name

    @cached_property
    def x_o(self) -> np.ndarray:
        """The target's features, with undefined ones filled as for training (ValueError if one stays
        undefined)."""
        return target_features(self.usecase.features, self.target)


def resolved_config(config: RunConfig, usecase: UseCase) -> RunConfig:
    """``config`` with what its defaults resolved to (backend, recording step), so a folder says exactly
    what ran."""
    t = usecase.simulator.t
    return replace(config, record_dt_ms=round(float(t[1] - t[0]), 12), backend=usecase.backend)


def bank_columns(usecase: UseCase) -> dict[str, list[str]]:
    """The names of a bank's columns for ``usecase``."""
    return {
        "theta": usecase.prior.names,
        "x": usecase.features.names,
        "components": list(usecase.cost.names),
    }


def check_target(usecase: UseCase, target: Target, needs_features: bool) -> None:
    """Compute the target's features once, so that a summary that cannot handle the target (or, for
    a Bayesian method, a target without defined features) is refused before any simulation."""
    if target.traces is not None:
        usecase.features(target.t, target.traces[None])
    if needs_features:
        target_features(usecase.features, target)


def in_memory(config: RunConfig, usecase: UseCase, target: Target, needs_features: bool) -> Workspace:
    """A workspace without a folder: the bank lives in memory and nothing is written."""
    check_target(usecase, target, needs_features)
    evaluator = Evaluator(usecase.simulator, usecase.features, usecase.cost, target)
    bank = MemoryBank(bank_columns(usecase))
    return Workspace(resolved_config(config, usecase), usecase, target, evaluator, bank)


def target_features(features: Summary, target: Target) -> np.ndarray:
    """The features of ``target``, filled as for training; ValueError if any stays undefined."""
    if target.x_o is not None:
        raw = np.asarray(target.x_o, dtype=float)
    elif target.traces is not None:
        raw = features(target.t, target.traces[None])[0]
    else:
        raise ValueError(f"target {target.source} has neither traces nor features")
    x_o = features.fill_undefined(raw)
    if not np.all(np.isfinite(x_o)):
        bad = [n for n, v in zip(features.names, x_o, strict=True) if not np.isfinite(v)]
        raise ValueError(
            f"target {target.source}: features {bad} are undefined for the target trace; Bayesian "
            "inference needs every feature of the target (an optimiser, `sbi-neuro fit`, does not)"
        )
    return x_o
