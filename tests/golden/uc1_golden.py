"""Golden outputs of three small UC1 runs (batched backend), so that refactors keep results bit for bit.

The runs go through the real command line: a prior bank (``sbi-neuro simulate``), an NPE run and a
CMA-ES run (``sbi-neuro infer`` / ``fit``, simulated target). What is kept of each: every bank array,
the charged evaluations (error and status in charge order) and, for NPE, the networks' weights and
1,000 posterior samples at the target drawn from the saved posterior.

    .venv/bin/python tests/golden/uc1_golden.py          # rewrite tests/golden/uc1_batched.npz

Rewrite the file only when a change is *meant* to alter results, and say so in the commit message.
``tests/test_golden.py`` runs the same commands and compares.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

GOLDEN = Path(__file__).with_name("uc1_batched.npz")
COMMON = ("hh", "--backend", "batched", "--workers", "2", "--quiet")
COMMANDS = {
    "simulate": ("simulate", *COMMON, "--n", "250", "--seed", "3"),
    "npe": ("infer", *COMMON, "--target", "simulated", "--simulations", "400", "--seed", "2",
            "--posterior-samples", "1000"),
    "cmaes": ("fit", *COMMON, "--target", "simulated", "--budget", "300", "--popsize", "20", "--seed", "4"),
}  # fmt: skip
BANK_ARRAYS = ("theta", "x", "components", "error", "status", "seed")
POSTERIOR_SAMPLES = 1000
POSTERIOR_SEED = 11


def run_commands(root: Path) -> dict[str, Path]:
    """Run every command into ``root/NAME``; the folders by name."""
    folders = {}
    for name, args in COMMANDS.items():
        folders[name] = root / name
        result = subprocess.run(
            [sys.executable, "-m", "sbi_neuro.cli", *args, "--out", str(folders[name])],
            capture_output=True,
            text=True,
            timeout=900,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{result.stderr}")
    return folders


def outputs(folders: dict[str, Path]) -> dict[str, np.ndarray]:
    """The arrays kept of each run, keyed ``run/what``."""
    arrays: dict[str, np.ndarray] = {}
    for name, folder in folders.items():
        for batch in sorted((folder / "bank").glob("batch_*.npz")):
            with np.load(batch) as data:
                for key in BANK_ARRAYS:
                    arrays[f"{name}/bank/{batch.stem}/{key}"] = data[key]
        if (folder / "evaluations.csv").exists():
            with open(folder / "evaluations.csv", newline="") as handle:
                rows = list(csv.DictReader(handle))
            arrays[f"{name}/evaluations/error"] = np.array([float(r["error"]) for r in rows])
            arrays[f"{name}/evaluations/status"] = np.array([int(r["status"]) for r in rows])
    arrays.update(posterior_outputs(folders["npe"]))
    return arrays


def posterior_outputs(folder: Path) -> dict[str, np.ndarray]:
    """The saved networks' weights and posterior samples drawn from the saved posterior at the target."""
    import torch

    from sbi_neuro.results.folder import final_posterior, reopen

    arrays = {}
    for path in sorted((folder / "posterior").glob("estimator_*.pt")):
        state = torch.load(path, weights_only=True)
        for key, tensor in state.items():
            arrays[f"npe/posterior/{path.stem}/{key}"] = tensor.numpy()
    workspace = reopen(folder, workers=1)
    posterior = final_posterior(workspace)
    samples = posterior.sample(POSTERIOR_SAMPLES, workspace.x_o, seed=POSTERIOR_SEED)
    arrays["npe/posterior_samples"] = samples
    return arrays


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        arrays = outputs(run_commands(Path(tmp)))
    np.savez_compressed(GOLDEN, **arrays)  # type: ignore[arg-type]
    print(f"wrote {len(arrays)} arrays to {GOLDEN}")


if __name__ == "__main__":
    main()
