"""UC2 of the Neuroptimus suite in NEURON: a voltage-clamped HH soma receiving a synapse.

One section "soma" with NEURON's ``hh``; an ``Exp2Syn`` at soma(0.5) (reversal 0 mV)
is driven by a ``NetStim`` (first event 100 ms, every 100 ms, 4 events, no noise)
through a ``NetCon``; an ``SEClamp`` holds soma(0.5) at −70 mV (rs 0.01 MΩ) for the
whole run and its current ``i`` (nA) is recorded. v_init −70 mV, 6.3 °C (NEURON's
default), dt 0.025 ms, tstop 500 ms.

The soma is L = diam = 17.84 µm (area ≈ 1,000 µm²), not UC1's 100 × 10 µm: only
this size reproduces the holding current of the shipped target (−0.0407 nA; the
100 × 10 µm soma holds at −0.128 nA).

Sample grid: NEURON computes the clamp current of step (t, t + dt] at the step's
midpoint, and the target file labels it so. Sample k is the current of step k + 1,
at t = dt/2 + k·record_dt: 0.0125, 0.0375, …, 499.9875 ms (20,000 samples), the time
column of target_clamp_current.dat. Neuroptimus drops the value recorded at t = 0
(finitialize's), which gives the same samples.

tau_rise ≥ tau_decay: ``Exp2Syn`` needs tau1 < tau2 and silently sets
tau1 = 0.9999·tau2 in its INITIAL block. With ``tau_order="adjust"`` (default, what
Neuroptimus' model did) such rows run with that adjustment: the response then
depends on tau_decay only. With ``tau_order="fail"`` they are failed rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulators.base import SimulationResult, simulate_rows, theta_batch
from simulators.neuron_models import live_model

TAU_ORDERS = ("adjust", "fail")


@dataclass(frozen=True)
class VClampSynapseNeuron:
    """UC2 simulator. Times in ms, lengths in µm, voltages in mV, resistance in MΩ.

    Parameters θ, in order: ``weight`` (µS, NetCon weight = peak conductance),
    ``delay`` (ms, NetCon delay), ``tau_rise`` (ms, Exp2Syn tau1), ``tau_decay``
    (ms, Exp2Syn tau2). Output: the SEClamp current (nA, positive = into the cell).
    """

    length_um: float = 17.84
    diam_um: float = 17.84
    v_init_mV: float = -70.0
    hold_mV: float = -70.0
    clamp_rs_MOhm: float = 0.01
    syn_e_mV: float = 0.0
    celsius_degC: float = 6.3
    stim_start_ms: float = 100.0
    stim_interval_ms: float = 100.0
    stim_number: int = 4
    dt_ms: float = 0.025
    record_dt_ms: float = 0.025
    tstop_ms: float = 500.0
    tau_order: str = "adjust"

    def __post_init__(self) -> None:
        for field in (
            "length_um",
            "diam_um",
            "clamp_rs_MOhm",
            "stim_interval_ms",
            "dt_ms",
            "record_dt_ms",
            "tstop_ms",
        ):
            value = getattr(self, field)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"VClampSynapseNeuron.{field} must be > 0, got {value}")
        for field in ("v_init_mV", "hold_mV", "syn_e_mV", "celsius_degC", "stim_start_ms"):
            if not np.isfinite(getattr(self, field)):
                raise ValueError(f"VClampSynapseNeuron.{field} must be finite, got {getattr(self, field)}")
        if self.stim_start_ms < 0:
            raise ValueError(f"VClampSynapseNeuron.stim_start_ms must be >= 0, got {self.stim_start_ms}")
        if not (isinstance(self.stim_number, int) and self.stim_number >= 0):
            raise ValueError(f"VClampSynapseNeuron.stim_number must be an int >= 0, got {self.stim_number!r}")
        if self.tau_order not in TAU_ORDERS:
            raise ValueError(
                f"VClampSynapseNeuron.tau_order must be one of {TAU_ORDERS}, got {self.tau_order!r}"
            )
        for name, value, unit in (
            ("record_dt_ms", self.record_dt_ms, self.dt_ms),
            ("tstop_ms", self.tstop_ms, self.record_dt_ms),
        ):
            ratio = value / unit
            if abs(ratio - round(ratio)) > 1e-9:
                raise ValueError(f"VClampSynapseNeuron.{name} ({value}) must be a whole multiple of {unit}")

    @property
    def parameter_names(self) -> list[str]:
        return ["weight", "delay", "tau_rise", "tau_decay"]

    @property
    def sweep_names(self) -> list[str]:
        return ["clamp_i"]

    @property
    def t(self) -> np.ndarray:
        """Sample times (ms): dt/2 + k·record_dt, k = 0 … tstop/record_dt − 1."""
        n = round(self.tstop_ms / self.record_dt_ms)
        return 0.5 * self.dt_ms + np.arange(n) * self.record_dt_ms

    def __call__(self, theta: np.ndarray, seed: int = 0) -> SimulationResult:
        """Simulate each row of θ (n, 4). Deterministic: ``seed`` is unused."""
        theta = theta_batch(theta, 4, "UC2")
        step = round(self.record_dt_ms / self.dt_ms)
        n = self.t.size
        model = self._model()

        def run_row(row: np.ndarray) -> np.ndarray:
            # Recorded sample j (time j·dt) is the current of step j; sample 0 is finitialize's.
            return model.run(*row)[1 : 1 + n * step : step]

        return simulate_rows(theta, self.t, 1, run_row, self._check, quantity="clamp current")

    def _check(self, row: np.ndarray) -> str:
        """Why a parameter set cannot be simulated ("" if it can)."""
        _, delay, tau_rise, tau_decay = row
        if not np.all(np.isfinite(row)):
            return "non-finite parameter"
        if delay < 0:
            return f"delay must be >= 0 ms, got {delay:g}"
        if tau_rise <= 0 or tau_decay <= 0:
            return f"tau_rise and tau_decay must be > 0 ms, got {tau_rise:g}, {tau_decay:g}"
        if self.tau_order == "fail" and tau_rise >= tau_decay:
            return f"tau_rise ({tau_rise:g} ms) must be < tau_decay ({tau_decay:g} ms)"
        return ""

    def _model(self) -> _VClampModel:
        return live_model(self, _VClampModel)


class _VClampModel:
    """The NEURON objects of one VClampSynapseNeuron configuration, in this process."""

    def __init__(self, cfg: VClampSynapseNeuron) -> None:
        from neuron import h

        self.cfg = cfg
        self.h = h
        self.soma = h.Section(name=f"soma_uc2_{id(self)}")
        self.soma.L = cfg.length_um
        self.soma.diam = cfg.diam_um
        self.soma.nseg = 1
        self.soma.insert("hh")
        self.syn = h.Exp2Syn(self.soma(0.5))
        self.syn.e = cfg.syn_e_mV
        self.source = h.NetStim()
        self.source.start = cfg.stim_start_ms
        self.source.interval = cfg.stim_interval_ms
        self.source.number = cfg.stim_number
        self.source.noise = 0
        self.netcon = h.NetCon(self.source, self.syn)
        self.clamp = h.SEClamp(self.soma(0.5))
        self.clamp.amp1 = cfg.hold_mV
        self.clamp.dur1 = 1e9  # the whole run
        self.clamp.rs = cfg.clamp_rs_MOhm
        self.i = h.Vector()
        self.i.record(self.clamp._ref_i, cfg.dt_ms)
        self.pc = h.ParallelContext()

    def run(self, weight: float, delay: float, tau_rise: float, tau_decay: float) -> np.ndarray:
        h, cfg = self.h, self.cfg
        self.netcon.weight[0] = weight
        self.netcon.delay = delay
        # Exp2Syn's INITIAL sets tau1 = 0.9999·tau2 when tau1 ≥ tau2; both are reset every run.
        self.syn.tau1 = tau_rise
        self.syn.tau2 = tau_decay
        h.dt = cfg.dt_ms
        h.celsius = cfg.celsius_degC  # global: set every run, hh depends on it
        self.pc.set_maxstep(10)
        h.finitialize(cfg.v_init_mV)
        # One step past tstop (round-off in t); the caller trims.
        self.pc.psolve(cfg.tstop_ms + cfg.dt_ms)
        return self.i.as_numpy().copy()
