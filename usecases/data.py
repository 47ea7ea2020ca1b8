"""Where the benchmark data lives, and loading of recorded traces with clear errors."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simulators.errors import DataError

DATA_ENV = "SBI_NEURO_DATA"
PROJECT_ROOT = Path(__file__).resolve().parents[1]

__all__ = ["DataError", "Trace", "data_file", "load_two_column_trace", "resample", "resolve_data_dir"]


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


# Magnitudes that betray another unit: (smallest peak |value|, the unit that suggests,
# largest plausible |value|, the unit beyond it suggests). A membrane potential in mV reaches
# tens of mV somewhere; in volts it stays within ±1. Beyond ±1000 mV it is not a potential in mV.
UNIT_CHECKS: dict[tuple[str, str], tuple[float, str, float, str]] = {
    ("voltage", "mV"): (1.0, "volts", 1000.0, "microvolts"),
    # a response relative to rest peaks at a few mV (UC3: 5 mV); below 0.1 it is volts
    ("voltage relative to rest", "mV"): (0.1, "volts", 1000.0, "microvolts"),
    # a clamp current of 1e-6 nA (1 fA) cannot be recorded: the file holds amperes
    ("clamp current", "nA"): (1e-6, "amperes", math.inf, ""),
}


@dataclass(frozen=True)
class Trace:
    """A recorded trace: time (ms) and values, both shape ``(T,)``."""

    t: np.ndarray
    values: np.ndarray
    source: str


def load_two_column_trace(path: str | Path, quantity: str = "voltage", unit: str = "mV") -> Trace:
    """Read a two-column text file: time (ms), value. Raises DataError naming the file and the problem."""
    path = Path(path)
    layout = f"two columns: time (ms), {quantity} ({unit})"
    data = read_numeric_table(path, "target file", layout)
    if data.shape[1] != 2:
        raise DataError(f"target file {path} has {data.shape[1]} column(s); expected {layout}")
    if data.shape[0] < 10:
        raise DataError(f"target file {path} has only {data.shape[0]} rows; a trace needs more samples")
    bad = np.flatnonzero(~np.isfinite(data).all(axis=1))
    if bad.size:
        raise DataError(
            f"target file {path} has non-finite values (NaN or inf) in {bad.size} row(s), first at "
            f"data row {bad[0] + 1}; remove or interpolate them"
        )
    t, v = data[:, 0], data[:, 1]
    steps = np.diff(t)
    if np.any(steps <= 0):
        row = int(np.flatnonzero(steps <= 0)[0]) + 2
        raise DataError(
            f"target file {path}: the time column (ms) must increase strictly; data row {row} has "
            f"t = {t[row - 1]:g} after {t[row - 2]:g}"
        )
    check_units(path, v, quantity, unit)
    return Trace(t=t, values=v, source=str(path))


def read_numeric_table(path: Path, what: str, layout: str) -> np.ndarray:
    """The numbers of a whitespace-separated text table ``(rows, columns)``; ``#`` starts a comment.

    DataError names the file (``what`` ``path``) and the first line that is not ``layout``.
    """
    if not path.is_file():
        problem = "is a directory, not a file" if path.is_dir() else "does not exist"
        raise DataError(f"{what} {path} {problem}")
    try:
        text = path.read_text()
    except UnicodeDecodeError as err:
        raise DataError(
            f"{what} {path} is not a text file (byte {err.start} is not UTF-8); expected {layout}"
        ) from None
    rows: list[list[float]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.split("#", 1)[0].strip()
        if content:
            rows.append(_numbers(content, number, path, what, layout))
            if len(rows[-1]) != len(rows[0]):
                raise DataError(
                    f"{what} {path}: line {number} has {len(rows[-1])} values where the lines before have "
                    f"{len(rows[0])}; expected {layout}"
                )
    if not rows:
        raise DataError(f"{what} {path} is empty; expected {layout}")
    return np.array(rows, dtype=float)


def _numbers(content: str, number: int, path: Path, what: str, layout: str) -> list[float]:
    try:
        return [float(value) for value in content.split()]
    except ValueError:
        hint = " (separate columns by spaces or tabs, not commas)" if "," in content else ""
        shown = content if len(content) <= 60 else content[:57] + "..."
        raise DataError(
            f"{what} {path} is not a numeric text table: line {number} ({shown!r}) is not numbers{hint}; "
            f"expected {layout} (start a header or comment line with #)"
        ) from None


def check_units(path: Path, values: np.ndarray, quantity: str, unit: str) -> None:
    """DataError if the magnitude of ``values`` says the file holds another unit than ``unit``."""
    limits = UNIT_CHECKS.get((quantity, unit))
    if limits is None or values.size == 0:
        return
    smallest_peak, small_unit, largest, large_unit = limits
    peak = float(np.max(np.abs(values)))
    if peak < smallest_peak:
        raise DataError(
            f"target file {path}: every {quantity} value lies within ±{smallest_peak:g}, which looks like "
            f"{small_unit}; the file must hold {unit}"
        )
    if peak > largest:
        raise DataError(
            f"target file {path}: {quantity} values reach {peak:g}, beyond ±{largest:g} {unit}, which looks "
            f"like {large_unit}; the file must hold {unit}"
        )


def resample(trace: Trace, t_new: np.ndarray, max_step_ms: float | None = None) -> np.ndarray:
    """Linear interpolation of a trace onto a new time grid that it must cover.

    ``max_step_ms``: the coarsest sampling (largest step inside the grid's span, so also a gap)
    the caller's features tolerate; DataError beyond it.
    """
    tol = 1e-6 * max(1.0, abs(float(t_new[-1])))
    if trace.t[0] > t_new[0] + tol or trace.t[-1] < t_new[-1] - tol:
        hint = ""
        if trace.t[-1] * 1000.0 >= t_new[-1] - tol and trace.t[-1] < 0.01 * t_new[-1]:
            hint = "; the time column looks like seconds: it must hold ms"
        raise DataError(
            f"target {trace.source} covers {trace.t[0]:g}–{trace.t[-1]:g} ms but the protocol needs "
            f"{t_new[0]:g}–{t_new[-1]:g} ms{hint}"
        )
    if max_step_ms is not None:
        _check_sampling(trace, t_new, max_step_ms)
    if trace.t.size == t_new.size and np.allclose(trace.t, t_new, atol=tol):
        return trace.values.copy()
    return np.interp(t_new, trace.t, trace.values)


def _check_sampling(trace: Trace, t_new: np.ndarray, max_step_ms: float) -> None:
    """DataError if the trace is sampled more coarsely than ``max_step_ms`` within ``t_new``'s span."""
    inside = (trace.t[1:] > t_new[0]) & (trace.t[:-1] < t_new[-1])
    steps = np.diff(trace.t)[inside]
    if steps.size == 0 or steps.max() <= max_step_ms * (1 + 1e-6):
        return
    worst = int(np.flatnonzero(inside)[np.argmax(steps)])
    raise DataError(
        f"target {trace.source} is sampled too coarsely: a step of {steps.max():g} ms at "
        f"{trace.t[worst]:g}–{trace.t[worst + 1]:g} ms (median step {np.median(steps):g} ms); this use "
        f"case's features need a step of at most {max_step_ms:g} ms (it simulates every "
        f"{float(t_new[1] - t_new[0]):g} ms). Give the recording at its original sampling, without gaps"
    )
