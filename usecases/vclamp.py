"""UC2 of the Neuroptimus suite: four parameters of a synapse seen through a voltage clamp.

Model and protocol: Mohácsi et al. 2024 (shared/docs/USECASES.md, "UC2"); the
soma is 17.84 × 17.84 µm (see simulators/neuron_vclamp.py for why). The
surrogate target was made with weight 0.01 µS, delay 2 ms, tau_rise 0.3 ms and
tau_decay 3 ms. Features: the clamp current sampled around the first of the
four identical synaptic events (every 0.5 ms over 12 ms, then sparser), which
fixes the amplitude, onset, rise and decay.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from priors import Parameter, Prior
from simulators.batched_vclamp import VClampSynapseBatched
from simulators.neuron_vclamp import VClampSynapseNeuron
from summaries import TraceCost
from summaries.trace_stats import TraceSamples
from usecases.base import Target, UseCase, surrogate_trace_target

NAME = "vclamp"
BACKENDS = ("neuron", "batched")  # "batched": the compiled kernel that reproduces NEURON
DATA_FILE = "neuroptimus/uc2_vclamp/target_clamp_current.dat"
GROUND_TRUTH = {"weight": 0.01, "delay": 2.0, "tau_rise": 0.3, "tau_decay": 3.0}
FIRST_EVENT_MS = 100.0
# Coarsest sampling of a user's target file: the shipped target subsampled to 0.2 ms moves the
# steepest sampled feature (the current at 102.5 ms) by 1.4% (0.3 ms: 3.8%, 1 ms: 47%).
MAX_TARGET_STEP_MS = 0.2

PRIOR = Prior(
    [
        Parameter("weight", "uS", 0.001, 1.0, "log", "synaptic weight (peak conductance scale)"),
        Parameter("delay", "ms", 0.0, 5.0, "linear", "NetCon delay"),
        Parameter("tau_rise", "ms", 0.001, 1.0, "log", "Exp2Syn tau1"),
        Parameter("tau_decay", "ms", 0.1, 5.0, "log", "Exp2Syn tau2"),
    ]
)

SAMPLE_TIMES_MS = (
    50.0,  # holding current before any event
    *(FIRST_EVENT_MS + 0.5 * k for k in range(25)),  # 100–112 ms: onset, rise and peak
    115.0,
    118.0,
    122.0,
    130.0,
)


def build(
    record_dt_ms: float = 0.025,
    data_dir: str | Path | None = None,
    tau_order: str = "adjust",
    backend: str = "neuron",
) -> UseCase:
    """UC2; ``tau_order`` says what tau_rise ≥ tau_decay does (see VClampSynapseNeuron)."""
    engine = VClampSynapseBatched if backend == "batched" else VClampSynapseNeuron
    simulator = engine(record_dt_ms=record_dt_ms, tau_order=tau_order)
    features = TraceSamples(SAMPLE_TIMES_MS, half_window_ms=0.0, quantity="i", unit="nA")
    # MSE only; the threshold is out of reach so no "spikes" are looked for in a current.
    cost = TraceCost(weights={"mse": 1.0}, threshold_mV=1e9, dt_ms=record_dt_ms)

    def load_target(spec: str, data_dir: str | Path | None = data_dir) -> Target:
        truth = np.array([GROUND_TRUTH[n] for n in PRIOR.names])
        return surrogate_trace_target(
            spec, data_dir, simulator, truth, DATA_FILE, "clamp current", "nA", MAX_TARGET_STEP_MS
        )

    return UseCase(
        name=NAME,
        title="Synapse behind a voltage clamp, 4 parameters (Neuroptimus UC2, surrogate target)",
        prior=PRIOR,
        simulator=simulator,
        features=features,
        cost=cost,
        load_target=load_target,
        default_target="data",
        ground_truth=GROUND_TRUTH,
        data_files=(DATA_FILE,),
        reference="Mohácsi et al. 2024 PLoS Comput Biol 20:e1012039, use case 2",
        zoom_ms=(FIRST_EVENT_MS - 2.0, FIRST_EVENT_MS + 25.0),
    )
