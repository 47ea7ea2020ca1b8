"""The simulation bank: every evaluation of a run, kept as it goes, on disk or in memory.

On disk (``SimulationBank``) a bank is a folder of numbered batch files
(``batch_000042.npz``). Each file is written to a temporary name and renamed, so a kill
leaves either the whole batch or nothing. A batch's parameters and seed are a pure
function of the run seed and the batch number, so a re-run recomputes exactly the missing
batches: no simulation is lost and none is duplicated. ``MemoryBank`` keeps the batches of
a run made without a folder (a notebook); it forgets them with the process.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Protocol

import numpy as np

from sbi_neuro.core.evaluation import EvalBatch
from sbi_neuro.core.files import atomic_savez, atomic_write_json

_BATCH = re.compile(r"batch_(\d{6})\.npz$")


class BankMismatchError(ValueError):
    """The folder holds a bank made with other columns (another use case or settings)."""


class Bank(Protocol):
    """Numbered batches of evaluations."""

    columns: dict[str, list[str]]

    def done(self) -> set[int]:
        """Indices of the batches held."""
        ...

    def has(self, index: int) -> bool: ...

    def write(self, index: int, batch: EvalBatch) -> None: ...

    def read(self, index: int) -> EvalBatch: ...

    def load(self, indices: list[int] | None = None) -> EvalBatch:
        """All batches (or the given ones) in batch order."""
        ...


class _BankReading:
    """What every bank derives from ``done`` and ``read``."""

    def done(self) -> set[int]:
        raise NotImplementedError

    def read(self, index: int) -> EvalBatch:
        raise NotImplementedError

    def load(self, indices: list[int] | None = None) -> EvalBatch:
        """All batches (or the given ones) in batch order."""
        chosen = sorted(self.done()) if indices is None else sorted(indices)
        return EvalBatch.concat([self.read(i) for i in chosen])

    def __len__(self) -> int:
        return sum(len(self.read(i)) for i in self.done())


class SimulationBank(_BankReading):
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
            atomic_write_json(meta, columns)

    def path(self, index: int) -> Path:
        return self.folder / f"batch_{index:06d}.npz"

    def done(self) -> set[int]:
        return {int(m.group(1)) for p in self.folder.iterdir() if (m := _BATCH.match(p.name))}

    def has(self, index: int) -> bool:
        return self.path(index).exists()

    def write(self, index: int, batch: EvalBatch) -> None:
        atomic_savez(self.path(index), **batch.arrays())

    def read(self, index: int) -> EvalBatch:
        with np.load(self.path(index)) as data:
            return EvalBatch(**{k: data[k] for k in data.files})


class MemoryBank(_BankReading):
    """The batches of a run without a folder, in memory."""

    def __init__(self, columns: dict[str, list[str]]) -> None:
        self.columns = columns
        self._batches: dict[int, EvalBatch] = {}

    def done(self) -> set[int]:
        return set(self._batches)

    def has(self, index: int) -> bool:
        return index in self._batches

    def write(self, index: int, batch: EvalBatch) -> None:
        self._batches[index] = batch.take(slice(None))  # without the executor's fault notes, as on disk

    def read(self, index: int) -> EvalBatch:
        return self._batches[index]
