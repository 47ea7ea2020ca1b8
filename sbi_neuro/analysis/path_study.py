"""``sbi-neuro path RUN``: posterior predictive check, two disparate good solutions, and the paths between.

Steps, all seeded from the run's seed:
1. Draw posterior samples at the target and simulate them (the predictive check,
   ``sbi_neuro.analysis.predictive.simulate_check``): the share whose features are all within
   ``tolerance``·scale of the observation.
2. Endpoints: the two good samples farthest apart in the normalised space (or the
   two rows of a CSV given with ``--endpoints``).
3. The high-probability path (``sbi_neuro.analysis.connecting_paths``), the straight line and the
   orthogonal contrast path; every point is simulated and checked the same way.
4. ``RUN/path/path.json`` and figures: parameters along the path, posterior
   density along the paths, traces at chosen points.

The scale of each feature is the use case's cost scale when it has one (the STG
cost's feature SDs), otherwise the SD of the run's valid training features.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sbi_neuro.analysis.connecting_paths import (
    ParameterPath,
    PathDensity,
    farthest_pair,
    optimise_path,
    orthogonal_path,
    straight_path,
    within_tolerance,
)
from sbi_neuro.analysis.predictive import feature_scale, simulate_check
from sbi_neuro.core.files import atomic_savefig, atomic_savetxt, atomic_write_json
from sbi_neuro.core.plotting import pyplot
from sbi_neuro.core.seeds import PATH_OFFSET
from sbi_neuro.execution.dispatcher import Dispatcher
from sbi_neuro.inference.posterior import TrainedPosterior
from sbi_neuro.methods.workspace import Workspace


def path_study(
    ws: Workspace,
    posterior: TrainedPosterior,
    dispatcher: Dispatcher,
    tolerance: float = 0.1,
    n_check: int = 200,
    endpoints: str | None = None,
) -> dict[str, Any]:
    """The whole analysis on a finished Bayesian run with a folder; returns (and writes) the report."""
    if ws.folder is None:
        raise ValueError("the path study writes RUN/path/: run it on a run with a folder")
    prior, seed = ws.usecase.prior, ws.config.seed
    x_o = ws.x_o
    scale = feature_scale(ws)
    out = ws.folder / "path"
    out.mkdir(exist_ok=True)

    check = simulate_check(dispatcher, posterior, x_o, scale, n_check, seed + PATH_OFFSET, tolerance)
    samples, good = check.theta, check.within
    report: dict[str, Any] = {
        "run": str(ws.folder),
        "tolerance_sd": tolerance,
        "posterior_predictive": check.summary(),
    }
    table = np.column_stack([samples, check.distance_sd, good])
    header = ",".join([*prior.names, "max_distance_sd", "within_tolerance"])
    atomic_savetxt(out / "posterior_predictive.csv", table, delimiter=",", header=header, comments="")
    if endpoints:
        a, b = _read_endpoints(endpoints, prior.names)
    else:
        if good.sum() < 2:
            raise ValueError(
                f"only {int(good.sum())} of {n_check} posterior samples reproduce the target within "
                f"{tolerance} SD; raise --tolerance or --samples, or give --endpoints"
            )
        candidates = samples[good]
        i, j = farthest_pair(candidates, prior.to_unit(candidates))
        a, b = candidates[i], candidates[j]
    density = PathDensity(posterior, x_o)
    log_prob_max = float(np.max(density.log_prob_theta(samples))) + 1.0
    high, record = optimise_path(density, a, b, log_prob_max)
    paths = [high, straight_path(density, a, b), orthogonal_path(density, high, samples)]
    report["endpoints"] = {"a": prior.as_dict(a), "b": prior.as_dict(b)}
    apart = np.linalg.norm(prior.to_unit(a[None]) - prior.to_unit(b[None]))
    report["endpoint_distance_normalised"] = float(apart)
    report["optimisation"] = record
    report["paths"] = {}
    for k, path in enumerate(paths):
        result = dispatcher.evaluate(path.theta, seed + PATH_OFFSET + 1 + k, desc=path.name)
        ok = within_tolerance(result.x, x_o, scale, tolerance)
        report["paths"][path.name] = {
            "points": len(path.s),
            "within_tolerance_fraction": float(ok.mean()),
            "valid_fraction": float(np.mean(np.all(np.isfinite(result.x), axis=1))),
            "log_prob_min": float(np.min(path.log_prob)),
            "log_prob_median": float(np.median(path.log_prob)),
            "within_tolerance": ok.tolist(),
        }
    names = ",".join(prior.names)
    atomic_savetxt(out / "high_probability_path.csv", high.theta, delimiter=",", header=names, comments="")
    atomic_write_json(out / "path.json", report)
    _plot(ws, paths, report, out, seed)
    return report


def _read_endpoints(path: str, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Two parameter sets (physical units) from a CSV with a header row of parameter names."""
    data = np.genfromtxt(path, delimiter=",", names=True)
    missing = [n for n in names if n not in (data.dtype.names or ())]
    if missing or data.size < 2:
        raise ValueError(f"{path}: need a header with every parameter ({', '.join(names)}) and two rows")
    rows = np.array([[row[n] for n in names] for row in data[:2]], dtype=float)
    return rows[0], rows[1]


def _plot(ws: Workspace, paths: list[ParameterPath], report: dict[str, Any], out: Path, seed: int) -> None:
    plt = pyplot()

    prior = ws.usecase.prior
    high = paths[0]
    fig, ax = plt.subplots(figsize=(11, 5))
    u = prior.to_unit(high.theta)
    moved = np.argsort(-np.abs(u[-1] - u[0]))
    for k in moved:
        ax.plot(high.s, u[:, k], lw=1.4 if k in moved[:6] else 0.6, alpha=1.0 if k in moved[:6] else 0.4,
                label=prior.names[k] if k in moved[:6] else None)  # fmt: skip
    ax.set_xlabel("position along the path s")
    ax.set_ylabel("parameter (0–1 of its prior range)")
    ax.set_title("Parameters along the high-probability path (the 6 that change most labelled)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    atomic_savefig(fig, out / "parameters_along_path.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for path, color in zip(paths, ("tab:blue", "tab:gray", "tab:red"), strict=True):
        share = report["paths"][path.name]["within_tolerance_fraction"]
        ax.plot(path.s, path.log_prob, color=color, label=f"{path.name} ({share:.0%} of points fit)")
    ax.set_xlabel("position along the path s")
    ax.set_ylabel("log posterior density")
    ax.set_title(f"Posterior density along the paths (tolerance {report['tolerance_sd']} SD)")
    ax.legend(frameon=False)
    fig.tight_layout()
    atomic_savefig(fig, out / "posterior_along_paths.png", dpi=110)
    plt.close(fig)

    points = [(paths[0], 0), (paths[0], len(paths[0].s) // 2), (paths[0], len(paths[0].s) - 1),
              (paths[2], 0), (paths[2], len(paths[2].s) - 1)]  # fmt: skip
    theta = np.array([p.theta[i] for p, i in points])
    result = ws.usecase.simulator(theta, seed=seed + PATH_OFFSET)
    names = ws.usecase.simulator.sweep_names
    window = ws.usecase.zoom_ms or (float(result.t[0]), float(result.t[-1]))
    keep = (result.t >= window[0]) & (result.t <= window[1])
    fig, axes = plt.subplots(len(points), 1, figsize=(10, 1.9 * len(points)), sharex=True, squeeze=False)
    for row, ((path, i), ax) in enumerate(zip(points, axes[:, 0], strict=True)):
        for s, name in enumerate(names):
            ax.plot(result.t[keep], result.traces[row, s, keep] - 120 * s, lw=0.7, label=name)
        fit = report["paths"][path.name]["within_tolerance"][i]
        ax.set_title(f"{path.name}, s = {path.s[i]:.2f}: {'fits' if fit else 'does not fit'}", fontsize=9)
        ax.set_yticks([])
    axes[0, 0].legend(loc="upper right", frameon=False, ncol=len(names))
    axes[-1, 0].set_xlabel("time (ms)")
    fig.tight_layout()
    atomic_savefig(fig, out / "traces_along_paths.png", dpi=110)
    plt.close(fig)
