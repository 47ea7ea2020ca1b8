"""The comparison harness: every (method, seed) on a use case at one budget, then tables and figures.

Each run is an ordinary run folder ``OUT/USECASE/METHOD/seedN/`` (resumable; a finished run with
the same configuration is reused, not recomputed), recorded in the results index; the tables and
figures are ``sbi_neuro.results.comparison``'s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sbi_neuro.api.execute import execute
from sbi_neuro.execution.executors import DEFAULT_SIM_TIMEOUT_S, open_executor
from sbi_neuro.methods.config import NOT_IDENTITY, RunConfig
from sbi_neuro.registry import method_names, method_spec
from sbi_neuro.results import layout
from sbi_neuro.results.comparison import MethodRun, load_result, summarise, write_ranking, write_tables
from sbi_neuro.results.index import ResultsIndex
from usecases import Target, UseCase


@dataclass(frozen=True)
class Comparison:
    """What ``compare`` made: one row per method (median best error, convergence, speed to CMA-ES's
    level...) and the files holding them.

    Attributes:
        rows: per method, best first (the columns of ``table.csv``).
        runs: every run the table covers.
        table: ``OUT/USECASE/table.md`` (beside it ``table.csv`` and the figures).
        ranking: ``OUT/ranking.md``, the ranking across every use case compared into ``OUT``.
    """

    rows: list[dict[str, Any]]
    runs: list[MethodRun]
    table: Path
    ranking: Path


def compare_runs(
    base: RunConfig,
    methods: list[str] | None,
    seeds: list[int],
    out: str | Path,
    index: str | Path | None = None,
    sim_timeout_s: float | None = DEFAULT_SIM_TIMEOUT_S,
    usecase: UseCase | None = None,
    target: Target | None = None,
) -> Comparison:
    """Run every (method, seed) of ``base`` (use case, budget, backend...) in ``out``.

    ``methods``: None for every registered method. A simulation taking more than ``sim_timeout_s``
    seconds (None: no limit) is recorded as timed out. ``usecase``/``target``: objects to use
    instead of the names in ``base`` (a use case built in Python).
    """
    methods = method_names() if methods is None else methods
    for method in methods:
        if method_spec(method).kind == "prior":
            raise ValueError(f"{method!r} fits nothing; compare the methods {', '.join(method_names())}")
        method_spec(method).check(replace(base, method=method))
    root = Path(out) / base.usecase
    # one executor for every run: a Dask cluster is started (or connected to) once
    with (
        ResultsIndex(index) as results_index,
        open_executor(replace(base.execution, sim_timeout_s=sim_timeout_s)) as executor,
    ):
        for method in methods:
            for seed in seeds:
                config = replace(base, method=method, seed=seed)
                folder = root / method / f"seed{seed}"
                if not _finished(folder, config):
                    print(f"{base.usecase}: {method}, seed {seed}", flush=True)
                    execute(config, folder, index, executor=executor, usecase=usecase, target=target)
                results_index.record_run(folder)
    # The table covers every finished run of this budget under root, from this call or earlier ones.
    runs = []
    for folder in sorted(root.glob("*/seed*")):
        if (folder / layout.SUMMARY).is_file() and (folder / layout.EVALUATIONS).is_file():
            run = load_result(folder)
            if run.budget == base.budget:
                runs.append(run)
    table = write_tables(root, base, runs)
    return Comparison(summarise(runs, base.budget), runs, table, write_ranking(Path(out)))


def _finished(folder: Path, config: RunConfig) -> bool:
    """A finished run of the same configuration is in ``folder`` (where it ran and progress may differ)."""
    try:
        # Filled with today's defaults: a field added since the run (e.g. ``restrict``) is not a change.
        stored = RunConfig.from_json(json.loads((folder / layout.CONFIG).read_text())).to_json()
        json.loads((folder / layout.SUMMARY).read_text())
    except (OSError, ValueError, TypeError):
        return False
    current = config.to_json()
    ignore = (*NOT_IDENTITY, "record_dt_ms", "backend")
    same = all(stored.get(k) == v for k, v in current.items() if k not in ignore)
    return same and (config.backend is None or stored.get("backend") == config.backend)
