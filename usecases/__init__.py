"""Use cases: each benchmark as one small declarative module."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from usecases import adex, ca1_detailed, ca1_passive, hh, hh_allen, vclamp
from usecases.base import Cost, Summary, Target, UseCase

BUILDERS: dict[str, Callable[..., UseCase]] = {
    m.NAME: m.build for m in (hh, vclamp, ca1_passive, adex, ca1_detailed, hh_allen)
}
COMMON_OPTIONS = ("data_dir", "record_dt_ms")


def get_usecase(name: str, **options: Any) -> UseCase:
    """Build a use case by name; options (``data_dir``, ``record_dt_ms``, ``cell``...) go to its ``build``.

    ``record_dt_ms=None`` keeps the use case's own recording interval.
    """
    if name not in BUILDERS:
        raise ValueError(f"unknown use case {name!r}; available: {', '.join(sorted(BUILDERS))}")
    build = BUILDERS[name]
    accepted = set(inspect.signature(build).parameters)
    unknown = sorted(set(options) - accepted)
    if unknown:
        own = sorted(accepted - set(COMMON_OPTIONS)) or ["none"]
        raise ValueError(f"use case {name!r} has no option {unknown}; its options: {', '.join(own)}")
    if options.get("record_dt_ms", 0) is None:
        options = {k: v for k, v in options.items() if k != "record_dt_ms"}
    return build(**options)


def usecase_options(name: str) -> list[str]:
    """The use-case-specific options of ``name`` (beyond data_dir and record_dt_ms)."""
    return [p for p in inspect.signature(BUILDERS[name]).parameters if p not in COMMON_OPTIONS]


__all__ = ["BUILDERS", "Cost", "Summary", "Target", "UseCase", "get_usecase", "usecase_options"]
