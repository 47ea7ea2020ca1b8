"""Shared fixtures. The benchmark data is read from ../shared/data (or $SBI_NEURO_DATA)."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")
# Runs made by tests go to a throw-away results index, never the project's runs/index.sqlite
# (set before any test imports sbi_neuro; CLI subprocesses inherit it).
if "SBI_NEURO_INDEX" not in os.environ:
    _index_dir = tempfile.mkdtemp(prefix="sbi_neuro_test_index_")
    atexit.register(shutil.rmtree, _index_dir, ignore_errors=True)
    os.environ["SBI_NEURO_INDEX"] = os.path.join(_index_dir, "index.sqlite")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    from sbi_neuro.data import resolve_data_dir

    return resolve_data_dir()


@pytest.fixture(scope="session")
def hh():  # type: ignore[no-untyped-def]
    from usecases import get_usecase

    return get_usecase("hh")


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the real ``sbi-neuro`` entry point in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "sbi_neuro.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def npe_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real NPE run of UC1 (batched, simulated target), one per test module that asks for it:
    the analyses on a finished run are tested on it, not the posterior's quality."""
    from sbi_neuro.api import run
    from sbi_neuro.inference import NPESettings
    from sbi_neuro.runs import RunConfig

    folder = tmp_path_factory.mktemp("npe_run")
    config = RunConfig(
        usecase="hh", method="npe", budget=700, backend="batched", target="simulated", seed=2,
        workers=1, progress=False, npe=NPESettings(stop_after_epochs=5, max_num_epochs=30),
        posterior_samples=1000,
    )  # fmt: skip
    run(config, folder)
    return folder
