"""The simulation bank: every evaluation of a run, on disk, written as it goes.

A bank is a folder of numbered batch files (``batch_000042.npz``). Each file is
written to a temporary name and renamed, so a kill leaves either the whole batch
or nothing. A batch's parameters and seed are a pure function of the run seed
and the batch number, so a re-run recomputes exactly the missing batches: no
simulation is lost and none is duplicated.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from sbi_neuro.evaluation import EvalBatch

_BATCH = re.compile(r"batch_(\d{6})\.npz$")


class BankMismatchError(ValueError):
    """The folder holds a bank made with other columns (another use case or settings)."""


class SimulationBank:
    """A folder of batch files plus ``columns.json`` naming the columns."""

    def __init__(self, folder: str | Path, columns: dict[str, list[str]]) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.columns = columns
        meta = self.folder / "columns.json"
        if meta.exists():
            stored = json.loads(meta.read_text())
            if stored != columns:
                raise BankMismatchError(
                    f"simulation bank {self.folder} was written with other columns "
                    f"({stored}) than this run needs ({columns}); use another output folder"
                )
        else:
            atomic_write_text(meta, json.dumps(columns, indent=1))

    def path(self, index: int) -> Path:
        return self.folder / f"batch_{index:06d}.npz"

    def done(self) -> set[int]:
        return {int(m.group(1)) for p in self.folder.iterdir() if (m := _BATCH.match(p.name))}

    def has(self, index: int) -> bool:
        return self.path(index).exists()

    def write(self, index: int, batch: EvalBatch) -> None:
        tmp = self.path(index).with_suffix(".tmp.npz")
        np.savez(tmp, **batch.arrays())  # type: ignore[arg-type]
        os.replace(tmp, self.path(index))

    def read(self, index: int) -> EvalBatch:
        with np.load(self.path(index)) as data:
            return EvalBatch(**{k: data[k] for k in data.files})

    def load(self, indices: list[int] | None = None) -> EvalBatch:
        """All batches (or the given ones) in batch order."""
        chosen = sorted(self.done()) if indices is None else sorted(indices)
        return EvalBatch.concat([self.read(i) for i in chosen])

    def __len__(self) -> int:
        return sum(len(self.read(i)) for i in self.done())


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write a text file so that readers never see it half-written."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def atomic_savefig(fig: Any, path: str | Path, **kwargs: Any) -> None:
    """Save a matplotlib figure (format from ``path``'s suffix) so that readers never see it
    half-written; ``kwargs`` go to ``Figure.savefig``."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    fig.savefig(tmp, format=path.suffix.lstrip(".") or None, **kwargs)
    os.replace(tmp, path)


def atomic_savetxt(path: str | Path, array: np.ndarray, **kwargs: Any) -> None:
    """``np.savetxt`` so that readers never see the file half-written."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    np.savetxt(tmp, array, **kwargs)
    os.replace(tmp, path)
