"""Faults: simulations that really crash or hang their worker process, and a run killed with SIGKILL.

The faulty simulator (``tests/faulty.py``) wraps a real one and segfaults, aborts or sleeps
forever on chosen parameter sets; nothing here is mocked. Every other simulation must
give exactly what a clean run gives.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dask
import numpy as np
import psutil
import pytest
from distributed import Client, LocalCluster

from sbi_neuro.api.execute import execute
from sbi_neuro.cli import main
from sbi_neuro.core.evaluation import EvalBatch, Evaluator, Task
from sbi_neuro.core.seeds import batch_seed
from sbi_neuro.execution.dispatcher import Dispatcher
from sbi_neuro.execution.executors import ExecutorConfig, LocalExecutor, open_executor
from sbi_neuro.methods.config import RunConfig
from sbi_neuro.registry import get_usecase
from simulators import STATUS_CRASHED, STATUS_OK, STATUS_TIMEOUT
from tests.conftest import ROOT, run_cli
from tests.faulty import ABORT, HANG, PAIR, SEGFAULT, FaultySimulator

LIMIT_S = 2.0  # per simulation: a task of n simulations may take (n + 1) · 2 s


def evaluators(usecase: str, target: str) -> tuple[Evaluator, Evaluator]:
    """The use case's batched evaluator, clean and wrapped in the faulty simulator."""
    uc = get_usecase(usecase, backend="batched")
    clean = Evaluator(uc.simulator, uc.features, uc.cost, uc.load_target(target, None))
    return clean, Evaluator(FaultySimulator(uc.simulator), clean.features, clean.cost, clean.target)


def tasks_with(theta: np.ndarray, sizes: list[int], faults: dict[tuple[int, int], float]) -> list[Task]:
    """``theta`` cut into tasks of ``sizes``; ``faults`` sets (task, row) first parameters."""
    tasks, start = [], 0
    for index, size in enumerate(sizes):
        part = theta[start : start + size].copy()
        for (task, row), value in faults.items():
            if task == index:
                part[row, 0] = value
        tasks.append(Task(index, part, batch_seed(7, index)))
        start += size
    return tasks


def assert_rows_equal(
    got: EvalBatch, expected: EvalBatch, rows: list[int], names: tuple[str, ...] = ()
) -> None:
    for name, values in expected.arrays().items():
        if name in names or not names:
            np.testing.assert_array_equal(got.arrays()[name][rows], values[rows], err_msg=name)


def failed_by_the_simulator(evaluator: Evaluator, task: Task, rows: list[int]) -> EvalBatch:
    """The task when the simulator itself fails ``rows`` (they get a negative first parameter)."""
    theta = task.theta.copy()
    theta[rows, 0] = -1.0
    return evaluator(theta, task.seed)


def test_hung_and_crashing_simulations_fail_alone_and_the_others_are_exact(tmp_path: Path) -> None:
    clean, faulty = evaluators("hh", "simulated")
    theta = get_usecase("hh", backend="batched").prior.sample(21, np.random.default_rng(0))
    culprits = {(0, 2): SEGFAULT, (1, 1): HANG, (2, 0): ABORT, (2, 5): SEGFAULT}
    tasks = tasks_with(theta, [6, 3, 6, 6], culprits)
    executor = LocalExecutor(workers=2, sim_timeout_s=LIMIT_S)
    runner = Dispatcher(faulty, progress=False, executor=executor, fault_log=tmp_path / "faults.json")

    start = time.monotonic()
    results = dict(runner.dispatch(tasks, desc="faults"))
    wall = time.monotonic() - start

    assert sorted(results) == [0, 1, 2, 3] and runner.simulations == 21  # each parameter set charged once
    # the hang was cut: its task after (3 + 1) · 2 s, then its row alone after (1 + 1) · 2 s
    assert wall < 8 + 4 + 30
    status = {(0, 2): STATUS_CRASHED, (1, 1): STATUS_TIMEOUT, (2, 0): STATUS_CRASHED, (2, 5): STATUS_CRASHED}
    for task in tasks:
        got, bad = results[task.index], [row for (index, row) in culprits if index == task.index]
        good = [row for row in range(len(task.theta)) if row not in bad]
        # every other row: bit for bit what it gets when the simulator itself fails the culprits
        reference = failed_by_the_simulator(clean, task, bad)
        assert_rows_equal(got, reference, good)
        assert_rows_equal(got, reference, bad, ("x", "components", "error", "seed"))  # NaN, failed error
        assert [got.status[row] for row in bad] == [status[(task.index, row)] for row in bad]
        np.testing.assert_array_equal(got.theta, task.theta)
        if not bad:
            assert_rows_equal(got, clean(task.theta, task.seed), good)
    assert np.all(results[0].error[[2]] == results[2].error[[0, 5]])  # the use case's failed error

    log = json.loads((tmp_path / "faults.json").read_text())
    reasons = {(f["task"], f["row"]): (f["status"], f["reason"]) for f in log}
    assert sorted(reasons) == sorted(culprits)
    assert reasons[(0, 2)][0] == "crashed" and "SIGSEGV" in reasons[(0, 2)][1]
    assert reasons[(2, 0)][0] == "crashed" and "SIGABRT" in reasons[(2, 0)][1]
    assert reasons[(1, 1)][0] == "timeout" and "no result within 4 s" in reasons[(1, 1)][1]
    assert {tuple(f["theta"]) for f in log} == {tuple(tasks[t].theta[r]) for t, r in culprits}

    # the workers that died were replaced: the same executor goes on with clean tasks
    pool = executor._pool
    assert pool is not None and len(pool.pids) == 2
    assert all(psutil.pid_exists(pid) for pid in pool.pids)
    again = dict(runner.dispatch([Task(9, theta[:5], 11)]))
    assert_rows_equal(again[9], clean(theta[:5], 11), list(range(5)))
    executor.close()
    assert executor._pool is None


def test_a_noisy_batch_keeps_its_noise_around_a_crash() -> None:
    clean, faulty = evaluators("hh_allen", "simulated")
    theta = get_usecase("hh_allen", backend="batched").prior.sample(4, np.random.default_rng(1))
    assert np.all(theta[:, 6] > 0)  # σ: every row is noisy, each draws its batch position's noise
    task = tasks_with(theta, [4], {(0, 1): ABORT})[0]
    executor = LocalExecutor(workers=1, sim_timeout_s=30.0)
    try:
        got = dict(executor.map_unordered(faulty, [task]))[0]
    finally:
        executor.close()
    assert got.status.tolist() == [STATUS_OK, STATUS_CRASHED, STATUS_OK, STATUS_OK]
    assert_rows_equal(got, failed_by_the_simulator(clean, task, [1]), [0, 2, 3])


def test_a_batch_that_fails_only_as_a_whole_keeps_what_each_row_gives_alone() -> None:
    clean, faulty = evaluators("hh_allen", "simulated")
    theta = get_usecase("hh_allen", backend="batched").prior.sample(4, np.random.default_rng(2))
    task = tasks_with(theta, [4], {(0, 1): PAIR, (0, 2): PAIR})[0]  # two PAIR rows end the process
    executor = LocalExecutor(workers=1, sim_timeout_s=30.0)
    try:
        got = dict(executor.map_unordered(faulty, [task]))[0]
    finally:
        executor.close()
    assert got.status.tolist() == [STATUS_OK] * 4 and not got.faults
    in_task = clean(task.theta, task.seed)
    for row in range(4):  # alone, at its position: the same simulation and noise as in the task
        alone = clean(task.theta[row : row + 1], task.seed, first_row=row)
        for name, values in alone.arrays().items():
            np.testing.assert_array_equal(got.arrays()[name][row], values[0], err_msg=name)
        np.testing.assert_allclose(got.components[row], in_task.components[row], rtol=1e-9)
    # without its position, a row alone draws other noise: the checks above can fail
    elsewhere = clean(task.theta[3:4], task.seed)
    assert not np.allclose(elsewhere.components[0], in_task.components[3], rtol=1e-6, equal_nan=True)


def test_on_dask_a_task_that_keeps_killing_its_worker_fails_only_its_culprit() -> None:
    clean, faulty = evaluators("hh", "simulated")
    theta = get_usecase("hh", backend="batched").prior.sample(8, np.random.default_rng(3))
    tasks = tasks_with(theta, [4, 4], {(0, 1): ABORT})
    # a task may kill one worker: the next death is KilledWorker (default: 3 retries, each a worker)
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        open_executor(ExecutorConfig("dask", cluster.scheduler_address)) as executor,
    ):
        runner = Dispatcher(faulty, progress=False, executor=executor)
        results = dict(runner.dispatch(tasks, desc="dask"))
    assert runner.simulations == 8
    assert results[0].status.tolist() == [STATUS_OK, STATUS_CRASHED, STATUS_OK, STATUS_OK]
    assert "KilledWorker" in results[0].faults[1] or "died" in results[0].faults[1]
    assert_rows_equal(results[0], failed_by_the_simulator(clean, tasks[0], [1]), [0, 2, 3])
    assert_rows_equal(results[1], clean(tasks[1].theta, tasks[1].seed), [0, 1, 2, 3])


def test_a_killed_run_continues_with_every_batch_once_and_no_half_written_file(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    args = [
        "simulate", "hh", "--n", "500", "--batch-size", "10", "--backend", "batched",
        "--target", "simulated", "--seed", "5", "--workers", "2", "--quiet", "--out", str(folder),
    ]  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "sbi_neuro.cli", *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    bank = folder / "bank"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if bank.is_dir() and len(list(bank.glob("batch_*.npz"))) >= 3:
            break
        time.sleep(0.01)
    children = psutil.Process(process.pid).children(recursive=True)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    written = len(list(bank.glob("batch_*.npz")))
    assert 3 <= written < 50, process.stderr.read().decode() if process.stderr else ""  # killed mid-run
    _, alive = psutil.wait_procs(children, timeout=15)
    assert not alive  # its worker processes (and the fork server) went with it

    done = run_cli(*args)
    assert done.returncode == 0, done.stderr
    assert f"{(50 - written) * 10} new of 500" in done.stdout
    files = sorted(p.name for p in folder.rglob("*") if p.is_file())
    assert not [name for name in files if ".tmp" in name]
    assert [name for name in files if name.startswith("batch_")] == [f"batch_{i:06d}.npz" for i in range(50)]

    whole = tmp_path / "whole"  # the same run, never interrupted: bit for bit the same bank
    config = RunConfig(
        usecase="hh", method="prior", budget=500, backend="batched", target="simulated", seed=5,
        batch_size=10, progress=False,
    )  # fmt: skip
    execute(config, whole)
    for i in range(50):
        name = f"batch_{i:06d}.npz"
        with np.load(bank / name) as got, np.load(whole / "bank" / name) as ref:
            assert got.files == ref.files
            for array in ref.files:
                np.testing.assert_array_equal(got[array], ref[array], err_msg=f"{name} {array}")


@pytest.mark.parametrize("value", ["-1", "nan", "soon"])
def test_a_bad_time_limit_is_refused_before_anything_runs(
    tmp_path: Path, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["simulate", "hh", "--n", "10", "--sim-timeout", value, "--out", str(tmp_path / "run")])
    assert exit_.value.code == 2 and "--sim-timeout" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


NPE_SCRIPT = """
import sys
from pathlib import Path
from sbi_neuro.api.execute import execute
from sbi_neuro.inference.settings import NPESettings
from sbi_neuro.methods.config import RunConfig
config = RunConfig(
    usecase="hh", method="npe", budget=300, backend="batched", target="simulated", seed=4, workers=1,
    progress=False, posterior_samples=1000,
    npe=NPESettings(stop_after_epochs=5, max_num_epochs=20, ensemble_size=1),
)
if __name__ == "__main__":
    execute(config, Path(sys.argv[1]))
"""


def test_a_run_killed_while_training_continues_to_the_same_posterior(tmp_path: Path) -> None:
    script = tmp_path / "npe_run.py"
    script.write_text(NPE_SCRIPT)
    folder, whole = tmp_path / "run", tmp_path / "whole"
    process = subprocess.Popen([sys.executable, str(script), str(folder)], cwd=ROOT, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:  # the bank complete: training began
        if len(list((folder / "bank").glob("batch_*.npz"))) == 3:
            break
        time.sleep(0.01)
    time.sleep(1.0)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not (folder / "posterior").exists() and not (folder / "summary.json").exists()  # mid-training
    bank = {p: p.stat().st_mtime_ns for p in (folder / "bank").glob("batch_*.npz")}
    assert len(bank) == 3

    for target in (folder, whole):  # re-run the killed one; and the same run, never interrupted
        done = subprocess.run(
            [sys.executable, str(script), str(target)], cwd=ROOT, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
    after = {p: p.stat().st_mtime_ns for p in (folder / "bank").glob("batch_*.npz")}
    assert all(after[p] == stamp for p, stamp in bank.items())  # the killed run's batches, not rewritten
    # and the rest of the run's batches (the best-fit search's), as in the run never interrupted
    assert sorted(p.name for p in after) == sorted(p.name for p in (whole / "bank").glob("batch_*.npz"))
    assert not [p for p in folder.rglob("*") if ".tmp" in p.name]
    got = np.loadtxt(folder / "posterior_samples.csv", delimiter=",", skiprows=1)
    expected = np.loadtxt(whole / "posterior_samples.csv", delimiter=",", skiprows=1)
    np.testing.assert_array_equal(got, expected)  # training and sampling are seeded: the same posterior


def test_on_dask_a_hung_simulation_is_cut_and_its_worker_restarted() -> None:
    clean, faulty = evaluators("hh", "simulated")
    theta = get_usecase("hh", backend="batched").prior.sample(5, np.random.default_rng(5))
    tasks = tasks_with(theta, [4, 1], {(1, 0): HANG})
    limit_s = 5.0  # a restarted worker imports sbi_neuro again within the one limit more a job gets
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        open_executor(ExecutorConfig("dask", cluster.scheduler_address, sim_timeout_s=limit_s)) as executor,
    ):
        runner = Dispatcher(faulty, progress=False, executor=executor)
        start = time.monotonic()
        results = dict(runner.dispatch(tasks, desc="dask"))
        wall = time.monotonic() - start
        with Client(cluster.scheduler_address) as client:
            client.wait_for_workers(2, timeout=60)  # the hung worker was restarted, not lost
    assert runner.simulations == 5 and wall < 2 * 10 + 60  # the task, then its row alone: 10 s each
    assert results[1].status.tolist() == [STATUS_TIMEOUT]
    assert "no result within 10 s" in results[1].faults[0] and "restarted" in results[1].faults[0]
    assert_rows_equal(results[0], clean(tasks[0].theta, tasks[0].seed), [0, 1, 2, 3])
