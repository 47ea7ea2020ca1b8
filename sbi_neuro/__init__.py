"""sbi_neuro: simulation-based Bayesian inference for neuron models, compared with metaheuristics.

The public API, in the order a modeller meets it:

- the problem: ``Parameter``, ``Prior`` (names, units, bounds, scales), a simulator (``Simulator``
  protocol; ``SimulationResult``), features (``EfelFeatures``, ``Feature``), a cost
  (``TraceCost``), a ``Target``, and the ``UseCase`` that holds them (``get_usecase`` builds a
  registered one by name; ``register_usecase`` adds yours);
- where simulations run: ``ExecutorConfig`` (local processes, Dask or Ray);
- the verbs: ``simulate``, ``infer``, ``fit``, ``compare``, ``check``, ``report``, returning
  ``BankResult``, ``InferenceResult`` (with its ``Posterior``), ``FitResult`` (``BestFit``,
  ``Convergence``, ``Simulations``), ``Comparison``, ``CheckResult``;
- the results index: ``list_runs``, ``record_runs``, ``import_runs``, ``export_runs``.

Names are imported on first use, so ``import sbi_neuro`` (and the command line's start) stays light;
a type checker sees them all.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from priors import Parameter, Prior
    from sbi_neuro.api.catalogue import RunRecord, export_runs, import_runs, list_runs, record_runs
    from sbi_neuro.api.check import CheckResult, check, study_paths
    from sbi_neuro.api.compare import Comparison
    from sbi_neuro.api.verbs import compare, fit, infer, report, simulate
    from sbi_neuro.core.convergence import Convergence
    from sbi_neuro.execution.executors import ExecutorConfig
    from sbi_neuro.inference.settings import NPESettings
    from sbi_neuro.methods.config import RunConfig
    from sbi_neuro.methods.outcomes import (
        BankResult,
        BestFit,
        FitResult,
        InferenceResult,
        Posterior,
        Simulations,
    )
    from sbi_neuro.registry import get_usecase, register_optimizer, register_usecase
    from simulators import SimulationResult, Simulator
    from simulators.errors import DataError
    from summaries import EfelFeatures, Feature, TraceCost
    from usecases import Target, UseCase

_EXPORTS = {
    "Parameter": "priors",
    "Prior": "priors",
    "Simulator": "simulators",
    "SimulationResult": "simulators",
    "DataError": "simulators.errors",
    "EfelFeatures": "summaries",
    "Feature": "summaries",
    "TraceCost": "summaries",
    "Target": "usecases",
    "UseCase": "usecases",
    "get_usecase": "sbi_neuro.registry",
    "register_usecase": "sbi_neuro.registry",
    "register_optimizer": "sbi_neuro.registry",
    "ExecutorConfig": "sbi_neuro.execution.executors",
    "NPESettings": "sbi_neuro.inference.settings",
    "RunConfig": "sbi_neuro.methods.config",
    "simulate": "sbi_neuro.api.verbs",
    "infer": "sbi_neuro.api.verbs",
    "fit": "sbi_neuro.api.verbs",
    "compare": "sbi_neuro.api.verbs",
    "report": "sbi_neuro.api.verbs",
    "check": "sbi_neuro.api.check",
    "study_paths": "sbi_neuro.api.check",
    "CheckResult": "sbi_neuro.api.check",
    "Comparison": "sbi_neuro.api.compare",
    "BankResult": "sbi_neuro.methods.outcomes",
    "BestFit": "sbi_neuro.methods.outcomes",
    "FitResult": "sbi_neuro.methods.outcomes",
    "InferenceResult": "sbi_neuro.methods.outcomes",
    "Posterior": "sbi_neuro.methods.outcomes",
    "Simulations": "sbi_neuro.methods.outcomes",
    "Convergence": "sbi_neuro.core.convergence",
    "RunRecord": "sbi_neuro.api.catalogue",
    "list_runs": "sbi_neuro.api.catalogue",
    "record_runs": "sbi_neuro.api.catalogue",
    "import_runs": "sbi_neuro.api.catalogue",
    "export_runs": "sbi_neuro.api.catalogue",
}

__all__ = [
    "BankResult",
    "BestFit",
    "CheckResult",
    "Comparison",
    "Convergence",
    "DataError",
    "EfelFeatures",
    "ExecutorConfig",
    "Feature",
    "FitResult",
    "InferenceResult",
    "NPESettings",
    "Parameter",
    "Posterior",
    "Prior",
    "RunConfig",
    "RunRecord",
    "SimulationResult",
    "Simulations",
    "Simulator",
    "Target",
    "TraceCost",
    "UseCase",
    "check",
    "compare",
    "export_runs",
    "fit",
    "get_usecase",
    "import_runs",
    "infer",
    "list_runs",
    "record_runs",
    "register_optimizer",
    "register_usecase",
    "report",
    "simulate",
    "study_paths",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'sbi_neuro' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
