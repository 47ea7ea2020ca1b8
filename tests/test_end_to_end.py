"""The whole pipeline on UC1, through the real command line, at small budgets."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sbi_neuro.core.seeds import batch_seed
from sbi_neuro.execution.bank import SimulationBank
from tests.conftest import ROOT, run_cli

TRUTH = {"gnabar_hh": 0.12, "gkbar_hh": 0.036, "gl_hh": 0.0003}


@pytest.fixture(scope="module")
def npe_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "hh-npe"
    result = run_cli(
        "infer", "hh", "--simulations", "1200", "--workers", "2", "--seed", "1", "--out", str(out), "--quiet"
    )
    assert result.returncode == 0, result.stderr
    return out


def test_npe_intervals_contain_the_truth(npe_run: Path) -> None:
    summary = json.loads((npe_run / "summary.json").read_text())
    for name, (lo, hi) in summary["interval_90"].items():
        assert lo <= TRUTH[name] <= hi, f"{name}: truth {TRUTH[name]} outside [{lo}, {hi}]"
    assert summary["simulations"] == 1200
    assert summary["best_error"] <= summary["map_error"]


def test_npe_run_folder_holds_plain_data(npe_run: Path) -> None:
    with open(npe_run / "posterior_samples.csv") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == list(TRUTH)
    assert len(rows) - 1 >= 1000
    meta = json.loads((npe_run / "metadata.json").read_text())
    for key in (
        "opt_name",
        "seed",
        "final_fitness",
        "number_of_evaluations",
        "parameters",
        "error_function",
        "algorithm",
        "statistics",
        "wall_time_s",
    ):
        assert key in meta
    assert meta["number_of_evaluations"] == 1200 and len(meta["statistics"]) == 12
    assert [p["name"] for p in meta["parameters"]] == list(TRUTH)
    weighted = sum(e["weighted_value"] for e in meta["error_function"])
    assert weighted == pytest.approx(meta["final_fitness"])
    spec = json.loads((npe_run / "posterior" / "spec.json").read_text())
    assert spec["settings"]["density_estimator"] == "maf"
    for plot in ("best_fit.png", "pairplot.png", "convergence.png"):
        assert (npe_run / "plots" / plot).stat().st_size > 10_000
    config = json.loads((npe_run / "config.json").read_text())
    assert config["budget"] == 1200 and config["seed"] == 1
    with open(npe_run / "evaluations.csv") as handle:
        assert sum(1 for _ in handle) == 1201


def test_rerunning_a_finished_run_reuses_everything(npe_run: Path) -> None:
    before = {p.name: p.stat().st_mtime_ns for p in (npe_run / "bank").iterdir()}
    result = run_cli(
        "infer", "hh", "--simulations", "1200", "--workers", "1", "--seed", "1", "--out", str(npe_run)
    )
    assert result.returncode == 0, result.stderr
    after = {p.name: p.stat().st_mtime_ns for p in (npe_run / "bank").iterdir()}
    assert before == after


def test_other_settings_in_the_same_folder_are_refused(npe_run: Path) -> None:
    result = run_cli("infer", "hh", "--simulations", "1200", "--seed", "2", "--out", str(npe_run))
    assert result.returncode == 2
    assert "seed: 1 → 2" in result.stderr


def test_cmaes_lowers_the_error(tmp_path: Path) -> None:
    out = tmp_path / "cma"
    result = run_cli("fit", "hh", "--method", "cmaes", "--budget", "500", "--workers", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    stats = json.loads((out / "metadata.json").read_text())["statistics"]
    assert len(stats) == 5
    assert stats[-1]["min"] < stats[0]["min"]
    assert stats[-1]["median"] < stats[0]["median"]


def test_same_seed_same_result_whatever_the_worker_count(tmp_path: Path) -> None:
    for workers in ("1", "2"):
        out = tmp_path / f"w{workers}"
        result = run_cli(
            "fit", "hh", "--budget", "200", "--popsize", "50", "--workers", workers, "--out", str(out)
        )
        assert result.returncode == 0, result.stderr
    a = (tmp_path / "w1" / "evaluations.csv").read_text()
    b = (tmp_path / "w2" / "evaluations.csv").read_text()
    assert a == b


def test_killed_run_resumes_without_lost_or_duplicated_simulations(hh, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "killed"
    args = [
        "infer",
        "hh",
        "--target",
        "simulated",
        "--simulations",
        "600",
        "--batch-size",
        "20",
        "--workers",
        "2",
        "--out",
        str(out),
        "--quiet",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "sbi_neuro.cli", *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    bank_dir = out / "bank"
    deadline = time.time() + 300
    while time.time() < deadline:
        if bank_dir.is_dir() and len(list(bank_dir.glob("batch_*.npz"))) >= 6:
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its worker processes
    proc.wait()
    survivors = {p.name: p.stat().st_mtime_ns for p in bank_dir.glob("batch_*.npz")}
    assert 6 <= len(survivors) < 30, "the kill should land in the middle of the bank"

    result = run_cli(*args)
    assert result.returncode == 0, result.stderr

    training = 600 - 12  # 12 best-fit simulations at this budget
    columns = json.loads((bank_dir / "columns.json").read_text())
    bank = SimulationBank(bank_dir, columns)
    batches = sorted(bank.done())
    assert batches == list(range(31))  # 30 training batches + the best-fit batch
    data = bank.load(list(range(30)))
    assert len(data) == training
    assert len(np.unique(data.theta, axis=0)) == training
    expected = np.vstack(
        [
            hh.prior.sample(min(20, training - 20 * i), np.random.default_rng(batch_seed(1, i)))
            for i in range(30)
        ]
    )
    np.testing.assert_array_equal(data.theta, expected)
    for name, mtime in survivors.items():  # finished batches were kept, not redone
        assert (bank_dir / name).stat().st_mtime_ns == mtime
