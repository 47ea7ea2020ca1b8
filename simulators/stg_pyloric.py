"""The pyloric network of the crab stomatogastric ganglion (Prinz, Bucher & Marder 2004), in numba.

Three single-compartment model neurons, AB/PD (the pacemaker kernel, one neuron
model), LP and PY, coupled by seven graded inhibitory synapses; θ holds the 24
maximal membrane conductances and the 7 synaptic conductances (31 parameters, the
inference problem of Gonçalves et al. 2020, eLife 9:e56261, Fig. 8). Traces: the
membrane potential of the three neurons (sweeps ``PD``, ``LP``, ``PY``) in mV.

Units: V in mV, t in ms, conductances in mS, currents in µA (mS·mV), capacitance
in µF, [Ca] in µM. θ gives the membrane conductances as densities in mS/cm²
(Prinz et al.'s unit); each is multiplied by the membrane area A = 0.628e-3 cm² to
give mS. The synaptic conductances are absolute, in mS, as in the prior of
Gonçalves et al. (log-uniform over [1e-8, 1e-3] mS, AB→LP up to 1e-2 mS): 1 nS
= 1e-6 mS, so Prinz et al.'s synapse strengths of 1–100 nS are 1e-6 to 1e-4 mS.

Membrane (Prinz, Billimoria & Marder 2003, J Neurophysiol 90:3998, Methods: the
model and its table of activation functions; C = 1 µF/cm² × A):

    C dV/dt = −Σ_i g_i m_i^p_i h_i (V − E_i) − Σ_syn g_s s (V − E_s) + I_noise

    current  p  E_i (mV)   m_∞                    τ_m (ms)
    Na       3  50         σ(V; 25.5, −5.29)      2.64 − 2.52 σ(V; 120, −25)
    CaT      3  E_Ca       σ(V; 27.1, −7.2)       43.4 − 42.6 σ(V; 68.1, −20.5)
    CaS      3  E_Ca       σ(V; 33, −8.1)         2.8 + 14/(e^{(V+27)/10} + e^{(V+70)/−13})
    A        3  −80        σ(V; 27.2, −8.7)       23.2 − 20.8 σ(V; 32.9, −15.2)
    KCa      4  −80        [Ca]/([Ca]+3) σ(V; 28.3, −12.6)   180.6 − 150.2 σ(V; 46, −22.7)
    Kd       4  −80        σ(V; 12.3, −11.8)      14.4 − 12.8 σ(V; 28.3, −19.2)
    H        1  −20        σ(V; 75, 5.5)          2/(e^{(V+169.7)/−11.6} + e^{(V−26.7)/14.3})
    leak     0  −50

    current  h_∞                 τ_h (ms)
    Na       σ(V; 48.9, 5.18)    1.34 σ(V; 62.9, −10) · (1.5 + σ(V; 34.9, 3.6))
    CaT      σ(V; 32.1, 5.5)     210 − 179.6 σ(V; 55, −16.9)
    CaS      σ(V; 60, 6.2)       120 + 300/(e^{(V+55)/9} + e^{(V+65)/−16})
    A        σ(V; 56.9, 4.9)     77.2 − 58.4 σ(V; 38.9, −26.5)

with σ(V; a, b) = 1/(1 + e^{(V + a)/b}) and [Ca] in µM. Calcium (same source):
τ_Ca d[Ca]/dt = −f (I_CaT + I_CaS) − [Ca] + [Ca]_0 with τ_Ca = 200 ms,
f = 14.96 µM/nA, [Ca]_0 = 0.05 µM; E_Ca from the Nernst equation,
E_Ca = (RT/2F) ln([Ca]_out/[Ca]) with [Ca]_out = 3 mM and T = ``temperature_K``
(12.19 mV per e-fold at 283 K; Prinz's published code uses a fixed 12.2 mV).
Gonçalves et al.'s simulator writes τ_m of H with rounded constants,
2/(e^{−14.59−0.086V} + e^{−1.87+0.0701V}), uses f = 14.961 µM/nA and C = 0.6283 nF
for a 0.628e-3 cm² membrane; here the table's values are used throughout.

Synapses (Prinz et al. 2004, Methods, after Abbott & Marder 1998): I_s = g_s s (V_post − E_s),
ds/dt = (s_∞(V_pre) − s)/τ_s, s_∞ = 1/(1 + e^{(V_th − V_pre)/δ}), τ_s = (1 − s_∞)/k_−,
V_th = −35 mV, δ = 5 mV; glutamatergic (from AB, LP, PY): E_s = −70 mV, 1/k_− = 40 ms;
cholinergic (from PD): E_s = −80 mV, 1/k_− = 100 ms. AB and PD are one neuron model
here (as in Gonçalves et al.), so AB→X and PD→X are two synapses driven by the same
V_pre with different kinetics and reversal; LP→PD acts on the AB/PD neuron. Four
activation variables suffice (AB glutamatergic, PD cholinergic, LP, PY): the two
synapses of one presynaptic type share s.

Noise (Gonçalves et al.): each neuron receives a current I_noise = σ ξ (σ =
``noise_uA``, 0.001 µA = 1 nA in the paper), ξ standard normal, drawn anew at every
step and *not* scaled with √dt, so its effect depends on dt (at dt = 0.025 ms one
draw moves V by σ dt/C ≈ 0.04 mV).

Temperature: rates and conductances scale with Q10 factors Q10^{(T − 283 K)/10}
(Gonçalves et al.'s defaults: membrane and synaptic conductances 1.5, τ_m 1.7,
τ_h 2.8, τ_Ca 1.7, τ_s 1.7); τ is divided by its factor, g multiplied. At the
protocol's 283 K every factor is 1. (Gonçalves et al.'s code multiplies τ_s by
its factor instead; this only matters away from 283 K.)

Integration (the scheme of Gonçalves et al.'s simulator, Prinz et al.'s step):
fixed dt = 0.025 ms; every variable is advanced from the state at the start of the
step. Gates, [Ca] and s relax exponentially towards their steady state with
factor e^{−dt/τ} (exponential Euler, exact for frozen V and [Ca]); V relaxes
towards V_∞ = (Σ g E + I_noise)/Σ g with the factor e^{−dt Σg/C}, where Σg holds the
membrane and synaptic conductances at the start of the step: unconditionally
stable, whatever the conductances. The synapses differ slightly from Gonçalves
et al.'s code, which takes a forward-Euler step for s (and sets s = s_∞ once
dt > τ_s); the exponential step is the exact solution for a frozen V_pre.

Initial state (Gonçalves et al.): V = −50 mV, [Ca] = 0.05 µM, every gate and
synapse variable 0 (``v_init_mV``, ``ca_init_uM``, ``gate_init``). The first
``burn_in_ms`` (1 s) are simulated and discarded; samples j = 0 … T−1 are V at
t = burn_in + j·record_dt, T = duration/record_dt (10 s at 0.25 ms: 40,000
samples per neuron, t = 1000 … 10999.75 ms).

Rate tables (like NEURON's TABLE): a gate's step is x ← A + B·x with B = e^{−dt/τ(V)}
and A = x_∞(V)(1 − B). A and B of the 11 gates and of the two synapse types (s_∞ of
V_pre) are tabulated from −120 to +120 mV every 0.02 mV (12,001 rows, value and
slope to the next row, 5 MB, built once per dt, temperature and Q10s) and
interpolated linearly; for V outside that range the formulas are evaluated. Largest
error against the formulas (``tests/test_stg_pyloric.py``, 1e5 random voltages):
2.3e-6 relative in A and in 1 − B (the relaxation rate of the step), 7e-7 absolute
(the cholinergic synapse, whose τ_s falls steeply above −35 mV).

Noise stream: row i of a batch with seed s draws from
``Generator(PCG64(SeedSequence([s, i])))``, 3 standard normals per step (AB/PD, LP,
PY), drawn inside the kernel through numba's implementation of numpy's
Generator, which reproduces ``standard_normal`` exactly (checked by a test):
the stream equals ``row_noise(s, i, n_steps)``. A row's trace depends only on
(seed, row index, θ); a longer protocol extends the same stream.

Verification: the kernel matches a plain-Python transcription of these equations
and steps (no tables) to 2e-5 mV over the first 300 ms and 0.05 mV through the
first spikes (420 ms); isolated Prinz 2004 AB/PD neurons burst; the Prinz 2004 example
network is triphasic (tests). During development, a transcription of Gonçalves et
al.'s step with their constants (forward-Euler synapses, rounded τ_m of H, f, C)
gave the same spike counts and spike times within 3 ms over 3 s on the isolated
neurons and four prior draws, noise off.

Speed (one core of a shared 2-core AMD EPYC VM, ``benchmarks/stg_speed.py``, 11 s
simulated per network at dt 0.025 ms, noise on, prior draws): 35–37 ms per network,
~300–310 simulated seconds per second, the same in batches of 1, 10 and 50 (rows
run one after another). Per network and step, 3 × (11 gates + synapses)
interpolations dominate; the noise costs ~10% and E_Ca's logarithm and V's
exponential ~10% each.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numba
import numpy as np

from simulators.base import STATUS_OK, SimulationResult, noise_seed, screen_rows, theta_batch

NEURONS: tuple[str, ...] = ("AB", "LP", "PY")  # parameter prefixes; AB stands for the AB/PD neuron
CURRENTS: tuple[str, ...] = ("Na", "CaT", "CaS", "A", "KCa", "Kd", "H", "leak")
SYNAPSES: tuple[str, ...] = ("AB_LP", "PD_LP", "AB_PY", "PD_PY", "LP_PD", "LP_PY", "PY_LP")
PARAMETER_NAMES: tuple[str, ...] = tuple(f"{n}_{c}" for n in NEURONS for c in CURRENTS) + SYNAPSES
PARAMETER_UNITS: tuple[str, ...] = ("mS/cm2",) * 24 + ("mS",) * 7

# Model neurons of Prinz et al. 2004 (drawn from the Prinz 2003 database; values as listed by
# mackelab/pyloric and alcrene/pyloric-network-simulator), mS/cm², order of CURRENTS.
PRINZ2004_NEURONS: dict[str, tuple[float, ...]] = {
    "AB/PD 2": (100.0, 2.5, 6.0, 50.0, 5.0, 100.0, 0.01, 0.0),
    "LP 4": (100.0, 0.0, 4.0, 20.0, 0.0, 25.0, 0.05, 0.03),
    "PY 1": (100.0, 2.5, 2.0, 50.0, 0.0, 125.0, 0.05, 0.01),
}
# An example network of Prinz et al. 2004: AB/PD 2, LP 4, PY 1 and synapses AB→LP 30, PD→LP 30,
# AB→PY 10, PD→PY 3, LP→PD 30, LP→PY 1, PY→LP 30 nS, as rebuilt in Conductor.jl's and xolotl's pyloric
# examples (which cite it as Fig. 3e and Fig. 2e); in θ units. Here a triphasic rhythm, period ~1.7 s.
PRINZ2004_NETWORK: tuple[float, ...] = (
    *PRINZ2004_NEURONS["AB/PD 2"],
    *PRINZ2004_NEURONS["LP 4"],
    *PRINZ2004_NEURONS["PY 1"],
    *(g_nS * 1e-6 for g_nS in (30.0, 30.0, 10.0, 3.0, 30.0, 1.0, 30.0)),
)

E_NA_MV, E_K_MV, E_H_MV, E_LEAK_MV = 50.0, -80.0, -20.0, -50.0
E_GLUT_MV, E_CHOL_MV = -70.0, -80.0
TAU_GLUT_MS, TAU_CHOL_MS = 40.0, 100.0  # 1/k_−
V_TH_MV, DELTA_MV = -35.0, 5.0
TAU_CA_MS, F_CA_UM_PER_NA, CA_REST_UM, CA_OUT_UM, KCA_HALF_UM = 200.0, 14.96, 0.05, 3000.0, 3.0
GAS_CONSTANT, FARADAY = 8.314462618, 96485.33212  # J/(mol K), C/mol
Q10_REFERENCE_K = 283.0

TABLE_V_MIN_MV, TABLE_V_MAX_MV, TABLE_DV_MV = -120.0, 120.0, 0.02
TABLE_STEPS = round((TABLE_V_MAX_MV - TABLE_V_MIN_MV) / TABLE_DV_MV)
GATE_NAMES: tuple[str, ...] = (
    "Na_m", "Na_h", "CaT_m", "CaT_h", "CaS_m", "CaS_h", "A_m", "A_h", "KCa_m", "Kd_m", "H_m",
)  # fmt: skip
N_GATES = len(GATE_NAMES)
KCA = GATE_NAMES.index("KCa_m")
# Tabulated quantities: the 11 gates, then glutamatergic and cholinergic synapses. For each, the
# coefficients (A, B) of its exponential-Euler step x ← A + B·x, each as (value, slope to the next row).
QUANTITY_NAMES: tuple[str, ...] = (*GATE_NAMES, "s_glut", "s_chol")
N_QUANTITIES = len(QUANTITY_NAMES)
ROW_STRIDE = 4 * N_QUANTITIES
_FMA = {"contract"}  # fused multiply-adds only: no change to NaN/inf semantics


@numba.njit(cache=True, inline="always", error_model="numpy")
def _sigma(v: float, shift: float, slope: float) -> float:
    """1/(1 + e^{(V + shift)/slope})."""
    return 1.0 / (1.0 + math.exp((v + shift) / slope))


@numba.njit(cache=True, error_model="numpy")
def gate_kinetics(v: float, steady: np.ndarray, tau: np.ndarray) -> None:
    """Fill ``steady`` and ``tau`` (ms, at 283 K) of the 11 gates (``GATE_NAMES``) at V = v mV.

    KCa's steady state is its voltage factor σ(V; 28.3, −12.6), without [Ca]/([Ca] + 3).
    """
    steady[0] = _sigma(v, 25.5, -5.29)
    tau[0] = 2.64 - 2.52 * _sigma(v, 120.0, -25.0)
    steady[1] = _sigma(v, 48.9, 5.18)
    tau[1] = 1.34 * _sigma(v, 62.9, -10.0) * (1.5 + _sigma(v, 34.9, 3.6))
    steady[2] = _sigma(v, 27.1, -7.2)
    tau[2] = 43.4 - 42.6 * _sigma(v, 68.1, -20.5)
    steady[3] = _sigma(v, 32.1, 5.5)
    tau[3] = 210.0 - 179.6 * _sigma(v, 55.0, -16.9)
    steady[4] = _sigma(v, 33.0, -8.1)
    tau[4] = 2.8 + 14.0 / (math.exp((v + 27.0) / 10.0) + math.exp((v + 70.0) / -13.0))
    steady[5] = _sigma(v, 60.0, 6.2)
    tau[5] = 120.0 + 300.0 / (math.exp((v + 55.0) / 9.0) + math.exp((v + 65.0) / -16.0))
    steady[6] = _sigma(v, 27.2, -8.7)
    tau[6] = 23.2 - 20.8 * _sigma(v, 32.9, -15.2)
    steady[7] = _sigma(v, 56.9, 4.9)
    tau[7] = 77.2 - 58.4 * _sigma(v, 38.9, -26.5)
    steady[8] = _sigma(v, 28.3, -12.6)
    tau[8] = 180.6 - 150.2 * _sigma(v, 46.0, -22.7)
    steady[9] = _sigma(v, 12.3, -11.8)
    tau[9] = 14.4 - 12.8 * _sigma(v, 28.3, -19.2)
    steady[10] = _sigma(v, 75.0, 5.5)
    tau[10] = 2.0 / (math.exp((v + 169.7) / -11.6) + math.exp((v - 26.7) / 14.3))


@numba.njit(cache=True, error_model="numpy")
def step_coefficients(
    v: float, dt: float, rate_m: float, rate_h: float, rate_s: float, out: np.ndarray, offset: int
) -> None:
    """The exponential-Euler coefficients at V = v mV from the formulas, written to the flat array
    ``out``: A of quantity q at ``offset + 4q``, B at ``offset + 4q + 2`` (slopes left alone).

    A gate relaxing towards x_∞ with time constant τ over dt: x ← A + B·x with B = e^{−dt/τ},
    A = x_∞ (1 − B); for KCa, A lacks the factor [Ca]/([Ca] + 3); for a synapse x_∞ = s_∞(V_pre)
    and τ = τ_s. ``rate_*`` are the Q10 factors dividing τ of activation gates, inactivation
    gates and synapses.
    """
    steady, tau = np.empty(N_GATES), np.empty(N_GATES)
    gate_kinetics(v, steady, tau)
    for q in range(N_GATES):
        rate = rate_h if q == 1 or q == 3 or q == 5 or q == 7 else rate_m
        decay = math.exp(-dt * rate / tau[q])
        out[offset + 4 * q] = steady[q] * (1.0 - decay)
        out[offset + 4 * q + 2] = decay
    s_inf = 1.0 / (1.0 + math.exp((V_TH_MV - v) / DELTA_MV))
    one_minus = 1.0 / (1.0 + math.exp((v - V_TH_MV) / DELTA_MV))  # 1 − s_∞ without cancellation
    for q, tau_s in ((N_GATES, TAU_GLUT_MS), (N_GATES + 1, TAU_CHOL_MS)):
        decay = math.exp(-dt * rate_s / (tau_s * one_minus))
        out[offset + 4 * q] = s_inf * (1.0 - decay)
        out[offset + 4 * q + 2] = decay


@functools.lru_cache(maxsize=8)
def rate_table(dt_ms: float, rate_m: float = 1.0, rate_h: float = 1.0, rate_s: float = 1.0) -> np.ndarray:
    """The table, shape ``(TABLE_STEPS + 1, N_QUANTITIES, 2, 2)``: [row at V = TABLE_V_MIN_MV +
    row·TABLE_DV_MV, quantity (``QUANTITY_NAMES``), A or B, value or slope to the next row]."""
    flat = np.zeros((TABLE_STEPS + 1) * ROW_STRIDE)
    for k in range(TABLE_STEPS + 1):
        step_coefficients(
            TABLE_V_MIN_MV + k * TABLE_DV_MV, dt_ms, rate_m, rate_h, rate_s, flat, k * ROW_STRIDE
        )
    table = flat.reshape(TABLE_STEPS + 1, N_QUANTITIES, 2, 2)
    table[:-1, :, :, 1] = np.diff(table[:, :, :, 0], axis=0)
    table.flags.writeable = False
    return table


@numba.njit(cache=True, inline="always", error_model="numpy", fastmath=_FMA)
def _advance(
    tab: np.ndarray, base: int, f: float, ca_factor: float, x: np.ndarray, s: np.ndarray, j: int
) -> None:
    """One step of neuron j's gates and of the synapses it drives, with the coefficients of row
    ``base`` of the flat table ``tab`` interpolated at fraction ``f`` towards the next row."""
    for q in range(N_GATES):
        o = base + 4 * q
        a = tab[o] + f * tab[o + 1]
        if q == KCA:
            a *= ca_factor
        x[j, q] = a + (tab[o + 2] + f * tab[o + 3]) * x[j, q]
    o = base + 4 * N_GATES
    glut = j + 1 if j > 0 else 0  # s: AB (glutamatergic), PD (cholinergic), LP, PY
    s[glut] = tab[o] + f * tab[o + 1] + (tab[o + 2] + f * tab[o + 3]) * s[glut]
    if j == 0:
        s[1] = tab[o + 4] + f * tab[o + 5] + (tab[o + 6] + f * tab[o + 7]) * s[1]


@numba.njit(cache=True, error_model="numpy", fastmath=_FMA)
def _advance_off_table(
    v: float,
    dt: float,
    rates: np.ndarray,
    direct: np.ndarray,
    ca_factor: float,
    x: np.ndarray,
    s: np.ndarray,
    j: int,
) -> None:
    """``_advance`` with the coefficients from the formulas (V off the table, rare; kept out of line)."""
    step_coefficients(v, dt, rates[0], rates[1], rates[2], direct, 0)
    _advance(direct, 0, 0.0, ca_factor, x, s, j)


@numba.njit(cache=True, error_model="numpy", fastmath=_FMA)
def interpolated_coefficients(tab: np.ndarray, v: np.ndarray, rates: np.ndarray, dt: float) -> np.ndarray:
    """(A, B) of every quantity at each V in ``v`` (mV) as the kernel computes them, shape
    (v.size, N_QUANTITIES, 2); ``tab`` is the flat table, ``rates`` = (rate_m, rate_h, rate_s)."""
    out = np.empty((v.size, N_QUANTITIES, 2))
    direct = np.zeros(ROW_STRIDE)
    for i in range(v.size):
        xi = (v[i] - TABLE_V_MIN_MV) * (1.0 / TABLE_DV_MV)
        if 0.0 <= xi < TABLE_STEPS:
            k = int(xi)
            f = xi - k
            for q in range(N_QUANTITIES):
                o = k * ROW_STRIDE + 4 * q
                out[i, q, 0] = tab[o] + f * tab[o + 1]
                out[i, q, 1] = tab[o + 2] + f * tab[o + 3]
        else:
            step_coefficients(v[i], dt, rates[0], rates[1], rates[2], direct, 0)
            for q in range(N_QUANTITIES):
                out[i, q, 0], out[i, q, 1] = direct[4 * q], direct[4 * q + 2]
    return out


@numba.njit(cache=True, error_model="numpy", fastmath=_FMA)
def _network_kernel(
    g: np.ndarray,
    g_syn: np.ndarray,
    tab: np.ndarray,
    rates: np.ndarray,
    constants: np.ndarray,
    rng: np.random.Generator,
    n_steps: int,
    first_record: int,
    record_every: int,
    out: np.ndarray,
) -> None:
    """Simulate one network and fill ``out`` (3, T) with V (mV) after first_record + j·record_every steps.

    g: membrane conductances (3, 8) in mS; g_syn: the 7 synaptic conductances in mS (order SYNAPSES);
    tab: the flat rate table; rates: (rate_m, rate_h, rate_s), the Q10 factors it was built with;
    constants: dt (ms), C (µF), RT/2F (mV), e^{−dt/τ_Ca}, f (µM/µA), σ_noise (µA), V(0), [Ca](0),
    gate(0). Noise: 3 draws from ``rng`` per step (AB/PD, LP, PY) when σ_noise ≠ 0.
    """
    dt, cap, nernst, ca_decay, f_ca, sigma = (
        constants[0], constants[1], constants[2], constants[3], constants[4], constants[5],
    )  # fmt: skip
    v = np.full(3, constants[6])
    ca = np.full(3, constants[7])
    x = np.full((3, N_GATES), constants[8])  # gates, order GATE_NAMES
    s = np.full(4, constants[8])  # synapses: AB (glutamatergic), PD (cholinergic), LP, PY
    g_s = np.empty(3)  # synaptic conductance onto each neuron (mS)
    ge_s = np.empty(3)  # Σ g_s s E_s onto each neuron (µA)
    direct = np.zeros(ROW_STRIDE)  # coefficients from the formulas, slopes 0, when V is off the table
    sample, next_record = 0, first_record
    if first_record == 0:
        out[:, 0] = v
        sample, next_record = 1, record_every
    for step in range(n_steps):
        ab, pd, lp, py = g_syn[0] * s[0], g_syn[1] * s[1], g_syn[2] * s[0], g_syn[3] * s[1]
        lp_pd, lp_py, py_lp = g_syn[4] * s[2], g_syn[5] * s[2], g_syn[6] * s[3]
        g_s[0], ge_s[0] = lp_pd, lp_pd * E_GLUT_MV
        g_s[1], ge_s[1] = ab + pd + py_lp, (ab + py_lp) * E_GLUT_MV + pd * E_CHOL_MV
        g_s[2], ge_s[2] = lp + py + lp_py, (lp + lp_py) * E_GLUT_MV + py * E_CHOL_MV
        for j in range(3):
            vj, caj = v[j], ca[j]
            m3h_na = x[j, 0] * x[j, 0] * x[j, 0] * x[j, 1]
            m3h_cat, m3h_cas = x[j, 2] * x[j, 2] * x[j, 2] * x[j, 3], x[j, 4] * x[j, 4] * x[j, 4] * x[j, 5]
            m3h_a, m2_kca, m2_kd = x[j, 6] * x[j, 6] * x[j, 6] * x[j, 7], x[j, 8] * x[j, 8], x[j, 9] * x[j, 9]
            g_na = g[j, 0] * m3h_na
            g_ca = g[j, 1] * m3h_cat + g[j, 2] * m3h_cas
            g_k = g[j, 3] * m3h_a + g[j, 4] * m2_kca * m2_kca + g[j, 5] * m2_kd * m2_kd
            g_h, g_leak = g[j, 6] * x[j, 10], g[j, 7]
            e_ca = nernst * math.log(CA_OUT_UM / caj)
            g_total = g_na + g_ca + g_k + g_h + g_leak + g_s[j]
            current = g_na * E_NA_MV + g_ca * e_ca + g_k * E_K_MV + g_h * E_H_MV + g_leak * E_LEAK_MV
            current += ge_s[j]
            if sigma != 0.0:
                current += sigma * rng.standard_normal()
            if g_total > 0.0:
                v_inf = current / g_total
                v[j] = v_inf + (vj - v_inf) * math.exp(-dt * g_total / cap)
            else:
                v[j] = vj + dt * current / cap
            ca_inf = CA_REST_UM - f_ca * g_ca * (vj - e_ca)
            ca[j] = ca_inf + (caj - ca_inf) * ca_decay
            ca_factor = caj / (caj + KCA_HALF_UM)
            xi = (vj - TABLE_V_MIN_MV) * (1.0 / TABLE_DV_MV)
            if 0.0 <= xi < TABLE_STEPS:
                k = int(xi)
                _advance(tab, k * ROW_STRIDE, xi - k, ca_factor, x, s, j)
            else:  # off the table (or NaN): the formulas
                _advance_off_table(vj, dt, rates, direct, ca_factor, x, s, j)
        if not math.isfinite(v[0] + v[1] + v[2]):
            out[:, sample:] = np.nan
            return
        if step + 1 == next_record:
            out[0, sample], out[1, sample], out[2, sample] = v[0], v[1], v[2]
            sample += 1
            next_record += record_every


@numba.njit(cache=True)
def _standard_normals(rng: np.random.Generator, out: np.ndarray) -> None:
    """Fill ``out`` by scalar draws, as the kernel draws its noise (for the stream test)."""
    for i in range(out.size):
        out[i] = rng.standard_normal()


def noise_generator(seed: int, row: int) -> np.random.Generator:
    """The generator of batch row ``row`` under ``seed``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, row])))


def row_noise(seed: int, row: int, n_steps: int) -> np.ndarray:
    """The standard normal numbers ξ (n_steps, 3) that row ``row`` draws under ``seed`` (AB/PD, LP, PY)."""
    return noise_generator(seed, row).standard_normal((n_steps, 3))


def _invalid_reason(row: np.ndarray) -> str:
    """Why a parameter set cannot be simulated ("" when it can)."""
    if not np.all(np.isfinite(row)):
        bad = [name for name, value in zip(PARAMETER_NAMES, row, strict=True) if not math.isfinite(value)]
        return f"non-finite parameter value ({', '.join(bad)})"
    for name, value in zip(PARAMETER_NAMES, row, strict=True):
        if value < 0:
            return f"{name} must be ≥ 0, got {value:g}"
    return ""


def _q10(q10: float, temperature_K: float) -> float:
    return float(q10 ** ((temperature_K - Q10_REFERENCE_K) / 10.0))


@dataclass(frozen=True)
class PyloricNetwork:
    """The STG pyloric network: θ (n, 31) → membrane potentials (n, 3, T) in mV of AB/PD, LP and PY.

    θ: ``PARAMETER_NAMES``: 24 membrane conductance densities in mS/cm² (AB/PD, LP, PY, each
    Na, CaT, CaS, A, KCa, Kd, H, leak), then 7 synaptic conductances in mS (AB→LP, PD→LP,
    AB→PY, PD→PY, LP→PD, LP→PY, PY→LP). A row with a negative or non-finite value fails.

    Args:
        dt_ms: integration step.
        burn_in_ms: simulated and discarded before the analysis window (a multiple of dt_ms).
        duration_ms: analysis window; samples at burn_in_ms + j·record_dt_ms for
            0 ≤ j·record_dt_ms < duration_ms.
        record_dt_ms: recording interval (a multiple of dt_ms). 0.25 ms by default: the features are
            burst times from spikes (peaks above −10 mV; a spike stays above −10 mV for 1.2–2.7 ms,
            ≥ 5 samples, and its time is known to 0.25 ms in a period of ~1 s) and the time above
            −30 mV, which Gonçalves et al. also measured on every 10th step (0.25 ms).
        temperature_K: temperature (Nernst potential and Q10 factors, reference 283 K).
        noise_uA: SD of each neuron's Gaussian noise current, redrawn at every step (µA; not
            scaled with dt; 0 switches the noise off).
        area_cm2: membrane area that turns the conductance densities into conductances.
        capacitance_uF_per_cm2: specific membrane capacitance.
        v_init_mV, ca_init_uM, gate_init: initial V, [Ca] and value of every gate and synapse variable.
        q10_*: Q10 factors of the membrane and synaptic conductances and of τ_m, τ_h, τ_Ca and τ_s.
    """

    dt_ms: float = 0.025
    burn_in_ms: float = 1000.0
    duration_ms: float = 10000.0
    record_dt_ms: float = 0.25
    temperature_K: float = 283.0
    noise_uA: float = 0.001
    area_cm2: float = 0.628e-3
    capacitance_uF_per_cm2: float = 1.0
    v_init_mV: float = -50.0
    ca_init_uM: float = 0.05
    gate_init: float = 0.0
    q10_g_membrane: float = 1.5
    q10_g_synapse: float = 1.5
    q10_tau_m: float = 1.7
    q10_tau_h: float = 2.8
    q10_tau_ca: float = 1.7
    q10_tau_synapse: float = 1.7

    def __post_init__(self) -> None:
        positive = ["dt_ms", "duration_ms", "record_dt_ms", "temperature_K", "area_cm2"]
        positive += ["capacitance_uF_per_cm2", "ca_init_uM"]
        positive += [name for name in self.__dataclass_fields__ if name.startswith("q10_")]
        for name in positive:
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"PyloricNetwork.{name} must be a finite number > 0, got {value!r}")
        for name in ("burn_in_ms", "noise_uA"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"PyloricNetwork.{name} must be a finite number ≥ 0, got {value!r}")
        if not (isinstance(self.v_init_mV, int | float) and math.isfinite(self.v_init_mV)):
            raise ValueError(f"PyloricNetwork.v_init_mV must be a finite number, got {self.v_init_mV!r}")
        if not (isinstance(self.gate_init, int | float) and 0.0 <= self.gate_init <= 1.0):
            raise ValueError(f"PyloricNetwork.gate_init must be in [0, 1], got {self.gate_init!r}")
        _check_multiple("record_dt_ms", self.record_dt_ms, self.dt_ms, "dt_ms")
        _check_multiple("burn_in_ms", self.burn_in_ms, self.dt_ms, "dt_ms")
        _check_multiple("duration_ms", self.duration_ms, self.record_dt_ms, "record_dt_ms")

    @property
    def parameter_names(self) -> list[str]:
        return list(PARAMETER_NAMES)

    @property
    def sweep_names(self) -> list[str]:
        """One trace per neuron; "PD" is the AB/PD neuron."""
        return ["PD", "LP", "PY"]

    @property
    def t(self) -> np.ndarray:
        """Sample times of the analysis window in ms from the start of the simulation (burn-in included)."""
        return self.burn_in_ms + np.arange(round(self.duration_ms / self.record_dt_ms)) * self.record_dt_ms

    @property
    def n_steps(self) -> int:
        """Integration steps per network (up to the last sample)."""
        every = round(self.record_dt_ms / self.dt_ms)
        return round(self.burn_in_ms / self.dt_ms) + (self.t.size - 1) * every

    def __call__(self, theta: np.ndarray, seed: int = 0, first_row: int = 0) -> SimulationResult:
        """Simulate each row of θ (n, 31); row i's noise depends only on ``seed`` and i.

        ``first_row``: θ's rows are rows ``first_row, first_row + 1, …`` of a batch with this
        seed (they draw those rows' noise), for re-running part of a batch on its own.
        """
        theta = theta_batch(theta, len(PARAMETER_NAMES), "the pyloric network")
        seed = noise_seed(seed)
        t = self.t
        result, runnable = screen_rows(theta, t, 3, _invalid_reason)
        if runnable is None:
            return result
        temperature = self.temperature_K
        rates = np.array(
            [_q10(q, temperature) for q in (self.q10_tau_m, self.q10_tau_h, self.q10_tau_synapse)]
        )
        table = rate_table(self.dt_ms, *rates).reshape(-1)
        constants = np.array(
            [
                self.dt_ms,
                self.capacitance_uF_per_cm2 * self.area_cm2,
                GAS_CONSTANT * temperature / (2.0 * FARADAY) * 1e3,
                math.exp(-self.dt_ms * _q10(self.q10_tau_ca, temperature) / TAU_CA_MS),
                F_CA_UM_PER_NA * 1e3,
                self.noise_uA,
                self.v_init_mV,
                self.ca_init_uM,
                self.gate_init,
            ]
        )
        g_membrane_scale = self.area_cm2 * _q10(self.q10_g_membrane, temperature)
        g_synapse_scale = _q10(self.q10_g_synapse, temperature)
        every = round(self.record_dt_ms / self.dt_ms)
        first = round(self.burn_in_ms / self.dt_ms)
        for row in np.flatnonzero(result.status == STATUS_OK):
            g = np.ascontiguousarray(theta[row, :24].reshape(3, 8)) * g_membrane_scale
            g_syn = np.ascontiguousarray(theta[row, 24:]) * g_synapse_scale
            out = np.empty((3, t.size))
            rng = noise_generator(seed, first_row + int(row))
            _network_kernel(g, g_syn, table, rates, constants, rng, self.n_steps, first, every, out)
            result.store(int(row), out, "membrane potential")
        return result


def _check_multiple(name: str, value: float, step: float, step_name: str) -> None:
    ratio = value / step
    if abs(ratio - round(ratio)) > 1e-6:
        raise ValueError(f"PyloricNetwork.{name} ({value}) must be a whole multiple of {step_name} ({step})")
