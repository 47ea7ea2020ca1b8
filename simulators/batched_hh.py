"""UC1 with a compiled batch kernel: NEURON's fixed-step scheme for the ``hh`` soma, in numba.

The kernel reproduces what NEURON 9 does for one section with nseg = 1, the
built-in ``hh`` mechanism and an ``IClamp`` (``nrn_fixed_step`` with
``secondorder = 0``), so its traces match ``HHSomaNeuron`` to round-off:

1. Currents at the step's midpoint time t + dt/2 (the IClamp is on for
   del ≤ t + dt/2 < del + dur), with the gates of the previous step; the
   membrane conductance is NEURON's numerical di/dv, (i(v + 0.001) − i(v))/0.001.
2. Implicit voltage update: Δv = (I_stim − i_ion(v)) / (10⁻³·cm/dt + di/dv),
   cm = 1 µF/cm², the stimulus as a density (nA · 100 / area in µm² → mA/cm²).
3. Gates by ``cnexp`` at the *new* voltage: x ← x + (1 − e^{−dt/τx})(x∞ − x).
4. Rates from hh.mod's TABLE (``usetable_hh = 1``, NEURON's default): 201 points
   from −100 to 100 mV, linear interpolation, clamped outside.

Parallelism: the kernel is serial (one core) and loops over the parameter sets;
the runner's worker processes give the parallelism, as for every simulator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from simulators.base import SimulationResult, screen_rows, theta_batch
from simulators.neuron_hh import HHSomaNeuron

# hh.mod (NEURON 9): reversal potentials from NEURON's ion defaults, leak reversal of hh.
E_NA_MV, E_K_MV, E_LEAK_MV = 50.0, -77.0, -54.3
TABLE_V_MIN_MV, TABLE_V_MAX_MV, TABLE_STEPS = -100.0, 100.0, 200


def _vtrap(x: float, y: float) -> float:
    """hh.mod's guard against 0/0 in x / (exp(x/y) − 1)."""
    if abs(x / y) < 1e-6:
        return y * (1.0 - x / y / 2.0)
    return x / (math.exp(x / y) - 1.0)


def hh_rates(v_mV: float, celsius_degC: float = 6.3) -> tuple[float, float, float, float, float, float]:
    """hh.mod's ``rates(v)``: (m∞, τm, h∞, τh, n∞, τn), τ in ms."""
    q10 = 3.0 ** ((celsius_degC - 6.3) / 10.0)
    alpha, beta = 0.1 * _vtrap(-(v_mV + 40.0), 10.0), 4.0 * math.exp(-(v_mV + 65.0) / 18.0)
    m_inf, m_tau = alpha / (alpha + beta), 1.0 / (q10 * (alpha + beta))
    alpha, beta = 0.07 * math.exp(-(v_mV + 65.0) / 20.0), 1.0 / (math.exp(-(v_mV + 35.0) / 10.0) + 1.0)
    h_inf, h_tau = alpha / (alpha + beta), 1.0 / (q10 * (alpha + beta))
    alpha, beta = 0.01 * _vtrap(-(v_mV + 55.0), 10.0), 0.125 * math.exp(-(v_mV + 65.0) / 80.0)
    n_inf, n_tau = alpha / (alpha + beta), 1.0 / (q10 * (alpha + beta))
    return m_inf, m_tau, h_inf, h_tau, n_inf, n_tau


def hh_rate_table(celsius_degC: float = 6.3) -> np.ndarray:
    """hh.mod's TABLE: rates at −100, −99, …, 100 mV, shape ``(201, 6)``."""
    v = np.linspace(TABLE_V_MIN_MV, TABLE_V_MAX_MV, TABLE_STEPS + 1)
    return np.array([hh_rates(float(x), celsius_degC) for x in v])


@numba.njit(cache=True, inline="always")
def table_rates(table: np.ndarray, v: float) -> tuple[float, float, float, float, float, float]:
    """Rates at ``v`` by linear interpolation in ``table`` (NEURON's table lookup)."""
    xi = (v - TABLE_V_MIN_MV) * (TABLE_STEPS / (TABLE_V_MAX_MV - TABLE_V_MIN_MV))
    if xi <= 0.0:
        r = table[0]
        return r[0], r[1], r[2], r[3], r[4], r[5]
    if xi >= TABLE_STEPS:
        r = table[TABLE_STEPS]
        return r[0], r[1], r[2], r[3], r[4], r[5]
    i = int(xi)
    f = xi - i
    a, b = table[i], table[i + 1]
    return (
        a[0] + f * (b[0] - a[0]),
        a[1] + f * (b[1] - a[1]),
        a[2] + f * (b[2] - a[2]),
        a[3] + f * (b[3] - a[3]),
        a[4] + f * (b[4] - a[4]),
        a[5] + f * (b[5] - a[5]),
    )


@numba.njit(cache=True, inline="always")
def cnexp(x: float, x_inf: float, tau: float, dt: float) -> float:
    """NEURON's ``cnexp`` update of a gate over one step."""
    return x + (1.0 - math.exp(-dt / tau)) * (x_inf - x)


@numba.njit(cache=True)
def _hh_soma_kernel(
    theta: np.ndarray,
    table: np.ndarray,
    v_init: float,
    dt: float,
    n_steps: int,
    record_every: int,
    stim_density: float,
    stim_on: float,
    stim_off: float,
    out: np.ndarray,
) -> None:
    """Fill ``out`` (n, T) with v recorded every ``record_every`` steps, starting at t = 0."""
    cap = 1e-3 / dt  # cm = 1 µF/cm²
    n_samples = out.shape[1]
    for row in range(theta.shape[0]):
        gna_bar, gk_bar, gl = theta[row, 0], theta[row, 1], theta[row, 2]
        v = v_init
        m_inf, _, h_inf, _, n_inf, _ = table_rates(table, v)
        m, h, n = m_inf, h_inf, n_inf
        out[row, 0] = v
        sample = 1
        for step in range(n_steps):
            t_mid = (step + 0.5) * dt
            g_na, g_k = gna_bar * m * m * m * h, gk_bar * n * n * n * n
            i_ion = g_na * (v - E_NA_MV) + g_k * (v - E_K_MV) + gl * (v - E_LEAK_MV)
            v_probe = v + 0.001
            i_probe = g_na * (v_probe - E_NA_MV) + g_k * (v_probe - E_K_MV) + gl * (v_probe - E_LEAK_MV)
            g_membrane = (i_probe - i_ion) / 0.001
            i_stim = stim_density if stim_on <= t_mid < stim_off else 0.0
            v += (i_stim - i_ion) / (cap + g_membrane)
            m_inf, m_tau, h_inf, h_tau, n_inf, n_tau = table_rates(table, v)
            m, h, n = cnexp(m, m_inf, m_tau, dt), cnexp(h, h_inf, h_tau, dt), cnexp(n, n_inf, n_tau, dt)
            if (step + 1) % record_every == 0 and sample < n_samples:
                out[row, sample] = v
                sample += 1


@dataclass(frozen=True)
class HHSomaBatched(HHSomaNeuron):
    """UC1 on the compiled kernel: the same protocol and fields as ``HHSomaNeuron``.

    Parameters θ (S/cm²), in order: ``gnabar_hh``, ``gkbar_hh``, ``gl_hh``. Runs at
    NEURON's default temperature (6.3 °C, where hh's q10 factor is 1).
    """

    def __call__(self, theta: np.ndarray, seed: int = 0) -> SimulationResult:
        """Simulate each row of θ (n, 3). Deterministic: ``seed`` is unused."""
        theta = theta_batch(theta, 3, "UC1")
        t = self.t
        result, runnable = screen_rows(theta, t, 1, _invalid_reason)
        if runnable is None:
            return result
        area_um2 = math.pi * self.diam_um * self.length_um
        out = np.empty((theta.shape[0], t.size))
        with np.errstate(all="ignore"):
            _hh_soma_kernel(
                runnable,
                _table(),
                self.v_init_mV,
                self.dt_ms,
                round(self.tstop_ms / self.dt_ms),
                round(self.record_dt_ms / self.dt_ms),
                self.stim_amp_nA * 100.0 / area_um2,
                self.stim_delay_ms,
                self.stim_delay_ms + self.stim_dur_ms,
                out,
            )
        for i in np.flatnonzero(result.status == 0):
            result.store(i, out[i], "voltage")
        return result


def _invalid_reason(row: np.ndarray) -> str:
    if not np.all(np.isfinite(row)):
        return "non-finite parameter"
    if np.any(row < 0):
        return f"conductances must be >= 0 S/cm2, got {row.tolist()}"
    return ""


_TABLES: dict[float, np.ndarray] = {}


def _table(celsius_degC: float = 6.3) -> np.ndarray:
    if celsius_degC not in _TABLES:
        _TABLES[celsius_degC] = hh_rate_table(celsius_degC)
    return _TABLES[celsius_degC]
