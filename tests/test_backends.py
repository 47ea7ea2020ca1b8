"""Choosing a simulator backend: the registry, whole evaluations on both engines, and `sbi-neuro simulate`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sbi_neuro.core.evaluation import Evaluator
from sbi_neuro.execution.bank import SimulationBank
from sbi_neuro.registry import get_usecase, usecase_names, usecase_spec
from tests.conftest import run_cli


def test_every_use_case_names_its_backends_default_first() -> None:
    assert usecase_spec("hh").backends == ("neuron", "batched")
    assert usecase_spec("vclamp").backends == ("neuron", "batched")
    assert usecase_spec("adex").backends == ("brian2", "batched")
    assert usecase_spec("hh_allen").backends == ("batched", "brian2")
    assert usecase_spec("ca1_passive").backends == ("neuron", "batched")
    assert usecase_spec("ca1_detailed").backends == ("neuron",)
    assert set(usecase_names()) >= {"hh", "vclamp", "adex", "hh_allen", "ca1_passive", "ca1_detailed"}


def test_backend_selects_simulator_and_features() -> None:
    ref, fast = get_usecase("hh"), get_usecase("hh", backend="batched")
    assert (ref.backend, fast.backend) == ("neuron", "batched")
    assert type(ref.simulator).__name__ == "HHSomaNeuron" and type(fast.simulator).__name__ == "HHSomaBatched"
    assert type(fast.features).__name__ == "BatchedEfelFeatures"
    assert fast.features.names == ref.features.names and fast.prior == ref.prior


def test_unknown_backend_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"ca1_detailed.*backends neuron.*'batched'"):
        get_usecase("ca1_detailed", backend="batched")
    with pytest.raises(ValueError, match="backends neuron, batched"):
        get_usecase("hh", backend="gpu")


def test_uc1_evaluations_agree_between_neuron_and_batched() -> None:
    """Same θ through both whole pipelines: features (eFEL vs batched), components and error agree."""
    evaluations = []
    for backend in ("neuron", "batched"):
        uc = get_usecase("hh", backend=backend)
        target = uc.load_target("simulated", None)
        evaluations.append(Evaluator(uc.simulator, uc.features, uc.cost, target))
    theta = get_usecase("hh").prior.sample(30, np.random.default_rng(11))
    ref, fast = (e(theta, 0) for e in evaluations)
    np.testing.assert_array_equal(ref.status, fast.status)
    # Traces agree to ~1e-9 mV, which can move a derivative-threshold decision (AP begin) by one
    # sample in one spike of a train: a mean AP amplitude then differs by ~1e-5 relative.
    np.testing.assert_allclose(fast.x, ref.x, rtol=1e-4, atol=1e-6, equal_nan=True)
    np.testing.assert_allclose(fast.error, ref.error, rtol=1e-6, atol=1e-9)


def test_simulate_command_writes_a_bank_and_reports_the_rate(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    args = ["simulate", "hh", "--n", "300", "--backend", "batched", "--workers", "2", "--out", str(out)]
    done = run_cli(*args, "--batch-size", "100", "--target", "simulated", "--quiet")
    assert done.returncode == 0, done.stderr
    assert "evaluations/s" in done.stdout and "300 new of 300" in done.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["backend"] == "batched" and summary["evaluations_per_s"] > 0
    config = json.loads((out / "config.json").read_text())
    assert config["backend"] == "batched" and config["method"] == "prior"
    columns = json.loads((out / "bank" / "columns.json").read_text())
    bank = SimulationBank(out / "bank", columns).load()
    assert len(bank) == 300 and np.all(bank.status == 0) and np.all(np.isfinite(bank.error))

    again = run_cli(*args, "--batch-size", "100", "--target", "simulated", "--quiet")
    assert again.returncode == 0 and "0 new of 300" in again.stdout  # resumed: nothing recomputed

    other = run_cli(*args[:5], "neuron", *args[6:], "--batch-size", "100", "--target", "simulated")
    assert other.returncode == 2 and "backend" in other.stderr and "another --out" in other.stderr
