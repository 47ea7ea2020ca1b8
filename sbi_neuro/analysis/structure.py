"""The structure of a run's posterior: ArviZ export and summary, constraint ranking, correlations.

``analyse_posterior`` on a Bayesian run (at its end, or later by ``sbi-neuro check``) writes to
``RUN/analysis/``:

- ``posterior.nc``: ArviZ ``InferenceData`` (netCDF): a ``posterior`` group (one chain, one
  variable per parameter, physical units, with attributes unit, low, high and scale), a ``prior``
  group with as many prior samples (seeded from the run seed), and ``observed_data``: the target's
  features (undefined ones filled, as the network saw them), one variable per feature.
- ``posterior_summary.csv``: ``az.summary`` (mean, SD, 90% HDI) with a unit column.
- ``constraint.png``: per parameter, the width of the posterior's central 90% interval over the
  prior's, in the prior's inference space (log10 for log-scaled parameters); small = pinned down.
- ``correlations.png``: marginal correlations of the posterior samples, and sbi's conditional
  correlations (every other parameter held at the MAP), both in inference space.
- ``structure.json``: all of the above as numbers.

The conditional correlation of a pair is computed by sbi on a ``resolution``² grid over a box that
holds the posterior samples, so its cost grows as pairs × networks × resolution². The resolution is
the largest up to 50 that keeps the density evaluations within ``GRID_EVALUATIONS``: 50 for every
use case with the default 2-network ensemble. Measured with 31 parameters (stg's count, 465 pairs),
2 MAF networks and resolution 50 on one core of the loaded 2-core development machine: 13.5 s
(trained on a 31-parameter toy), 19 s (untrained networks); resolution 20 takes 3 s.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from priors import Prior
from sbi_neuro.core.files import atomic_path, atomic_savefig, atomic_write_json
from sbi_neuro.core.plotting import pyplot
from sbi_neuro.core.seeds import PRIOR_DRAWS_OFFSET
from sbi_neuro.inference.posterior import TrainedPosterior
from sbi_neuro.inference.settings import sbi_version
from sbi_neuro.methods.workspace import Workspace
from sbi_neuro.results import layout

HDI_PROB = 0.9
INTERVAL = (5.0, 95.0)  # central interval of the constraint ranking, percent
GRID_EVALUATIONS = 2_500_000  # network evaluations (pairs × networks × resolution²) per correlation matrix
MAX_RESOLUTION, MIN_RESOLUTION = 50, 10
SAMPLE_BOX = (0.5, 99.5)  # the conditional grid spans these percentiles of the samples, padded
BOX_PADDING = 0.1  # of the box's width, on each side


# -- ArviZ ------------------------------------------------------------------------------------------
def arviz() -> Any:
    """ArviZ, imported without its FutureWarning announcing the 1.0 refactor: the warning is about
    releases this project does not install (``arviz<1`` in pyproject.toml), so a user can do nothing
    about it; every other warning stays visible."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="ArviZ is undergoing a major refactor", category=FutureWarning
        )
        import arviz as az

    return az


def inference_data(ws: Workspace, samples: np.ndarray) -> Any:
    """Posterior and prior samples (and the target's features) as ArviZ ``InferenceData``."""
    az = arviz()

    prior = ws.usecase.prior
    samples = _checked_samples(prior, samples)
    prior_seed = ws.config.seed + PRIOR_DRAWS_OFFSET
    draws = prior.sample(len(samples), np.random.default_rng(prior_seed))
    groups = {
        "posterior": _parameter_dataset(prior, samples),
        "prior": _parameter_dataset(prior, draws),
        "observed_data": _feature_dataset(ws),
    }
    attrs = {
        "usecase": ws.usecase.name,
        "backend": ws.usecase.backend,
        "method": ws.config.method,
        "seed": ws.config.seed,
        "target": ws.target.source,
        "inference_library": "sbi",
        "inference_library_version": sbi_version(),
        "prior_seed": prior_seed,
        "observed_data_note": "target features with undefined ones filled, as the network saw them",
    }
    return az.InferenceData(attrs=attrs, **groups)


def export_inference_data(ws: Workspace, samples: np.ndarray, out: Path) -> Path:
    """Write ``inference_data`` as netCDF to ``out``; returns the path."""
    with atomic_path(out) as tmp:
        inference_data(ws, samples).to_netcdf(str(tmp))
    return out


def summary_table(idata: Any) -> Any:
    """``az.summary`` statistics (mean, SD, 90% HDI) of the posterior group, unrounded, with units."""
    az = arviz()

    table = az.summary(idata, kind="stats", hdi_prob=HDI_PROB, round_to="none")
    table["unit"] = [idata.posterior[name].attrs.get("unit", "") for name in table.index]
    return table


def _parameter_dataset(prior: Prior, theta: np.ndarray) -> Any:
    import xarray as xr

    coords = {"chain": [0], "draw": np.arange(len(theta))}
    data = {}
    for j, p in enumerate(prior.parameters):
        # Not "bounds": CF conventions reserve it for the name of a bounds variable.
        attrs = {"unit": p.unit, "low": p.low, "high": p.high, "scale": p.scale, "description": p.description}
        data[p.name] = xr.DataArray(theta[None, :, j], dims=("chain", "draw"), attrs=attrs)
    return xr.Dataset(data, coords=coords)


def _feature_dataset(ws: Workspace) -> Any:
    import xarray as xr

    features = ws.usecase.features
    units = list(getattr(features, "units", None) or [""] * len(features.names))
    x_o = ws.x_o
    data = {
        name: xr.DataArray(value, attrs={"unit": unit})
        for name, unit, value in zip(features.names, units, x_o, strict=True)
    }
    return xr.Dataset(data)


# -- how much the data constrain each parameter ------------------------------------------------------
def constraint_ranking(prior: Prior, samples: np.ndarray) -> list[dict[str, Any]]:
    """Per parameter, posterior / prior width of the central 90% interval in inference space.

    Sorted from the most constrained (smallest ratio) to the least; a ratio near 1 means the data
    say nothing about the parameter (a posterior piled at both ends of the prior can exceed 1).
    """
    z = prior.to_z(_checked_samples(prior, samples))
    lo, hi = np.percentile(z, INTERVAL, axis=0)
    z_low, z_high = _z_box(prior)
    share = (INTERVAL[1] - INTERVAL[0]) / 100.0
    prior_width = share * (z_high - z_low)  # the prior is uniform in inference space
    rows = [
        {
            "name": p.name,
            "unit": p.unit,
            "space": "log10" if p.scale == "log" else "linear",
            "posterior_width": float(hi[j] - lo[j]),
            "prior_width": float(prior_width[j]),
            "ratio": float((hi[j] - lo[j]) / prior_width[j]),
        }
        for j, p in enumerate(prior.parameters)
    ]
    return sorted(rows, key=lambda row: row["ratio"])


def plot_constraint(ranking: list[dict[str, Any]], path: Path) -> None:
    """Horizontal bars of the width ratios, the most constrained parameter at the top."""
    plt = pyplot()
    names = [f"log10 {r['name']}" if r["space"] == "log10" else r["name"] for r in ranking]
    ratios = [r["ratio"] for r in ranking]
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.28 * len(ranking)))
    ax.barh(np.arange(len(ranking)), ratios, color="tab:blue")
    ax.axvline(1.0, color="k", lw=0.8, ls="--")
    ax.set_yticks(np.arange(len(ranking)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, max(1.1, max(ratios) * 1.05))
    ax.set_xlabel("posterior 90% width / prior 90% width (inference space)")
    ax.set_title("How much the data constrain each parameter (smaller = tighter)")
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=110)
    plt.close(fig)


# -- correlations ----------------------------------------------------------------------------------
class _AtObservation:
    """The posterior's density at x_o over inference space, as sbi's conditional analysis wants it.

    Unnormalised (no leakage correction): correlations do not depend on the normalising constant,
    and estimating it costs rejection sampling at every call. In an ensemble each network is left
    unnormalised too, so the mixture ignores the networks' (small) differences in leakage.
    """

    def __init__(self, posterior: TrainedPosterior, x_o: np.ndarray) -> None:
        self.posterior = posterior.posterior
        self.x = posterior._x(x_o)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.posterior.log_prob(z, x=self.x, norm_posterior=False)


def grid_resolution(dim: int, networks: int = 1) -> int:
    """Grid points per axis for conditional correlations of ``dim`` parameters within the budget."""
    pairs = max(1, dim * (dim - 1) // 2)
    fit = math.isqrt(GRID_EVALUATIONS // (pairs * max(1, networks)))
    return int(np.clip(fit, MIN_RESOLUTION, MAX_RESOLUTION))


def sample_box(prior: Prior, samples: np.ndarray) -> np.ndarray:
    """A box ``(d, 2)`` in inference space holding the samples (padded), within the prior's."""
    z = prior.to_z(_checked_samples(prior, samples))
    lo, hi = np.percentile(z, SAMPLE_BOX, axis=0)
    pad = BOX_PADDING * np.maximum(hi - lo, 1e-3 * (_z_box(prior)[1] - _z_box(prior)[0]))
    z_low, z_high = _z_box(prior)
    return np.column_stack([np.maximum(lo - pad, z_low), np.minimum(hi + pad, z_high)])


def conditional_correlations(
    posterior: TrainedPosterior,
    x_o: np.ndarray,
    condition: np.ndarray,
    limits: np.ndarray | None = None,
    resolution: int | None = None,
) -> np.ndarray:
    """sbi's conditional correlation matrix ``(d, d)`` at x_o, in inference space.

    Args:
        posterior: the trained posterior.
        x_o: observed features.
        condition: where every other parameter is held, physical units ``(d,)`` (the MAP, say).
        limits: the grid's box in inference space ``(d, 2)``; None: the prior's.
        resolution: grid points per axis; None: ``grid_resolution``.
    """
    from sbi.analysis import conditional_corrcoeff

    prior = posterior.prior
    box = np.column_stack(_z_box(prior)) if limits is None else np.asarray(limits, dtype=float)
    networks = sum(getattr(posterior, "kept", [True]))
    res = resolution or grid_resolution(prior.dim, networks)
    z0 = torch.as_tensor(prior.to_z(np.asarray(condition, dtype=float)), dtype=torch.float32)
    with warnings.catch_warnings():  # sbi's torch.meshgrid call warns about a future default
        warnings.filterwarnings("ignore", message="torch.meshgrid", category=UserWarning)
        corr = conditional_corrcoeff(
            _AtObservation(posterior, x_o), torch.as_tensor(box, dtype=torch.float32), z0, resolution=res
        )
    return corr.numpy().astype(float)


def marginal_correlations(prior: Prior, samples: np.ndarray) -> np.ndarray:
    """Pearson correlations ``(d, d)`` of the samples in inference space."""
    z = prior.to_z(_checked_samples(prior, samples))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.atleast_2d(np.corrcoef(z, rowvar=False))


def plot_correlations(prior: Prior, marginal: np.ndarray, conditional: np.ndarray, path: Path) -> None:
    """Two heatmaps side by side: marginal and conditional correlations (values printed up to 12)."""
    plt = pyplot()
    labels = [f"log10 {p.name}" if p.scale == "log" else p.name for p in prior.parameters]
    size = min(4.0 + 0.25 * prior.dim, 10.0)
    fontsize = 8 if prior.dim <= 12 else 6
    fig, axes = plt.subplots(1, 2, figsize=(2 * size + 1.5, size + 0.8), layout="constrained")
    titles = ("marginal (posterior samples)", "conditional (every other parameter at the MAP)")
    image = None
    ticks = np.arange(prior.dim)
    for ax, matrix, title in zip(axes, (marginal, conditional), titles, strict=True):
        image = ax.imshow(np.ma.masked_invalid(matrix), cmap="RdBu_r", vmin=-1, vmax=1)
        ax.set_xticks(ticks, labels, rotation=90, fontsize=fontsize)
        ax.set_yticks(ticks, labels if ax is axes[0] else [], fontsize=fontsize)
        ax.set_title(title, fontsize=10)
        if prior.dim <= 12:
            for (i, j), value in np.ndenumerate(matrix):
                color = "w" if abs(value) > 0.6 else "k"
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color=color)
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="correlation in inference space")
    atomic_savefig(fig, path, dpi=100, bbox_inches="tight")
    plt.close(fig)


# -- the whole analysis ----------------------------------------------------------------------------
def analyse_posterior(
    ws: Workspace, posterior: TrainedPosterior, samples: np.ndarray, theta_map: np.ndarray | None = None
) -> dict[str, Any]:
    """Every output of this module for ``samples`` (physical units) of ``posterior`` at the target.

    The conditional correlations hold the other parameters at ``theta_map``; None takes the run's
    MAP from summary.json, else computes it. Writes ``RUN/analysis/`` (for a run with a folder) and
    returns the numbers of ``structure.json``.
    """
    prior, out = ws.usecase.prior, _analysis_folder(ws)
    samples = _checked_samples(prior, samples)
    x_o = ws.x_o
    wall: dict[str, float] = {}
    start = time.perf_counter()
    idata = inference_data(ws, samples)
    if out is not None:
        with atomic_path(out / "posterior.nc") as tmp:
            idata.to_netcdf(str(tmp))
    summary = _summary(idata, None if out is None else out / "posterior_summary.csv")
    wall["inference_data"] = time.perf_counter() - start

    start = time.perf_counter()
    ranking = constraint_ranking(prior, samples)
    if out is not None:
        plot_constraint(ranking, out / "constraint.png")
    wall["constraint"] = time.perf_counter() - start

    start = time.perf_counter()
    condition, source = _condition(ws, posterior, x_o, theta_map)
    box = sample_box(prior, samples)
    networks = sum(getattr(posterior, "kept", [True]))
    resolution = grid_resolution(prior.dim, networks)
    conditional = conditional_correlations(posterior, x_o, condition, box, resolution)
    marginal = marginal_correlations(prior, samples)
    if out is not None:
        plot_correlations(prior, marginal, conditional, out / "correlations.png")
    wall["correlations"] = time.perf_counter() - start

    structure: dict[str, Any] = {
        "names": prior.names,
        "units": [p.unit for p in prior.parameters],
        "space": ["log10" if p.scale == "log" else "linear" for p in prior.parameters],
        "samples": len(samples),
        "summary": summary,
        "constraint": ranking,
        "marginal_correlation": _matrix(marginal),
        "conditional_correlation": _matrix(conditional),
        "conditional": {
            "at": source,
            "theta": prior.as_dict(condition),
            "resolution": resolution,
            "box_inference_space": box.tolist(),
        },
        "files": {
            "inference_data": "analysis/posterior.nc",
            "summary": "analysis/posterior_summary.csv",
            "constraint": "analysis/constraint.png",
            "correlations": "analysis/correlations.png",
        },
        "wall_s": {k: round(v, 2) for k, v in wall.items()},
    }
    if out is not None:
        atomic_write_json(out / "structure.json", structure)
    return structure


def saved_samples(ws: Workspace, posterior: TrainedPosterior, n: int) -> np.ndarray:
    """The run's ``posterior_samples.csv``, or ``n`` new samples at the target if it has none."""
    prior = ws.usecase.prior
    path = None if ws.folder is None else ws.folder / layout.POSTERIOR_SAMPLES
    if path is None or not path.exists():
        return posterior.sample(n, ws.x_o, seed=ws.config.seed)
    header = path.read_text().split("\n", 1)[0].strip().split(",")
    if header != prior.names:
        raise ValueError(f"{path}: columns {header} are not the use case's parameters {prior.names}")
    return np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)


def _summary(idata: Any, path: Path | None) -> dict[str, dict[str, Any]]:
    """``summary_table`` of ``idata``, written as CSV to ``path`` if given; its rows by parameter."""
    table = summary_table(idata)
    if path is not None:
        with atomic_path(path) as tmp:
            table.to_csv(tmp, index_label="parameter", float_format="%.6g")
    return {
        str(name): {k: (v if isinstance(v, str) else float(v)) for k, v in row.items()}
        for name, row in table.iterrows()
    }


def _condition(
    ws: Workspace, posterior: TrainedPosterior, x_o: np.ndarray, theta_map: np.ndarray | None
) -> tuple[np.ndarray, str]:
    """Where the conditional correlations hold the other parameters, and what that point is."""
    if theta_map is not None:
        return np.asarray(theta_map, dtype=float), "map"
    path = None if ws.folder is None else ws.folder / layout.SUMMARY
    saved = json.loads(path.read_text()).get("map") if path is not None and path.exists() else None
    if saved:
        return np.array([saved[n] for n in ws.usecase.prior.names]), "map (summary.json)"
    return posterior.map(x_o, seed=ws.config.seed), "map"


def _checked_samples(prior: Prior, samples: np.ndarray) -> np.ndarray:
    samples = np.atleast_2d(np.asarray(samples, dtype=float))
    if samples.shape[1] != prior.dim or len(samples) < 2:
        raise ValueError(f"need at least 2 samples of {prior.dim} parameters, got shape {samples.shape}")
    if not np.all(np.isfinite(samples)):
        raise ValueError("posterior samples contain NaN or inf")
    return samples


def _z_box(prior: Prior) -> tuple[np.ndarray, np.ndarray]:
    return prior.to_z(prior.lows[None, :])[0], prior.to_z(prior.highs[None, :])[0]


def _matrix(m: np.ndarray) -> list[list[float | None]]:
    """A matrix as JSON rows, 4 decimals, NaN as null."""
    return [[round(float(v), 4) if np.isfinite(v) else None for v in row] for row in m]


def _analysis_folder(ws: Workspace) -> Path | None:
    if ws.folder is None:
        return None
    path = ws.folder / "analysis"
    path.mkdir(exist_ok=True)
    return path
