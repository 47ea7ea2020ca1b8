"""Why the batched backend is numba: UC1's fixed-step scheme as numba, numpy and torch batch kernels.

Run: .venv/bin/python benchmarks/kernel_choice.py [--n 500]

All three advance the same NEURON fixed-step scheme (simulators/batched_hh.py)
for n parameter sets of UC1 (1000 ms, dt 0.025 ms). numpy and torch vectorise
over the parameter sets (one array operation per term per time step); numba
loops over sets and steps in compiled code. Printed: ms per simulation (one
process, measured side by side) and the largest voltage difference from numba.
Brian2's NeuronGroup (one neuron per parameter set) is compared on the AdEx and
Gonçalves models in benchmarks/throughput.py.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import torch

from simulators.batched_hh import (
    E_K_MV,
    E_LEAK_MV,
    E_NA_MV,
    TABLE_STEPS,
    TABLE_V_MIN_MV,
    HHSomaBatched,
    hh_rate_table,
)

DT, STEPS, STIM_ON, STIM_OFF = 0.025, 40_000, 200.0, 700.0


def vectorised(theta: Any, table: Any, xp: Any, stim_density: float) -> Any:
    """The scheme over all parameter sets at once; returns v at the end (ms-level work is the point)."""
    g_na_bar, g_k_bar, g_l = theta[:, 0], theta[:, 1], theta[:, 2]
    v = xp.full_like(g_na_bar, -65.0)

    def rates(v: Any) -> Any:
        xi = xp.clip(v - TABLE_V_MIN_MV, 0.0, TABLE_STEPS - 1e-9)
        i = xi.long() if xp is torch else xi.astype(np.int64)
        f = (xi - i)[:, None]
        return table[i] + f * (table[i + 1] - table[i])

    r = rates(v)
    m, h, n = r[:, 0], r[:, 2], r[:, 4]
    for step in range(STEPS):
        t_mid = (step + 0.5) * DT
        g_na, g_k = g_na_bar * m**3 * h, g_k_bar * n**4
        i_ion = g_na * (v - E_NA_MV) + g_k * (v - E_K_MV) + g_l * (v - E_LEAK_MV)
        i_stim = stim_density if STIM_ON <= t_mid < STIM_OFF else 0.0
        v = v + (i_stim - i_ion) / (1e-3 / DT + g_na + g_k + g_l)
        r = rates(v)
        m = m + (1 - xp.exp(-DT / r[:, 1])) * (r[:, 0] - m)
        h = h + (1 - xp.exp(-DT / r[:, 3])) * (r[:, 2] - h)
        n = n + (1 - xp.exp(-DT / r[:, 5])) * (r[:, 4] - n)
    return v


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=500, help="parameter sets per kernel call")
    args = parser.parse_args()
    from usecases.hh import PRIOR

    theta = PRIOR.sample(args.n, np.random.default_rng(0))
    sim = HHSomaBatched(record_dt_ms=1000.0)  # record only t = 0 and the end: time the dynamics
    stim_density = sim.stim_amp_nA * 100.0 / (np.pi * sim.diam_um * sim.length_um)
    table = hh_rate_table()
    sim(theta[:2])  # compile
    rows = []
    start = time.perf_counter()
    v_numba = sim(theta).traces[:, 0, -1]
    rows.append(("numba, compiled loop (the batched backend)", time.perf_counter() - start, 0.0))
    start = time.perf_counter()
    v_np = vectorised(theta, table, np, stim_density)
    rows.append(("numpy, vectorised over sets", time.perf_counter() - start, np.max(np.abs(v_np - v_numba))))
    torch.set_num_threads(1)
    start = time.perf_counter()
    v_t = vectorised(torch.as_tensor(theta), torch.as_tensor(table), torch, stim_density).numpy()
    torch_s = time.perf_counter() - start
    rows.append(("torch (CPU, 1 thread), vectorised", torch_s, np.max(np.abs(v_t - v_numba))))
    print(f"UC1, {args.n} parameter sets, one process\n")
    print("| kernel | ms per simulation | × numba | max |Δv| at 1000 ms vs numba (mV) |\n|---|---|---|---|")
    for label, seconds, diff in rows:
        ms = seconds / args.n * 1e3
        print(f"| {label} | {ms:.2f} | {seconds / rows[0][1]:.1f} | {diff:.1e} |")


if __name__ == "__main__":
    main()
