"""Speed of the pyloric network simulator: simulated seconds per wall second, one process.

Run: .venv/bin/python benchmarks/stg_speed.py [--repeats 3] [--seed 0]

Batches of 1, 10 and 50 prior draws (the USECASES.md prior: membrane conductances uniform,
synapses log-uniform) under the default protocol of ``PyloricNetwork`` (dt 0.025 ms, 1 s
burn-in + 10 s window = 11 s simulated per network, noise on). The kernel is compiled (and
cached) before timing. Printed per batch size: the best of ``--repeats`` runs, as wall time
and as CPU time of this process (on a shared machine the wall time also counts the time other
processes hold the core), per network and as simulated seconds per second.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from simulators.stg_pyloric import PRINZ2004_NETWORK, PyloricNetwork

# USECASES.md "STG pyloric network" (mS/cm²; AB/PD, LP, PY × Na, CaT, CaS, A, KCa, Kd, H, leak).
PRIOR_LOW = np.array([[0, 0, 0, 0, 0, 25, 0, 0], [0, 0, 2, 10, 0, 0, 0, 0.01], [0, 0, 0, 30, 0, 50, 0, 0]])
PRIOR_HIGH = np.array(
    [[500, 7.5, 8, 60, 15, 150, 0.02, 0.01], [200, 2.5, 12, 60, 10, 125, 0.06, 0.04],
     [600, 12.5, 4, 60, 5, 150, 0.06, 0.04]]
)  # fmt: skip


def prior_draws(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    membrane = rng.uniform(PRIOR_LOW.ravel(), PRIOR_HIGH.ravel(), size=(n, 24))
    synapses = 10.0 ** rng.uniform(-8.0, -3.0, size=(n, 7))
    synapses[:, 0] = 10.0 ** rng.uniform(-8.0, -2.0, size=n)  # AB→LP up to 1e-2 mS
    return np.hstack([membrane, synapses])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    simulator = PyloricNetwork()
    simulated_s = (simulator.burn_in_ms + simulator.duration_ms) / 1000.0
    simulator(np.asarray([PRINZ2004_NETWORK]), seed=0)  # compile / load the cached kernel
    print(f"PyloricNetwork: {simulated_s:g} s simulated per network, dt {simulator.dt_ms} ms, one process")
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    header = f"{'batch':>5} {'wall ms/net':>12} {'sim s/wall s':>13} {'CPU ms/net':>11} {'sim s/CPU s':>12}"
    header += f" {'failed':>7}"
    print(header)
    print("-" * len(header))
    for n in (1, 10, 50):
        theta = prior_draws(n, args.seed)
        walls, cpus = [], []
        for repeat in range(args.repeats):
            wall, cpu = time.perf_counter(), time.process_time()
            result = simulator(theta, seed=repeat)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        wall_per, cpu_per = min(walls) / n, min(cpus) / n
        failed = int(np.sum(result.status != 0))
        print(
            f"{n:>5} {wall_per * 1e3:>12.1f} {simulated_s / wall_per:>13.0f} "
            f"{cpu_per * 1e3:>11.1f} {simulated_s / cpu_per:>12.0f} {failed:>7}"
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
