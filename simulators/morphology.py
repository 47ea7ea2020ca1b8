"""Reconstructed morphologies: the geometry JSON of the benchmark data, instantiated in NEURON.

The JSON (shared/data, "morphology.geometry.json") lists every section with its
name, parent, attachment point, orientation, nseg, length and 3-D points
[x, y, z, diam] (µm) as NEURON instantiated the original hoc file.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simulators.errors import DataError


@dataclass(frozen=True)
class SectionGeometry:
    """One unbranched section: its 3-D points (µm) and where it attaches."""

    name: str
    parent: str | None
    parent_x: float | None
    orientation: float
    nseg: int
    length_um: float
    points: np.ndarray  # (k, 4): x, y, z, diam


@dataclass(frozen=True)
class Morphology:
    """A whole cell's geometry, parents listed before children."""

    sections: tuple[SectionGeometry, ...]
    source: str
    declared_area_um2: float | None = None

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.sections]


def load_geometry_json(path: str | Path) -> Morphology:
    """Read a geometry JSON file; DataError names the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"morphology file {path} does not exist")
    try:
        data = json.loads(path.read_text())
        raw = data["sections"]
        sections = tuple(_section(s) for s in raw)
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise DataError(f"morphology file {path} is not a valid geometry JSON: {err!r}") from None
    seen: set[str] = set()
    for s in sections:
        if s.parent is not None and s.parent not in seen:
            raise DataError(f"morphology file {path}: section {s.name} comes before its parent {s.parent}")
        seen.add(s.name)
    if not sections or sections[0].parent is not None:
        raise DataError(f"morphology file {path}: the first section must be the root (no parent)")
    return Morphology(sections, str(path), data.get("total_area_um2"))


def _section(raw: dict[str, Any]) -> SectionGeometry:
    points = np.asarray(raw["pt3d_xyzd"], dtype=float)
    if points.ndim != 2 or points.shape[1] != 4 or points.shape[0] < 2:
        raise ValueError(f"section {raw['name']}: pt3d_xyzd must be a list of ≥ 2 [x, y, z, diam] points")
    if int(raw["nseg"]) < 1:
        raise ValueError(f"section {raw['name']}: nseg must be >= 1")
    return SectionGeometry(
        name=str(raw["name"]),
        parent=raw["parent"],
        parent_x=None if raw["parent_x"] is None else float(raw["parent_x"]),
        orientation=float(raw.get("orientation", 0.0)),
        nseg=int(raw["nseg"]),
        length_um=float(raw["L"]),
        points=points,
    )


def instantiate(morphology: Morphology, prefix: str = "") -> dict[str, Any]:
    """Create the sections in this process's NEURON; returns ``{name: Section}``.

    ``prefix`` keeps names unique when several cells live in one process.
    """
    from neuron import h

    built: dict[str, Any] = {}
    for geo in morphology.sections:
        sec = h.Section(name=f"{prefix}{geo.name}")
        for x, y, z, d in geo.points:
            h.pt3dadd(x, y, z, d, sec=sec)
        sec.nseg = geo.nseg
        if geo.parent is not None:
            sec.connect(built[geo.parent](geo.parent_x), geo.orientation)
        built[geo.name] = sec
    return built


def set_nseg_d_lambda(sections: dict[str, Any], d_lambda: float = 0.1, freq_hz: float = 100.0) -> int:
    """The d_lambda rule (Hines & Carnevale): an odd nseg with segments ≤ d_lambda × λ_AC(freq).

    Call after Ra and cm are set. Returns the total number of segments.
    """
    from neuron import h

    total = 0
    for sec in sections.values():
        lam = 1e5 * math.sqrt(sec.diam / (4 * math.pi * freq_hz * sec.Ra * sec.cm))  # λ_AC in µm
        if sec.n3d() >= 2:
            lam = _lambda_f(h, sec, freq_hz)
        sec.nseg = int((sec.L / (d_lambda * lam) + 0.9) / 2) * 2 + 1
        total += sec.nseg
    return total


def _lambda_f(h: Any, sec: Any, freq_hz: float) -> float:
    """λ_AC averaged along a section with tapering diameters, as NEURON's fixnseg.hoc does."""
    n = int(sec.n3d())
    x1, d1 = sec.arc3d(0), sec.diam3d(0)
    lam = 0.0
    for i in range(1, n):
        x2, d2 = sec.arc3d(i), sec.diam3d(i)
        lam += (x2 - x1) / math.sqrt(d1 + d2)
        x1, d1 = x2, d2
    lam *= math.sqrt(2) * 1e-5 * math.sqrt(4 * math.pi * freq_hz * sec.Ra * sec.cm)
    return sec.L / lam if lam > 0 else 1e9


def total_area_um2(sections: dict[str, Any]) -> float:
    """Membrane area summed over every segment (µm²)."""
    return float(sum(seg.area() for sec in sections.values() for seg in sec))
