"""The Gonçalves et al. 2020 HH model (M-current, intrinsic noise) on a compiled batch kernel, in numba.

Same model, protocol and fields as ``HHMCurrentBrian2`` (see its docstring for the
equations); only the integrator differs in language. Per step k, in mV, ms, mS/cm²
and µA/cm² (C = 1 µF/cm²):

1. Conductances g_Na m³h, g_K n⁴, g_M p and g_leak and the noise current
   σ·ξ_k/√(dt/ms) at the start of the step; the injected current is on for
   round(start/dt) ≤ k < round(end/dt).
2. V relaxes exponentially towards V_∞ = (Σ g E + I_inj + I_noise)/Σ g with the
   factor exp(−dt Σ g / C).
3. m, h, n relax towards α/(α + β) with exp(−dt (α + β)), p towards p_∞ with
   exp(−dt/τ_p), all at the *new* V. x/(eˣ − 1) is written 1/exprel(x) with Brian2's
   exprel (1 at |x| < 1e-16, expm1(x)/x otherwise).

The gates start at their steady state at V(0) (``v_init_mV``, or E_leak when None).
Sample j is V after j·(record_dt/dt) steps, for 0 ≤ j·record_dt ≤ duration.

Noise: ξ of row i (its position in the batch) is the stream
``Generator(PCG64(SeedSequence([seed, i]))).standard_normal``, one number per step,
so a row's noise depends only on the seed and its position (not on the batch size
or the other rows, unlike Brian2's one generator per batch), and a longer protocol
extends the same stream. The streams are drawn in numpy, in blocks of rows holding
at most ``_NOISE_BLOCK_VALUES`` numbers (32 MB; 57 rows of an Allen protocol), and
handed to the kernel. This keeps the kernel free of random-number code (numba's own
generators are not guaranteed to reproduce numpy's streams, and its global one
would need reseeding per row) at ~10% of the run time. Rows with σ = 0 draw nothing.
numpy's global random state is never touched.

The kernel is serial (one core) and loops over parameter sets; parallelism comes
from the runner's worker processes. A row whose V becomes non-finite stops early
and fails with the reference's message; rows ``_invalid_reason`` rejects are not
simulated (a negative seed raises ValueError instead of failing every row).

Verified against ``HHMCurrentBrian2`` (tests/test_batched_hh_goncalves.py), σ = 0:
200 prior samples on the synthetic protocol give the same status and spike times
(to the sample) and traces within 6e-9 mV (max over all samples, spikes included;
features within 3e-11); 10 samples on each of three Allen protocols (dt 0.02 ms,
1450 ms) within 3e-9 mV. With noise (ground truth and three other sets, 50 seeds
against 50 Brian2 rows) the means of spike count, resting SD, stimulus mean and
variance agree within 4 standard errors and KS tests pass; the stationary variance
of a passive membrane matches the exact AR(1) value.

Speed, one process, prior samples: synthetic protocol (120 ms, dt 0.01 ms) 1.2 ms
per simulation (Brian2 Cython: 2.4 ms in one batch of 200, 11 ms in batches of 25);
Allen protocol (1450 ms, dt 0.02 ms) 7.4 ms (Brian2: 21 ms in one batch of 50,
39 ms in batches of 25). ~100 ns per step: the 12 exponentials of a step dominate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from simulators.base import STATUS_OK, SimulationResult, noise_seed, screen_rows, theta_batch
from simulators.brian2_hh_goncalves import PARAMETER_NAMES, HHMCurrentBrian2, _invalid_reason

E_NA_MV, E_K_MV, C_M_UF_PER_CM2 = 53.0, -107.0, 1.0  # as in HHMCurrentBrian2
_NOISE_BLOCK_VALUES = 2**22  # noise numbers held at once (32 MB)


@numba.njit(cache=True, inline="always")
def _exprel(x: float) -> float:
    """(eˣ − 1)/x, finite at 0; Brian2's Cython implementation."""
    if abs(x) < 1e-16:
        return 1.0
    if x > 717.0:
        return math.inf
    return math.expm1(x) / x


@numba.njit(cache=True, inline="always")
def _nak_rates(v: float, v_t: float) -> tuple[float, float, float, float, float, float]:
    """(α_m, β_m, α_h, β_h, α_n, β_n) in 1/ms at V = v mV, rates shifted by V_T = v_t mV."""
    u = v - v_t
    return (
        1.28 / _exprel(-0.25 * (u - 13.0)),
        1.4 / _exprel(0.2 * (u - 40.0)),
        0.128 * math.exp(-(u - 17.0) / 18.0),
        4.0 / (1.0 + math.exp(-0.2 * (u - 40.0))),
        0.16 / _exprel(-0.2 * (u - 15.0)),
        0.5 * math.exp(-(u - 10.0) / 40.0),
    )


@numba.njit(cache=True, inline="always")
def _m_current(v: float, tau_max: float) -> tuple[float, float]:
    """(p_∞, τ_p in ms) of the M-current at V = v mV."""
    e = math.exp(0.05 * (v + 35.0))  # one exponential: e^{−0.1(V+35)} = e⁻², e^{−0.05(V+35)} = 1/e
    return 1.0 / (1.0 + 1.0 / (e * e)), tau_max / (3.3 * e + 1.0 / e)


@numba.njit(cache=True, inline="always")
def _relax(x: float, alpha: float, beta: float, dt: float) -> float:
    """A gate after one step of exact relaxation towards α/(α + β) at rate α + β."""
    x_inf = alpha / (alpha + beta)
    return x_inf + (x - x_inf) * math.exp(-dt * (alpha + beta))


@numba.njit(cache=True, error_model="numpy")
def _hh_m_kernel(
    theta: np.ndarray,
    v_init: np.ndarray,
    xi: np.ndarray,
    dt: float,
    n_steps: int,
    record_every: int,
    amplitude: float,
    on_step: int,
    off_step: int,
    out: np.ndarray,
) -> None:
    """Fill ``out`` (n, T) with V (mV) every ``record_every`` steps from t = 0; ``xi`` (n, ≥ n_steps)
    holds the standard normal numbers of each row (read only where σ ≠ 0)."""
    noise_scale = 1.0 / math.sqrt(dt)  # σ ξ / √(dt/ms)
    for row in range(theta.shape[0]):
        g_na, g_k, g_l, g_m = theta[row, 0], theta[row, 1], theta[row, 2], theta[row, 3]
        tau_max, v_t, sigma, e_l = theta[row, 4], theta[row, 5], theta[row, 6], theta[row, 7]
        v = v_init[row]
        a_m, b_m, a_h, b_h, a_n, b_n = _nak_rates(v, v_t)
        m, h, n = a_m / (a_m + b_m), a_h / (a_h + b_h), a_n / (a_n + b_n)
        p, _ = _m_current(v, tau_max)
        out[row, 0] = v
        sample, countdown = 1, record_every  # a counter, not (step + 1) % record_every: no division
        for step in range(n_steps):
            g_m3h = g_na * m * m * m * h
            g_n4p = g_k * n * n * n * n + g_m * p
            g_total = g_m3h + g_n4p + g_l
            current = amplitude if on_step <= step < off_step else 0.0
            if sigma != 0.0:
                current += sigma * xi[row, step] * noise_scale
            v_inf = (g_m3h * E_NA_MV + g_n4p * E_K_MV + g_l * e_l + current) / g_total
            v = v_inf + (v - v_inf) * math.exp(-dt * g_total / C_M_UF_PER_CM2)
            if not math.isfinite(v):
                out[row, sample:] = np.nan
                break
            a_m, b_m, a_h, b_h, a_n, b_n = _nak_rates(v, v_t)
            m = _relax(m, a_m, b_m, dt)
            h = _relax(h, a_h, b_h, dt)
            n = _relax(n, a_n, b_n, dt)
            p_inf, tau_p = _m_current(v, tau_max)
            p = p_inf + (p - p_inf) * math.exp(-dt / tau_p)
            countdown -= 1
            if countdown == 0:
                out[row, sample] = v
                sample, countdown = sample + 1, record_every


def row_noise(seed: int, row: int, n_steps: int, out: np.ndarray | None = None) -> np.ndarray:
    """The standard normal numbers ξ_0 … ξ_{n_steps−1} of batch row ``row`` under ``seed``."""
    generator = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, row])))
    return generator.standard_normal(n_steps, out=out)


@dataclass(frozen=True)
class HHMCurrentBatched(HHMCurrentBrian2):
    """``HHMCurrentBrian2`` on the compiled kernel: the same fields, protocol, scheme and row checks.

    ``codegen_target`` is accepted (inherited) and unused. The noise differs from Brian2's
    stream: row i draws from ``SeedSequence([seed, i])`` (see the module docstring).
    """

    def __call__(self, theta: np.ndarray, seed: int = 0, first_row: int = 0) -> SimulationResult:
        """Simulate each row of θ (n, 8); the same ``seed`` and row position give the same noise.

        ``first_row``: θ's rows are rows ``first_row, first_row + 1, …`` of a batch with this
        seed (they draw those rows' noise), for re-running part of a batch on its own.
        """
        theta = theta_batch(theta, len(PARAMETER_NAMES), "the HH model")
        seed = noise_seed(seed)
        t = self.t
        result, runnable = screen_rows(theta, t, 1, _invalid_reason)
        if runnable is None:
            return result
        valid = np.flatnonzero(result.status == STATUS_OK)
        record_every = round(self.sample_dt_ms / self.dt_ms)
        n_steps = (t.size - 1) * record_every
        v_init = theta[:, 7] if self.v_init_mV is None else np.full(theta.shape[0], self.v_init_mV)
        block = max(1, min(valid.size, _NOISE_BLOCK_VALUES // max(n_steps, 1)))
        xi = np.zeros((block, n_steps))
        for start in range(0, valid.size, block):
            rows = valid[start : start + block]
            for j, row in enumerate(rows):
                if theta[row, 6] != 0.0:
                    row_noise(seed, first_row + int(row), n_steps, out=xi[j])
            out = np.empty((rows.size, t.size))
            _hh_m_kernel(
                np.ascontiguousarray(theta[rows]),
                np.ascontiguousarray(v_init[rows]),
                xi,
                self.dt_ms,
                n_steps,
                record_every,
                self.amplitude_uA_per_cm2,
                round(self.stim_start_ms / self.dt_ms),
                round(self.stim_end_ms / self.dt_ms),
                out,
            )
            for j, row in enumerate(rows):
                result.store(row, out[j], "membrane potential")
        return result
