"""Time per evaluation (simulate + features + cost) of every use case with 1 and 2 workers.

Run: .venv/bin/python benchmarks/usecase_timing.py
Both worker counts are measured in the same run, side by side. Writes
docs/usecase_timings.json (shown by `sbi-neuro usecases`) and prints a table.
"""

from __future__ import annotations

import argparse
import datetime
import json
import time

import numpy as np

from sbi_neuro.evaluation import Evaluator
from sbi_neuro.runner import Runner, Task, batch_seed
from usecases import get_usecase
from usecases.timing import TIMINGS_FILE

# evaluations per measurement: enough for a stable figure, small enough for minutes
PLAN = {
    "hh": ({}, "data", 200),
    "vclamp": ({}, "data", 400),
    "ca1_passive": ({}, "data", 100),
    "adex": ({}, "data", 400),
    "hh_allen": ({"cell": "509881736"}, "data", 400),
    "ca1_detailed": ({}, "data", 8),
}


def measure(name: str, options: dict[str, str], target: str, n: int) -> dict[str, float]:
    uc = get_usecase(name, **options)
    evaluator = Evaluator(uc.simulator, uc.features, uc.cost, uc.load_target(target, None))
    theta = uc.prior.sample(n, np.random.default_rng(0))
    chunk = max(1, min(25, n // 4))
    rates = {}
    for workers in (1, 2):
        runner = Runner(evaluator, workers=workers, progress=False)
        list(runner.run([Task(i, theta[:1], 0) for i in range(workers)]))  # start workers, build models
        tasks = [Task(i, theta[s : s + chunk], batch_seed(0, i)) for i, s in enumerate(range(0, n, chunk))]
        start = time.perf_counter()
        list(runner.run(tasks))
        rates[workers] = (time.perf_counter() - start) / n
    return {
        "seconds_per_evaluation_1_worker": rates[1],
        "seconds_per_evaluation_2_workers": rates[2],
        "speed_up_2_workers": rates[1] / rates[2],
        "evaluations_measured": n,
        "date": datetime.date.today().isoformat(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", nargs="*", help="use cases to measure (default: all)")
    args = parser.parse_args()
    stored = json.loads(TIMINGS_FILE.read_text()) if TIMINGS_FILE.is_file() else {}
    for name, (options, target, n) in PLAN.items():
        if args.only and name not in args.only:
            continue
        stored[name] = measure(name, options, target, n)
        print(name, json.dumps(stored[name]), flush=True)
        TIMINGS_FILE.parent.mkdir(exist_ok=True)
        TIMINGS_FILE.write_text(json.dumps(stored, indent=1) + "\n")
    print("\n| use case | s/evaluation, 1 worker | s/evaluation, 2 workers | speed-up |")
    print("|---|---|---|---|")
    for name, t in stored.items():
        one, two = t["seconds_per_evaluation_1_worker"], t["seconds_per_evaluation_2_workers"]
        print(f"| {name} | {one:.3g} | {two:.3g} | {t['speed_up_2_workers']:.2f} |")


if __name__ == "__main__":
    main()
