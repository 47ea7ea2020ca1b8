"""A run folder: created for a new run, reopened to continue one or to analyse a finished one.

Everything that can be refused is checked before anything is written: the stored configuration
(a different setting into the same folder is refused with the list of what changed), the target
(its features computed once), the bank's columns. The folder keeps what rebuilds the run:
``config.json`` (names and settings) and ``target.npz`` (the target as fitted).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from sbi_neuro.core.evaluation import Evaluator
from sbi_neuro.core.files import atomic_savez, atomic_write_json
from sbi_neuro.execution.bank import SimulationBank
from sbi_neuro.inference.posterior import TrainedPosterior
from sbi_neuro.methods.config import NOT_IDENTITY, RunConfig, read_config
from sbi_neuro.methods.workspace import Workspace, bank_columns, check_target, resolved_config
from sbi_neuro.registry import method_spec, usecase_of
from sbi_neuro.results import layout
from usecases import Target, UseCase


def open_run_folder(config: RunConfig, usecase: UseCase, target: Target, folder: str | Path) -> Workspace:
    """Create the run folder, or reopen it to continue if it holds the same run (same settings, same
    target); refused with the list of what changed otherwise."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config_path = folder / layout.CONFIG
    config = resolved_config(config, usecase)
    resumed = config_path.exists()
    if resumed:
        stored = read_config(config_path).to_json()  # fills new defaults
        if stored["backend"] is None:  # written before backends existed: the default ran
            stored["backend"] = usecase.backends[0]
        _check_same_run(stored, config, config_path)
        _check_same_target(folder, target)
    else:
        _refuse_orphan_bank(folder)
    check_target(usecase, target, method_spec(config.method).bayesian)
    bank = _open_bank(folder / layout.BANK, bank_columns(usecase))
    atomic_write_json(config_path, config.to_json())
    write_target(folder / layout.TARGET, target)
    evaluator = Evaluator(usecase.simulator, usecase.features, usecase.cost, target)
    return Workspace(config, usecase, target, evaluator, bank, folder, resumed)


def open_run(
    config: RunConfig, folder: str | Path, usecase: UseCase | None = None, target: Target | None = None
) -> Workspace:
    """``open_run_folder`` for a configuration by name: its use case built from the registry (unless
    given) and its target loaded as ``config.target`` names it (unless given)."""
    usecase = usecase or usecase_of(config)
    target = target or usecase.target_from(config.target, config.data_dir)
    return open_run_folder(config, usecase, target, folder)


def reopen(folder: str | Path, workers: int | None = None, usecase: UseCase | None = None) -> Workspace:
    """The workspace of an existing run folder, to continue or analyse it.

    ``usecase``: the run's use case when it is not one the registry can rebuild by name (a model
    built in Python); by default it is rebuilt from ``config.json``. ``workers`` replaces the
    recorded worker count (where a run goes is not part of its identity).
    """
    folder = Path(folder)
    config_path = folder / layout.CONFIG
    if not config_path.exists():
        raise ValueError(f"{folder} is not a run folder (no {layout.CONFIG})")
    config = read_config(config_path)
    if workers is not None:
        config = replace(config, workers=workers)
    usecase = usecase or usecase_of(config)
    target = read_target(folder / layout.TARGET) or usecase.target_from(config.target, config.data_dir)
    return open_run_folder(config, usecase, target, folder)


def final_posterior(ws: Workspace) -> TrainedPosterior:
    """The run's last trained posterior (TSNPE: the last round's)."""
    if ws.folder is None:
        raise ValueError("a run in memory keeps no trained posterior on disk; use its result's posterior")
    rounds = sorted(ws.folder.glob("posterior_round*/spec.json"), key=lambda p: int(p.parent.name[15:]))
    folder = rounds[-1].parent if rounds else ws.folder / layout.POSTERIOR
    if not (folder / "spec.json").exists():
        raise ValueError(
            f"{ws.folder} holds no trained posterior; run `sbi-neuro infer` into it first "
            "(method npe, tsnpe or npe_cmaes)"
        )
    return TrainedPosterior.load(folder, ws.usecase.prior)


def write_target(path: Path, target: Target) -> None:
    """Keep the target as fitted: a later ``check``, ``path`` or resumed run uses exactly this one."""
    arrays: dict[str, Any] = {"t": target.t, "source": np.array(target.source)}
    arrays["from_ground_truth"] = np.array(target.from_ground_truth)
    if target.traces is not None:
        arrays["traces"] = target.traces
    if target.x_o is not None:
        arrays["x_o"] = np.asarray(target.x_o, dtype=float)
    atomic_savez(path, **arrays)


def read_target(path: Path) -> Target | None:
    """The target a run folder keeps (None for folders written before targets were kept)."""
    if not path.is_file():
        return None
    try:
        with np.load(path) as data:
            return Target(
                t=data["t"],
                traces=data["traces"] if "traces" in data.files else None,
                source=str(data["source"]),
                from_ground_truth=bool(data["from_ground_truth"]),
                x_o=data["x_o"] if "x_o" in data.files else None,
            )
    except (OSError, ValueError, KeyError) as err:
        raise ValueError(
            f"{path} is not a readable target ({type(err).__name__}: {err}); it holds the target the run "
            "was fitted to: restore it or delete it to load the target from config.json again"
        ) from None


def _same_target(a: Target, b: Target) -> bool:
    def same(x: np.ndarray | None, y: np.ndarray | None) -> bool:
        if x is None or y is None:
            return x is None and y is None
        return bool(np.array_equal(x, y, equal_nan=True))

    return same(a.t, b.t) and same(a.traces, b.traces) and same(a.x_o, b.x_o)


def _check_same_target(folder: Path, target: Target) -> None:
    stored = read_target(folder / layout.TARGET)
    if stored is not None and not _same_target(stored, target):
        raise ValueError(
            f"{folder} belongs to a run fitted to another target ({stored.source}, now {target.source}, "
            "whose values differ). Re-run with the same target to continue it, or choose another --out "
            "folder."
        )


def _refuse_orphan_bank(folder: Path) -> None:
    """A bank without config.json holds simulations of unknown settings: never mix a new run into it."""
    bank = folder / layout.BANK
    batches = sorted(bank.glob("batch_*.npz")) if bank.is_dir() else []
    if batches:
        raise ValueError(
            f"{folder} holds {len(batches)} simulation batch file(s) in bank/ but no config.json, so the "
            "settings they were made with are unknown; restore config.json or choose another --out folder"
        )


def _open_bank(folder: Path, columns: dict[str, list[str]]) -> SimulationBank:
    try:
        return SimulationBank(folder, columns)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(
            f"{folder / 'columns.json'} is not valid JSON ({err}); it names the columns of the bank's "
            "batch files: restore it, or choose another --out folder"
        ) from None


def _check_same_run(stored: dict[str, Any], config: RunConfig, path: Path) -> None:
    current = config.to_json()
    changed = [
        f"{k}: {stored.get(k)!r} → {current.get(k)!r}"
        for k in sorted(set(stored) | set(current))
        if k not in NOT_IDENTITY and stored.get(k) != current.get(k)
    ]
    if changed:
        raise ValueError(
            f"{path} belongs to a run with other settings ({'; '.join(changed)}). "
            "Re-run with the same settings to continue it, or choose another --out folder."
        )
