"""The one live NEURON model of a process.

``ParallelContext.psolve`` advances every section that exists in the process,
so a worker that switches from one NEURON simulator (or configuration) to
another must drop the previous model first. Every NEURON simulator gets its
model through ``live_model``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

M = TypeVar("M")

_live: dict[str, Any] = {"key": None, "model": None}


def live_model(config: Hashable, build: Callable[[Any], M]) -> M:
    """The model of ``config`` in this process, built on first use; any other model is released."""
    if _live["model"] is None or _live["key"] != config:
        release_models()
        _live["model"] = build(config)
        _live["key"] = config
    return _live["model"]  # type: ignore[no-any-return]


def current_model() -> Any:
    """The live model, or None (for tests and diagnostics)."""
    return _live["model"]


def release_models() -> None:
    """Drop the live model (calling its ``close()`` if it has one) so its sections are deleted."""
    model = _live["model"]
    if model is not None:
        close = getattr(model, "close", None)
        if close is not None:
            close()
    _live["key"] = None
    _live["model"] = None
