"""Use cases: each benchmark as one small declarative module."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from usecases import hh
from usecases.base import Target, UseCase

BUILDERS: dict[str, Callable[..., UseCase]] = {hh.NAME: hh.build}


def get_usecase(name: str, **options: Any) -> UseCase:
    """Build a use case by name; options go to its ``build`` function."""
    if name not in BUILDERS:
        raise ValueError(f"unknown use case {name!r}; available: {', '.join(sorted(BUILDERS))}")
    return BUILDERS[name](**options)


__all__ = ["BUILDERS", "Target", "UseCase", "get_usecase"]
