"""Files written atomically: readers (and a run resumed after a kill) never see one half-written.

Everything goes to a temporary name beside the target and is renamed over it (``os.replace``),
so a SIGKILL leaves at most a stray ``*.tmp`` file, which the next write overwrites.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path to write ``path``'s content to; renamed to ``path`` when the block ends cleanly."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def atomic_write_json(path: str | Path, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically."""
    atomic_write_text(path, json.dumps(data, indent=1))


def atomic_savefig(fig: Any, path: str | Path, **kwargs: Any) -> None:
    """Save a matplotlib figure (format from ``path``'s suffix) atomically; ``kwargs`` go to ``savefig``."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or None, **kwargs)


def atomic_savetxt(path: str | Path, array: np.ndarray, **kwargs: Any) -> None:
    """``np.savetxt`` atomically."""
    with atomic_path(path) as tmp:
        np.savetxt(tmp, array, **kwargs)


def atomic_savez(path: str | Path, **arrays: Any) -> None:
    """``np.savez`` atomically (through a file handle: given a name, numpy would append ``.npz``)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)
