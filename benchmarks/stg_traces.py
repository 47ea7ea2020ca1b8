"""The three voltage traces of the example pyloric network of Prinz et al. 2004, as a figure.

Run: .venv/bin/python benchmarks/stg_traces.py [--out docs/benchmarks/stg/traces.png] [--seed 0]
    [--window-ms 3000]

Simulates ``PRINZ2004_NETWORK`` with the default protocol of ``PyloricNetwork`` (dt 0.025 ms,
283 K, noise 0.001 µA, 1 s burn-in, 10 s analysis window) and plots the first
``--window-ms`` of the analysis window for AB/PD, LP and PY, with the burst onsets found by
the simple detector used in the tests (spikes: upward crossings of −10 mV; a gap of more
than 150 ms between spikes starts a new burst). Prints the bursts' timing.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from simulators.stg_pyloric import PRINZ2004_NETWORK, PyloricNetwork

SPIKE_THRESHOLD_MV, BURST_GAP_MS = -10.0, 150.0


def burst_onsets(t: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end times (ms) of the bursts of one trace (bursts of ≥ 2 spikes)."""
    spikes = t[1:][(v[:-1] < SPIKE_THRESHOLD_MV) & (v[1:] >= SPIKE_THRESHOLD_MV)]
    if spikes.size == 0:
        return np.empty(0), np.empty(0)
    breaks = np.flatnonzero(np.diff(spikes) > BURST_GAP_MS)
    first = np.concatenate([[0], breaks + 1])
    last = np.concatenate([breaks, [spikes.size - 1]])
    keep = last > first
    return spikes[first[keep]], spikes[last[keep]]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks/stg/traces.png"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--window-ms", type=float, default=3000.0)
    args = parser.parse_args()

    simulator = PyloricNetwork()
    result = simulator(np.array([PRINZ2004_NETWORK]), seed=args.seed)
    if result.status[0] != 0:
        raise SystemExit(f"simulation failed: {result.messages[0]}")
    t, traces = simulator.t, result.traces[0]
    for name, v in zip(simulator.sweep_names, traces, strict=True):
        starts, ends = burst_onsets(t, v)
        period = np.median(np.diff(starts)) if starts.size > 1 else float("nan")
        duration = np.median(ends - starts) if starts.size else float("nan")
        print(
            f"{name}: {starts.size} bursts, median period {period:.0f} ms, median duration {duration:.0f} ms"
        )

    shown = t < t[0] + args.window_ms
    fig, axes = plt.subplots(3, 1, figsize=(10, 6), sharex=True, sharey=True)
    colours = {"PD": "tab:blue", "LP": "tab:orange", "PY": "tab:green"}
    for ax, name, v in zip(axes, simulator.sweep_names, traces, strict=True):
        ax.plot(t[shown] / 1000.0, v[shown], lw=0.6, color=colours[name])
        starts, _ = burst_onsets(t, v)
        for onset in starts[starts < t[0] + args.window_ms]:
            ax.axvline(onset / 1000.0, color="0.6", lw=0.6, ls="--")
        ax.set_ylabel(f"{name}\nV (mV)")
    axes[-1].set_xlabel("time (s, burn-in included)")
    axes[0].set_title(
        "Pyloric network, example of Prinz et al. 2004 (AB/PD 2, LP 4, PY 1), "
        f"283 K, noise 1 nA, seed {args.seed}",
        fontsize=9,
    )
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp.png")
    fig.savefig(tmp, dpi=120)
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
