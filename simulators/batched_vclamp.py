"""UC2 with a compiled batch kernel: NEURON's fixed-step scheme for the clamped synapse, in numba.

The kernel reproduces what NEURON 9 does for ``VClampSynapseNeuron`` (one section,
nseg = 1, ``hh``, an ``Exp2Syn`` fed by a ``NetStim`` through a ``NetCon``, an
``SEClamp``; ``nrn_fixed_step`` with ``secondorder = 0``, run by ``psolve``). Per step
from t to t + dt, in NEURON's order:

1. Events: every NetCon event with arrival time te = spike + delay ≤ t + dt/2 is
   delivered before the step (``deliver_net_events``; events with te ≤ t were already
   delivered at the end of the previous step, which is equivalent). t is accumulated as
   NEURON does (two ``t += dt/2`` per step), so ties at te = t + dt/2 fall as in NEURON.
   NetStim's spikes are s₀ = (start + interval) − interval·(1 − noise) with noise 0,
   then s += interval; ``NET_RECEIVE`` adds weight·factor to A and to B.
2. Currents at the midpoint, mechanisms in NEURON's type order (Exp2Syn, SEClamp, hh):
   each i(v) and its numerical di/dv = (i(v + 0.001) − i(v))/0.001; point-process
   values scaled by 100/area; Exp2Syn and hh subtract from the right-hand side, the
   clamp (an ELECTRODE_CURRENT) adds to it and subtracts its di/dv from the diagonal;
   then the capacitance term 0.001·(1/dt)·cm.
3. The section's three nodes (x = 0 and x = 1 are zero-area nodes coupled through the
   axial resistance, Ra = 35.4 Ω·cm): axial terms, NEURON's triangularisation and back
   substitution (``triang``/``bksub``), v += Δv at every node.
4. States at the new v: hh gates by ``cnexp`` from hh.mod's TABLE, A and B by
   exp2syn.mod's ``cnexp`` update, and SEClamp's ``after_cvode`` ``icur()``
   i = (vc − v)/rs, which is the recorded clamp current.

Recording: NEURON's vector sample j is the current after step j (sample 0 is
finitialize's); the reference keeps samples 1, 1 + r, 1 + 2r, … (r = record_dt/dt),
labelled dt/2 + k·record_dt, and so does the kernel.

Verified against ``VClampSynapseNeuron`` (NEURON 9, tests/test_batched_vclamp.py): on
200 prior samples 199 traces are bitwise identical and one differs in one sample by one
ulp of v (|Δi| = 1.4e-12 nA, relative 3.5e-11); the UC2 features agree exactly. The
ulp flips come from ``cnexp`` (x + (1 − e^{−dt/τ})(x∞ − x)), algebraically but not
bitwise nocmodl's expression; with nocmodl's literal expression every trace tested was
bitwise identical. Delays off the dt grid (1.2345 ms), delay 0, exact ties
te = t + dt/2 (delivered in that step: the test is ≤), non-default protocols (dt,
record_dt, temperature, holding potential, geometry, NetStim timing) and rows that fail
(invalid parameters, tau order, non-finite current) agree the same way. Single process:
about 1.3 ms of CPU per 500 ms simulation, NEURON about 14 ms.

Parallelism: the kernel is serial (one core) and loops over the parameter sets; the
runner's worker processes give the parallelism, as for every simulator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numba
import numpy as np

from simulators.base import SimulationResult, screen_rows, theta_batch
from simulators.batched_hh import E_K_MV, E_LEAK_MV, E_NA_MV, cnexp, hh_rate_table, table_rates
from simulators.neuron_vclamp import VClampSynapseNeuron

# hh.mod's default conductances (S/cm²), which UC2 keeps; NEURON's default Ra and cm.
GNABAR_S_CM2, GKBAR_S_CM2, GL_S_CM2 = 0.12, 0.036, 0.0003
RA_OHM_CM, CM_UF_CM2 = 35.4, 1.0
END_NODE_AREA = 1.0e2  # NEURON's "area" of a zero-area node, so that a·v there is in nA


@numba.njit(cache=True, error_model="numpy")
def _vclamp_kernel(
    theta: np.ndarray,
    table: np.ndarray,
    spikes: np.ndarray,
    v_init: float,
    vc: float,
    rs: float,
    e_syn: float,
    dt: float,
    area: float,
    axial: np.ndarray,
    record_every: int,
    out: np.ndarray,
) -> None:
    """Fill ``out`` (n, T) with the clamp current (nA) after steps 1, 1 + record_every, …

    ``axial`` holds NEURON's (a, b) coefficients of the centre node and of the x = 1 node.
    """
    a1, b1, a2, b2 = axial[0], axial[1], axial[2], axial[3]
    n_samples = out.shape[1]
    n_steps = 1 + (n_samples - 1) * record_every
    n_spikes = spikes.shape[0]
    cfac = 0.001 * (1.0 / dt)
    scale = 1.0e2 / area
    for row in range(theta.shape[0]):
        weight, delay, tau1, tau2 = theta[row, 0], theta[row, 1], theta[row, 2], theta[row, 3]
        # Exp2Syn's INITIAL block.
        if tau1 / tau2 > 0.9999:
            tau1 = 0.9999 * tau2
        if tau1 / tau2 < 1e-9:
            tau1 = tau2 * 1e-9
        tp = (tau1 * tau2) / (tau2 - tau1) * math.log(tau2 / tau1)
        factor = 1.0 / (-math.exp(-tp / tau1) + math.exp(-tp / tau2))
        # exp2syn.mod's cnexp factors; NEURON recomputes the same numbers every step.
        decay_a = 1.0 - math.exp(dt * (-1.0 / tau1))
        decay_b = 1.0 - math.exp(dt * (-1.0 / tau2))
        syn_a = syn_b = 0.0
        v0 = v1 = v2 = v_init  # nodes at x = 0, 0.5, 1
        m, _, h, _, n, _ = table_rates(table, v1)
        t = 0.0
        next_spike = 0
        sample = 0
        for step in range(1, n_steps + 1):
            # 1. Events arriving by t + dt/2.
            t_deliver = t + 0.5 * dt
            while next_spike < n_spikes and spikes[next_spike] + delay <= t_deliver:
                syn_a = syn_a + weight * factor
                syn_b = syn_b + weight * factor
                next_spike += 1
            t = t + 0.5 * dt
            # 2. Currents with their numerical conductances.
            v_probe = v1 + 0.001
            g = syn_b - syn_a
            i_syn = g * (v1 - e_syn)
            g_syn = (g * (v_probe - e_syn) - i_syn) / 0.001
            g_syn *= scale
            i_syn *= scale
            i_clamp = (vc - v1) / rs
            g_clamp = ((vc - v_probe) / rs - i_clamp) / 0.001
            g_clamp *= scale
            i_clamp *= scale
            g_na, g_k = GNABAR_S_CM2 * m * m * m * h, GKBAR_S_CM2 * n * n * n * n
            i_hh = g_na * (v1 - E_NA_MV) + g_k * (v1 - E_K_MV) + GL_S_CM2 * (v1 - E_LEAK_MV)
            i_probe = g_na * (v_probe - E_NA_MV) + g_k * (v_probe - E_K_MV) + GL_S_CM2 * (v_probe - E_LEAK_MV)
            g_hh = (i_probe - i_hh) / 0.001
            rhs1 = -i_syn
            rhs1 += i_clamp
            rhs1 -= i_hh
            d1 = g_syn
            d1 -= g_clamp
            d1 += g_hh
            d1 += cfac * CM_UF_CM2
            # 3. Axial terms (nrn_rhs, nrn_lhs), triang, bksub, update.
            dv = v0 - v1
            rhs1 -= b1 * dv
            rhs0 = a1 * dv
            dv = v1 - v2
            rhs2 = -b2 * dv
            rhs1 += a2 * dv
            d1 -= b1
            d0 = -a1
            d2 = -b2
            d1 -= a2
            p = a2 / d2
            d1 -= p * b2
            rhs1 -= p * rhs2
            p = a1 / d1
            d0 -= p * b1
            rhs0 -= p * rhs1
            rhs0 /= d0
            rhs1 -= b1 * rhs0
            rhs1 /= d1
            rhs2 -= b2 * rhs1
            rhs2 /= d2
            v0 += rhs0
            v1 += rhs1
            v2 += rhs2
            if not math.isfinite(v1):  # the row failed; NaN also must not reach the table lookup
                out[row, sample:] = math.nan
                break
            t = t + 0.5 * dt
            # 4. States at the new v; the clamp current is re-evaluated (after_cvode).
            m_inf, m_tau, h_inf, h_tau, n_inf, n_tau = table_rates(table, v1)
            m, h, n = cnexp(m, m_inf, m_tau, dt), cnexp(h, h_inf, h_tau, dt), cnexp(n, n_inf, n_tau, dt)
            syn_a = syn_a + decay_a * (-syn_a)
            syn_b = syn_b + decay_b * (-syn_b)
            if (step - 1) % record_every == 0:
                out[row, sample] = (vc - v1) / rs
                sample += 1


@dataclass(frozen=True)
class VClampSynapseBatched(VClampSynapseNeuron):
    """UC2 on the compiled kernel: the same protocol, fields and results as ``VClampSynapseNeuron``.

    Parameters θ, in order: ``weight`` (µS), ``delay`` (ms), ``tau_rise`` (ms), ``tau_decay``
    (ms). Output: the SEClamp current (nA).
    """

    def __call__(self, theta: np.ndarray, seed: int = 0) -> SimulationResult:
        """Simulate each row of θ (n, 4). Deterministic: ``seed`` is unused."""
        theta = theta_batch(theta, 4, "UC2")
        t = self.t
        result, runnable = screen_rows(theta, t, 1, self._check)
        if runnable is None:
            return result
        area_um2 = math.pi * self.diam_um * self.length_um
        out = np.empty((theta.shape[0], t.size))
        with np.errstate(all="ignore"):
            _vclamp_kernel(
                runnable, _table(self.celsius_degC), self._spike_times(), self.v_init_mV, self.hold_mV,
                self.clamp_rs_MOhm, self.syn_e_mV, self.dt_ms, area_um2, self._axial(area_um2),
                round(self.record_dt_ms / self.dt_ms), out,
            )  # fmt: skip
        for i in np.flatnonzero(result.status == 0):
            result.store(i, out[i], "clamp current")
        return result

    def _spike_times(self) -> np.ndarray:
        """NetStim's spike times (ms) with noise 0, computed as netstim.mod does."""
        if self.stim_number <= 0:
            return np.empty(0)
        first = max((self.stim_start_ms + self.stim_interval_ms) - self.stim_interval_ms * (1.0 - 0.0), 0.0)
        times = [first]
        for _ in range(self.stim_number - 1):
            times.append(times[-1] + self.stim_interval_ms)
        return np.array(times)

    def _axial(self, area_um2: float) -> np.ndarray:
        """NEURON's (a, b) of the centre node and of the x = 1 node (nrn_area_ri, connection_coef)."""
        r_half = 1e-2 * RA_OHM_CM * (self.length_um / 2) / (math.pi * self.diam_um * self.diam_um / 4.0)  # MΩ
        rinv_centre, rinv_end = 1.0 / (r_half + 0.0), 1.0 / r_half  # µS
        return np.array(
            [
                -1.0e2 * 1.0 * rinv_centre / END_NODE_AREA,  # root node (x = 0) has area 100
                -1.0e2 * rinv_centre / area_um2,
                -1.0e2 * rinv_end / area_um2,
                -1.0e2 * rinv_end / END_NODE_AREA,
            ]
        )


@lru_cache(maxsize=8)
def _table(celsius_degC: float) -> np.ndarray:
    return hh_rate_table(celsius_degC)
