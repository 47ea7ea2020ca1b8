"""The 10 Allen Cell Types sweeps that Gonçalves et al. 2020 fitted, as they prepared them.

Files: ``allen_cell_types/index.json`` and one npz per sweep in the data
directory (shared/data/README.md). Each npz holds ``v_mV`` (not corrected for
the liquid junction potential), ``i_uA`` (injected current, µA), ``dt_ms``,
``t_on_ms`` and ``t_off_ms`` of a 1450 ms excerpt. As Gonçalves et al. did
(mackelab/IdentifyMechanisticModels_2020, ``6_allen``): the junction potential
(−14 mV, from index.json) is added to the voltage, and the step amplitude is
divided by the soma area they assumed for the cell to give a current density.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simulators.errors import DataError
from usecases.data import resolve_data_dir

FOLDER = "allen_cell_types"
INDEX = f"{FOLDER}/index.json"
JUNCTION_POTENTIAL_MV = -14.0  # Gonçalves et al. 2020, used when index.json does not say
_SWEEP_KEYS = (
    "file",
    "specimen_id",
    "sweep_number",
    "dt_ms",
    "step_amplitude_uA",
    "soma_area_cm2_used_by_goncalves",
)
_NPZ_KEYS = ("v_mV", "i_uA", "dt_ms", "t_on_ms", "t_off_ms")


@dataclass(frozen=True)
class AllenSweep:
    """One recorded sweep, ready to fit.

    Attributes:
        specimen_id, sweep_number: Allen identifiers.
        t_ms: sample times k·dt_ms, shape ``(T,)``.
        v_mV: membrane potential with the junction potential added, shape ``(T,)``.
        stim_start_ms, stim_end_ms: the current step is on for stim_start_ms ≤ t < stim_end_ms
            (taken from the current trace; index.json's ``t_off_ms`` is the last sample with
            current, stim_end_ms − dt_ms, and is the t_off Gonçalves et al. gave their features).
        amplitude_uA_per_cm2: step amplitude / soma area (current density for the model).
        step_amplitude_uA: step amplitude, µA.
        soma_area_cm2: soma area Gonçalves et al. assumed for this cell.
        dt_ms: sampling interval.
        junction_potential_mV: the correction added to the recording.
        source: the npz file.
    """

    specimen_id: int
    sweep_number: int
    t_ms: np.ndarray
    v_mV: np.ndarray
    stim_start_ms: float
    stim_end_ms: float
    amplitude_uA_per_cm2: float
    step_amplitude_uA: float
    soma_area_cm2: float
    dt_ms: float
    junction_potential_mV: float
    source: str


def list_allen_cells(data_dir: str | Path | None = None) -> list[int]:
    """Specimen ids of the sweeps in index.json, in file order."""
    _, index = _read_index(data_dir)
    return [int(entry["specimen_id"]) for entry in index["sweeps"]]


def load_allen_sweep(cell: str | int, data_dir: str | Path | None = None) -> AllenSweep:
    """Load one sweep by specimen id (int or digits) or npz file name.

    Raises:
        DataError: a file is missing or malformed, or no sweep matches ``cell``.
    """
    index_path, index = _read_index(data_dir)
    entry = _find(index, cell, index_path)
    path = index_path.parent / str(entry["file"])
    if not path.is_file():
        raise DataError(
            f"data file {path} is missing; {index_path} lists it for specimen {entry['specimen_id']}"
        )
    try:
        with np.load(path) as npz:
            missing = [key for key in _NPZ_KEYS if key not in npz.files]
            if missing:
                raise DataError(f"data file {path} lacks the array(s) {', '.join(missing)}")
            raw = {key: np.asarray(npz[key], dtype=float) for key in _NPZ_KEYS}
    except DataError:
        raise
    except Exception as err:  # a corrupt or foreign file
        raise DataError(f"data file {path} is not a readable npz archive: {err}") from None
    v, current = raw["v_mV"], raw["i_uA"]
    if v.ndim != 1 or current.shape != v.shape or v.size < 10:
        raise DataError(
            f"data file {path}: v_mV and i_uA must be 1-D arrays of the same length, got "
            f"{v.shape} and {current.shape}"
        )
    if not (np.all(np.isfinite(v)) and np.all(np.isfinite(current))):
        raise DataError(f"data file {path}: v_mV or i_uA holds non-finite values")
    dt = float(raw["dt_ms"])
    if not dt > 0 or abs(dt - float(entry["dt_ms"])) > 1e-9:
        raise DataError(f"data file {path}: dt_ms {dt} does not match {index_path} ({entry['dt_ms']})")
    if "samples" in entry and int(entry["samples"]) != v.size:
        raise DataError(f"data file {path} has {v.size} samples, {index_path} says {entry['samples']}")
    if np.max(np.abs(v)) < 1.0:
        raise DataError(f"data file {path}: voltages lie within ±1, which looks like volts; expected mV")
    amplitude = float(entry["step_amplitude_uA"])
    area = float(entry["soma_area_cm2_used_by_goncalves"])
    if not (amplitude > 0 and area > 0):
        raise DataError(
            f"{index_path}: specimen {entry['specimen_id']} needs a positive step amplitude and area"
        )
    on = np.flatnonzero(np.abs(current) > 0.5 * amplitude)
    if on.size == 0 or abs(float(np.median(current[on])) - amplitude) > 1e-3 * amplitude:
        raise DataError(f"data file {path}: the injected current has no step of {amplitude:g} µA as indexed")
    start, end = on[0] * dt, (on[-1] + 1) * dt
    if abs(start - float(raw["t_on_ms"])) > 1.5 * dt or abs(end - dt - float(raw["t_off_ms"])) > 1.5 * dt:
        raise DataError(
            f"data file {path}: the current step ({start:g}–{end:g} ms) disagrees with t_on_ms/t_off_ms "
            f"({float(raw['t_on_ms']):g}–{float(raw['t_off_ms']):g} ms)"
        )
    junction = float(index.get("junction_potential_mV", JUNCTION_POTENTIAL_MV))
    return AllenSweep(
        specimen_id=int(entry["specimen_id"]),
        sweep_number=int(entry["sweep_number"]),
        t_ms=np.arange(v.size) * dt,
        v_mV=v + junction,
        stim_start_ms=float(start),
        stim_end_ms=float(end),
        amplitude_uA_per_cm2=amplitude / area,
        step_amplitude_uA=amplitude,
        soma_area_cm2=area,
        dt_ms=dt,
        junction_potential_mV=junction,
        source=str(path),
    )


def _read_index(data_dir: str | Path | None) -> tuple[Path, dict[str, Any]]:
    path = resolve_data_dir(data_dir) / INDEX
    if not path.is_file():
        raise DataError(f"data file {path} is missing; expected {INDEX} inside the data directory")
    try:
        index = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"data file {path} is not valid JSON: {err}") from None
    sweeps = index.get("sweeps") if isinstance(index, dict) else None
    if not isinstance(sweeps, list) or not sweeps:
        raise DataError(f"data file {path} has no list of 'sweeps'")
    for number, entry in enumerate(sweeps):
        missing = [key for key in _SWEEP_KEYS if not isinstance(entry, dict) or key not in entry]
        if missing:
            raise DataError(f"data file {path}: sweep {number} lacks {', '.join(missing)}")
    return path, index


def _find(index: dict[str, Any], cell: str | int, index_path: Path) -> dict[str, Any]:
    key = str(cell).strip()
    for entry in index["sweeps"]:
        file = str(entry["file"])
        if key in (str(entry["specimen_id"]), file, file.removesuffix(".npz")):
            return dict(entry)
    available = ", ".join(str(entry["specimen_id"]) for entry in index["sweeps"])
    raise DataError(f"no sweep for cell {cell!r} in {index_path}; available specimen ids: {available}")
