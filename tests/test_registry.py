"""Names resolve in one registry: built-ins, names registered in Python, and installed entry points."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sbi_neuro import fit, get_usecase, register_optimizer, register_usecase
from sbi_neuro.optimizers import RandomSearch
from sbi_neuro.registry import method_names, method_spec, usecase_names, usecase_spec
from tests.conftest import ROOT

PLUGIN = '''
"""A third-party package: one use case (UC1 on the batched backend, renamed) and one optimiser."""
from sbi_neuro.optimizers import RandomSearch
from sbi_neuro.registry import get_usecase


def build(record_dt_ms=0.025, data_dir=None):
    from dataclasses import replace

    return replace(get_usecase("hh", backend="batched"), name="plugin_hh")


build.BACKENDS = ("batched",)


class Halton(RandomSearch):
    name = "plugin_random"
'''


def test_builtins_are_listed_once_in_registration_order() -> None:
    assert usecase_names()[:7] == ["hh", "vclamp", "ca1_passive", "adex", "ca1_detailed", "hh_allen", "stg"]
    assert method_names("bayesian") == ["npe", "tsnpe", "npe_cmaes"]
    assert set(method_names("optimizer")) >= {"cmaes", "pso", "de", "random", "nsga2", "ibea", "lbfgsb"}
    assert "prior" not in method_names() and method_names("prior") == ["prior"]
    assert usecase_spec("hh").backends == ("neuron", "batched") and usecase_spec("stg").options == []
    assert not method_spec("tsnpe").amortised and method_spec("npe").bayesian


def test_unknown_names_list_what_exists() -> None:
    with pytest.raises(ValueError, match=r"unknown use case 'hhh'; available: .*hh"):
        get_usecase("hhh")
    with pytest.raises(ValueError, match=r"unknown method 'annealing'; available: .*cmaes"):
        method_spec("annealing")
    with pytest.raises(ValueError, match="has no option"):
        get_usecase("hh", cell="1")


@pytest.fixture
def scratch_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registrations made by a test are undone after it (the registry is per process)."""
    from sbi_neuro import registry

    usecase_names(), method_names()  # built-ins loaded before the copies are taken
    monkeypatch.setattr(registry, "_usecases", dict(registry._usecases))
    monkeypatch.setattr(registry, "_methods", dict(registry._methods))


@pytest.mark.usefixtures("scratch_registry")
def test_a_use_case_and_an_optimiser_registered_in_python_run(tmp_path: Path) -> None:
    def build(record_dt_ms: float = 0.025, data_dir: str | None = None, backend: str = "batched"):  # type: ignore[no-untyped-def]
        from dataclasses import replace

        return replace(get_usecase("hh", backend="batched"), name="my_uc1")

    register_usecase("my_uc1", build, backends=("batched",), replace=True)
    register_optimizer("my_random", RandomSearch, replace=True)
    with pytest.raises(ValueError, match="registered already"):
        register_optimizer("my_random", RandomSearch)
    uc = get_usecase("my_uc1")
    result = fit(uc, target=uc.target_from("simulated"), method="my_random", budget=40, population_size=20,
                 progress=False)  # fmt: skip
    assert len(result.simulations) == 40 and np.isfinite(result.best_fit.error)
    assert result.method == "my_random" and uc.name == "my_uc1"


def test_an_installed_package_adds_names_the_command_line_knows(tmp_path: Path) -> None:
    """A real distribution on sys.path, with entry points in the two groups, found by importlib.metadata."""
    site = tmp_path / "site"
    (site / "sbi_neuro_plugin-0.1.dist-info").mkdir(parents=True)
    (site / "sbi_neuro_plugin.py").write_text(PLUGIN)
    info = site / "sbi_neuro_plugin-0.1.dist-info"
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sbi_neuro_plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[sbi_neuro.usecases]\nplugin_hh = sbi_neuro_plugin:build\n\n"
        "[sbi_neuro.optimizers]\nplugin_random = sbi_neuro_plugin:Halton\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    args = ["fit", "plugin_hh", "--method", "plugin_random", "--target", "simulated", "--budget", "40",
            "--popsize", "20", "--out", str(tmp_path / "run"), "--quiet"]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "sbi_neuro.cli", *args], capture_output=True, text=True, env=env, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "plugin_random on plugin_hh: 40 simulations" in done.stdout
    assert json.loads((tmp_path / "run" / "config.json").read_text())["backend"] == "batched"
    listed = subprocess.run(
        [sys.executable, "-m", "sbi_neuro.cli", "fit", "--help"], capture_output=True, text=True, env=env
    )
    assert "plugin_random" in listed.stdout
