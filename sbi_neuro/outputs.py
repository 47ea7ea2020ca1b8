"""What a finished run writes: metadata.json (Neuroptimus fields), CSV tables, plots."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from sbi_neuro.bank import atomic_savefig, atomic_write_text
from sbi_neuro.evaluation import EvalBatch
from sbi_neuro.runs import Run

GENERATION = 100  # evaluations per "generation" in Neuroptimus statistics


def convergence_statistics(errors: np.ndarray) -> list[dict[str, float]]:
    """Per block of 100 evaluations: min, median, max, mean and best error so far."""
    stats, best = [], np.inf
    for g, start in enumerate(range(0, errors.size, GENERATION)):
        block = errors[start : start + GENERATION]
        best = min(best, float(block.min()))
        stats.append(
            {
                "generation": g,
                "evaluations": int(start + block.size),
                "min": float(block.min()),
                "median": float(np.median(block)),
                "max": float(block.max()),
                "mean": float(block.mean()),
                "best_so_far": best,
            }
        )
    return stats


def convergence_score(errors: np.ndarray) -> float:
    """Σ over generations of log10(best error so far): smaller converges faster."""
    best = [s["best_so_far"] for s in convergence_statistics(errors)]
    return float(np.sum(np.log10(np.maximum(best, 1e-300))))


def write_metadata(
    run: Run,
    evaluations: EvalBatch,
    best: int,
    algorithm: dict[str, Any],
    wall_time_s: float,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Neuroptimus-compatible ``metadata.json`` for the run; returns its content."""
    prior, cost = run.usecase.prior, run.usecase.cost
    comps = evaluations.components[best]
    weights = cost.weight_vector
    labels = cost.labels
    meta: dict[str, Any] = {
        "opt_name": run.config.method,
        "algorithm": algorithm,
        "seed": run.config.seed,
        "usecase": run.usecase.name,
        "backend": run.usecase.backend,
        "budget": run.config.budget,
        "config": run.config.to_json(),
        "target": run.target.source,
        "final_fitness": float(evaluations.error[best]),
        "number_of_evaluations": len(evaluations),
        "parameters": [
            {"name": p.name, "unit": p.unit, "min_boundary": p.low, "max_boundary": p.high, "optimum": v}
            for p, v in zip(prior.parameters, evaluations.theta[best].tolist(), strict=True)
        ],
        "error_function": [
            {"name": lab, "value": float(c), "weight": float(w), "weighted_value": float(c * w)}
            for lab, c, w in zip(labels, comps, weights, strict=True)
        ],
        "statistics": convergence_statistics(evaluations.error),
        "convergence_score": convergence_score(evaluations.error),
        "wall_time_s": wall_time_s,
        "failed_simulations": int(np.sum(evaluations.status != 0)),
    }
    meta.update(extra or {})
    atomic_write_text(run.folder / "metadata.json", json.dumps(meta, indent=1))
    return meta


def write_evaluations_csv(run: Run, evaluations: EvalBatch) -> None:
    """Every evaluation in charge order: parameters, error, components, status."""
    path = run.folder / "evaluations.csv"
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["evaluation", *run.usecase.prior.names, "error", *run.usecase.cost.names, "status"])
        for i in range(len(evaluations)):
            writer.writerow(
                [
                    i,
                    *evaluations.theta[i],
                    evaluations.error[i],
                    *evaluations.components[i],
                    evaluations.status[i],
                ]
            )
    tmp.replace(path)


def write_samples_csv(path: Path, names: list[str], samples: np.ndarray) -> None:
    tmp = path.with_suffix(".csv.tmp")
    np.savetxt(tmp, samples, delimiter=",", header=",".join(names), comments="", fmt="%.10g")
    tmp.replace(path)


# -- plots -------------------------------------------------------------------


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_best_fit(run: Run, theta: np.ndarray, path: Path) -> None:
    """Target against the best-fit trace, one row per sweep, with a zoomed panel when declared."""
    plt = _pyplot()
    result = run.usecase.simulator(theta[None, :], seed=run.config.seed)
    target, zoom = run.target, run.usecase.zoom_ms
    n_sweeps = result.traces.shape[1]
    names = run.usecase.simulator.sweep_names
    cols, ratios = (2, [3, 1]) if zoom else (1, [1])
    fig, axes = plt.subplots(
        n_sweeps,
        cols,
        figsize=(12, 2.4 * n_sweeps + 0.6),
        squeeze=False,
        gridspec_kw={"width_ratios": ratios},
    )
    for s in range(n_sweeps):
        for ax in axes[s]:
            if target.traces is not None:
                ax.plot(target.t, target.traces[s], color="k", lw=1.2, label="target")
            ax.plot(result.t, result.traces[0, s], color="tab:red", lw=0.9, alpha=0.8, label="best fit")
        axes[s, 0].set_ylabel(names[s] if n_sweeps > 1 else "recorded")
        if zoom:
            axes[s, 1].set_xlim(*zoom)
    axes[0, 0].legend(loc="upper right", frameon=False)
    axes[-1, 0].set_xlabel("time (ms)")
    ok = result.status == 0
    x = run.usecase.features(result.t, result.traces)
    _, error = run.usecase.cost.batch(result.t, result.traces, x, target, ok)
    axes[0, 0].set_title(
        f"{run.usecase.name}: target vs best fit ({run.config.method}), error {error[0]:.3g}"
    )
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=100)
    plt.close(fig)


def plot_posterior_predictive(run: Run, samples: np.ndarray, path: Path, n: int = 8) -> None:
    """Traces of ``n`` posterior samples over the target (analysis simulations, outside the budget)."""
    plt = _pyplot()
    rng = np.random.default_rng(run.config.seed)
    chosen = samples[rng.choice(len(samples), size=min(n, len(samples)), replace=False)]
    result = run.usecase.simulator(chosen, seed=run.config.seed + 1)
    target, n_sweeps = run.target, result.traces.shape[1]
    fig, axes = plt.subplots(n_sweeps, 1, figsize=(10, 2.2 * n_sweeps + 0.6), squeeze=False)
    for s, ax in enumerate(axes[:, 0]):
        for i in range(len(chosen)):
            ax.plot(result.t, result.traces[i, s], color="tab:blue", lw=0.6, alpha=0.5)
        if target.traces is not None:
            ax.plot(target.t, target.traces[s], color="k", lw=1.0, label="target")
        ax.set_ylabel(run.usecase.simulator.sweep_names[s] if n_sweeps > 1 else "recorded")
    axes[0, 0].plot([], [], color="tab:blue", label=f"{len(chosen)} posterior samples")
    axes[0, 0].legend(loc="upper right", frameon=False)
    axes[0, 0].set_title(f"{run.usecase.name}: posterior predictive traces")
    axes[-1, 0].set_xlabel("time (ms)")
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=100)
    plt.close(fig)


def plot_convergence(errors: np.ndarray, path: Path, label: str) -> None:
    """Cumulative minimum error against evaluations."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(np.arange(1, errors.size + 1), np.minimum.accumulate(errors), label=label)
    ax.set_yscale("log")
    ax.set_xlabel("evaluations")
    ax.set_ylabel("best error so far")
    ax.legend(frameon=False)
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=110)
    plt.close(fig)


def plot_pairplot(run: Run, samples: np.ndarray, path: Path) -> None:
    """Posterior pairplot in inference space, truth marked when known."""
    plt = _pyplot()
    from sbi.analysis import pairplot

    prior = run.usecase.prior
    z = prior.to_z(samples)
    labels = [f"log10 {p.name}" if p.scale == "log" else p.label for p in prior.parameters]
    limits = list(zip(prior.to_z(prior.lows).ravel(), prior.to_z(prior.highs).ravel(), strict=True))
    size = min(2.2 * prior.dim + 1, 36.0)  # 31 parameters (stg) would otherwise be 69 inches across
    kwargs: dict[str, Any] = {"limits": limits, "labels": labels, "figsize": (size, size)}
    truth = run.usecase.truth_vector
    if truth is not None and run.target.from_ground_truth:
        kwargs["points"] = prior.to_z(truth)
    fig, _ = pairplot(z, **kwargs)
    atomic_savefig(fig, path, dpi=100)
    plt.close(fig)
