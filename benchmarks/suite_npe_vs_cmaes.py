"""NPE against CMA-ES at an equal budget on every use case of the suite (one seed each).

Run: .venv/bin/python benchmarks/suite_npe_vs_cmaes.py [--only vclamp adex] [--seed 1]
Budgets are chosen so that each pair runs in under 20 minutes on this machine
(2 workers). Prints a Markdown table (best errors, and for surrogate targets the
relative distance of the best fit from the ground truth) and writes it with the
run folders to --out (default runs/benchmarks/suite).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from sbi_neuro.api.execute import execute
from sbi_neuro.methods.config import RunConfig

# use case → (options, budget, CMA-ES population)
PLAN: dict[str, tuple[dict[str, str], int, int]] = {
    "vclamp": ({}, 3000, 100),
    "ca1_passive": ({}, 2000, 100),
    "adex": ({}, 3000, 100),
    "hh_allen": ({"cell": "509881736"}, 3000, 100),
    "ca1_detailed": ({}, 120, 10),
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="runs/benchmarks/suite")
    args = parser.parse_args()
    out = Path(args.out)
    rows = []
    for name, (options, budget, popsize) in PLAN.items():
        if args.only and name not in args.only:
            continue
        common = {"usecase": name, "budget": budget, "seed": args.seed, "workers": args.workers,
                  "options": options, "progress": False}  # fmt: skip
        start = time.perf_counter()
        npe = execute(RunConfig(method="npe", **common), out / f"{name}-npe").summary
        cma = execute(
            RunConfig(method="cmaes", population_size=popsize, **common), out / f"{name}-cmaes"
        ).summary
        rows.append(
            {
                "usecase": name,
                "budget": budget,
                "npe": npe["best_error"],
                "npe_map": npe["map_error"],
                "cmaes": cma["best_error"],
                "npe_distance": _distance(npe),
                "cmaes_distance": _distance(cma),
                "wall_min": (time.perf_counter() - start) / 60,
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    lines = [
        "| use case | budget | NPE best error | NPE MAP error | CMA-ES best error | "
        "distance to truth NPE / CMA-ES | wall time of the pair (min) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        dist = "—" if r["npe_distance"] is None else f"{r['npe_distance']:.3g} / {r['cmaes_distance']:.3g}"
        lines.append(
            f"| {r['usecase']} | {r['budget']} | {r['npe']:.3g} | {r['npe_map']:.3g} | {r['cmaes']:.3g} "
            f"| {dist} | {r['wall_min']:.1f} |"
        )
    table = "\n".join(lines) + "\n\nDistance: mean over parameters of |best − truth| / |truth|.\n"
    if (out / "ca1_detailed-cmaes").exists():
        table += "\n" + _uc6_feature_report(out) + "\n"
    (out / "results.md").write_text(table)
    print(table)


def _uc6_feature_report(out: Path) -> str:
    """How close the best UC6 fit of each method comes to each of the 66 targets, in SDs."""
    from sbi_neuro.execution.bank import SimulationBank
    from sbi_neuro.registry import get_usecase

    uc = get_usecase("ca1_detailed")
    stats = uc.features.stats  # type: ignore[attr-defined]
    lines = ["| UC6 best fit | within 1 SD | within 2 SD | within 3 SD | missing | worst targets (SDs) |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for method in ("npe", "cmaes"):
        folder = out / f"ca1_detailed-{method}" / "bank"
        bank = SimulationBank(folder, json.loads((folder / "columns.json").read_text())).load()
        best = bank.x[int(np.argmin(bank.error))]
        z = np.abs(best - stats.means) / stats.stds
        worst = np.argsort(-np.nan_to_num(z, nan=np.inf))[:3]
        worst_text = ", ".join(f"{stats.names[j]} {z[j]:.1f}" for j in worst)
        counts = [int(stats.within_sd(best, k)[0]) for k in (1, 2, 3)]
        lines.append(
            f"| {method} | {counts[0]}/66 | {counts[1]}/66 | {counts[2]}/66 | {int(np.isnan(best).sum())} "
            f"| {worst_text} |"
        )
    return "\n".join(lines)


def _distance(summary: dict) -> float | None:
    truth = summary.get("truth")
    if not truth:
        return None
    best = summary["best_fit"]
    return float(np.mean([abs(best[k] - v) / abs(v) for k, v in truth.items()]))


if __name__ == "__main__":
    main()
