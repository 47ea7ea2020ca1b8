"""UC5 of the Neuroptimus suite: an adaptive exponential integrate-and-fire neuron on real CA3 recordings.

Model and protocol: Mohácsi et al. 2024 (shared/docs/USECASES.md, "UC5"); Brian2
replaces the original NEST. Four current steps (150, 200, 300, 600 pA,
100–900 ms) are simulated together; the target is four real CA3 pyramidal cell
responses (5 kHz, 1100 ms). The model marks each spike by one +30 mV sample
(see simulators/brian2_adex.py), so features are about spike counts and timing
and the subthreshold voltage, not spike shape.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from priors import Parameter, Prior
from simulators.batched_adex import AdExBatched
from simulators.brian2_adex import AdExBrian2
from simulators.errors import DataError
from summaries import EfelFeatures, Feature, TraceCost
from summaries.batched_features import BatchedEfelFeatures
from usecases.base import Target, UseCase
from usecases.data import check_units, data_file, read_numeric_table

NAME = "adex"
# Brian2 is the reference (Neuroptimus ran NEST); "batched" is the compiled kernel that reproduces it.
BACKENDS = ("brian2", "batched")
DATA_FILE = "neuroptimus/uc5_adex_ca3/target_voltages.tsv"
STIM_START_MS, STIM_END_MS = 100.0, 900.0
SWEEPS = ("150pA", "200pA", "300pA", "600pA")

# Order and bounds of USECASES.md (boundaries.txt's fourth row is wrong for θ − Vreset).
PRIOR = Prior(
    [
        Parameter("gL", "uS", 0.001, 0.01, "log", "leak conductance"),
        Parameter("tau_m", "ms", 10.0, 100.0, "log", "membrane time constant (C = tau_m * gL)"),
        Parameter("EL", "mV", -70.0, -40.0, "linear", "leak reversal"),
        Parameter("theta_minus_Vreset", "mV", 0.0, 30.0, "linear", "V_theta - V_reset"),
        Parameter("V_theta", "mV", -40.0, -10.0, "linear", "exponential threshold"),
        Parameter("t_ref", "ms", 0.5, 5.0, "linear", "refractory period"),
        Parameter("a", "nS", -5.0, 5.0, "linear", "subthreshold adaptation"),
        Parameter("b", "nA", 0.0, 1.0, "linear", "spike-triggered adaptation"),
        Parameter("Delta_T", "mV", 0.5, 5.0, "linear", "slope factor"),
        Parameter("tau_w", "ms", 10.0, 500.0, "log", "adaptation time constant"),
    ]
)

FEATURES = (
    Feature("spike_count", "Spikecount_stimint", "1", "first", 0.0),
    Feature("time_to_first_spike", "time_to_first_spike", "ms", "first", STIM_END_MS - STIM_START_MS),
    Feature("isi_mean", "ISI_values", "ms", "mean", STIM_END_MS - STIM_START_MS),
    Feature("isi_cv", "ISI_CV", "1", "first", 0.0),
    Feature("voltage_base", "voltage_base", "mV", "first", np.nan),
    Feature("steady_state_voltage", "steady_state_voltage_stimend", "mV", "first", np.nan),
)


def build(record_dt_ms: float = 0.2, data_dir: str | Path | None = None, backend: str = "brian2") -> UseCase:
    """UC5 (recording at 0.2 ms, the data's 5 kHz); ``backend="batched"`` also computes the
    features with the batched re-implementation of eFEL."""
    simulator = (AdExBatched if backend == "batched" else AdExBrian2)(record_dt_ms=record_dt_ms)
    summary = BatchedEfelFeatures if backend == "batched" else EfelFeatures
    features = summary(
        features=FEATURES,
        stim_start_ms=STIM_START_MS,
        stim_end_ms=STIM_END_MS,
        settings={"Threshold": 0.0, "interp_step": record_dt_ms},
        sweep_names=SWEEPS,
    )
    cost = TraceCost(
        weights={"mse_excl_spikes": 1 / 3, "spike_count_stim": 1 / 3, "latency": 1 / 3},
        threshold_mV=0.0,
        spike_window_samples=round(1.0 / record_dt_ms),  # ±1 ms (5 samples at 5 kHz), as Neuroptimus
        stim_start_ms=STIM_START_MS,
        stim_end_ms=STIM_END_MS,
        dt_ms=record_dt_ms,
    )

    def load_target(spec: str, data_dir: str | Path | None = data_dir) -> Target:
        if spec == "simulated":
            raise ValueError("adex has no ground truth to simulate a target from; use 'data' or a file")
        path = data_file(DATA_FILE, data_dir) if spec == "data" else Path(spec)
        traces = load_sweep_table(path, len(SWEEPS), simulator.t.size, record_dt_ms)
        return Target(simulator.t, traces, str(path))

    return UseCase(
        name=NAME,
        title="AdEx neuron, 10 parameters, 4 current steps, real CA3 recordings (Neuroptimus UC5)",
        prior=PRIOR,
        simulator=simulator,
        features=features,
        cost=cost,
        load_target=load_target,
        default_target="data",
        data_files=(DATA_FILE,),
        reference="Mohácsi et al. 2024 PLoS Comput Biol 20:e1012039, use case 5 (NEST there, Brian2 here)",
        zoom_ms=(STIM_START_MS - 10.0, STIM_START_MS + 150.0),
    )


def load_sweep_table(path: Path, n_sweeps: int, n_samples: int, dt_ms: float = 0.2) -> np.ndarray:
    """A table with one voltage column (mV) per sweep and no time column, one row per ``dt_ms``
    → ``(n_sweeps, T)``."""
    layout = (
        f"{n_samples} rows (one every {dt_ms:g} ms from 0 ms) and {n_sweeps} columns "
        "(one voltage column per current step, mV, no time column)"
    )
    data = read_numeric_table(path, "target file", layout)
    if data.shape != (n_samples, n_sweeps):
        raise DataError(f"target file {path} has shape {data.shape}; expected {layout}")
    if not np.all(np.isfinite(data)):
        row = int(np.flatnonzero(~np.isfinite(data).all(axis=1))[0]) + 1
        raise DataError(
            f"target file {path} has NaN or inf values, first at data row {row}; expected {layout}"
        )
    check_units(path, data, "voltage", "mV")
    return data.T.copy()
