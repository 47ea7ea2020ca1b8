"""Gonçalves et al. 2020 (eLife 9:e56261): single-compartment Hodgkin–Huxley model with M-current, in Brian2.

Model (shared/docs/USECASES.md "Gonçalves et al. 2020"; kinetics of Pospischil
et al. 2008, Biol Cybern 99:427, Na and K_DR rates shifted by V_T; constants as
in mackelab/IdentifyMechanisticModels_2020, ``model/biophys_cython_comp.pyx``):

    C dV/dt = I_inj + σ ξ/√dt − ḡNa m³h (V − E_Na) − ḡK n⁴ (V − E_K) − ḡM p (V − E_K) − g_leak (V − E_leak)

with C = 1 µF/cm², E_Na = 53 mV, E_K = −107 mV, conductances in mS/cm², currents
in µA/cm² and ξ a standard normal number drawn anew each step (σ in µA/cm²·√ms:
the noise current is σ·ξ/√(dt/ms)). Rates in 1/ms, with u = V − V_T in mV:

    α_m = 0.32 (u − 13)/(1 − e^{−(u − 13)/4})     β_m = 0.28 (u − 40)/(e^{(u − 40)/5} − 1)
    α_h = 0.128 e^{−(u − 17)/18}                  β_h = 4/(1 + e^{−(u − 40)/5})
    α_n = 0.032 (u − 15)/(1 − e^{−(u − 15)/5})    β_n = 0.5 e^{−(u − 10)/40}
    p_∞ = 1/(1 + e^{−(V + 35)/10})                τ_p = τ_max/(3.3 e^{(V + 35)/20} + e^{−(V + 35)/20})

θ = (ḡNa, ḡK, g_leak, ḡM [mS/cm²], τ_max [ms], V_T [mV], σ [µA/cm²·√ms], E_leak [mV]).
**Sign convention:** θ holds the physical V_T and E_leak (ground truth
V_T = −60, E_leak = −70). The original parameter vector held −V_T and −E_leak,
so its uniform prior over −V_T ∈ [40, 90] and −E_leak ∈ [35, 100] is the
uniform prior V_T ∈ [−90, −40], E_leak ∈ [−100, −35] here.

Integration: the original's exponential Euler step (its solver named
"forwardeuler"), written as a per-step Brian2 code block (``run_regularly``,
compiled like a state updater): V relaxes towards its instantaneous steady state
V_∞ = (Σ g E + I + σξ/√dt)/Σ g with the factor exp(−dt Σ g / C), the conductances
and the noise taken at the start of the step; then every gate relaxes
exponentially towards its steady state at the *new* V. Brian2's built-in
``exponential_euler`` updates the gates with the old V instead; at dt = 0.01 ms
that moved the fifth spike of the noise-free ground truth by 1 ms, whereas this
scheme matches an independent transcription of the original's step to 1e-12 mV
and is converged (dt = 0.001 ms gives the same spike times to 0.01 ms). The
gates start at their steady state at V(0); V(0) = ``v_init_mV`` (the original
used −70 mV for the synthetic data and the first recorded sample for the Allen
cells), or E_leak.

Protocol defaults are the synthetic protocol of the paper: dt 0.01 ms, 120 ms,
a step from 10 to 110 ms of 5·10⁻⁴ µA over a soma of radius 70 µm
(3.248 µA/cm²). For the Allen recordings the original used the recording's
dt (0.02 ms), 1450 ms and the cell's step density (``usecases.allen_data``).
The current is on for the integer steps round(start/dt) ≤ k < round(end/dt);
sample k (t = k·dt) is V after k steps, the step from k to k + 1 uses the current
of step k, as in the original.

Randomness: ``seed`` seeds Brian2's generator for the batch (numpy's legacy
generator, which Brian2's Cython and numpy targets both draw from); the noise of
a row therefore depends on the seed *and* on the batch (its size and the row's
position). The global numpy random state is restored after each call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulators.base import STATUS_OK, SimulationResult, screen_rows, theta_batch
from simulators.brian2_adex import CODEGEN_TARGETS, select_codegen_target

PARAMETER_NAMES: tuple[str, ...] = (
    "gbar_Na",
    "gbar_K",
    "g_leak",
    "gbar_M",
    "tau_max",
    "V_T",
    "sigma",
    "E_leak",
)
PARAMETER_UNITS: tuple[str, ...] = ("mS/cm2", "mS/cm2", "mS/cm2", "mS/cm2", "ms", "mV", "uA/cm2*ms^0.5", "mV")
GROUND_TRUTH: tuple[float, ...] = (50.0, 5.0, 0.1, 0.07, 600.0, -60.0, 0.1, -70.0)

# Synthetic protocol of Gonçalves et al. 2020: 5e-4 µA over π·(70 µm)².
SYNTHETIC_AMPLITUDE_UA_PER_CM2 = 5e-4 / (math.pi * (70e-4) ** 2)

_MODELS: dict[Any, Any] = {}
_MAX_CACHED = 4


@dataclass(frozen=True)
class HHMCurrentBrian2:
    """Gonçalves HH model: θ (n, 8) → traces (n, 1, T) in mV, one neuron per parameter set.

    Args:
        dt_ms: integration step.
        duration_ms: time of the last sample; samples at k·record_dt_ms, 0 ≤ k·record_dt_ms ≤ duration_ms.
        stim_start_ms, stim_end_ms: current step on for stim_start_ms ≤ t < stim_end_ms.
        amplitude_uA_per_cm2: step amplitude as a current density.
        v_init_mV: V(0) in mV, or ``None`` for V(0) = E_leak of each parameter set.
        record_dt_ms: recording interval (a multiple of dt_ms); ``None`` records every step.
        codegen_target: Brian2 runtime target, ``"cython"`` (default) or ``"numpy"``.
    """

    dt_ms: float = 0.01
    duration_ms: float = 120.0
    stim_start_ms: float = 10.0
    stim_end_ms: float = 110.0
    amplitude_uA_per_cm2: float = SYNTHETIC_AMPLITUDE_UA_PER_CM2
    v_init_mV: float | None = -70.0
    record_dt_ms: float | None = None
    codegen_target: str = "cython"

    def __post_init__(self) -> None:
        for name in ("dt_ms", "duration_ms"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"HHMCurrentBrian2.{name} must be a finite number > 0, got {value}")
        if self.record_dt_ms is not None:
            if not (math.isfinite(self.record_dt_ms) and self.record_dt_ms > 0):
                raise ValueError(
                    f"HHMCurrentBrian2.record_dt_ms must be > 0 or None, got {self.record_dt_ms}"
                )
            _check_multiple("record_dt_ms", self.record_dt_ms, self.dt_ms, "dt_ms")
        _check_multiple("duration_ms", self.duration_ms, self.sample_dt_ms, "the recording interval")
        if not 0 <= self.stim_start_ms <= self.stim_end_ms:
            raise ValueError(
                "HHMCurrentBrian2 needs 0 ≤ stim_start_ms ≤ stim_end_ms, got "
                f"{self.stim_start_ms}, {self.stim_end_ms}"
            )
        if not math.isfinite(self.amplitude_uA_per_cm2):
            raise ValueError(
                f"HHMCurrentBrian2.amplitude_uA_per_cm2 must be finite, got {self.amplitude_uA_per_cm2}"
            )
        if self.v_init_mV is not None and not math.isfinite(self.v_init_mV):
            raise ValueError(f"HHMCurrentBrian2.v_init_mV must be finite or None, got {self.v_init_mV}")
        if self.codegen_target not in CODEGEN_TARGETS:
            raise ValueError(
                f"HHMCurrentBrian2.codegen_target must be one of {CODEGEN_TARGETS}, "
                f"got {self.codegen_target!r}"
            )

    @property
    def parameter_names(self) -> list[str]:
        return list(PARAMETER_NAMES)

    @property
    def sweep_names(self) -> list[str]:
        return ["soma_v"]

    @property
    def sample_dt_ms(self) -> float:
        return self.dt_ms if self.record_dt_ms is None else self.record_dt_ms

    @property
    def t(self) -> np.ndarray:
        """Sample times in ms, 0 to ``duration_ms`` inclusive."""
        return np.arange(round(self.duration_ms / self.sample_dt_ms) + 1) * self.sample_dt_ms

    def __call__(self, theta: np.ndarray, seed: int = 0) -> SimulationResult:
        """Simulate each row of θ (n, 8); the same ``seed`` and batch give the same noise."""
        theta = theta_batch(theta, len(PARAMETER_NAMES), "the HH model")
        n, t = theta.shape[0], self.t
        result, runnable = screen_rows(theta, t, 1, _invalid_reason)
        if runnable is None:
            return result
        valid = np.flatnonzero(result.status == STATUS_OK)
        try:
            v = self._model(n).run(runnable, _brian2_seed(seed))
        except Exception as err:  # a Brian2 failure is reported per row, never raised
            result.fail(valid, f"Brian2 error: {type(err).__name__}: {err}")
            return result
        for i in valid:
            if v.shape[1] < t.size:
                result.fail([i], f"recorded {v.shape[1]} of {t.size} samples")
            elif not np.all(np.isfinite(v[i, : t.size])):
                result.fail([i], "non-finite membrane potential")
            else:
                result.traces[i, 0] = v[i, : t.size]
        return result

    def _model(self, n: int) -> _HHModel:
        key = (self, n)
        if key not in _MODELS:
            while len(_MODELS) >= _MAX_CACHED:
                _MODELS.pop(next(iter(_MODELS)))
            _MODELS[key] = _HHModel(self, n)
        return _MODELS[key]


def _check_multiple(name: str, value: float, step: float, step_name: str) -> None:
    ratio = value / step
    if abs(ratio - round(ratio)) > 1e-6:
        raise ValueError(
            f"HHMCurrentBrian2.{name} ({value}) must be a whole multiple of {step_name} ({step})"
        )


def _brian2_seed(seed: int) -> int:
    """A 32-bit seed for Brian2 (numpy's legacy generator) derived from any non-negative int."""
    if seed < 0:
        raise ValueError(f"seed must be ≥ 0, got {seed}")
    return int(seed) if seed < 2**32 else int(np.random.SeedSequence(seed).generate_state(1)[0])


def _invalid_reason(row: np.ndarray) -> str:
    """Why a parameter set cannot be simulated ("" when it can)."""
    if not np.all(np.isfinite(row)):
        return "non-finite parameter value"
    for name, value in zip(PARAMETER_NAMES[:4], row[:4], strict=True):
        if value < 0:
            return f"{name} must be ≥ 0, got {value:g}"
    if row[2] <= 0:
        return f"g_leak must be > 0, got {row[2]:g}"
    if row[4] <= 0:
        return f"tau_max must be > 0, got {row[4]:g}"
    if row[6] < 0:
        return f"sigma must be ≥ 0, got {row[6]:g}"
    return ""


# Rate functions in 1/ms (as Brian2 expressions of v in volt), one definition used both for
# the steady-state initial values and for the update. x/(exp(x) − 1) is written 1/exprel(x),
# finite at x = 0. Na and K_DR: Traub–Miles rates shifted by V_T (Pospischil et al. 2008);
# M-current: Pospischil et al. 2008, not shifted.
_RATES = {
    "alpha_m": "1.28/exprel(-0.25*(v - VT - 13*mV)/mV)/ms",
    "beta_m": "1.4/exprel(0.2*(v - VT - 40*mV)/mV)/ms",
    "alpha_h": "0.128*exp(-(v - VT - 17*mV)/(18*mV))/ms",
    "beta_h": "4/(1 + exp(-0.2*(v - VT - 40*mV)/mV))/ms",
    "alpha_n": "0.16/exprel(-0.2*(v - VT - 15*mV)/mV)/ms",
    "beta_n": "0.5*exp(-(v - VT - 10*mV)/(40*mV))/ms",
}
_P_INF = "1/(1 + exp(-0.1*(v + 35*mV)/mV))"
_TAU_P = "tau_max/(3.3*exp(0.05*(v + 35*mV)/mV) + exp(-0.05*(v + 35*mV)/mV))"

# One step of the original's exponential Euler scheme (model/biophys_cython_comp.pyx,
# "forwardeuler"): V relaxes towards V_inf with the conductances at the start of the step
# (noise constant over the step), then every gate relaxes towards its steady state at the NEW V.
_STEP = (
    """
g_m3h = gNa*m**3*h
g_n4 = gK*n**4
g_total = g_m3h + g_n4 + gM*p + gL
I_noise = sigma*randn()*sqrt(ms/dt)*(uA/cm**2)
v_inf = (g_m3h*ENa + (g_n4 + gM*p)*EK + gL*EL + I_inj + I_noise)/g_total
v = v_inf + (v - v_inf)*exp(-dt*g_total/Cm)
"""
    + "".join(f"{name}_new = {expr}\n" for name, expr in _RATES.items())
    + "".join(
        f"{x} = alpha_{x}_new/(alpha_{x}_new + beta_{x}_new)"
        f" + ({x} - alpha_{x}_new/(alpha_{x}_new + beta_{x}_new))*exp(-dt*(alpha_{x}_new + beta_{x}_new))\n"
        for x in "mhn"
    )
    + f"p_inf_new = {_P_INF}\n"
    + f"p = p_inf_new + (p - p_inf_new)*exp(-dt/({_TAU_P}))\n"
)


class _HHModel:
    """The Brian2 network of one (configuration, batch size), in this process."""

    def __init__(self, cfg: HHMCurrentBrian2, n: int) -> None:
        import brian2 as b2

        self.b2, self.cfg, self.n = b2, cfg, n
        ms, mV, cm, uA = b2.ms, b2.mV, b2.cm, b2.uA
        rates = "".join(f"{name} = {expr} : Hz\n" for name, expr in _RATES.items())
        equations = b2.Equations(
            """
            v : volt
            m : 1
            h : 1
            n : 1
            p : 1
            # current step on integer steps on_step <= k < off_step
            I_inj = I_amp*int(timestep(t, dt) >= on_step and timestep(t, dt) < off_step) : amp/meter**2
            gNa : siemens/meter**2 (constant)
            gK : siemens/meter**2 (constant)
            gL : siemens/meter**2 (constant)
            gM : siemens/meter**2 (constant)
            tau_max : second (constant)
            VT : volt (constant)
            sigma : 1 (constant)
            EL : volt (constant)
            I_amp : amp/meter**2 (constant, shared)
            on_step : integer (constant, shared)
            off_step : integer (constant, shared)
            """
            + rates
            + f"p_inf = {_P_INF} : 1\n"
        )
        namespace = {
            "Cm": 1 * b2.uF / cm**2,  # membrane capacitance
            "ENa": 53 * mV,  # Na reversal (Gonçalves et al. 2020)
            "EK": -107 * mV,  # K reversal (Gonçalves et al. 2020)
            "mV": mV,
            "ms": ms,
            "uA": uA,
            "cm": cm,
        }
        # Clocks with fixed names: implicit clocks get a new name ("_clock_1", ...) for every
        # model in the process, which changes the generated code and forces a recompilation.
        clock = b2.Clock(dt=cfg.dt_ms * ms, name="hh_m_clock")
        record_clock = b2.Clock(dt=cfg.sample_dt_ms * ms, name="hh_m_record_clock")
        self.group = b2.NeuronGroup(n, equations, clock=clock, namespace=namespace, name="hh_m")
        self.group.I_amp = cfg.amplitude_uA_per_cm2 * uA / cm**2
        self.group.on_step = round(cfg.stim_start_ms / cfg.dt_ms)
        self.group.off_step = round(cfg.stim_end_ms / cfg.dt_ms)
        self.update = self.group.run_regularly(_STEP, clock=clock, when="groups", name="hh_m_step")
        self.voltage = b2.StateMonitor(
            self.group, "v", record=True, clock=record_clock, when="start", name="hh_m_v"
        )
        self.network = b2.Network(self.group, self.update, self.voltage)
        self.network.store("initial")

    def run(self, theta: np.ndarray, seed: int) -> np.ndarray:
        """Voltages (n, T) in mV."""
        b2, cfg, group = self.b2, self.cfg, self.group
        msiemens_cm2 = b2.msiemens / b2.cm**2
        self.network.restore("initial")
        group.gNa = theta[:, 0] * msiemens_cm2
        group.gK = theta[:, 1] * msiemens_cm2
        group.gL = theta[:, 2] * msiemens_cm2
        group.gM = theta[:, 3] * msiemens_cm2
        group.tau_max = theta[:, 4] * b2.ms
        group.VT = theta[:, 5] * b2.mV
        group.sigma = theta[:, 6]
        group.EL = theta[:, 7] * b2.mV
        group.v = (theta[:, 7] if cfg.v_init_mV is None else np.full(len(theta), cfg.v_init_mV)) * b2.mV
        # Gates at steady state at V(0). String assignments run once: numpy avoids compiling them.
        b2.prefs.codegen.target = "numpy"
        group.m = "alpha_m/(alpha_m + beta_m)"
        group.h = "alpha_h/(alpha_h + beta_h)"
        group.n = "alpha_n/(alpha_n + beta_n)"
        group.p = "p_inf"
        b2.prefs.codegen.target = select_codegen_target(cfg.codegen_target)
        n_steps = round(cfg.duration_ms / cfg.dt_ms) + 1  # samples at 0 .. duration inclusive
        numpy_state = np.random.get_state()
        try:
            b2.seed(seed)
            with np.errstate(all="ignore"):
                self.network.run(n_steps * cfg.dt_ms * b2.ms, namespace={})
            return np.asarray(self.voltage.v_) * 1e3  # V → mV
        finally:
            np.random.set_state(numpy_state)
            self.network.restore("initial")  # release the recorded data
