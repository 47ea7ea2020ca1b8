"""UC5 of the Neuroptimus suite in Brian2: an adaptive exponential integrate-and-fire neuron.

Model (Brette & Gerstner 2005, J Neurophysiol 94:3637; shared/docs/USECASES.md "UC5"):

    C dV/dt = −gL (V − EL) + gL ΔT exp((V − Vθ)/ΔT) − w + I
    τw dw/dt = a (V − EL) − w
    V ≥ Vpeak:  V → Vreset,  w → w + b,  V held at Vreset for tref

with C = τm·gL, Vreset = Vθ − (θ−Vreset), Vpeak = Vθ + 5ΔT, V(0) = −60 mV,
w(0) = 0. The original ran NEST's ``aeif_cond_exp`` (synaptic conductances
unused). Protocol: steps of 150, 200, 300 and 600 pA from 100 to 900 ms,
1100 ms, recorded every 0.2 ms (the 5 kHz grid of
``neuroptimus/uc5_adex_ca3/target_voltages.tsv``: sample k is at t = k·0.2 ms,
k = 0..5499; the recorded responses start to deviate at sample 503 = 100.6 ms,
i.e. the recording lags the nominal 100 ms onset by ≈0.5 ms, under 3 samples).

Numerical choices:

- Forward Euler at ``dt_ms`` = 0.025 ms (8 steps per recorded sample). Runge–Kutta
  stages evaluate exp() at trial points past Vpeak and overflow for small ΔT;
  Euler only evaluates the right-hand side at the start of a step, where V < Vpeak
  after the reset. Against a 0.005 ms reference on 200 prior draws, 0.025 ms gave
  the same spike count for 99.6% of the 800 sweeps (all within ±1) and a median
  first-spike time error of 0.01 ms (max 0.06 ms), well below one 0.2 ms sample.
- NEST's guard against exp overflow: the exponential term uses min(V, Vpeak), so
  its argument never exceeds 5 (it is a no-op for V < Vpeak).
- NEST's ``NumericalInstability`` rule: a parameter set whose voltage falls below
  −1000 mV is failed (NEST also checks |w| > 10⁶ pA, which only happens together
  with that voltage runaway; it arises when gL + a < 0, a saddle in the
  subthreshold dynamics, for about 2% of prior draws). Non-finite values and
  invalid parameters (ΔT ≤ 0, Vreset ≥ Vpeak, NaN, ...) fail as well.

Spikes in the recorded trace: the integrate-and-fire voltage never shows an
action potential. NEST records V_reset after a spike; Neuroptimus therefore took
the model's spikes from an explicit spike-time file (sample int(t_spike / 0.2 ms),
±5 samples) instead of threshold crossings. So that the threshold-crossing
detection of ``summaries.spikes`` (threshold 0 mV in the Neuroptimus settings)
finds every spike, the sample containing each spike (the sample at or just before
the time V reached Vpeak) is set to ``spike_marker_mV`` (default +30 mV; ``None``
writes Vpeak, which is below 0 mV for most prior draws). The next sample is at
Vreset (held for tref ≥ 0.5 ms), so each spike is exactly one sample above the
threshold.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulators.base import STATUS_OK, SimulationResult, screen_rows, theta_batch

# θ order and units exactly as shared/docs/USECASES.md ("UC5") lists them.
PARAMETER_NAMES: tuple[str, ...] = (
    "gL",  # leak conductance, µS
    "tau_m",  # membrane time constant, ms (C = tau_m · gL)
    "EL",  # leak reversal, mV
    "theta_minus_Vreset",  # Vθ − Vreset, mV
    "V_theta",  # exponential threshold Vθ, mV
    "t_ref",  # refractory period, ms
    "a",  # subthreshold adaptation, nS
    "b",  # spike-triggered adaptation, nA
    "Delta_T",  # slope factor ΔT, mV
    "tau_w",  # adaptation time constant, ms
)
PARAMETER_UNITS: tuple[str, ...] = ("uS", "ms", "mV", "mV", "mV", "ms", "nS", "nA", "mV", "ms")

CODEGEN_TARGETS = ("cython", "numpy")

# Brian2 objects of this process, built on first use and reused across calls
# (keyed by configuration and batch size); they never cross process boundaries.
_MODELS: dict[Any, Any] = {}
_MAX_CACHED = 4


def select_codegen_target(requested: str) -> str:
    """The Brian2 runtime target to use: ``requested``, or numpy if Cython cannot compile here.

    Measured on this project's 2-core machine (busy): once compiled, Cython is
    1.3–2.6× faster than numpy for UC5 (200 sets × 4 sweeps: 1.3–2.7 s vs 3.4 s)
    and 10–50× for the HH model (200 sets, 120 ms: 0.7–1.0 s vs 36 s). The first
    compilation takes 10–30 s per model and is cached on disk
    (``~/.cython/brian_extensions``, or ``$CYTHON_CACHE_DIR``).
    """
    if requested not in CODEGEN_TARGETS:
        raise ValueError(f"codegen target must be one of {CODEGEN_TARGETS}, got {requested!r}")
    if requested == "cython":
        from brian2.codegen.runtime.cython_rt import CythonCodeObject

        if not CythonCodeObject.is_available():
            warnings.warn("Cython is not usable here; Brian2 falls back to numpy (slower)", stacklevel=2)
            return "numpy"
    return requested


def _check_multiple(name: str, value: float, step: float, step_name: str) -> None:
    ratio = value / step
    if abs(ratio - round(ratio)) > 1e-6:
        raise ValueError(f"{name} ({value}) must be a whole multiple of {step_name} ({step})")


@dataclass(frozen=True)
class AdExBrian2:
    """UC5 simulator: θ (n, 10) in the units of ``PARAMETER_UNITS`` → traces (n, 4, 5500) in mV.

    Args:
        amplitudes_pA: one current step per sweep, pA.
        stim_start_ms, stim_end_ms: the step is on for stim_start_ms ≤ t < stim_end_ms.
        tstop_ms: simulated time; samples are at k·record_dt_ms for k·record_dt_ms < tstop_ms.
        record_dt_ms: recording interval, a whole multiple of ``dt_ms``.
        dt_ms: forward-Euler step.
        v_init_mV: V(0) (w(0) = 0).
        spike_marker_mV: value written at the sample of each spike (``None``: Vpeak).
        divergence_mV: a voltage below this fails the parameter set (NEST's bound).
        codegen_target: Brian2 runtime target, ``"cython"`` (default) or ``"numpy"``.
    """

    amplitudes_pA: tuple[float, ...] = (150.0, 200.0, 300.0, 600.0)
    stim_start_ms: float = 100.0
    stim_end_ms: float = 900.0
    tstop_ms: float = 1100.0
    record_dt_ms: float = 0.2
    dt_ms: float = 0.025
    v_init_mV: float = -60.0
    spike_marker_mV: float | None = 30.0
    divergence_mV: float = -1000.0
    codegen_target: str = "cython"

    def __post_init__(self) -> None:
        for name in ("dt_ms", "record_dt_ms", "tstop_ms"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"AdExBrian2.{name} must be a finite number > 0, got {value}")
        _check_multiple("AdExBrian2.record_dt_ms", self.record_dt_ms, self.dt_ms, "dt_ms")
        _check_multiple("AdExBrian2.tstop_ms", self.tstop_ms, self.record_dt_ms, "record_dt_ms")
        if not self.amplitudes_pA or not all(math.isfinite(a) for a in self.amplitudes_pA):
            raise ValueError(f"AdExBrian2.amplitudes_pA must be finite values, got {self.amplitudes_pA}")
        if not 0 <= self.stim_start_ms < self.stim_end_ms <= self.tstop_ms:
            raise ValueError(
                "AdExBrian2 needs 0 ≤ stim_start_ms < stim_end_ms ≤ tstop_ms, got "
                f"{self.stim_start_ms}, {self.stim_end_ms}, {self.tstop_ms}"
            )
        for name in ("stim_start_ms", "stim_end_ms"):
            _check_multiple(f"AdExBrian2.{name}", getattr(self, name), self.dt_ms, "dt_ms")
        if not math.isfinite(self.v_init_mV):
            raise ValueError(f"AdExBrian2.v_init_mV must be finite, got {self.v_init_mV}")
        if self.spike_marker_mV is not None and not math.isfinite(self.spike_marker_mV):
            raise ValueError(f"AdExBrian2.spike_marker_mV must be finite or None, got {self.spike_marker_mV}")
        if self.codegen_target not in CODEGEN_TARGETS:
            raise ValueError(
                f"AdExBrian2.codegen_target must be one of {CODEGEN_TARGETS}, got {self.codegen_target!r}"
            )
        # tuples keep the frozen dataclass hashable (it keys the model cache)
        object.__setattr__(self, "amplitudes_pA", tuple(float(a) for a in self.amplitudes_pA))

    @property
    def parameter_names(self) -> list[str]:
        return list(PARAMETER_NAMES)

    @property
    def sweep_names(self) -> list[str]:
        return [f"{a:g}pA" for a in self.amplitudes_pA]

    @property
    def t(self) -> np.ndarray:
        """Sample times in ms: k·record_dt_ms, k = 0 .. tstop/record_dt − 1."""
        return np.arange(round(self.tstop_ms / self.record_dt_ms)) * self.record_dt_ms

    def __call__(self, theta: np.ndarray, seed: int = 0) -> SimulationResult:
        """Simulate each row of θ (n, 10) under every current step. Deterministic: ``seed`` is unused."""
        theta = theta_batch(theta, len(PARAMETER_NAMES), "UC5")
        n, n_sweeps, t = theta.shape[0], len(self.amplitudes_pA), self.t
        # Rejected rows run with a valid stand-in (the group size stays n × sweeps).
        result, runnable = screen_rows(theta, t, n_sweeps, _invalid_reason)
        if runnable is None:
            return result
        valid = np.flatnonzero(result.status == STATUS_OK)
        try:
            v, spike_index, spike_step = self._model(n).run(runnable)
        except Exception as err:  # a Brian2 failure is reported per row, never raised
            result.fail(valid, f"Brian2 error: {type(err).__name__}: {err}")
            return result
        v = v.reshape(n, n_sweeps, -1)[:, :, : t.size]
        marker = self._marker_values(runnable)
        steps_per_sample = round(self.record_dt_ms / self.dt_ms)
        # V reaches Vpeak at the end of step s, i.e. at (s + 1)·dt: mark the sample at or before it.
        sample = (spike_step + 1) // steps_per_sample
        keep = sample < t.size
        neuron, sample = spike_index[keep], sample[keep]
        v[neuron // n_sweeps, neuron % n_sweeps, sample] = marker[neuron // n_sweeps]
        store_checked_rows(result, v, valid, self.divergence_mV)
        return result

    def _marker_values(self, theta: np.ndarray) -> np.ndarray:
        if self.spike_marker_mV is not None:
            return np.full(theta.shape[0], self.spike_marker_mV)
        return theta[:, 4] + 5.0 * theta[:, 8]  # Vpeak = Vθ + 5ΔT

    def _model(self, n: int) -> _AdExModel:
        key = (self, n)
        if key not in _MODELS:
            while len(_MODELS) >= _MAX_CACHED:
                _MODELS.pop(next(iter(_MODELS)))
            _MODELS[key] = _AdExModel(self, n)
        return _MODELS[key]


def store_checked_rows(
    result: SimulationResult, v: np.ndarray, rows: np.ndarray, divergence_mV: float
) -> None:
    """Copy the traces ``v[i]`` (sweeps, T) of ``rows`` into ``result``, or fail the row: non-finite
    values, or a voltage below ``divergence_mV`` (shared by every UC5 simulator)."""
    for i in rows:
        row = v[i]
        if not np.all(np.isfinite(row)):
            result.fail([i], "non-finite membrane potential")
        elif row.min() < divergence_mV:
            result.fail(
                [i],
                f"membrane potential diverged below {divergence_mV:g} mV (NEST's numerical "
                "instability bound; gL + a < 0 makes the subthreshold dynamics unstable)",
            )
        else:
            result.traces[i] = row


def _invalid_reason(row: np.ndarray) -> str:
    """Why a parameter set cannot be simulated ("" when it can)."""
    if not np.all(np.isfinite(row)):
        return "non-finite parameter value"
    g_l, tau_m, _, theta_minus_reset, _, t_ref, _, _, delta_t, tau_w = row
    for name, value in (("gL", g_l), ("tau_m", tau_m), ("Delta_T", delta_t), ("tau_w", tau_w)):
        if value <= 0:
            return f"{name} must be > 0, got {value:g}"
    if t_ref < 0:
        return f"t_ref must be ≥ 0, got {t_ref:g}"
    if theta_minus_reset <= -5.0 * delta_t:
        return "Vreset must lie below Vpeak = V_theta + 5 Delta_T"
    return ""


class _AdExModel:
    """The Brian2 network of one (configuration, batch size), in this process."""

    def __init__(self, cfg: AdExBrian2, n: int) -> None:
        import brian2 as b2

        self.b2, self.cfg, self.n = b2, cfg, n
        n_sweeps = len(cfg.amplitudes_pA)
        # Clocks with fixed names: implicit clocks get a new name ("_clock_1", ...) for every
        # model in the process, which changes the generated code and forces a recompilation.
        clock = b2.Clock(dt=cfg.dt_ms * b2.ms, name="adex_uc5_clock")
        record_clock = b2.Clock(dt=cfg.record_dt_ms * b2.ms, name="adex_uc5_record_clock")
        equations = b2.Equations(
            """
            # Brette & Gerstner 2005 eq. 1; exp argument capped at Vpeak as in NEST's aeif models
            dv/dt = (-gL*(v - EL) + gL*DeltaT*exp((clip(v, -1*volt, Vpeak) - VT)/DeltaT)
                     - w + I_stim)/C : volt (unless refractory)
            # Brette & Gerstner 2005 eq. 2
            dw/dt = (a*(v - EL) - w)/tau_w : amp
            # current step, on for on_step <= step < off_step (integer steps: no round-off at the edges)
            I_stim = I_amp*int(timestep(t, dt) >= on_step and timestep(t, dt) < off_step) : amp
            gL : siemens (constant)
            C : farad (constant)
            EL : volt (constant)
            VT : volt (constant)
            Vreset : volt (constant)
            Vpeak : volt (constant)
            tref : second (constant)
            a : siemens (constant)
            b : amp (constant)
            DeltaT : volt (constant)
            tau_w : second (constant)
            I_amp : amp (constant)
            on_step : integer (constant, shared)
            off_step : integer (constant, shared)
            """
        )
        self.group = b2.NeuronGroup(
            n * n_sweeps,
            equations,
            threshold="v >= Vpeak",
            reset="v = Vreset; w += b",  # Brette & Gerstner 2005 eq. 3
            refractory="tref",
            method="euler",
            clock=clock,
            namespace={},
            name="adex_uc5",
        )
        self.group.I_amp = np.tile(np.asarray(cfg.amplitudes_pA), n) * b2.pA
        self.group.on_step = round(cfg.stim_start_ms / cfg.dt_ms)
        self.group.off_step = round(cfg.stim_end_ms / cfg.dt_ms)
        self.voltage = b2.StateMonitor(
            self.group, "v", record=True, clock=record_clock, when="start", name="adex_uc5_v"
        )
        self.spikes = b2.SpikeMonitor(self.group, record=True, name="adex_uc5_spikes")
        self.network = b2.Network(self.group, self.voltage, self.spikes)
        self.network.store("initial")

    def run(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Voltages (n·sweeps, T) in mV, and spike neuron indices and integer steps."""
        b2, cfg, group = self.b2, self.cfg, self.group
        n_sweeps = len(cfg.amplitudes_pA)
        p = np.repeat(theta, n_sweeps, axis=0)  # neuron j = row j // n_sweeps, sweep j % n_sweeps
        self.network.restore("initial")
        b2.prefs.codegen.target = select_codegen_target(cfg.codegen_target)
        group.gL = p[:, 0] * b2.usiemens
        group.C = p[:, 1] * p[:, 0] * b2.nfarad  # C = τm·gL: ms · µS = nF
        group.EL = p[:, 2] * b2.mV
        group.Vreset = (p[:, 4] - p[:, 3]) * b2.mV
        group.VT = p[:, 4] * b2.mV
        group.tref = p[:, 5] * b2.ms
        group.a = p[:, 6] * b2.nsiemens
        group.b = p[:, 7] * b2.nA
        group.DeltaT = p[:, 8] * b2.mV
        group.tau_w = p[:, 9] * b2.ms
        group.Vpeak = (p[:, 4] + 5.0 * p[:, 8]) * b2.mV
        group.v = cfg.v_init_mV * b2.mV
        group.w = 0 * b2.amp
        try:
            with np.errstate(all="ignore"):
                self.network.run(cfg.tstop_ms * b2.ms, namespace={})
            v = np.asarray(self.voltage.v_) * 1e3  # V → mV
            index = np.asarray(self.spikes.i[:], dtype=np.int64)
            step = np.rint(np.asarray(self.spikes.t_) / (cfg.dt_ms * 1e-3)).astype(np.int64)
        finally:
            self.network.restore("initial")  # release the recorded data
        return v, index, step
