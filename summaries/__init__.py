"""Summaries: traces → features for inference, and traces → Neuroptimus error components."""

from summaries.batched_features import BatchedEfelFeatures
from summaries.costs import COMPONENTS, FAILED_ERROR, TraceCost, component_labels
from summaries.efel_features import EfelFeatures, Feature, feature_table
from summaries.feature_stats import FeatureStatCost, FeatureStatistics, FeatureStatSummary
from summaries.hh_features import GoncalvesFeatures
from summaries.pyloric import PyloricFeatures, load_observed
from summaries.pyloric_cost import PyloricCost
from summaries.spikes import Spikes, detect_spikes
from summaries.trace_stats import TraceSamples

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
