"""UC6 of the Neuroptimus suite: a detailed CA1 pyramidal cell fitted to experimental feature statistics.

Model: the uc6 morphology with the project's own channel models
(simulators/mechanisms/ca1, sources in each .mod file) and the 12 abstract
parameters of USECASES.md ("UC6"). Target: means and SDs of 20 eFEL features
at 6 current steps from real CA1 cells (66 targets); the cost is
Σ weight × |model − mean| / SD, 250 for a missing feature. The features for
inference are the same 66 model values; the observation is the experimental
means. No ground truth. About 8 s per evaluation here: budgets are small.
"""

from __future__ import annotations

from pathlib import Path

from priors import Parameter, Prior
from simulators.neuron_ca1_detailed import MORPHOLOGY_FILE, PARAMETERS, CA1DetailedNeuron
from summaries.feature_stats import FeatureStatCost, FeatureStatistics, FeatureStatSummary
from usecases.base import Target, UseCase
from usecases.data import data_file

NAME = "ca1_detailed"
TARGET_FILE = "neuroptimus/uc6_ca1_detailed/target_features.json"
LINEAR = {"na_shift", "e_leak"}  # the others span one decade or more: log-uniform

PRIOR = Prior(
    [
        Parameter(p.name, p.unit, p.low, p.high, "linear" if p.name in LINEAR else "log", p.description)
        for p in PARAMETERS
    ]
)


def build(record_dt_ms: float = 0.05, data_dir: str | Path | None = None) -> UseCase:
    """UC6; needs the data directory (morphology and target statistics define the problem)."""
    stats = FeatureStatistics.load(data_file(TARGET_FILE, data_dir))
    simulator = CA1DetailedNeuron(
        morphology_path=str(data_file(MORPHOLOGY_FILE, data_dir)),
        record_dt_ms=record_dt_ms,
        amplitudes_nA=stats.amplitudes_nA,
        stim_delay_ms=stats.stim_start_ms,
        stim_dur_ms=stats.stim_end_ms - stats.stim_start_ms,
    )

    def load_target(spec: str, data_dir: str | Path | None = data_dir) -> Target:
        if spec != "data":
            raise ValueError("ca1_detailed is fitted to feature statistics: the only target is 'data'")
        return Target(simulator.t, None, stats.source, x_o=stats.means)

    return UseCase(
        name=NAME,
        title="Detailed CA1 pyramidal cell, 12 parameters, experimental feature statistics (Neuroptimus UC6)",
        prior=PRIOR,
        simulator=simulator,
        features=FeatureStatSummary(stats),
        cost=FeatureStatCost(stats),
        load_target=load_target,
        default_target="data",
        data_files=(TARGET_FILE, MORPHOLOGY_FILE),
        reference="Mohácsi et al. 2024 PLoS Comput Biol 20:e1012039, use case 6",
        zoom_ms=(stats.stim_start_ms - 5.0, stats.stim_start_ms + 60.0),
    )
