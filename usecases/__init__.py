"""Use cases: each benchmark as one small declarative module."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import replace
from types import ModuleType
from typing import Any

from usecases import adex, ca1_detailed, ca1_passive, hh, hh_allen, stg, vclamp
from usecases.base import Cost, Summary, Target, UseCase

_ALL = (hh, vclamp, ca1_passive, adex, ca1_detailed, hh_allen, stg)
MODULES: dict[str, ModuleType] = {m.NAME: m for m in _ALL}
BUILDERS: dict[str, Callable[..., UseCase]] = {name: m.build for name, m in MODULES.items()}
COMMON_OPTIONS = ("data_dir", "record_dt_ms", "backend")
MIN_SAMPLES = 3  # the fewest samples any summary accepts (eFEL needs more than 2 points)


def get_usecase(name: str, backend: str | None = None, **options: Any) -> UseCase:
    """Build a use case by name; options (``data_dir``, ``record_dt_ms``, ``cell``...) go to its ``build``.

    ``backend`` picks the simulator (``usecase_backends(name)``; None: the use case's
    default). ``record_dt_ms=None`` keeps the use case's own recording interval.
    """
    if name not in BUILDERS:
        raise ValueError(f"unknown use case {name!r}; available: {', '.join(sorted(BUILDERS))}")
    build = BUILDERS[name]
    accepted = set(inspect.signature(build).parameters)
    unknown = sorted(set(options) - accepted)
    if unknown:
        own = usecase_options(name) or ["none"]
        raise ValueError(f"use case {name!r} has no option {unknown}; its options: {', '.join(own)}")
    if options.get("record_dt_ms", 0) is None:
        options = {k: v for k, v in options.items() if k != "record_dt_ms"}
    backends = usecase_backends(name)
    backend = backends[0] if backend is None else backend
    if backend not in backends:
        raise ValueError(
            f"use case {name!r} runs on the backends {', '.join(backends)} (default {backends[0]}); "
            f"got --backend {backend!r}"
        )
    if "backend" in accepted:
        options["backend"] = backend
    usecase = replace(build(**options), backend=backend, backends=backends)
    t = usecase.simulator.t
    if t.size < MIN_SAMPLES:
        raise ValueError(
            f"record_dt_ms {options.get('record_dt_ms')} leaves {t.size} sample(s) in the protocol of "
            f"{name!r}; summaries need at least {MIN_SAMPLES}: record more finely"
        )
    return usecase


def usecase_backends(name: str) -> tuple[str, ...]:
    """The simulator backends of ``name``, the default first."""
    return tuple(getattr(MODULES[name], "BACKENDS", ("neuron",)))


def usecase_options(name: str) -> list[str]:
    """The use-case-specific options of ``name`` (beyond data_dir, record_dt_ms and backend)."""
    return [p for p in inspect.signature(BUILDERS[name]).parameters if p not in COMMON_OPTIONS]


__all__ = [
    "BUILDERS",
    "Cost",
    "Summary",
    "Target",
    "UseCase",
    "get_usecase",
    "usecase_backends",
    "usecase_options",
]
