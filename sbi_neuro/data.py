"""Where the benchmark data lives, and loading of recorded traces with clear errors."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA_ENV = "SBI_NEURO_DATA"
PROJECT_ROOT = Path(__file__).resolve().parents[1]


class DataError(ValueError):
    """A data file or directory is missing or malformed; the message says which and why."""


def resolve_data_dir(explicit: str | Path | None = None) -> Path:
    """The benchmark data directory.

    Order: the explicit argument (``--data-dir``), then ``$SBI_NEURO_DATA``, then
    ``../shared/data`` beside the working directory or beside the project.
    """
    if explicit is not None:
        candidates, origin = [Path(explicit)], "--data-dir"
    elif os.environ.get(DATA_ENV):
        candidates, origin = [Path(os.environ[DATA_ENV])], f"${DATA_ENV}"
    else:
        candidates = [Path.cwd().parent / "shared" / "data", PROJECT_ROOT.parent / "shared" / "data"]
        origin = "the default location"
    for path in candidates:
        if path.is_dir():
            return path.resolve()
    tried = ", ".join(str(p) for p in candidates)
    raise DataError(
        f"benchmark data directory not found (looked in {origin}: {tried}). "
        f"Point to a copy with --data-dir PATH or the environment variable {DATA_ENV}=PATH; "
        "the data are the Neuroptimus test files (doi:10.5281/zenodo.13918521) laid out as "
        "described in shared/data/README.md. Use cases with a simulated target "
        "(for example `--target simulated`) need no data."
    )


def data_file(relative: str, data_dir: str | Path | None = None) -> Path:
    """A file inside the data directory, with an error naming it when it is missing."""
    path = resolve_data_dir(data_dir) / relative
    if not path.is_file():
        raise DataError(f"data file {path} is missing; expected {relative} inside the data directory")
    return path


@dataclass(frozen=True)
class Trace:
    """A recorded trace: time (ms) and values, both shape ``(T,)``."""

    t: np.ndarray
    values: np.ndarray
    source: str


def load_two_column_trace(path: str | Path, quantity: str = "voltage", unit: str = "mV") -> Trace:
    """Read a two-column text file: time (ms), value. Raises DataError naming the problem."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"target file {path} does not exist")
    try:
        with open(path) as handle:
            data = np.loadtxt(handle, ndmin=2)
    except ValueError as err:
        raise DataError(f"target file {path} is not a numeric text table: {err}") from None
    if data.size == 0:
        raise DataError(f"target file {path} is empty; expected two columns: time (ms), {quantity} ({unit})")
    if data.shape[1] != 2:
        raise DataError(
            f"target file {path} has {data.shape[1]} column(s); expected 2: time (ms), {quantity} ({unit})"
        )
    if data.shape[0] < 10:
        raise DataError(f"target file {path} has only {data.shape[0]} rows; a trace needs more samples")
    bad = np.flatnonzero(~np.isfinite(data).all(axis=1))
    if bad.size:
        raise DataError(
            f"target file {path} has non-finite values (NaN or inf) in {bad.size} row(s), first at "
            f"data row {bad[0] + 1}; remove or interpolate them"
        )
    t, v = data[:, 0], data[:, 1]
    if np.any(np.diff(t) <= 0):
        raise DataError(f"target file {path}: the time column (ms) must increase strictly")
    if quantity == "voltage" and unit == "mV" and np.max(np.abs(v)) < 1.0:
        raise DataError(
            f"target file {path}: voltages lie within ±1, which looks like volts; the file must hold mV"
        )
    return Trace(t=t, values=v, source=str(path))


def resample(trace: Trace, t_new: np.ndarray) -> np.ndarray:
    """Linear interpolation of a trace onto a new time grid that it must cover."""
    tol = 1e-6 * max(1.0, abs(float(t_new[-1])))
    if trace.t[0] > t_new[0] + tol or trace.t[-1] < t_new[-1] - tol:
        raise DataError(
            f"target {trace.source} covers {trace.t[0]:g}–{trace.t[-1]:g} ms but the protocol needs "
            f"{t_new[0]:g}–{t_new[-1]:g} ms"
        )
    if trace.t.size == t_new.size and np.allclose(trace.t, t_new, atol=tol):
        return trace.values.copy()
    return np.interp(t_new, trace.t, trace.values)
