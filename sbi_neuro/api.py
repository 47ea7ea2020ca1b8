"""The Python entry point: run a configured inference or fit into a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sbi_neuro.bayes import run_npe, run_prior
from sbi_neuro.fit import run_optimizer
from sbi_neuro.runner import Runner
from sbi_neuro.runs import RunConfig, open_run
from sbi_neuro.sequential import run_npe_cmaes, run_tsnpe


def run(config: RunConfig, out: str | Path) -> dict[str, Any]:
    """Run (or continue) ``config`` in the folder ``out``; returns the run summary."""
    opened = open_run(config, out)
    runner = Runner(opened.evaluator, workers=config.workers, progress=config.progress)
    if config.method == "npe":
        return run_npe(opened, runner)
    if config.method == "prior":
        return run_prior(opened, runner)
    if config.method == "tsnpe":
        return run_tsnpe(opened, runner)
    if config.method == "npe_cmaes":
        return run_npe_cmaes(opened, runner)
    return run_optimizer(opened, runner)
