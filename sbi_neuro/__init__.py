"""sbi_neuro: simulation-based Bayesian inference for neuron models, compared with metaheuristics.

Public names are imported lazily, so that the stage packages (``usecases``,
``simulators``...) can use ``sbi_neuro.data`` without importing the whole pipeline.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "run": "sbi_neuro.api",
    "DataError": "sbi_neuro.data",
    "resolve_data_dir": "sbi_neuro.data",
    "ExecutorConfig": "sbi_neuro.executors",
    "open_executor": "sbi_neuro.executors",
    "NPESettings": "sbi_neuro.inference",
    "TrainedPosterior": "sbi_neuro.inference",
    "train_npe": "sbi_neuro.inference",
    "RunConfig": "sbi_neuro.runs",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'sbi_neuro' has no attribute {name!r}")
