"""UC5 with a compiled batch kernel: the Brian2 network of ``AdExBrian2``, step for step, in numba.

What Brian2 2.9 runs for ``AdExBrian2`` (read from the generated Cython code and
the network loop), in step k at t = k·dt, in SI units (V, S, F, A, s):

1. ``StateMonitor`` (slot "start", 0.2 ms clock, ticking with the 0.025 ms clock
   at every 8th step): records v first, so sample j is the state after step
   8j − 1 (after its reset); sample 0 is V(0).
2. State updater, ``euler`` with ``(unless refractory)``:
   ``not_refractory = timestep(t − lastspike, dt) ≥ timestep(tref, dt)``,
   ``timestep(x, dt) = int64((x + 10⁻³·dt)/dt)``; v (only if not refractory) and
   w (always) are both advanced from the old state; the exp argument uses
   clip(v, −1 V, Vpeak) (NaN passes through); the current is on for
   on_step ≤ timestep(t, dt) = k < off_step.
3. Thresholder: spike if v ≥ Vpeak and not_refractory (this step's value);
   lastspike = t.
4. Resetter: v ← Vreset, w ← w + b.

Arithmetic. Brian2 compiles the generated code with gcc ``-O3 -ffast-math
-march=native``, which rewrites the Euler updates (disassembly of the compiled
state updater on this project's x86-64 machine) into::

    v ← fma(fma(ΔT, e, EL − v), gL, fma(I_on, I_amp, −w))·dt / C + v,  e = exp((clip(v) − Vθ)/ΔT)
    w ← fma(a, v − EL, −w)·dt / τw + w

The kernel evaluates exactly these (``llvm.fma``: one rounding on every CPU), so
its traces are bitwise identical to Brian2's here: measured on 1000 prior draws
(4000 sweeps; 60 draws diverge) plus REGULAR / UNSTABLE / invalid rows, and on
another protocol (a 600 pA and a −50 pA step, 0.1 ms recording, Vpeak markers):
max |ΔV| = 0 mV, identical statuses and messages. The textbook order of Brian2's
source, v + dt·((ΔT·gL)·e + I − (gL·(v − EL) + w))/C, differs from Brian2's
binary by ≤ 6·10⁻¹² mV (200 draws, no spike moved): that is how far a Brian2
compiled elsewhere (other compiler or CPU) may be from this kernel.

Since t = k·dt and lastspike = s·dt, ``timestep(t − lastspike, dt)`` is k − s (the
float error of k·dt is ~10⁻¹⁶·k·dt, far below the 10⁻³·dt shift), so the kernel
compares integer steps; lastspike starts at −10⁴ s as in Brian2 (never
refractory before the first spike). Markers and failure rules are those of
``AdExBrian2``: a spike in step s marks sample (s + 1) // 8 (after that sample's
recording), then ``store_checked_rows`` fails non-finite rows and rows below
−1000 mV. The four sweeps of a parameter set are advanced together (independent
dependency chains keep the core busy: ≈3× faster than one sweep after another).

Speed (one process on this shared 2-core machine, 200 prior draws × 4 sweeps,
1100 ms): 1.4–1.9 ms per parameter set against Brian2's 5.7–8.7 ms in one batch
of 200 (4–5×); 0.38 s against 6.6 s for the 200 in the runner's chunks of 25
(17×: Brian2 pays its Python network loop at every step of every call). The
kernel is serial; the runner's worker processes give the parallelism, as for
every simulator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.core.extending import intrinsic

from simulators.base import STATUS_OK, SimulationResult, screen_rows, theta_batch
from simulators.brian2_adex import PARAMETER_NAMES, AdExBrian2, _invalid_reason, store_checked_rows

# Columns of the SI parameter table passed to the kernel.
_GL, _C, _EL, _VT, _VRESET, _VPEAK, _A, _B, _DELTA_T, _TAU_W = range(10)
_NEVER_SPIKED = -(1 << 62)  # lastspike in steps before the first spike (Brian2: −10⁴ s)


def _fma_typing(typingctx: Any, x: Any, y: Any, z: Any) -> Any:
    """x·y + z with one rounding (``llvm.fma``: the FMA instruction, or libm's fma)."""
    double = ir.DoubleType()

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        fn = builder.module.declare_intrinsic("llvm.fma", [double], ir.FunctionType(double, [double] * 3))
        return builder.call(fn, args)

    return types.float64(types.float64, types.float64, types.float64), codegen


_fma: Any = intrinsic(_fma_typing)


def _si_parameters(theta: np.ndarray) -> np.ndarray:
    """θ (n, 10) in the units of ``PARAMETER_UNITS`` → (n, 10) SI values, with the operations of
    ``_AdExModel.run`` (so the same floats)."""
    p = theta
    out = np.empty((p.shape[0], 10))
    out[:, _GL] = p[:, 0] * 1e-6  # µS
    out[:, _C] = p[:, 1] * p[:, 0] * 1e-9  # C = τm·gL: ms · µS = nF
    out[:, _EL] = p[:, 2] * 1e-3
    out[:, _VT] = p[:, 4] * 1e-3
    out[:, _VRESET] = (p[:, 4] - p[:, 3]) * 1e-3
    out[:, _VPEAK] = (p[:, 4] + 5.0 * p[:, 8]) * 1e-3
    out[:, _A] = p[:, 6] * 1e-9  # nS
    out[:, _B] = p[:, 7] * 1e-9  # nA
    out[:, _DELTA_T] = p[:, 8] * 1e-3
    out[:, _TAU_W] = p[:, 9] * 1e-3
    return out


@numba.njit(cache=True, error_model="numpy")
def _adex_kernel(
    par: np.ndarray,
    ref_steps: np.ndarray,
    marker_mV: np.ndarray,
    amps_A: np.ndarray,
    v_init: float,
    dt: float,
    on_step: int,
    off_step: int,
    record_every: int,
    out: np.ndarray,
) -> None:
    """Fill ``out`` (n, sweeps, T) with v in mV (sample j at step j·record_every), spikes marked."""
    n_samples, n_sweeps = out.shape[2], amps_A.size
    n_steps = n_samples * record_every  # later steps cannot change a recorded sample
    v, w = np.empty(n_sweeps), np.empty(n_sweeps)
    last_spike = np.empty(n_sweeps, dtype=np.int64)
    for row in range(par.shape[0]):
        g_l, c_m, e_l, v_t = par[row, _GL], par[row, _C], par[row, _EL], par[row, _VT]
        v_reset, v_peak, a, b = par[row, _VRESET], par[row, _VPEAK], par[row, _A], par[row, _B]
        delta_t, tau_w = par[row, _DELTA_T], par[row, _TAU_W]
        n_ref, marker = ref_steps[row], marker_mV[row]
        for j in range(n_sweeps):
            v[j], w[j], last_spike[j] = v_init, 0.0, _NEVER_SPIKED
            out[row, j, 0] = v_init * 1e3
        for k in range(n_steps):
            stim_on = 1.0 if on_step <= k < off_step else 0.0
            sample = (k + 1) // record_every  # the sample recorded at the start of step k + 1
            record = sample * record_every == k + 1 and sample < n_samples
            for j in range(n_sweeps):  # independent sweeps, interleaved
                v_old, w_old = v[j], w[j]
                not_refractory = k - last_spike[j] >= n_ref
                v_new = v_old
                if not_refractory:
                    v_clip = v_old  # Brian2's _clip; NaN passes through
                    if v_clip < -1.0:
                        v_clip = -1.0
                    elif v_clip > v_peak:
                        v_clip = v_peak
                    e = math.exp((v_clip - v_t) / delta_t)
                    drive = _fma(_fma(delta_t, e, e_l - v_old), g_l, _fma(stim_on, amps_A[j], -w_old))
                    v_new = (drive * dt) / c_m + v_old
                w_new = (_fma(a, v_old - e_l, -w_old) * dt) / tau_w + w_old
                spiked = not_refractory and v_new >= v_peak
                if spiked:
                    last_spike[j] = k
                    v_new, w_new = v_reset, w_new + b
                v[j], w[j] = v_new, w_new
                if spiked and sample < n_samples:
                    out[row, j, sample] = marker  # the sample at or just before V reached Vpeak
                elif record:
                    out[row, j, sample] = v_new * 1e3


@dataclass(frozen=True)
class AdExBatched(AdExBrian2):
    """UC5 on the compiled kernel: the same fields, protocol and results as ``AdExBrian2``
    (``codegen_target`` is unused)."""

    def __call__(self, theta: np.ndarray, seed: int = 0) -> SimulationResult:
        """Simulate each row of θ (n, 10) under every current step. Deterministic: ``seed`` is unused."""
        theta = theta_batch(theta, len(PARAMETER_NAMES), "UC5")
        n_sweeps, t = len(self.amplitudes_pA), self.t
        result, runnable = screen_rows(theta, t, n_sweeps, _invalid_reason)
        if runnable is None:
            return result
        valid = np.flatnonzero(result.status == STATUS_OK)  # rejected rows are not simulated
        params = theta[valid]
        dt = self.dt_ms * 1e-3
        ref_steps = ((params[:, 5] * 1e-3 + 1e-3 * dt) / dt).astype(np.int64)  # timestep(tref, dt)
        v = np.full((valid.size, n_sweeps, t.size), np.nan)
        with np.errstate(all="ignore"):
            _adex_kernel(
                _si_parameters(params),
                ref_steps,
                self._marker_values(params),
                np.asarray(self.amplitudes_pA) * 1e-12,  # pA → A
                self.v_init_mV * 1e-3,
                dt,
                round(self.stim_start_ms / self.dt_ms),
                round(self.stim_end_ms / self.dt_ms),
                round(self.record_dt_ms / self.dt_ms),
                v,
            )
        if valid.size < theta.shape[0]:  # back to the rows of θ
            v_valid, v = v, np.full(result.traces.shape, np.nan)
            v[valid] = v_valid
        store_checked_rows(result, v, valid, self.divergence_mV)
        return result
