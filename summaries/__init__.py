"""Summaries: traces → features for inference, and traces → Neuroptimus error components."""

from summaries.costs import COMPONENTS, FAILED_ERROR, TraceCost, component_labels
from summaries.efel_features import EfelFeatures, Feature, feature_table
from summaries.spikes import Spikes, detect_spikes

__all__ = [
    "COMPONENTS",
    "FAILED_ERROR",
    "EfelFeatures",
    "Feature",
    "Spikes",
    "TraceCost",
    "component_labels",
    "detect_spikes",
    "feature_table",
]
