"""Posterior predictive checks: simulate posterior samples and compare their features with the target.

``posterior_predictive`` draws ``n`` posterior samples at the target (seeded from the run seed plus
``PREDICTIVE_OFFSET``), simulates them with the run's evaluator and writes ``RUN/predictive/``:

- ``predictive.json``: valid fraction (every feature defined), fraction within tolerance (every
  feature within ``tolerance``·scale of the target), and per feature the predictive distribution,
  how many samples left it undefined, and the target's percentile within it;
- ``predictive.npz``: the samples and their raw features; a later call with the same ``n`` on
  the same posterior reuses them instead of simulating again;
- ``features.png``: one histogram per feature against the target; ``traces.png``: a few
  simulated posterior traces over the target.

Simulated features are compared raw (NaN where undefined), as ``sbi-neuro path`` does, with the
target's features filled as for training. The scale of each feature is ``feature_scale``: the
cost's scale when it has one, else the SD of the run's valid training features.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sbi_neuro.analysis.connecting_paths import within_tolerance
from sbi_neuro.core.files import atomic_savefig, atomic_savez, atomic_write_json
from sbi_neuro.core.plotting import pyplot
from sbi_neuro.core.seeds import PREDICTIVE_OFFSET, batch_seed
from sbi_neuro.execution.dispatcher import Dispatcher
from sbi_neuro.inference.posterior import TrainedPosterior
from sbi_neuro.methods.workspace import Workspace

CENTRAL = (5.0, 95.0)  # the target is "covered" when its percentile lies in this central interval
TRACES = 5  # simulated posterior traces drawn over the target


@dataclass(frozen=True)
class PredictiveCheck:
    """Simulated posterior samples and their features, against the target's features.

    Attributes:
        theta: the samples, physical units ``(n, d)``.
        x: their raw features ``(n, k)``, NaN where undefined or failed.
        x_o: the target's features ``(k,)``, undefined ones filled.
        scale: per-feature yardstick ``(k,)``.
        tolerance: a feature fits when it lies within ``tolerance``·scale of the target.
    """

    theta: np.ndarray
    x: np.ndarray
    x_o: np.ndarray
    scale: np.ndarray
    tolerance: float

    @property
    def valid(self) -> np.ndarray:
        """Rows whose every feature is defined."""
        return np.all(np.isfinite(self.x), axis=1)

    @property
    def within(self) -> np.ndarray:
        """Rows whose every feature lies within tolerance of the target."""
        return within_tolerance(self.x, self.x_o, self.scale, self.tolerance)

    @property
    def distance_sd(self) -> np.ndarray:
        """Largest feature distance to the target in scales; inf where a feature is undefined."""
        distance = np.full(len(self.x), np.inf)
        valid = self.valid
        distance[valid] = np.max(np.abs(self.x[valid] - self.x_o) / self.scale, axis=1)
        return distance

    def summary(self) -> dict[str, Any]:
        """The headline numbers (the keys ``sbi-neuro path`` reports)."""
        return {
            "samples": len(self.x),
            "valid_fraction": float(self.valid.mean()),
            "within_tolerance_fraction": float(self.within.mean()),
            "median_max_distance_sd": float(np.median(self.distance_sd)),
        }

    def per_feature(self, names: list[str], units: list[str]) -> dict[str, dict[str, Any]]:
        """Per feature: the predictive distribution, undefined count and the target's percentile."""
        out = {}
        for j, (name, unit) in enumerate(zip(names, units, strict=True)):
            values = self.x[:, j][np.isfinite(self.x[:, j])]
            fits = np.abs(self.x[:, j] - self.x_o[j]) <= self.tolerance * self.scale[j]  # NaN never fits
            out[name] = {
                "unit": unit,
                "target": float(self.x_o[j]),
                "scale": float(self.scale[j]),
                "undefined": int(len(self.x) - len(values)),
                "within_tolerance_fraction": float(fits.mean()),
                **_distribution(values, float(self.x_o[j])),
            }
        return out


def feature_scale(ws: Workspace) -> np.ndarray:
    """Per-feature yardstick: the cost's scale if it has one, else the SD of valid training features."""
    scale = getattr(ws.usecase.cost, "scale", None)
    if scale is not None:
        return np.asarray(scale, dtype=float)
    x = ws.bank.load().x
    x = x[np.all(np.isfinite(x), axis=1)]
    return np.maximum(np.std(x, axis=0), 1e-12)


def simulate_check(
    dispatcher: Dispatcher,
    posterior: TrainedPosterior,
    x_o: np.ndarray,
    scale: np.ndarray,
    n: int,
    seed: int,
    tolerance: float,
) -> PredictiveCheck:
    """Draw ``n`` posterior samples at x_o with ``seed`` and simulate them (simulation seed ``seed``)."""
    theta = posterior.sample(n, x_o, seed=seed)
    checked = dispatcher.evaluate(theta, seed, desc="posterior predictive")
    return PredictiveCheck(theta, checked.x, x_o, scale, tolerance)


def target_percentile(values: np.ndarray, target: float) -> float:
    """Where the target lies in the values, percent (mid-rank: ties count half); NaN without values."""
    if len(values) == 0:
        return float("nan")
    below, tied = np.sum(values < target), np.sum(values == target)
    return float(100.0 * (below + 0.5 * tied) / len(values))


def posterior_predictive(
    ws: Workspace, posterior: TrainedPosterior, dispatcher: Dispatcher, n: int = 100, tolerance: float = 0.1
) -> dict[str, Any]:
    """Simulate ``n`` posterior samples at the target; returns the report, and for a run with a folder
    writes ``RUN/predictive/`` (a later call with the same ``n`` reuses the simulated features)."""
    if n < 1:
        raise ValueError(f"the predictive check needs at least one sample, got n={n}")
    if not tolerance > 0:
        raise ValueError(f"tolerance must be > 0 (in feature scales), got {tolerance}")
    out = None if ws.folder is None else ws.folder / "predictive"
    if out is not None:
        out.mkdir(exist_ok=True)
    seed = ws.config.seed + PREDICTIVE_OFFSET
    x_o, scale = ws.x_o, feature_scale(ws)
    theta = posterior.sample(n, x_o, seed=seed)
    x = None if out is None else _stored_features(out / "predictive.npz", theta, seed)
    simulated_before = dispatcher.simulations
    if x is None:
        x = dispatcher.evaluate(theta, seed, desc="posterior predictive").x
        if out is not None:
            atomic_savez(out / "predictive.npz", theta=theta, x=x, seed=np.int64(seed))
    check = PredictiveCheck(theta, x, x_o, scale, tolerance)
    features = ws.usecase.features
    units = list(getattr(features, "units", None) or [""] * len(features.names))
    report: dict[str, Any] = {
        "run": str(ws.folder) if ws.folder is not None else None,
        "usecase": ws.usecase.name,
        "method": ws.config.method,
        "seed": seed,
        "tolerance_sd": tolerance,
        **check.summary(),
        "new_simulations": dispatcher.simulations - simulated_before,
        "scale_source": "cost" if getattr(ws.usecase.cost, "scale", None) is not None else "training SD",
        "central_interval_percent": list(CENTRAL),
        "features": check.per_feature(features.names, units),
        "files": {
            "samples": "predictive/predictive.npz",
            "features": "predictive/features.png",
            "traces": "predictive/traces.png",
        },
    }
    if out is not None:
        atomic_write_json(out / "predictive.json", report)
        plot_features(check, features.names, units, out / "features.png")
        plot_traces(ws, check, seed, out / "traces.png")
    return report


# -- figures ---------------------------------------------------------------------------------------
def plot_features(check: PredictiveCheck, names: list[str], units: list[str], path: Path) -> None:
    """One histogram per feature (defined values) with the target and its tolerance band."""
    plt = pyplot()
    cols = min(4, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.5 * rows), squeeze=False)
    for j, ax in enumerate(axes.ravel()):
        if j >= len(names):
            ax.set_visible(False)
            continue
        values = check.x[:, j][np.isfinite(check.x[:, j])]
        target, band = check.x_o[j], check.tolerance * check.scale[j]
        ax.axvspan(target - band, target + band, color="tab:orange", alpha=0.25, lw=0)
        if len(values):
            ax.hist(values, bins=20, color="tab:blue", alpha=0.8)
        ax.axvline(target, color="k", lw=1.2)
        ax.set_xlim(*_view(values, target, band))
        undefined = len(check.x) - len(values)
        note = f"\n{undefined} of {len(check.x)} undefined" if undefined else ""
        ax.set_title(f"{names[j]} ({units[j]}){note}" if units[j] else f"{names[j]}{note}", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(
        f"Posterior predictive features ({len(check.x)} samples), target (black) "
        f"± {check.tolerance:g}·scale (orange); {check.within.mean():.0%} of samples fit every feature",
        fontsize=9,
    )
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=100)
    plt.close(fig)


def plot_traces(ws: Workspace, check: PredictiveCheck, seed: int, path: Path, n: int = TRACES) -> None:
    """The first ``n`` checked samples simulated again for their traces, over the target.

    They use the seed of the check's first chunk, so a batched or deterministic model shows the very
    traces whose features were checked; green: fits every feature, red: does not.
    """
    plt = pyplot()
    k = min(n, len(check.theta))
    result = ws.usecase.simulator(check.theta[:k], seed=batch_seed(seed, 0))
    target, zoom, names = ws.target, ws.usecase.zoom_ms, ws.usecase.simulator.sweep_names
    sweeps = result.traces.shape[1]
    cols, ratios = (2, [3, 1]) if zoom else (1, [1])
    fig, axes = plt.subplots(
        sweeps, cols, figsize=(12, 2.4 * sweeps + 0.6), squeeze=False, gridspec_kw={"width_ratios": ratios}
    )
    fits = check.within[:k]
    for s in range(sweeps):
        for ax in axes[s]:
            for i in range(k):
                color = "tab:green" if fits[i] else "tab:red"
                ax.plot(result.t, result.traces[i, s], color=color, lw=0.7, alpha=0.7)
            if target.traces is not None:
                ax.plot(target.t, target.traces[s], color="k", lw=1.0)
        axes[s, 0].set_ylabel(names[s] if sweeps > 1 else "recorded")
        if zoom:
            axes[s, 1].set_xlim(*zoom)
    axes[0, 0].plot([], [], color="k", label="target")
    axes[0, 0].plot([], [], color="tab:green", label="posterior sample, fits")
    axes[0, 0].plot([], [], color="tab:red", label="posterior sample, does not fit")
    axes[0, 0].legend(loc="upper right", frameon=False, fontsize=8)
    axes[0, 0].set_title(f"{ws.usecase.name}: {k} posterior predictive traces over the target")
    axes[-1, 0].set_xlabel("time (ms)")
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=100)
    plt.close(fig)


# -- helpers ---------------------------------------------------------------------------------------
def _distribution(values: np.ndarray, target: float) -> dict[str, Any]:
    """Summary of the defined values and the target's place in them (None where there are none)."""
    if len(values) == 0:
        keys = ("mean", "sd", "q05", "median", "q95", "target_percentile")
        return {**dict.fromkeys(keys), "target_in_central_interval": None}
    q05, median, q95 = np.percentile(values, [5, 50, 95])
    percentile = target_percentile(values, target)
    return {
        "mean": float(values.mean()),
        "sd": float(values.std()),
        "q05": float(q05),
        "median": float(median),
        "q95": float(q95),
        "target_percentile": percentile,
        "target_in_central_interval": bool(CENTRAL[0] <= percentile <= CENTRAL[1]),
    }


def _view(values: np.ndarray, target: float, band: float) -> tuple[float, float]:
    """x-limits showing the values and the target (the tolerance band may extend beyond)."""
    lo, hi = float(np.min(values, initial=target)), float(np.max(values, initial=target))
    pad = 0.05 * (hi - lo) if hi > lo else band
    return lo - pad, hi + pad


def _stored_features(path: Path, theta: np.ndarray, seed: int) -> np.ndarray | None:
    """The features saved for these very samples and seed, else None (simulate them)."""
    if not path.exists():
        return None
    with np.load(path) as saved:
        same = (
            int(saved["seed"]) == seed
            and saved["theta"].shape == theta.shape
            and np.allclose(saved["theta"], theta, rtol=1e-6, atol=0.0)
        )
        return saved["x"].copy() if same else None
