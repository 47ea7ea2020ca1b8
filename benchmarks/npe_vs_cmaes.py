"""Best error of NPE and CMA-ES on UC1 at equal budgets, and the coverage of NPE's 90% intervals.

Run: .venv/bin/python benchmarks/npe_vs_cmaes.py --budgets 1000 3000 10000 --seeds 1 2 3 --workers 2

Two exact shortcuts keep the cost down without changing any result:
- CMA-ES with a budget B makes exactly the first B evaluations of a longer run with
  the same seed, so one run per seed at the largest budget gives every smaller budget
  (its best error after B evaluations).
- NPE prior batches are a pure function of (seed, batch index): a smaller-budget run
  reuses (hard-links) the identical batch files of the largest run with the same seed.
Results go to --out (default runs/benchmarks/npe_vs_cmaes) as results.json and results.md.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from sbi_neuro.api.execute import execute
from sbi_neuro.methods.config import RunConfig


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--budgets", type=int, nargs="+", default=[1000, 3000, 10000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--target", default="data")
    parser.add_argument("--out", default="runs/benchmarks/npe_vs_cmaes")
    args = parser.parse_args()
    out = Path(args.out)
    budgets = sorted(args.budgets)
    results: list[dict[str, object]] = []
    start = time.perf_counter()
    for seed in args.seeds:
        common = {
            "usecase": "hh",
            "seed": seed,
            "workers": args.workers,
            "target": args.target,
            "progress": False,
        }
        cma = execute(RunConfig(method="cmaes", budget=budgets[-1], **common), out / f"cmaes-s{seed}").summary
        errors = np.loadtxt(out / f"cmaes-s{seed}" / "evaluations.csv", delimiter=",", skiprows=1, usecols=4)
        for b in budgets:
            results.append(
                {"method": "cmaes", "seed": seed, "budget": b, "best_error": float(errors[:b].min())}
            )
        print(f"seed {seed}: CMA-ES done ({cma['wall_time_s']:.0f} s)", flush=True)
        for b in reversed(budgets):
            folder = out / f"npe-b{b}-s{seed}"
            if b != budgets[-1]:
                _link_shared_batches(out / f"npe-b{budgets[-1]}-s{seed}" / "bank", folder / "bank", b)
            s = execute(RunConfig(method="npe", budget=b, **common), folder).summary
            inside = s.get("truth_in_interval_90", {})
            results.append(
                {
                    "method": "npe",
                    "seed": seed,
                    "budget": b,
                    "best_error": s["best_error"],
                    "map_error": s["map_error"],
                    "truth_inside": sum(inside.values()),
                    "parameters": len(inside),
                    "best_validation_loss": s["training"]["best_validation_loss"],
                }
            )
            print(f"seed {seed}: NPE {b} done, best error {s['best_error']:.3g}", flush=True)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    table = _table(results, budgets, time.perf_counter() - start)
    (out / "results.md").write_text(table)
    print(table)


def _link_shared_batches(source: Path, dest: Path, budget: int) -> None:
    """Hard-link prior batches that the smaller run would recompute identically."""
    cfg = RunConfig(usecase="hh", method="npe", budget=budget)
    full = cfg.training_simulations // cfg.batch_size
    dest.mkdir(parents=True, exist_ok=True)
    for i in range(full):
        src, dst = source / f"batch_{i:06d}.npz", dest / f"batch_{i:06d}.npz"
        if src.exists() and not dst.exists():
            os.link(src, dst)
    if (source / "columns.json").exists() and not (dest / "columns.json").exists():
        os.link(source / "columns.json", dest / "columns.json")


def _table(results: list[dict], budgets: list[int], wall: float) -> str:
    lines = [
        "| budget | CMA-ES best error, median [min, max] | NPE best error, median [min, max] "
        "| NPE MAP error, median | truth in NPE 90% interval |",
        "|---|---|---|---|---|",
    ]
    for b in budgets:
        cma = [r["best_error"] for r in results if r["method"] == "cmaes" and r["budget"] == b]
        npe = [r for r in results if r["method"] == "npe" and r["budget"] == b]
        e = [r["best_error"] for r in npe]
        inside = sum(r["truth_inside"] for r in npe)
        total = sum(r["parameters"] for r in npe)
        lines.append(
            f"| {b} | {np.median(cma):.3g} [{min(cma):.3g}, {max(cma):.3g}] | {np.median(e):.3g} "
            f"[{min(e):.3g}, {max(e):.3g}] | {np.median([r['map_error'] for r in npe]):.3g} | "
            f"{inside}/{total} |"
        )
    seeds = len({r["seed"] for r in results})
    lines.append(f"\n{seeds} seeds per cell; total wall time {wall / 60:.1f} min on this machine.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
