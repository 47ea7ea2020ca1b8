"""Shared fixtures. The benchmark data is read from ../shared/data (or $SBI_NEURO_DATA)."""

from __future__ import annotations

import atexit
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

if TYPE_CHECKING:
    from sbi_neuro.methods.config import RunConfig

os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")
# Runs made by tests go to a throw-away results index, never the project's runs/index.sqlite
# (set before any test imports sbi_neuro; CLI subprocesses inherit it).
if "SBI_NEURO_INDEX" not in os.environ:
    _index_dir = tempfile.mkdtemp(prefix="sbi_neuro_test_index_")
    atexit.register(shutil.rmtree, _index_dir, ignore_errors=True)
    os.environ["SBI_NEURO_INDEX"] = os.path.join(_index_dir, "index.sqlite")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _seed() -> None:
    """Every test starts from the same global random state (Python, numpy, and torch once imported), so
    that a test's outcome never depends on the tests run before it."""
    random.seed(0)
    np.random.seed(0)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(0)


@pytest.fixture(scope="module")
def release_neuron_models() -> Iterator[None]:
    """Leave no NEURON cell alive for the next test module (psolve would advance it); modules that build
    NEURON models use it with ``pytestmark = pytest.mark.usefixtures("release_neuron_models")``."""
    yield
    from simulators.neuron_models import release_models

    release_models()


def make_config(**fields: Any) -> RunConfig:
    """A small run configuration for tests: UC1 on the batched backend against its simulated target,
    CMA-ES at 100 simulations, one worker, no progress bars; ``fields`` override any of it."""
    from sbi_neuro.methods.config import RunConfig

    defaults: dict[str, Any] = {
        "usecase": "hh",
        "method": "cmaes",
        "budget": 100,
        "backend": "batched",
        "target": "simulated",
        "workers": 1,
        "progress": False,
    }
    return RunConfig(**{**defaults, **fields})


@pytest.fixture(scope="session")
def data_dir() -> Path:
    from usecases.data import resolve_data_dir

    return resolve_data_dir()


@pytest.fixture(scope="session")
def hh():  # type: ignore[no-untyped-def]
    from sbi_neuro.registry import get_usecase

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


@pytest.fixture(scope="session")
def npe_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real NPE run of UC1 (batched, simulated target), made once: the analyses on a finished
    run are tested on it, not the posterior's quality. Each analysis writes its own sub-folder; a test
    that changes the run's files works on a copy."""
    from sbi_neuro.api.execute import execute
    from sbi_neuro.inference.settings import NPESettings

    folder = tmp_path_factory.mktemp("npe_run")
    npe = NPESettings(stop_after_epochs=5, max_num_epochs=30)
    execute(make_config(method="npe", budget=700, seed=2, npe=npe, posterior_samples=1000), folder)
    return folder
