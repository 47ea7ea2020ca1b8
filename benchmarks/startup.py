"""How fast the command line starts: `sbi-neuro --help` and `sbi-neuro usecases`, side by side.

Run: .venv/bin/python benchmarks/startup.py [--against GIT_REF] [--repeats 7]

Each command runs in a fresh interpreter ``--repeats`` times, alternating between this checkout and,
with ``--against``, a worktree of another commit (made in a temporary folder and removed after), so
both see the same machine load. Prints the median wall and CPU time of each, their ratio, and
whether torch, sbi or Brian2 were imported (``python -X importtime``).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {"--help": ["--help"], "usecases": ["usecases"]}
HEAVY = ("torch", "sbi", "brian2")


def run_once(tree: Path, args: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of ``python -m sbi_neuro.cli ARGS`` with ``tree`` first on the path."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sbi_neuro.cli", *args], env=env, cwd=tree, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def heavy_imports(tree: Path, args: list[str]) -> list[str]:
    """Which of torch, sbi and Brian2 the command imports."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "sbi_neuro.cli", *args], env=env,
                          cwd=tree, capture_output=True, text=True, check=True)  # fmt: skip
    found = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    return [name for name in HEAVY if name in found]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--against", help="a git commit to compare with (e.g. the one before a change)")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"this checkout": ROOT}
        if args.against:
            other = Path(tmp) / "other"
            subprocess.run(["git", "worktree", "add", "--detach", str(other), args.against], cwd=ROOT,
                           check=True, capture_output=True)  # fmt: skip
            trees = {args.against: other, "this checkout": ROOT}
        try:
            for name, command in COMMANDS.items():
                times: dict[str, list[tuple[float, float]]] = {label: [] for label in trees}
                for tree in trees.values():  # warm the file cache and numba's cache once
                    run_once(tree, command)
                for _ in range(args.repeats):
                    for label, tree in trees.items():
                        times[label].append(run_once(tree, command))
                print(f"sbi-neuro {name}")
                medians = {}
                for label, runs in times.items():
                    wall = statistics.median(w for w, _ in runs)
                    cpu = statistics.median(c for _, c in runs)
                    medians[label] = wall
                    heavy = ", ".join(heavy_imports(trees[label], command)) or "none"
                    print(f"  {label:>14}: {wall:.2f} s wall, {cpu:.2f} s CPU; imports {heavy}")
                if len(medians) == 2:
                    old, new = medians.values()
                    print(f"  ratio (this / other): {new / old:.2f}")
        finally:
            if args.against:
                subprocess.run(["git", "worktree", "remove", "--force", str(other)], cwd=ROOT, check=False)


if __name__ == "__main__":
    main()
