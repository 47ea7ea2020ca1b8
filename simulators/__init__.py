"""Simulators: batches of parameter sets in, traces out (NEURON, Brian2, batched kernels)."""

import os

# NEURON prints a "no DISPLAY" warning on import unless told it has no GUI.
os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")

from simulators.base import (
    STATUS_FAILED,
    STATUS_NAMES,
    STATUS_OK,
    SimulationResult,
    Simulator,
)
from simulators.neuron_hh import HHSomaNeuron

__all__ = [
    "STATUS_FAILED",
    "STATUS_NAMES",
    "STATUS_OK",
    "AdExBrian2",
    "CA1DetailedNeuron",
    "HHMCurrentBrian2",
    "HHSomaNeuron",
    "PassiveMorphologyNeuron",
    "SimulationResult",
    "Simulator",
    "VClampSynapseNeuron",
]
