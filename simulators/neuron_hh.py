"""UC1 of the Neuroptimus suite in NEURON: a Hodgkin–Huxley soma driven by a current step.

One section "soma" (100 × 10 µm, nseg 1) with NEURON's built-in
``hh`` mechanism; the three maximal conductances are the parameters. Runs use
``ParallelContext.psolve`` (compiled fixed-step loop) rather than stdrun's
interpreted ``h.run()``, which is about 4× slower (shared/docs/SBI_NOTES.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulators.base import SimulationResult, simulate_rows, theta_batch
from simulators.neuron_models import live_model


@dataclass(frozen=True)
class HHSomaNeuron:
    """UC1 simulator. All times in ms, lengths in µm, currents in nA.

    Parameters θ (S/cm²), in order: ``gnabar_hh``, ``gkbar_hh``, ``gl_hh``.
    """

    length_um: float = 100.0
    diam_um: float = 10.0
    v_init_mV: float = -65.0
    dt_ms: float = 0.025
    record_dt_ms: float = 0.025
    tstop_ms: float = 1000.0
    stim_amp_nA: float = 0.3
    stim_delay_ms: float = 200.0
    stim_dur_ms: float = 500.0

    def __post_init__(self) -> None:
        for field in ("dt_ms", "record_dt_ms", "tstop_ms", "length_um", "diam_um"):
            if getattr(self, field) <= 0:
                raise ValueError(f"HHSomaNeuron.{field} must be > 0, got {getattr(self, field)}")
        ratio = self.record_dt_ms / self.dt_ms
        if abs(ratio - round(ratio)) > 1e-9:
            raise ValueError(
                f"record_dt_ms ({self.record_dt_ms}) must be a whole multiple of dt_ms ({self.dt_ms})"
            )

    @property
    def sweep_names(self) -> list[str]:
        return ["soma_v"]

    @property
    def t(self) -> np.ndarray:
        n = round(self.tstop_ms / self.record_dt_ms) + 1
        return np.arange(n) * self.record_dt_ms

    def __call__(self, theta: np.ndarray, seed: int = 0) -> SimulationResult:
        """Simulate each row of θ (n, 3). Deterministic: ``seed`` is unused."""
        theta = theta_batch(theta, 3, "UC1")
        model = self._model()  # built first: a bad model file is an error, not a failed row
        return simulate_rows(theta, self.t, 1, lambda row: model.run(*row))

    def _model(self) -> _HHModel:
        return live_model(self, _HHModel)


class _HHModel:
    """The NEURON objects of one HHSomaNeuron configuration, in this process."""

    def __init__(self, cfg: HHSomaNeuron) -> None:
        from neuron import h

        self.cfg = cfg
        self.h = h
        self.soma = h.Section(name=f"soma_uc1_{id(self)}")
        self.soma.L = cfg.length_um
        self.soma.diam = cfg.diam_um
        self.soma.nseg = 1
        self.soma.insert("hh")
        self.stim = h.IClamp(self.soma(0.5))
        self.stim.amp = cfg.stim_amp_nA
        self.stim.delay = cfg.stim_delay_ms
        self.stim.dur = cfg.stim_dur_ms
        self.v = h.Vector()
        self.v.record(self.soma(0.5)._ref_v, cfg.record_dt_ms)
        self.pc = h.ParallelContext()

    def run(self, gna: float, gk: float, gl: float) -> np.ndarray:
        h, cfg, seg = self.h, self.cfg, self.soma(0.5)
        seg.hh.gnabar, seg.hh.gkbar, seg.hh.gl = gna, gk, gl
        h.dt = cfg.dt_ms
        self.pc.set_maxstep(10)
        h.finitialize(cfg.v_init_mV)
        # One step past tstop: t accumulates round-off and may stop just short of
        # tstop, losing the last sample. The caller trims the extra samples.
        self.pc.psolve(cfg.tstop_ms + cfg.dt_ms)
        return self.v.as_numpy().copy()
