"""Calibration of NPE on a use case: coverage on held-out prior simulations (goal: deviation ≤ 0.05).

Run: .venv/bin/python benchmarks/calibration.py hh --simulations 10000 --held-out 1000 [--ensemble 2]

Trains an NPE run into OUT/USECASE (default runs/calibration/USECASE; batched backend, target
simulated from the ground truth), or reuses it when it is already there, then calibrates its
posterior on held-out prior simulations (``sbi_neuro.check``, outputs in
OUT/USECASE/calibration/). Prints the run's number, the largest |empirical − nominal| HPD coverage
over credibility levels 0.05…0.95, beside the deviation that 95% of exactly calibrated posteriors
stay under with as many held-out pairs, then TARP and the per-parameter SBC checks.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sbi_neuro.api.check import check
from sbi_neuro.api.execute import execute
from sbi_neuro.inference.settings import NPESettings
from sbi_neuro.methods.config import RunConfig

GOAL = 0.05


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("usecase", help="use case name, for example hh or hh_allen")
    parser.add_argument("--simulations", type=int, default=10_000, help="NPE run budget")
    parser.add_argument("--held-out", type=int, default=200, help="held-out prior simulations")
    parser.add_argument("--samples", type=int, default=1000, help="posterior samples per held-out pair")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--density-estimator", choices=("maf", "nsf"), default="maf")
    parser.add_argument("--ensemble", type=int, default=2, help="networks trained (different seeds)")
    parser.add_argument("--out", default="runs/calibration", help="parent folder of the run folder")
    parser.add_argument("--index", help="results index (default $SBI_NEURO_INDEX or runs/index.sqlite)")
    args = parser.parse_args()

    folder = Path(args.out) / args.usecase
    npe = NPESettings(density_estimator=args.density_estimator, ensemble_size=args.ensemble)
    config = RunConfig(
        usecase=args.usecase, method="npe", budget=args.simulations, seed=args.seed, target="simulated",
        workers=args.workers, backend="batched", npe=npe,
    )  # fmt: skip
    print(f"NPE run ({args.simulations} simulations) in {folder} ...", flush=True)
    execute(config, folder, args.index)
    result = check(
        folder, predictive=0, calibration=args.held_out, samples=args.samples, workers=args.workers
    )
    assert result.calibration is not None
    print_report(result.calibration)
    print(f"report and figures in {folder / 'calibration'}/")


def print_report(report: dict[str, Any]) -> None:
    deviation = report["max_coverage_deviation"]
    print(
        f"held-out pairs: {report['n_valid']} valid of {report['n_held_out']} "
        f"({'reused' if report['held_out_reused'] else 'simulated now'}), {report['n_samples']} samples each;"
        f" {report['n_leaking']} leaking (posterior mass outside the prior box, counted uncovered)"
    )
    verdict = "met" if deviation <= GOAL else "NOT met"
    print(f"max coverage deviation (HPD): {deviation:.3f} — goal ≤ {GOAL}: {verdict}")
    print(f"  95% of exactly calibrated posteriors: ≤ {report['calibrated_deviation_95']:.3f} at this size")
    tarp = report["tarp"]
    print(
        f"TARP: max deviation {tarp['max_coverage_deviation']:.3f}, ATC {tarp['atc']:+.3f}, "
        f"KS p {tarp['ks_pvalue']:.3f}"
    )
    print(f"{'parameter':<16} {'SBC KS p':>9} {'mean rank':>10} {'SD rank':>8}  (calibrated: 0.5, 0.289)")
    for name, stats in report["sbc"].items():
        print(
            f"{name:<16} {stats['ks_pvalue']:>9.3f} {stats['mean_normalised_rank']:>10.3f} "
            f"{stats['sd_normalised_rank']:>8.3f}"
        )
    print(f"calibration wall time: {report['wall_time_s']} s")


if __name__ == "__main__":
    main()
