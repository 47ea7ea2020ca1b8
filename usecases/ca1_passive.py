"""UC3 of the Neuroptimus suite: passive properties of a reconstructed CA1 pyramidal cell.

Model and protocol: Mohácsi et al. 2024 (shared/docs/USECASES.md, "UC3"): the
real morphology with ``pas`` everywhere, the recorded stimulus waveform (a
0.5 nA, 3 ms pulse at 200 ms and a 0.01 nA step 503–1103 ms) and the real
recording (relative to rest) as the target. No ground truth. Options: a user's
own ``morphology`` (SWC or geometry JSON) and ``discretisation`` ("file" or
"d_lambda"). Features: the voltage averaged over 1 ms windows along the pulse
response, the charging and the discharging of the step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from priors import Parameter, Prior
from simulators.batched_passive import PassiveMorphologyBatched
from simulators.neuron_passive import PassiveMorphologyNeuron
from summaries import TraceCost
from summaries.trace_stats import TraceSamples
from usecases.base import Target, UseCase
from usecases.data import data_file, load_two_column_trace, resample

NAME = "ca1_passive"
UC3_FOLDER = "neuroptimus/uc3_ca1_passive"
DATA_FILE = f"{UC3_FOLDER}/target_voltage.dat"
# "batched": the cell's modes from NEURON's own tree, stepped as NEURON steps (file discretisation)
BACKENDS = ("neuron", "batched")
# Coarsest sampling of a user's target file: the features average 1 ms windows (201, 202, ... ms
# after the 3 ms pulse), so each window needs at least two samples.
MAX_TARGET_STEP_MS = 0.5

PRIOR = Prior(
    [
        Parameter("cm", "uF/cm2", 1.0, 10.0, "linear", "specific membrane capacitance"),
        Parameter("Ra", "ohm*cm", 30.0, 3000.0, "log", "axial resistivity"),
        Parameter("g_pas", "S/cm2", 1e-5, 0.01, "log", "leak conductance"),
    ]
)

SAMPLE_TIMES_MS = (
    150.0,  # rest
    201.0, 202.0, 203.0, 204.0, 206.0, 210.0, 220.0, 240.0, 280.0, 350.0,  # pulse response and decay
    510.0, 530.0, 560.0, 620.0, 750.0, 1000.0, 1100.0,  # step: charging to steady state
    1110.0, 1130.0, 1160.0, 1220.0, 1350.0, 1490.0,  # discharge after the step
)  # fmt: skip


def uc3_simulator(
    engine: type[PassiveMorphologyNeuron] = PassiveMorphologyNeuron,
    data_dir: str | Path | None = None,
    swc: bool = False,
    **options: Any,
) -> PassiveMorphologyNeuron:
    """The UC3 simulator (``engine``: NEURON or its batched twin) on the benchmark files: the geometry
    JSON, or the SWC if ``swc``; ``options`` go to the simulator."""
    morphology = "morphology.swc" if swc else "morphology.geometry.json"
    return engine(
        morphology_path=str(data_file(f"{UC3_FOLDER}/{morphology}", data_dir)),
        stimulus_path=str(data_file(f"{UC3_FOLDER}/stimulus_current.dat", data_dir)),
        **options,
    )


def build(
    record_dt_ms: float = 0.05,
    data_dir: str | Path | None = None,
    morphology: str | None = None,
    discretisation: str = "file",
    backend: str = "neuron",
) -> UseCase:
    """UC3 on the benchmark morphology, or on ``morphology`` (an SWC or geometry JSON file)."""
    stimulus = str(data_file(f"{UC3_FOLDER}/stimulus_current.dat", data_dir))
    morphology_path = morphology or str(data_file(f"{UC3_FOLDER}/morphology.geometry.json", data_dir))
    if not Path(morphology_path).is_file():
        from simulators.errors import DataError

        raise DataError(f"morphology file {morphology_path} does not exist")
    engine = PassiveMorphologyBatched if backend == "batched" else PassiveMorphologyNeuron
    simulator = engine(
        morphology_path=str(Path(morphology_path).resolve()),
        stimulus_path=stimulus,
        discretisation=discretisation,
        record_dt_ms=record_dt_ms,
    )
    features = TraceSamples(SAMPLE_TIMES_MS, half_window_ms=0.5, quantity="v", unit="mV")
    cost = TraceCost(weights={"mse": 1.0}, threshold_mV=1e9, dt_ms=record_dt_ms)

    def load_target(spec: str, data_dir: str | Path | None = data_dir) -> Target:
        if spec == "simulated":
            raise ValueError(
                "ca1_passive has no ground truth to simulate a target from; use 'data' or a file"
            )
        t = simulator.t
        path = data_file(DATA_FILE, data_dir) if spec == "data" else Path(spec)
        trace = load_two_column_trace(path, "voltage relative to rest", "mV")
        return Target(t, resample(trace, t, MAX_TARGET_STEP_MS)[None, :], trace.source)

    return UseCase(
        name=NAME,
        title="Passive CA1 pyramidal cell, reconstructed morphology (Neuroptimus UC3, real recording)",
        prior=PRIOR,
        simulator=simulator,
        features=features,
        cost=cost,
        load_target=load_target,
        default_target="data",
        data_files=(
            DATA_FILE,
            f"{UC3_FOLDER}/stimulus_current.dat",
            f"{UC3_FOLDER}/morphology.geometry.json",
        ),
        reference="Mohácsi et al. 2024 PLoS Comput Biol 20:e1012039, use case 3",
        zoom_ms=(195.0, 260.0),
    )
