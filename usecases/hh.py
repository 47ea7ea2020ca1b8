"""UC1 of the Neuroptimus suite: three conductances of a Hodgkin–Huxley soma.

Model and protocol: Mohácsi et al. 2024 (shared/docs/USECASES.md, "UC1"). The
surrogate target was made by this model with gnabar 0.12, gkbar 0.036,
gl 0.0003 S/cm². Conductances span up to three decades, so the prior is
log-uniform over the Neuroptimus bounds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from priors import Parameter, Prior
from simulators import HHSomaNeuron
from simulators.batched_hh import HHSomaBatched
from summaries import EfelFeatures, Feature, TraceCost
from summaries.batched_features import BatchedEfelFeatures
from usecases.base import Target, UseCase, surrogate_trace_target

NAME = "hh"
# NEURON (the Neuroptimus model) is the default; "batched" is the compiled kernel that reproduces it.
BACKENDS = ("neuron", "batched")
DATA_FILE = "neuroptimus/uc1_hh/target_voltage.dat"
GROUND_TRUTH = {"gnabar_hh": 0.12, "gkbar_hh": 0.036, "gl_hh": 0.0003}

PRIOR = Prior(
    [
        Parameter("gnabar_hh", "S/cm2", 0.001, 1.0, "log", "maximal Na conductance"),
        Parameter("gkbar_hh", "S/cm2", 0.001, 1.0, "log", "maximal K conductance"),
        Parameter("gl_hh", "S/cm2", 1e-5, 1e-3, "log", "leak conductance"),
    ]
)

STIM_START_MS, STIM_DUR_MS = 200.0, 500.0
DT_MS = 0.025  # NEURON's step; the batched features reproduce eFEL at this interp_step only
# Coarsest sampling of a user's target file: the shipped target subsampled to 0.2 ms moves the AP
# half-width by 1.7% and every other feature by less (0.3 ms: 3.6%, 0.5 ms: 8.8%, 1 ms: 120%).
MAX_TARGET_STEP_MS = 0.2

# Chosen to identify the three conductances: spiking (count, timing, regularity)
# constrains gNa/gK, spike shape (amplitude, width, AHP) their ratio, and the
# resting and steady-state voltages the leak. Fill values stand for "no spike".
FEATURES = (
    Feature("spike_count", "Spikecount_stimint", "1", "first", 0.0),
    Feature("time_to_first_spike", "time_to_first_spike", "ms", "first", STIM_DUR_MS),
    Feature("isi_mean", "ISI_values", "ms", "mean", STIM_DUR_MS),
    Feature("isi_cv", "ISI_CV", "1", "first", 0.0),
    Feature("ap_amplitude", "AP_amplitude", "mV", "mean", 0.0),
    Feature("ap_half_width", "spike_half_width", "ms", "mean", 0.0),
    Feature("ahp_depth_abs", "AHP_depth_abs", "mV", "mean", "steady_state_voltage"),
    Feature("voltage_base", "voltage_base", "mV", "first", np.nan),
    Feature("steady_state_voltage", "steady_state_voltage_stimend", "mV", "first", np.nan),
)


def build(
    record_dt_ms: float = 0.025, data_dir: str | Path | None = None, backend: str = "neuron"
) -> UseCase:
    """UC1 with recording at ``record_dt_ms`` (a multiple of the 0.025 ms step).

    ``data_dir`` is not needed to define UC1 (only to load the benchmark target).
    ``backend="batched"`` runs the compiled kernel and computes the features with the
    batched re-implementation of eFEL instead of eFEL itself.
    """
    if backend == "batched" and abs(record_dt_ms - DT_MS) > 1e-12:
        raise ValueError(
            f"hh on the batched backend records every {DT_MS} ms (its features reproduce eFEL at that "
            f"interval); got record_dt_ms {record_dt_ms}. Use --backend neuron for another --record-dt"
        )
    engine = HHSomaBatched if backend == "batched" else HHSomaNeuron
    simulator = engine(record_dt_ms=record_dt_ms, stim_delay_ms=STIM_START_MS, stim_dur_ms=STIM_DUR_MS)
    summary = BatchedEfelFeatures if backend == "batched" else EfelFeatures
    features = summary(
        features=FEATURES,
        stim_start_ms=STIM_START_MS,
        stim_end_ms=STIM_START_MS + STIM_DUR_MS,
        settings={"Threshold": 0.0, "interp_step": DT_MS},
    )
    cost = TraceCost(
        weights={"mse_excl_spikes": 0.25, "spike_count": 0.25, "ap_amplitude": 0.25, "ap_width": 0.25},
        threshold_mV=0.0,
        spike_window_samples=round(1.0 / record_dt_ms),  # ±1 ms (40 samples at 40 kHz)
        stim_start_ms=STIM_START_MS,
        stim_end_ms=STIM_START_MS + STIM_DUR_MS,
        dt_ms=record_dt_ms,
    )

    def load_target(spec: str, data_dir: str | Path | None = data_dir) -> Target:
        truth = np.array([GROUND_TRUTH[n] for n in PRIOR.names])
        return surrogate_trace_target(
            spec, data_dir, simulator, truth, DATA_FILE, "voltage", "mV", MAX_TARGET_STEP_MS
        )

    return UseCase(
        name=NAME,
        title="Hodgkin–Huxley soma, 3 conductances (Neuroptimus UC1, surrogate target)",
        prior=PRIOR,
        simulator=simulator,
        features=features,
        cost=cost,
        load_target=load_target,
        default_target="data",
        ground_truth=GROUND_TRUTH,
        data_files=(DATA_FILE,),
        reference="Mohácsi et al. 2024 PLoS Comput Biol 20:e1012039, use case 1",
        zoom_ms=(STIM_START_MS - 5.0, STIM_START_MS + 55.0),
    )
