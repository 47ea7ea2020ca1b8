"""The crustacean pyloric network: 31 parameters, a degenerate posterior (Gonçalves et al. 2020).

Model: three single-compartment neurons (AB/PD, LP, PY) with eight currents each and
seven graded synapses (Prinz, Bucher & Marder 2004), in ``simulators.stg_pyloric``.
Features: the 15 rhythm features plus 3 plateau durations (``summaries.pyloric``).
Target: the features of preparation 845_082_0044 (a crab recording, cycle period
1,171 ms; shared/data/stg_pyloric). No ground truth.

Prior (shared/docs/USECASES.md, the prior of Gonçalves et al.): each membrane
conductance uniform between the Prinz 2004 database's minimum and maximum for that
neuron, widened by [100, 2.5, 2, 10, 5, 25, 0.01, 0.01] mS/cm² (order Na, CaT, CaS,
A, KCa, Kd, H, leak) on each side and clipped at 0; each synapse log-uniform over
[1e-8, 1e-3] mS, AB→LP up to 1e-2 mS.

Most prior samples are not pyloric: their features are NaN (with the reason in
``PyloricFeatures.reasons``); inference trains on the pyloric ones only, and the
error of a non-pyloric network is ``FAILED_ERROR``.
"""

from __future__ import annotations

from pathlib import Path

from priors import Parameter, Prior
from simulators.stg_pyloric import PyloricNetwork
from summaries.pyloric import OBSERVED_FILE, PyloricFeatures, load_observed
from summaries.pyloric_cost import PyloricCost
from usecases.base import Target, UseCase
from usecases.data import data_file

NAME = "stg"
BACKENDS = ("batched",)  # the project's compiled network; no NEURON or Brian2 version

CURRENTS = ("Na", "CaT", "CaS", "A", "KCa", "Kd", "H", "leak")
WIDENING = (100.0, 2.5, 2.0, 10.0, 5.0, 25.0, 0.01, 0.01)  # mS/cm², on each side
DATABASE_RANGES = {  # Prinz et al. 2004 model database, mS/cm²: (minima, maxima)
    "AB": ((100, 2.5, 2, 10, 5, 50, 0.01, 0), (400, 5, 6, 50, 10, 125, 0.01, 0)),
    "LP": ((100, 0, 4, 20, 0, 25, 0, 0.02), (100, 0, 10, 50, 5, 100, 0.05, 0.03)),
    "PY": ((100, 2.5, 0, 40, 0, 75, 0, 0), (500, 10, 2, 50, 0, 125, 0.05, 0.03)),
}
SYNAPSES = ("AB_LP", "PD_LP", "AB_PY", "PD_PY", "LP_PD", "LP_PY", "PY_LP")
SYNAPSE_RANGE_MS = (1e-8, 1e-3)
SYNAPSE_HIGH_MS = {"AB_LP": 1e-2}


def _prior() -> Prior:
    parameters = []
    for neuron, (lows, highs) in DATABASE_RANGES.items():
        for current, low, high, widen in zip(CURRENTS, lows, highs, WIDENING, strict=True):
            label = "AB/PD" if neuron == "AB" else neuron
            low, high = round(max(low - widen, 0.0), 6), round(high + widen, 6)
            description = f"maximal {current} conductance of {label}"
            parameters.append(Parameter(f"{neuron}_{current}", "mS/cm2", low, high, "linear", description))
    for synapse in SYNAPSES:
        pre, post = synapse.split("_")
        high = SYNAPSE_HIGH_MS.get(synapse, SYNAPSE_RANGE_MS[1])
        parameters.append(
            Parameter(synapse, "mS", SYNAPSE_RANGE_MS[0], high, "log", f"synapse {pre}→{post} conductance")
        )
    return Prior(parameters)


PRIOR = _prior()

# Spread (SD) of each feature over the pyloric networks of the prior (98 of 10,000 prior samples,
# seed 7): the yardstick of the error and of "within tolerance". Measured by
# benchmarks/stg_feature_scale.py (commands in its docstring).
FEATURE_SCALE: tuple[float, ...] = (
    1010, 987.1, 569.5, 237.5, 383, 487.7, 1009, 1023,  # period, burst durations, gaps, delays (ms)
    0.4586, 0.3387, 0.1446, 0.1717, 0.292, 0.1944, 0.2118,  # duty cycles, phase gaps, phases
    31.42, 59.99, 28.93,  # maximal plateau durations (ms)
)  # fmt: skip


def build(
    data_dir: str | Path | None = None, record_dt_ms: float | None = None, backend: str = "batched"
) -> UseCase:
    """The STG use case; ``record_dt_ms`` overrides the simulator's recording interval."""
    simulator = PyloricNetwork() if record_dt_ms is None else PyloricNetwork(record_dt_ms=record_dt_ms)
    features = PyloricFeatures()
    cost = PyloricCost(names=tuple(features.names), scale=FEATURE_SCALE)

    def load_target(spec: str, data_dir: str | Path | None = data_dir) -> Target:
        if spec == "simulated":
            raise ValueError("stg has no ground truth to simulate a target from; use 'data' or a file")
        path = data_file(OBSERVED_FILE, data_dir) if spec == "data" else Path(spec)
        _, values = load_observed(path)
        return Target(simulator.t, None, str(path), x_o=values)

    return UseCase(
        name=NAME,
        title="Pyloric network of the crab STG, 31 parameters (Prinz et al. 2004; Gonçalves et al. 2020)",
        prior=PRIOR,
        simulator=simulator,
        features=features,
        cost=cost,
        load_target=load_target,
        default_target="data",
        data_files=(OBSERVED_FILE,),
        reference="Prinz, Bucher & Marder 2004 Nat Neurosci 7:1345; Gonçalves et al. 2020 eLife 9:e56261",
        zoom_ms=(1000.0, 4000.0),
    )
