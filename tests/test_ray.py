"""Simulations on Ray: a real Ray instance on this machine (GCS, raylet, worker processes).

As for Dask (tests/test_executors.py), a prior bank of UC1 must be bit for bit the local
executor's, whatever ran it or died running it; hung and crashing simulations fail alone.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psutil
import pytest

ray = pytest.importorskip("ray")

from sbi_neuro.api.execute import execute  # noqa: E402
from sbi_neuro.cli import main  # noqa: E402
from sbi_neuro.execution.dispatcher import Dispatcher  # noqa: E402
from sbi_neuro.execution.ray_executor import RayExecutor  # noqa: E402
from sbi_neuro.registry import get_usecase  # noqa: E402
from simulators import STATUS_CRASHED, STATUS_OK, STATUS_TIMEOUT  # noqa: E402
from tests.faulty import HANG, SEGFAULT  # noqa: E402
from tests.test_executors import BATCHES, N, bank_contents, prior_bank  # noqa: E402
from tests.test_faults import assert_rows_equal, evaluators, failed_by_the_simulator, tasks_with  # noqa: E402

# Per simulation on Ray. A job's clock starts at dispatch, so the one limit more that a job gets also
# covers a fresh worker's start (importing sbi_neuro: seconds on a loaded machine) after a crash.
LIMIT_S = 10.0


def children(task: str = "") -> dict[int, str]:
    """Live processes under this one (Ray's daemons and workers among them), or Ray workers running
    ``task`` now; by pid, with their command lines."""
    found = {}
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() == psutil.STATUS_ZOMBIE:  # ended, not yet reaped
                continue
            line = " ".join(child.cmdline())
        except psutil.Error:  # ended meanwhile
            continue
        if not task or line.startswith(f"ray::{task}"):
            found[child.pid] = line
    return found


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("local") / "run"
    execute(prior_bank(workers=1), folder)
    return folder


@pytest.fixture(scope="module")
def ray_instance() -> Iterator[None]:
    """Ray started by someone else (this test module): runs use it and leave it running."""
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    try:
        yield
    finally:
        ray.shutdown()


def test_ray_on_this_machine_gives_the_local_bank_and_shuts_down(local_run: Path, tmp_path: Path) -> None:
    assert not ray.is_initialized()
    before = set(children())
    summary = execute(prior_bank(workers=2, executor="ray"), tmp_path / "run").summary
    assert summary["new_simulations"] == N and summary["executor"] == "ray"
    assert bank_contents(tmp_path / "run") == bank_contents(local_run)
    assert not ray.is_initialized()  # the Ray it started is stopped...
    deadline = time.monotonic() + 30
    while set(children()) - before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not set(children()) - before, children()  # ...with its processes


def test_an_unreachable_ray_cluster_fails_fast_and_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    args = ["simulate", "hh", "--n", "100", "--backend", "batched", "--target", "simulated", "--quiet"]
    start = time.monotonic()
    code = main([*args, "--out", str(tmp_path / "run"), "--executor", "ray", "--scheduler", address])
    assert code == 2 and time.monotonic() - start < 30
    error = capsys.readouterr().err
    assert f"cannot reach the Ray cluster at {address}" in error and "ray start --head" in error
    assert not (tmp_path / "run" / "bank").exists() or not list((tmp_path / "run" / "bank").glob("batch_*"))


def test_a_ray_worker_killed_mid_run_costs_no_simulation_and_repeats_none(
    ray_instance: None, local_run: Path, tmp_path: Path
) -> None:
    bank = tmp_path / "run" / "bank"
    killed: dict[str, int] = {}

    def kill_a_busy_worker_after_the_first_batch() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            written = len(list(bank.glob("batch_*.npz"))) if bank.is_dir() else 0
            busy = children("_evaluate_on_worker") if written else set()
            if busy:
                os.kill(min(busy), signal.SIGKILL)
                killed["batches_written"] = written
                return
            time.sleep(0.002)

    killer = threading.Thread(target=kill_a_busy_worker_after_the_first_batch)
    killer.start()
    summary = execute(prior_bank(executor="ray"), tmp_path / "run").summary
    killer.join()

    assert 1 <= killed.get("batches_written", 0) < BATCHES  # a worker died mid-task, mid-run
    assert summary["new_simulations"] == N  # its task ran again; every task's results taken once
    assert sorted(bank_contents(tmp_path / "run")) == list(range(BATCHES))
    assert bank_contents(tmp_path / "run") == bank_contents(local_run)
    assert ray.is_initialized()  # someone else's Ray keeps running


def test_on_ray_hung_and_crashing_simulations_fail_alone(ray_instance: None) -> None:
    clean, faulty = evaluators("hh", "simulated")
    theta = get_usecase("hh", backend="batched").prior.sample(9, np.random.default_rng(4))
    tasks = tasks_with(theta, [4, 1, 4], {(0, 1): SEGFAULT, (1, 0): HANG})
    runner = Dispatcher(faulty, progress=False, executor=RayExecutor(sim_timeout_s=LIMIT_S))
    results = dict(runner.dispatch(tasks, desc="ray"))

    assert sorted(results) == [0, 1, 2] and runner.simulations == 9
    assert results[0].status.tolist() == [STATUS_OK, STATUS_CRASHED, STATUS_OK, STATUS_OK]
    assert results[1].status.tolist() == [STATUS_TIMEOUT]
    assert "Ray worker process died" in results[0].faults[1]
    assert "no result within 20 s" in results[1].faults[0] and "--sim-timeout" in results[1].faults[0]
    assert_rows_equal(results[0], failed_by_the_simulator(clean, tasks[0], [1]), [0, 2, 3])
    assert_rows_equal(results[2], clean(tasks[2].theta, tasks[2].seed), [0, 1, 2, 3])
