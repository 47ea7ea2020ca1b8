"""Summaries: traces → features for inference, and traces → Neuroptimus error components.

Names are imported on first use (``from summaries import EfelFeatures`` loads eFEL then), so that
a module needing one constant does not load numba kernels and scipy.signal.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from summaries.batched_features import BatchedEfelFeatures
    from summaries.costs import COMPONENTS, FAILED_ERROR, TraceCost, component_labels
    from summaries.efel_features import EfelFeatures, Feature, feature_table
    from summaries.feature_stats import FeatureStatCost, FeatureStatistics, FeatureStatSummary
    from summaries.hh_features import GoncalvesFeatures
    from summaries.pyloric import PyloricFeatures, load_observed
    from summaries.pyloric_cost import PyloricCost
    from summaries.spikes import Spikes, detect_spikes
    from summaries.trace_stats import TraceSamples

_MODULES = {
    "BatchedEfelFeatures": "batched_features",
    "COMPONENTS": "costs",
    "FAILED_ERROR": "costs",
    "TraceCost": "costs",
    "component_labels": "costs",
    "EfelFeatures": "efel_features",
    "Feature": "efel_features",
    "feature_table": "efel_features",
    "FeatureStatCost": "feature_stats",
    "FeatureStatistics": "feature_stats",
    "FeatureStatSummary": "feature_stats",
    "GoncalvesFeatures": "hh_features",
    "PyloricFeatures": "pyloric",
    "load_observed": "pyloric",
    "PyloricCost": "pyloric_cost",
    "Spikes": "spikes",
    "detect_spikes": "spikes",
    "TraceSamples": "trace_stats",
}


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return getattr(importlib.import_module(f"summaries.{_MODULES[name]}"), name)
    raise AttributeError(f"module 'summaries' has no attribute {name!r}")


__all__ = [
    "COMPONENTS",
    "FAILED_ERROR",
    "BatchedEfelFeatures",
    "EfelFeatures",
    "Feature",
    "FeatureStatCost",
    "FeatureStatSummary",
    "FeatureStatistics",
    "GoncalvesFeatures",
    "PyloricCost",
    "PyloricFeatures",
    "Spikes",
    "TraceCost",
    "TraceSamples",
    "component_labels",
    "detect_spikes",
    "feature_table",
    "load_observed",
]
