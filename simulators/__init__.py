"""Simulators: batches of parameter sets in, traces out (NEURON, Brian2, batched kernels).

Heavier simulators are imported on first use (``from simulators import AdExBrian2``
loads Brian2 only then).
"""

import importlib
import os
from typing import Any

# NEURON prints a "no DISPLAY" warning on import unless told it has no GUI.
os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")

from simulators.base import (
    STATUS_CRASHED,
    STATUS_FAILED,
    STATUS_NAMES,
    STATUS_OK,
    STATUS_TIMEOUT,
    SimulationResult,
    Simulator,
    simulate_part,
)
from simulators.neuron_hh import HHSomaNeuron

# name → module, imported on first access
_LAZY = {
    "AdExBrian2": "brian2_adex",
    "AdExBatched": "batched_adex",
    "CA1DetailedNeuron": "neuron_ca1_detailed",
    "HHMCurrentBrian2": "brian2_hh_goncalves",
    "HHMCurrentBatched": "batched_hh_goncalves",
    "HHSomaBatched": "batched_hh",
    "PassiveMorphologyNeuron": "neuron_passive",
    "VClampSynapseNeuron": "neuron_vclamp",
    "VClampSynapseBatched": "batched_vclamp",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"simulators.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'simulators' has no attribute {name!r}")


__all__ = [
    "STATUS_CRASHED",
    "STATUS_FAILED",
    "STATUS_NAMES",
    "STATUS_OK",
    "STATUS_TIMEOUT",
    "HHSomaNeuron",
    "SimulationResult",
    "Simulator",
    "simulate_part",
    *_LAZY,
]
