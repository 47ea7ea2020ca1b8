"""What a finished run writes to its folder: summary.json, metadata.json (Neuroptimus fields), CSV
tables and plots, from the run's typed result."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from sbi_neuro.core.convergence import convergence_statistics
from sbi_neuro.core.files import atomic_path, atomic_savefig, atomic_write_json
from sbi_neuro.core.plotting import pyplot
from sbi_neuro.methods.outcomes import BankResult, FitResult, InferenceResult
from sbi_neuro.methods.workspace import Workspace
from sbi_neuro.results import layout

SAVED_SAMPLES = 1000  # posterior samples at the target written to posterior_samples.csv


def write_outputs(ws: Workspace, result: FitResult | BankResult) -> None:
    """The tables and plots of a finished fit or inference (nothing for a run in memory or a bank)."""
    if ws.folder is None or not isinstance(result, FitResult):
        return
    plots = _plots(ws)
    if isinstance(result, InferenceResult):
        names = ws.usecase.prior.names
        write_samples_csv(ws.folder / layout.POSTERIOR_SAMPLES, names, result.samples[:SAVED_SAMPLES])
    write_metadata(ws, result, {"resumed": ws.resumed})
    write_evaluations_csv(ws, result)
    plot_best_fit(ws, result.best_fit.theta, plots / "best_fit.png")
    if isinstance(result, InferenceResult):
        label = f"{result.method} (training, then best-fit search)"
        plot_convergence(result.convergence.errors, plots / "convergence.png", label)
        plot_pairplot(ws, result.samples, plots / "pairplot.png")
        plot_posterior_predictive(ws, result.samples, plots / "posterior_predictive.png")
    else:
        plot_convergence(result.convergence.errors, plots / "convergence.png", result.method)


def write_summary(ws: Workspace, result: FitResult | BankResult) -> None:
    """``summary.json``: written last, so a folder with it holds a finished run."""
    if ws.folder is not None:
        atomic_write_json(ws.folder / layout.SUMMARY, result.summary)


def _plots(ws: Workspace) -> Path:
    assert ws.folder is not None
    path = ws.folder / layout.PLOTS
    path.mkdir(exist_ok=True)
    return path


def write_metadata(ws: Workspace, result: FitResult, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Neuroptimus-compatible ``metadata.json`` for the run; returns its content."""
    assert ws.folder is not None
    prior, cost, config = ws.usecase.prior, ws.usecase.cost, ws.config
    best, errors = result.best_fit, result.convergence.errors
    meta: dict[str, Any] = {
        "opt_name": config.method,
        "algorithm": result.algorithm,
        "seed": config.seed,
        "usecase": ws.usecase.name,
        "backend": ws.usecase.backend,
        "budget": config.budget,
        "config": config.to_json(),
        "target": ws.target.source,
        "final_fitness": best.error,
        "number_of_evaluations": len(result.simulations),
        "parameters": [
            {"name": p.name, "unit": p.unit, "min_boundary": p.low, "max_boundary": p.high, "optimum": v}
            for p, v in zip(prior.parameters, best.theta.tolist(), strict=True)
        ],
        "error_function": [
            {"name": lab, "value": c, "weight": float(w), "weighted_value": float(c * w)}
            for lab, c, w in zip(cost.labels, best.components.values(), cost.weight_vector, strict=True)
        ],
        "statistics": convergence_statistics(errors),
        "convergence_score": result.convergence.score,
        "wall_time_s": result.wall_time_s,
        "failed_simulations": result.simulations.failed,
    }
    meta.update(extra or {})
    atomic_write_json(ws.folder / layout.METADATA, meta)
    return meta


def write_evaluations_csv(ws: Workspace, result: FitResult) -> None:
    """Every evaluation in charge order: parameters, error, components, status."""
    assert ws.folder is not None
    sims = result.simulations
    with atomic_path(ws.folder / layout.EVALUATIONS) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["evaluation", *sims.parameter_names, "error", *sims.component_names, "status"])
        for i in range(len(sims)):
            writer.writerow([i, *sims.theta[i], sims.error[i], *sims.components[i], sims.status[i]])


def write_samples_csv(path: Path, names: list[str], samples: np.ndarray) -> None:
    """Posterior samples, one column per parameter, with a header of names."""
    with atomic_path(path) as tmp:
        np.savetxt(tmp, samples, delimiter=",", header=",".join(names), comments="", fmt="%.10g")


# -- plots -------------------------------------------------------------------


def plot_best_fit(ws: Workspace, theta: np.ndarray, path: Path) -> None:
    """Target against the best-fit trace, one row per sweep, with a zoomed panel when declared."""
    plt = pyplot()
    result = ws.usecase.simulator(theta[None, :], seed=ws.config.seed)
    target, zoom = ws.target, ws.usecase.zoom_ms
    n_sweeps = result.traces.shape[1]
    names = ws.usecase.simulator.sweep_names
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
    x = ws.usecase.features(result.t, result.traces)
    _, error = ws.usecase.cost.batch(result.t, result.traces, x, target, ok)
    axes[0, 0].set_title(f"{ws.usecase.name}: target vs best fit ({ws.config.method}), error {error[0]:.3g}")
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=100)
    plt.close(fig)


def plot_posterior_predictive(ws: Workspace, samples: np.ndarray, path: Path, n: int = 8) -> None:
    """Traces of ``n`` posterior samples over the target (analysis simulations, outside the budget)."""
    plt = pyplot()
    rng = np.random.default_rng(ws.config.seed)
    chosen = samples[rng.choice(len(samples), size=min(n, len(samples)), replace=False)]
    result = ws.usecase.simulator(chosen, seed=ws.config.seed + 1)
    target, n_sweeps = ws.target, result.traces.shape[1]
    fig, axes = plt.subplots(n_sweeps, 1, figsize=(10, 2.2 * n_sweeps + 0.6), squeeze=False)
    for s, ax in enumerate(axes[:, 0]):
        for i in range(len(chosen)):
            ax.plot(result.t, result.traces[i, s], color="tab:blue", lw=0.6, alpha=0.5)
        if target.traces is not None:
            ax.plot(target.t, target.traces[s], color="k", lw=1.0, label="target")
        ax.set_ylabel(ws.usecase.simulator.sweep_names[s] if n_sweeps > 1 else "recorded")
    axes[0, 0].plot([], [], color="tab:blue", label=f"{len(chosen)} posterior samples")
    axes[0, 0].legend(loc="upper right", frameon=False)
    axes[0, 0].set_title(f"{ws.usecase.name}: posterior predictive traces")
    axes[-1, 0].set_xlabel("time (ms)")
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=100)
    plt.close(fig)


def plot_convergence(errors: np.ndarray, path: Path, label: str) -> None:
    """Cumulative minimum error against evaluations."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(np.arange(1, errors.size + 1), np.minimum.accumulate(errors), label=label)
    ax.set_yscale("log")
    ax.set_xlabel("evaluations")
    ax.set_ylabel("best error so far")
    ax.legend(frameon=False)
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=110)
    plt.close(fig)


def plot_pairplot(ws: Workspace, samples: np.ndarray, path: Path) -> None:
    """Posterior pairplot in inference space, truth marked when known."""
    plt = pyplot()
    from sbi.analysis import pairplot

    prior = ws.usecase.prior
    z = prior.to_z(samples)
    labels = [f"log10 {p.name}" if p.scale == "log" else p.label for p in prior.parameters]
    limits = list(zip(prior.to_z(prior.lows).ravel(), prior.to_z(prior.highs).ravel(), strict=True))
    size = min(2.2 * prior.dim + 1, 36.0)  # 31 parameters (stg) would otherwise be 69 inches across
    kwargs: dict[str, Any] = {"limits": limits, "labels": labels, "figsize": (size, size)}
    truth = ws.usecase.truth_vector
    if truth is not None and ws.target.from_ground_truth:
        kwargs["points"] = prior.to_z(truth)
    fig, _ = pairplot(z, **kwargs)
    atomic_savefig(fig, path, dpi=100)
    plt.close(fig)
