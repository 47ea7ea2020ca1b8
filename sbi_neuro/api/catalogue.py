"""The runs in the results index: list, record, import and export them (``sbi-neuro runs``).

Each row is a ``RunRecord``; the index keeps the Neuroptimus metadata of every run verbatim, so
``export_runs`` writes files that Neuroptimus' analysis (or another index) reads back unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from sbi_neuro.results.index import ResultsIndex


@dataclass(frozen=True)
class RunRecord:
    """One run in the results index (a run folder made here, or imported Neuroptimus metadata)."""

    id: int
    usecase: str
    method: str
    backend: str | None
    seed: int | None
    budget: int | None
    evaluations: int
    best_error: float
    components: dict[str, Any]
    convergence_score: float | None
    wall_time_s: float | None
    settings: dict[str, Any]
    target: str | None
    folder: str | None
    metadata_path: str | None
    source: str
    recorded_at: str
    content_hash: str

    @classmethod
    def of(cls, row: dict[str, Any]) -> RunRecord:
        return cls(**{f.name: row[f.name] for f in fields(cls)})

    @property
    def where(self) -> str:
        """The run folder, or the metadata file it was imported from."""
        return self.folder or self.metadata_path or ""


def list_runs(
    usecase: str | None = None,
    method: str | None = None,
    backend: str | None = None,
    source: str | None = None,
    index: str | Path | None = None,
) -> list[RunRecord]:
    """The runs in the index (default ``$SBI_NEURO_INDEX`` or ``runs/index.sqlite``), filtered."""
    with ResultsIndex(index) as results:
        return [RunRecord.of(row) for row in results.query(usecase, method, backend, source)]


def record_runs(folders: Iterable[str | Path], index: str | Path | None = None) -> list[RunRecord]:
    """Add (or update) finished run folders."""
    with ResultsIndex(index) as results:
        return [RunRecord.of(results.record_run(folder)) for folder in folders]


def import_runs(
    files: Iterable[str | Path], usecase: str | None = None, index: str | Path | None = None
) -> list[RunRecord]:
    """Add Neuroptimus-style ``metadata.json`` files (``usecase``: for files that name none)."""
    with ResultsIndex(index) as results:
        return [RunRecord.of(results.import_metadata(path, usecase=usecase)) for path in files]


def export_runs(
    folder: str | Path,
    usecase: str | None = None,
    method: str | None = None,
    backend: str | None = None,
    source: str | None = None,
    index: str | Path | None = None,
) -> list[Path]:
    """Write the Neuroptimus metadata of the (filtered) runs into ``folder``; the files written."""
    with ResultsIndex(index) as results:
        return results.export_metadata(folder, usecase=usecase, method=method, backend=backend, source=source)


def index_location(index: str | Path | None = None) -> str:
    """Where the results index lives (password hidden)."""
    with ResultsIndex(index) as results:
        return results.location
