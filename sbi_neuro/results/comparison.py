"""The comparison of methods on a use case: tables, box plots and convergence curves from run folders.

Layout: ``OUT/USECASE/METHOD/seedN/`` is an ordinary run folder. The aggregate goes to
``OUT/USECASE/``: ``table.md``, ``table.csv``, ``best_error_boxplot.png``, ``convergence.png``;
``OUT/ranking.md`` ranks methods across every use case compared into ``OUT``.

Metrics (Neuroptimus protocol, shared/docs/USECASES.md): best error of a run; convergence curve =
cumulative minimum error against evaluations (median, min and max over seeds); convergence score
(``sbi_neuro.core.convergence``).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sbi_neuro.core.convergence import best_so_far, convergence_score, evaluations_to_reach
from sbi_neuro.core.files import atomic_savefig, atomic_write_text
from sbi_neuro.core.plotting import pyplot
from sbi_neuro.methods.config import RunConfig

SLACK = 1.01  # "reached an error level" means within 1% of it


@dataclass(frozen=True)
class MethodRun:
    method: str
    seed: int
    folder: Path
    errors: np.ndarray  # weighted error of every evaluation, in charge order
    wall_time_s: float
    budget: int

    @property
    def best_error(self) -> float:
        return float(np.min(self.errors))


def load_result(folder: Path) -> MethodRun:
    """A finished run's errors in charge order (from evaluations.csv) and its summary."""
    summary = json.loads((folder / "summary.json").read_text())
    with open(folder / "evaluations.csv", newline="") as handle:
        errors = np.array([float(row["error"]) for row in csv.DictReader(handle)])
    config = json.loads((folder / "config.json").read_text())
    wall = float(summary.get("wall_time_s", np.nan))
    return MethodRun(config["method"], int(config["seed"]), folder, errors, wall, int(config["budget"]))


def summarise(results: list[MethodRun], budget: int) -> list[dict[str, Any]]:
    """One row per method: best-error statistics, convergence score, and speed to CMA-ES's level."""
    methods = list(dict.fromkeys(r.method for r in results))
    reference = [r.best_error for r in results if r.method == "cmaes"]
    # 1% slack: runs at the round-off optimum differ in the last digits
    level = SLACK * float(np.median(reference)) if reference else None
    optimum = SLACK * min(r.best_error for r in results)
    rows = []
    for method in methods:
        runs = [r for r in results if r.method == method]
        best = np.array([r.best_error for r in runs])
        scores = [convergence_score(r.errors, budget) for r in runs]
        reach = [evaluations_to_reach(r.errors, level) for r in runs] if level is not None else []
        reached = [n for n in reach if n is not None]
        to_optimum = [evaluations_to_reach(r.errors, optimum) for r in runs]
        at_optimum = [n for n in to_optimum if n is not None]
        rows.append(
            {
                "method": method,
                "seeds": len(runs),
                "median_best_error": float(np.median(best)),
                "min_best_error": float(best.min()),
                "max_best_error": float(best.max()),
                "median_convergence_score": float(np.median(scores)),
                "median_evaluations": float(np.median([min(r.errors.size, budget) for r in runs])),
                "reached_cmaes_median": f"{len(reached)}/{len(runs)}" if level is not None else "",
                "median_evaluations_to_cmaes_median": float(np.median(reached)) if reached else None,
                "reached_lowest": f"{len(at_optimum)}/{len(runs)}",
                "median_evaluations_to_lowest": float(np.median(at_optimum)) if at_optimum else None,
                "median_wall_time_s": float(np.median([r.wall_time_s for r in runs])),
            }
        )
    # Ties (runs at the same round-off optimum differ in the last digits) go to the faster method.
    rows.sort(key=lambda r: (float(f"{r['median_best_error']:.3g}"), r["median_convergence_score"]))  # type: ignore[arg-type]
    return rows


def write_tables(root: Path, base: RunConfig, results: list[MethodRun]) -> Path:
    """table.md, table.csv and the two figures for one use case; returns table.md."""
    rows = summarise(results, base.budget)
    root.mkdir(parents=True, exist_ok=True)
    fields = list(rows[0])
    lines = [",".join(fields)] + [",".join(_csv(r[f]) for f in fields) for r in rows]
    atomic_write_text(root / "table.csv", "\n".join(lines) + "\n")
    header = (
        "| rank | method | seeds | median best error | min | max | median convergence score | "
        "median evaluations | reached CMA-ES median | median evaluations to it | reached lowest | "
        "median evaluations to it | median wall time (s) |"
    )
    md = [
        f"# {base.usecase}: budget {base.budget}, backend {base.backend or 'default'}, target {base.target}",
        "",
        header,
        "|" + "---|" * 13,
    ]
    for rank, r in enumerate(rows, start=1):
        reach = r["median_evaluations_to_cmaes_median"]
        cells = [
            rank,
            r["method"],
            r["seeds"],
            f"{r['median_best_error']:.3g}",
            f"{r['min_best_error']:.3g}",
            f"{r['max_best_error']:.3g}",
            f"{r['median_convergence_score']:.1f}",
            f"{r['median_evaluations']:.0f}",
            r["reached_cmaes_median"],
            "" if reach is None else f"{reach:.0f}",
            r["reached_lowest"],
            "" if r["median_evaluations_to_lowest"] is None else f"{r['median_evaluations_to_lowest']:.0f}",
            f"{r['median_wall_time_s']:.0f}",
        ]
        md.append("| " + " | ".join(map(str, cells)) + " |")
    md += [
        "",
        "Reached: best error within 1% of the CMA-ES runs' median best error, or of the lowest error of",
        "any run (on UC1 and UC2 the round-off optimum); evaluations to it are medians over the runs that",
        "reached it.",
        "",
        "![best errors](best_error_boxplot.png)",
        "",
        "![convergence](convergence.png)",
        "",
    ]
    atomic_write_text(root / "table.md", "\n".join(md))
    _plot(root, base, results, [r["method"] for r in rows])
    return root / "table.md"


def _csv(value: Any) -> str:
    return "" if value is None else (f"{value:.6g}" if isinstance(value, float) else str(value))


def _plot(root: Path, base: RunConfig, results: list[MethodRun], order: list[str]) -> None:
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(max(6.0, 0.8 * len(order)), 4))
    data = [[max(r.best_error, 1e-300) for r in results if r.method == m] for m in order]
    ax.boxplot(data, tick_labels=order)
    ax.set_yscale("log")
    ax.set_ylabel("best error of a run")
    ax.set_title(f"{base.usecase}: best error over seeds, budget {base.budget}")
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    fig.tight_layout()
    atomic_savefig(fig, root / "best_error_boxplot.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 5))
    x = np.arange(1, base.budget + 1)
    for method in order:
        curves = np.array([best_so_far(r.errors, base.budget) for r in results if r.method == method])
        line = ax.plot(x, np.median(curves, axis=0), label=method)[0]
        ax.fill_between(x, curves.min(axis=0), curves.max(axis=0), color=line.get_color(), alpha=0.15)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("evaluations")
    ax.set_ylabel("best error so far (median; band: min–max over seeds)")
    ax.set_title(f"{base.usecase}: convergence")
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    atomic_savefig(fig, root / "convergence.png", dpi=110)
    plt.close(fig)


def write_ranking(out: Path) -> Path:
    """Average rank of each method (by median best error) over every use case with a table in ``out``."""
    ranks: dict[str, list[int]] = {}
    usecases = []
    for table in sorted(out.glob("*/table.csv")):
        with open(table, newline="") as handle:
            rows = list(csv.DictReader(handle))
        usecases.append(table.parent.name)
        for rank, row in enumerate(rows, start=1):
            ranks.setdefault(row["method"], []).append(rank)
    lines = [
        f"# Ranking across use cases ({', '.join(usecases)})",
        "",
        "Rank 1 = lowest median best error on a use case; methods ordered by mean rank.",
        "",
        "| method | mean rank | use cases | ranks |",
        "|---|---|---|---|",
    ]
    for method, r in sorted(ranks.items(), key=lambda kv: (np.mean(kv[1]), kv[0])):
        lines.append(f"| {method} | {np.mean(r):.2f} | {len(r)} | {', '.join(map(str, r))} |")
    path = out / "ranking.md"
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path
