"""The Gonçalves et al. 2020 Hodgkin–Huxley model (8 parameters, M-current, intrinsic noise).

Model, prior and the 7 summary features: Gonçalves et al. 2020 eLife 9:e56261
(shared/docs/USECASES.md). Targets, chosen with the ``cell`` option:

- ``synthetic`` (default): their synthetic protocol (120 ms, step 10–110 ms at
  3.248 µA/cm²) and a target simulated from their ground truth (needs no data);
- an Allen Cell Types specimen id (``sbi-neuro usecases`` lists them): the real
  sweep, with the −14 mV junction potential and the cell's soma area turning the
  injected current into a density; ``--target simulated`` simulates the ground
  truth on that cell's protocol instead.

The Neuroptimus-style cost is our choice (the original study fitted no cost):
MSE excluding spikes, spike count in the stimulus, first-spike latency and AP
amplitude, 0.25 each, spikes at −10 mV as in the features.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from priors import Parameter, Prior
from simulators.batched_hh_goncalves import HHMCurrentBatched
from simulators.brian2_hh_goncalves import GROUND_TRUTH, PARAMETER_NAMES, HHMCurrentBrian2
from summaries import TraceCost
from summaries.hh_features import GoncalvesFeatures
from usecases.allen_data import load_allen_sweep
from usecases.base import Target, UseCase

NAME = "hh_allen"
# The compiled kernel is the default: the original study ran its own compiled (Cython) kernel, and
# ours reproduces the Brian2 reference (noise-free) to 1e-8 mV at 2-3x its speed (5-8x in batches of 25).
BACKENDS = ("batched", "brian2")

# Gonçalves et al.'s uniform prior; V_T and E_leak are held with their physical sign.
PRIOR = Prior(
    [
        Parameter("gbar_Na", "mS/cm2", 0.5, 80.0, "linear", "maximal Na conductance"),
        Parameter("gbar_K", "mS/cm2", 1e-4, 15.0, "linear", "maximal delayed-rectifier K conductance"),
        Parameter("g_leak", "mS/cm2", 1e-4, 0.6, "linear", "leak conductance"),
        Parameter("gbar_M", "mS/cm2", 1e-4, 0.6, "linear", "maximal M-current conductance"),
        Parameter("tau_max", "ms", 50.0, 3000.0, "linear", "M-current time constant scale"),
        Parameter("V_T", "mV", -90.0, -40.0, "linear", "spike-threshold shift of the Na/K rates"),
        Parameter("sigma", "uA/cm2*ms^0.5", 1e-4, 0.15, "linear", "intrinsic noise amplitude"),
        Parameter("E_leak", "mV", -100.0, -35.0, "linear", "leak reversal"),
    ]
)
assert tuple(PRIOR.names) == PARAMETER_NAMES


def build(
    record_dt_ms: float | None = None,
    data_dir: str | Path | None = None,
    cell: str = "synthetic",
    backend: str = "batched",
) -> UseCase:
    """The Gonçalves model on the synthetic protocol, or on the protocol of Allen specimen ``cell``."""
    sweep = None
    engine = HHMCurrentBatched if backend == "batched" else HHMCurrentBrian2
    if str(cell) == "synthetic":
        simulator = engine(record_dt_ms=record_dt_ms)
        stim_end = simulator.stim_end_ms
    else:
        sweep = load_allen_sweep(cell, data_dir)
        simulator = engine(
            dt_ms=sweep.dt_ms,
            duration_ms=float(sweep.t_ms[-1]),
            stim_start_ms=sweep.stim_start_ms,
            stim_end_ms=sweep.stim_end_ms,
            amplitude_uA_per_cm2=sweep.amplitude_uA_per_cm2,
            v_init_mV=float(sweep.v_mV[0]),
            record_dt_ms=record_dt_ms,
        )
        stim_end = sweep.stim_end_ms - sweep.dt_ms  # the t_off Gonçalves et al. gave their features
    t = simulator.t
    features = GoncalvesFeatures(simulator.stim_start_ms, stim_end)
    cost = TraceCost(
        weights={"mse_excl_spikes": 0.25, "spike_count_stim": 0.25, "latency": 0.25, "ap_amplitude": 0.25},
        threshold_mV=-10.0,
        spike_window_samples=round(1.0 / float(t[1] - t[0])),
        stim_start_ms=simulator.stim_start_ms,
        stim_end_ms=simulator.stim_end_ms,
        dt_ms=float(t[1] - t[0]),
    )

    def load_target(spec: str, data_dir: str | Path | None = data_dir) -> Target:
        if spec == "simulated":
            traces = simulator(np.array([GROUND_TRUTH]), seed=0).traces[0]
            return Target(
                t, traces, f"simulated: Gonçalves ground truth, {cell} protocol", from_ground_truth=True
            )
        if spec != "data" or sweep is None:
            raise ValueError(
                "hh_allen targets: 'simulated', or 'data' with --cell SPECIMEN_ID (an Allen sweep); "
                f"got target {spec!r} with cell {cell!r}"
            )
        v = np.interp(t, sweep.t_ms, sweep.v_mV)
        return Target(t, v[None, :], sweep.source)

    return UseCase(
        name=NAME,
        title="Gonçalves et al. 2020 HH model with M-current and noise, 8 parameters (Allen recordings)",
        prior=PRIOR,
        simulator=simulator,
        features=features,
        cost=cost,
        load_target=load_target,
        default_target="simulated" if sweep is None else "data",
        ground_truth=dict(zip(PARAMETER_NAMES, GROUND_TRUTH, strict=True)),
        data_files=("allen_cell_types/index.json and one npz per cell (with --cell)",),
        reference="Gonçalves et al. 2020 eLife 9:e56261; Allen Cell Types Database",
        zoom_ms=(simulator.stim_start_ms - 5.0, simulator.stim_start_ms + 60.0),
    )
