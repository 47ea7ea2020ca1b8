"""A user's SWC morphology, read with NEURON's Import3d.

The file is checked in Python first (seven numeric columns, unique ids, parents that
exist and have smaller ids, radii > 0), so that a bad file gives a ``DataError`` naming
the file and the line rather than a hoc error. Import3d then builds the cell at hoc top level
(``instantiate(None)``): its sections are named ``soma[i]``, ``axon[i]``, ``dend[i]``,
``apic[i]`` and are owned by hoc, not Python. Hence only one SWC cell can live in a
process: loading another deletes the previous one.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np

from simulators.errors import DataError

# Sections of the SWC cell currently instantiated in this process (hoc-owned).
_LOADED: list[Any] = []


def read_swc(path: str | Path) -> np.ndarray:
    """Read and check an SWC file.

    Args:
        path: the SWC file.

    Returns:
        Array (n, 7): id, type, x, y, z (µm), radius (µm), parent id (-1 for a root).

    Raises:
        DataError: the file is missing or malformed; the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"SWC file {path} does not exist")
    rows: list[list[float]] = []
    lines: list[int] = []
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"SWC file {path} cannot be read: {err}") from None
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.split("#", 1)[0].strip()
        if not content:
            continue
        fields = content.split()
        if len(fields) != 7:
            raise DataError(f"SWC file {path}, line {number}: expected 7 columns, got {len(fields)}")
        try:
            rows.append([float(f) for f in fields])
        except ValueError:
            raise DataError(f"SWC file {path}, line {number}: non-numeric value in {content!r}") from None
        lines.append(number)
    if not rows:
        raise DataError(f"SWC file {path} holds no points")
    data = np.asarray(rows)
    if not np.all(np.isfinite(data)):
        bad = lines[int(np.flatnonzero(~np.isfinite(data).all(axis=1))[0])]
        raise DataError(f"SWC file {path}, line {bad}: non-finite value")
    ids, parents = data[:, 0], data[:, 6]
    if np.any(ids != np.round(ids)) or np.any(parents != np.round(parents)):
        raise DataError(f"SWC file {path}: ids and parent ids must be integers")
    if np.unique(ids).size != ids.size:
        raise DataError(f"SWC file {path}: point ids are not unique")
    known = set(ids.astype(int).tolist())
    for i, (point, parent) in enumerate(zip(ids.astype(int), parents.astype(int), strict=True)):
        if parent == -1:
            continue
        if parent not in known:
            raise DataError(f"SWC file {path}, line {lines[i]}: parent {parent} is not a point of the file")
        if parent >= point:  # Import3d requires it
            raise DataError(
                f"SWC file {path}, line {lines[i]}: parent id {parent} must be smaller than "
                f"the id of its point ({point})"
            )
    if not np.any(parents == -1):
        raise DataError(f"SWC file {path} has no root point (parent -1)")
    small = np.flatnonzero(data[:, 5] <= 0)
    if small.size:
        raise DataError(f"SWC file {path}, line {lines[small[0]]}: radius must be > 0")
    return data


def load_swc(path: str | Path) -> dict[str, Any]:
    """Instantiate an SWC morphology in this process's NEURON with Import3d.

    Deletes the SWC cell loaded before, if any (its Section objects become invalid).

    Args:
        path: the SWC file.

    Returns:
        ``{name: Section}`` in Import3d's order (the root, normally ``soma[0]``, first);
        ``nseg`` is Import3d's (1 per section).

    Raises:
        DataError: the file is missing or malformed, or Import3d rejects it.
    """
    from neuron import h

    path = Path(path)
    read_swc(path)
    delete_swc_cell()
    before = {sec.hoc_internal_name() for sec in h.allsec()}
    h.load_file("import3d.hoc")
    try:
        reader = h.Import3d_SWC_read()
        reader.input(str(path))
        h.Import3d_GUI(reader, 0).instantiate(None)
    except RuntimeError as err:
        for sec in [sec for sec in h.allsec() if sec.hoc_internal_name() not in before]:
            h.delete_section(sec=sec)  # a partly built cell
        raise DataError(f"SWC file {path}: NEURON's Import3d could not read it ({err})") from None
    sections = [sec for sec in h.allsec() if sec.hoc_internal_name() not in before]
    if not sections:
        raise DataError(f"SWC file {path}: Import3d built no sections")
    _LOADED.extend(sections)
    return {sec.name(): sec for sec in sections}


def delete_swc_cell() -> None:
    """Delete the sections of the SWC cell loaded in this process, if any."""
    from neuron import h

    while _LOADED:
        sec = _LOADED.pop()
        with contextlib.suppress(ReferenceError):  # already deleted elsewhere
            h.delete_section(sec=sec)
