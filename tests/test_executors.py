"""Simulations on Dask: real scheduler and worker processes on loopback, compared with local runs.

A prior bank of UC1 (batched kernel) is the unit of comparison: every batch file's arrays
must be bit for bit those of the local executor, whatever ran them, or died running them.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask
import numpy as np
import psutil
import pytest
from distributed import Client, LocalCluster, get_task_stream

from sbi_neuro.api.execute import execute
from sbi_neuro.cli import main
from sbi_neuro.execution.executors import ExecutorConfig
from sbi_neuro.methods.config import RunConfig

N, BATCH = 1000, 25  # 40 tasks of 25 simulations: many small tasks, so a kill lands mid-run
BATCHES = N // BATCH


def prior_bank(**where: Any) -> RunConfig:
    return RunConfig(
        usecase="hh", method="prior", budget=N, backend="batched", target="simulated", seed=3,
        progress=False, batch_size=BATCH, **where,
    )  # fmt: skip


def bank_contents(folder: Path) -> dict[int, dict[str, tuple[str, tuple[int, ...], bytes]]]:
    """Every batch file's arrays as (dtype, shape, raw bytes), by batch index."""
    contents = {}
    for path in sorted((folder / "bank").glob("batch_*.npz")):
        with np.load(path) as data:
            arrays = {k: (data[k].dtype.str, data[k].shape, data[k].tobytes()) for k in data.files}
        contents[int(path.stem.split("_")[1])] = arrays
    return contents


def worker_processes() -> set[int]:
    """Processes this one spawned (as Dask's nannies start workers), not helpers like resource_tracker."""
    pids = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if "spawn_main" in " ".join(child.cmdline()):
                pids.add(child.pid)
        except psutil.Error:  # ended meanwhile
            pass
    return pids


def evaluation_tasks(stream: Any) -> list[dict[str, Any]]:
    return [t for t in stream.data if "evaluate_on_worker" in str(t["key"])]


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("local") / "run"
    execute(prior_bank(workers=1), folder)
    return folder


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    """A cluster someone else started: two worker processes behind nannies (which restart them)."""
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as started:
        yield started


@pytest.fixture
def client(cluster: LocalCluster) -> Iterator[Client]:
    """The test's own connection to the cluster, to watch it (and to kill a worker)."""
    with Client(cluster.scheduler_address) as connected:
        connected.wait_for_workers(2, timeout=60)
        yield connected


def test_a_dask_local_cluster_gives_the_local_bank_and_closes(local_run: Path, tmp_path: Path) -> None:
    before = worker_processes()
    seen: set[int] = set()
    running = threading.Event()
    running.set()

    def watch_children() -> None:
        while running.is_set():
            seen.update(worker_processes())
            time.sleep(0.05)

    watcher = threading.Thread(target=watch_children)
    watcher.start()
    try:
        summary = execute(prior_bank(workers=2, executor="dask"), tmp_path / "run").summary
    finally:
        running.clear()
        watcher.join()
    assert summary["new_simulations"] == N and summary["executor"] == "dask"
    assert len(seen - before) >= 2  # the cluster's worker processes ran...
    assert worker_processes() == before  # ...and are gone
    assert bank_contents(tmp_path / "run") == bank_contents(local_run)


def test_joblib_processes_give_the_local_bank(local_run: Path, tmp_path: Path) -> None:
    summary = execute(prior_bank(workers=2, executor="joblib"), tmp_path / "run").summary
    assert summary["new_simulations"] == N and summary["executor"] == "joblib"
    assert bank_contents(tmp_path / "run") == bank_contents(local_run)


def test_a_run_moves_to_a_running_scheduler_and_leaves_its_cluster_running(
    cluster: LocalCluster, client: Client, local_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "run"
    (folder / "bank").mkdir(parents=True)
    shutil.copy(local_run / "config.json", folder)  # half the run was simulated locally
    for index in range(0, BATCHES, 2):
        shutil.copy(local_run / "bank" / f"batch_{index:06d}.npz", folder / "bank")
    shutil.copy(local_run / "bank" / "columns.json", folder / "bank")
    args = [
        "simulate", "hh", "--n", str(N), "--backend", "batched", "--target", "simulated", "--seed", "3",
        "--batch-size", str(BATCH), "--quiet", "--out", str(folder),
        "--executor", "dask", "--scheduler", cluster.scheduler_address,
    ]  # fmt: skip
    with get_task_stream(client) as stream:
        assert main(args) == 0
    assert f"{N // 2} new of {N}" in capsys.readouterr().out
    ran = evaluation_tasks(stream)
    assert len(ran) == BATCHES // 2 and len({t["worker"] for t in ran}) == 2  # only the missing ones
    assert bank_contents(folder) == bank_contents(local_run)

    assert cluster.status.name == "running" and len(client.scheduler_info()["workers"]) == 2
    left = client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.worker_plugins))
    assert not [name for name in left if name.startswith("sbi_neuro")]  # the evaluator was removed


def test_a_worker_killed_mid_run_costs_no_simulation_and_repeats_none(
    cluster: LocalCluster, client: Client, local_run: Path, tmp_path: Path
) -> None:
    victim = next(iter(client.run(os.getpid).values()))
    bank = tmp_path / "run" / "bank"
    killed: dict[str, int] = {}

    def kill_after_the_first_batch() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            written = len(list(bank.glob("batch_*.npz"))) if bank.is_dir() else 0
            if written:
                os.kill(victim, signal.SIGKILL)
                killed["batches_written"] = written
                return
            time.sleep(0.002)

    def suspicious() -> int:  # tasks that were running on a worker when it died
        return client.run_on_scheduler(
            lambda dask_scheduler: sum(
                p.suspicious for n, p in dask_scheduler.task_prefixes.items() if "evaluate_on_worker" in n
            )
        )

    lost_before = suspicious()
    killer = threading.Thread(target=kill_after_the_first_batch)
    killer.start()
    summary = execute(
        prior_bank(executor="dask", scheduler=cluster.scheduler_address), tmp_path / "run"
    ).summary
    killer.join()

    assert 1 <= killed.get("batches_written", 0) < BATCHES  # the kill came mid-run
    assert suspicious() > lost_before  # and took a running task with it, which ran again elsewhere
    assert summary["new_simulations"] == N  # every task's results were taken exactly once
    assert sorted(bank_contents(tmp_path / "run")) == list(range(BATCHES))
    assert bank_contents(tmp_path / "run") == bank_contents(local_run)


def test_an_unreachable_scheduler_fails_fast_and_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    args = ["simulate", "hh", "--n", "100", "--backend", "batched", "--target", "simulated", "--quiet"]
    start = time.monotonic()
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        code = main([*args, "--out", str(tmp_path / "run"), "--executor", "dask", "--scheduler", address])
    assert code == 2 and time.monotonic() - start < 30
    error = capsys.readouterr().err
    assert f"cannot reach the Dask scheduler at {address}" in error and "dask scheduler" in error


def test_where_a_run_goes_is_validated() -> None:
    with pytest.raises(ValueError, match="executor must be one of"):
        prior_bank(executor="spark")
    with pytest.raises(ValueError, match="needs --executor dask or ray"):
        prior_bank(scheduler="tcp://127.0.0.1:8786")
    with pytest.raises(ValueError, match="workers"):
        ExecutorConfig("dask", workers=0)
