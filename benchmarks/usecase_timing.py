"""Time per evaluation (simulate + features + cost) of every use case and backend with 1 and 2 workers.

Run: .venv/bin/python benchmarks/usecase_timing.py [--only hh adex] [--backends batched]
Both worker counts are measured in the same run, side by side. Writes
docs/usecase_timings.json ({use case: {backend: ...}}, shown by `sbi-neuro usecases`)
and prints a table.
"""

from __future__ import annotations

import argparse
import datetime
import json

import numpy as np

from sbi_neuro.core.evaluation import Evaluator
from sbi_neuro.execution.dispatcher import measure_throughput
from sbi_neuro.registry import get_usecase, usecase_spec
from usecases.timing import TIMINGS_FILE, stored_timings

# evaluations per measurement: enough for a stable figure, small enough for minutes
PLAN = {
    "hh": ({}, "data", 200),
    "vclamp": ({}, "data", 400),
    "ca1_passive": ({}, "data", 100),
    "adex": ({}, "data", 400),
    "hh_allen": ({"cell": "509881736"}, "data", 400),
    "ca1_detailed": ({}, "data", 8),
}
BATCHED_FACTOR = 10  # batched backends are measured on 10x as many evaluations


def measure(name: str, backend: str, options: dict[str, str], target: str, n: int) -> dict[str, float]:
    uc = get_usecase(name, backend=backend, **options)
    evaluator = Evaluator(uc.simulator, uc.features, uc.cost, uc.load_target(target, None))
    n = n * BATCHED_FACTOR if backend == "batched" else n
    theta = uc.prior.sample(n, np.random.default_rng(0))
    chunk = max(1, min(25, n // 4))
    seconds = {w: 1.0 / measure_throughput(evaluator, theta, w, chunk) for w in (1, 2)}
    return {
        "seconds_per_evaluation_1_worker": seconds[1],
        "seconds_per_evaluation_2_workers": seconds[2],
        "speed_up_2_workers": seconds[1] / seconds[2],
        "evaluations_measured": n,
        "date": datetime.date.today().isoformat(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", nargs="*", help="use cases to measure (default: all)")
    parser.add_argument("--backends", nargs="*", help="backends to measure (default: every one)")
    args = parser.parse_args()
    stored = stored_timings()
    for name, (options, target, n) in PLAN.items():
        if args.only and name not in args.only:
            continue
        for backend in usecase_spec(name).backends:
            if args.backends and backend not in args.backends:
                continue
            stored.setdefault(name, {})[backend] = measure(name, backend, options, target, n)
            print(name, backend, json.dumps(stored[name][backend]), flush=True)
            TIMINGS_FILE.parent.mkdir(exist_ok=True)
            TIMINGS_FILE.write_text(json.dumps(stored, indent=1) + "\n")
    print("\n| use case | backend | s/evaluation, 1 worker | s/evaluation, 2 workers | speed-up |")
    print("|---|---|---|---|---|")
    for name, per_backend in stored.items():
        for backend, t in per_backend.items():
            one, two = t["seconds_per_evaluation_1_worker"], t["seconds_per_evaluation_2_workers"]
            print(f"| {name} | {backend} | {one:.3g} | {two:.3g} | {t['speed_up_2_workers']:.2f} |")


if __name__ == "__main__":
    main()
