"""STG degeneracy figures: how widely the fitting parameter sets spread, against one CMA-ES point.

Reads the outputs of scripts/stg_study.sh (default folder runs/stg):
    tsnpe/posterior_samples.csv          posterior samples at the observation
    tsnpe/path/posterior_predictive.csv  simulated posterior samples, with which fit the observation
    cmaes/summary.json                   the CMA-ES best fit at the same kind of budget
Writes to --figures (default docs/benchmarks/stg): spread.png, correlations.png, pairplot.png,
and prints the numbers the doc quotes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from usecases.stg import PRIOR

PAIRPLOT = ("AB_CaT", "AB_CaS", "AB_KCa", "LP_CaS", "LP_A", "PY_CaT", "AB_LP", "LP_PD")


def read_table(path: Path) -> dict[str, np.ndarray]:
    data = np.genfromtxt(path, delimiter=",", names=True)
    return {name: np.asarray(data[name], dtype=float) for name in data.dtype.names or ()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("study", nargs="?", default="runs/stg")
    parser.add_argument("--figures", default="docs/benchmarks/stg")
    args = parser.parse_args()
    study, figures = Path(args.study), Path(args.figures)
    figures.mkdir(parents=True, exist_ok=True)
    names = PRIOR.names
    checked = read_table(study / "tsnpe/path/posterior_predictive.csv")
    theta = np.column_stack([checked[n] for n in names])
    fits = checked["within_tolerance"] > 0.5
    cmaes = json.loads((study / "cmaes/summary.json").read_text())
    best = np.array([cmaes["best_fit"][n] for n in names])
    u_fit, u_best = PRIOR.to_unit(theta[fits]), PRIOR.to_unit(best[None, :])[0]
    print(f"{fits.sum()} of {len(fits)} simulated posterior samples fit the observation")
    print(f"CMA-ES best error {cmaes['best_error']:.4g} after {cmaes['simulations']} simulations")
    if fits.sum() >= 2:
        lo, hi = np.percentile(u_fit, [5, 95], axis=0)
        spread = hi - lo
        wide = int(np.sum(spread > 0.5))
        print(f"fitting sets: 5–95% range (0–1 of the prior), median over parameters {np.median(spread):.2f}")
        print(f"{wide} of 31 parameters span more than half their prior range")
        for k in np.argsort(-spread)[:8]:
            print(f"  {names[k]:8s} {lo[k]:.2f} – {hi[k]:.2f} (CMA-ES: {u_best[k]:.2f})")

    fig, ax = plt.subplots(figsize=(12, 5))
    rng = np.random.default_rng(0)
    for k in range(len(names)):
        jitter = rng.uniform(-0.25, 0.25, fits.sum())
        ax.plot(k + jitter, u_fit[:, k], ".", color="tab:blue", alpha=0.5, ms=4,
                label="posterior samples that fit" if k == 0 else None)  # fmt: skip
    ax.plot(np.arange(len(names)), u_best, "x", color="tab:red", ms=9, mew=2, label="CMA-ES best fit")
    ax.set_xticks(np.arange(len(names)), names, rotation=90, fontsize=8)
    ax.set_ylabel("position in the prior range (0–1)")
    ax.set_title("STG: parameter sets that reproduce the rhythm, against one CMA-ES point estimate")
    ax.legend(loc="upper right", frameon=False)
    fig.tight_layout()
    fig.savefig(figures / "spread.png", dpi=110)
    plt.close(fig)

    samples = read_table(study / "tsnpe/posterior_samples.csv")
    z = PRIOR.to_unit(np.column_stack([samples[n] for n in names]))
    corr = np.corrcoef(z, rowvar=False)
    fig, ax = plt.subplots(figsize=(9, 8))
    image = ax.imshow(corr, cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(np.arange(len(names)), names, rotation=90, fontsize=7)
    ax.set_yticks(np.arange(len(names)), names, fontsize=7)
    fig.colorbar(image, ax=ax, label="posterior correlation")
    ax.set_title("STG posterior: pairwise correlations (normalised parameters)")
    fig.tight_layout()
    fig.savefig(figures / "correlations.png", dpi=110)
    plt.close(fig)
    off = np.abs(corr - np.eye(len(names)))
    i, j = np.unravel_index(np.argsort(-off, axis=None)[:10:2], off.shape)
    pairs = [f"{names[a]}–{names[b]} {corr[a, b]:+.2f}" for a, b in zip(i, j, strict=True)]
    print("strongest posterior correlations:", ", ".join(pairs))

    from sbi.analysis import pairplot

    chosen = [names.index(n) for n in PAIRPLOT]
    fig, _ = pairplot(z[:, chosen], limits=[[0, 1]] * len(chosen), labels=list(PAIRPLOT), figsize=(12, 12))
    fig.savefig(figures / "pairplot.png", dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    main()
