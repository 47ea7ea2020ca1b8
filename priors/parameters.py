"""Named model parameters with units, bounds and scales, and the prior over them.

Inference and optimisation work in an *inference space*: a parameter with a
``log`` scale is represented by its log10, a ``linear`` one by itself. The prior
is uniform in that space (so a log-scaled parameter is log-uniform in physical
units). Optimisers work on the unit cube of the inference space.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import torch

import numpy as np

Scale = Literal["linear", "log"]


@dataclass(frozen=True)
class Parameter:
    """One unknown of a model.

    Args:
        name: identifier used in files and plots (for example ``gnabar_hh``).
        unit: physical unit, for example ``S/cm2`` or ``mV``.
        low: lower bound in physical units.
        high: upper bound in physical units (must be > low).
        scale: ``linear`` (uniform prior) or ``log`` (log-uniform prior).
        description: one line for humans.
    """

    name: str
    unit: str
    low: float
    high: float
    scale: Scale = "linear"
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.replace("_", "").replace(".", "").isalnum():
            raise ValueError(f"parameter name {self.name!r} must be a non-empty identifier")
        for text in ("unit", "description"):
            if not isinstance(getattr(self, text), str):
                raise ValueError(
                    f"parameter {self.name!r}: {text} must be a string, got {getattr(self, text)!r}"
                )
        for bound in ("low", "high"):
            value = getattr(self, bound)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                unit = self.unit or "its unit"
                raise ValueError(
                    f"parameter {self.name!r}: {bound} must be a finite number (in {unit}), got {value!r}"
                )
        if self.low >= self.high:
            raise ValueError(
                f"parameter {self.name!r}: low ({self.low}) must be smaller than high ({self.high})"
            )
        if self.scale not in ("linear", "log"):
            raise ValueError(f"parameter {self.name!r}: scale must be 'linear' or 'log', got {self.scale!r}")
        if self.scale == "log" and self.low <= 0:
            raise ValueError(
                f"parameter {self.name!r}: a log-scaled parameter needs low > 0, got low={self.low}"
            )

    @property
    def label(self) -> str:
        """Name with unit, for axes."""
        return f"{self.name} ({self.unit})" if self.unit else self.name


class Prior:
    """Independent uniform / log-uniform prior over named parameters.

    All public methods take and return parameters in physical units, shape
    ``(n, d)``, unless the name says ``z`` (inference space) or ``unit`` (unit cube).
    """

    def __init__(self, parameters: Sequence[Parameter]) -> None:
        if len(parameters) == 0:
            raise ValueError("a prior needs at least one parameter")
        names = [p.name for p in parameters]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"parameter names must be unique; repeated: {duplicates}")
        self.parameters: tuple[Parameter, ...] = tuple(parameters)
        self._is_log = np.array([p.scale == "log" for p in parameters])
        self._z_low = np.array([_to_z(p.low, p.scale) for p in parameters])
        self._z_high = np.array([_to_z(p.high, p.scale) for p in parameters])

    # -- description -------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return [p.name for p in self.parameters]

    @property
    def dim(self) -> int:
        return len(self.parameters)

    @property
    def lows(self) -> np.ndarray:
        return np.array([p.low for p in self.parameters])

    @property
    def highs(self) -> np.ndarray:
        return np.array([p.high for p in self.parameters])

    @property
    def z_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds in inference space (log10 where the scale is log)."""
        return self._z_low.copy(), self._z_high.copy()

    def as_dict(self, theta: np.ndarray) -> dict[str, float]:
        """One parameter vector as ``{name: value}``."""
        theta = np.asarray(theta, dtype=float).reshape(-1)
        return {n: float(v) for n, v in zip(self.names, theta, strict=True)}

    def to_config(self) -> list[dict[str, object]]:
        """The parameters as plain records (``from_config`` reads them back)."""
        return [
            {"name": p.name, "unit": p.unit, "low": p.low, "high": p.high, "scale": p.scale}
            for p in self.parameters
        ]

    @classmethod
    def from_config(cls, records: Any) -> Prior:
        """A prior from records like ``to_config``'s; ValueError names the parameter and the field."""
        if isinstance(records, str | bytes | Mapping) or not isinstance(records, Sequence) or not records:
            raise ValueError(
                f"a prior configuration is a non-empty list of parameters {{{', '.join(REQUIRED)}"
                f"[, scale, description]}}, got {records!r}"
            )
        return cls([_parameter(number, record) for number, record in enumerate(records, start=1)])

    # -- transforms --------------------------------------------------------
    def to_z(self, theta: np.ndarray) -> np.ndarray:
        """Physical units → inference space (log10 where the scale is log)."""
        theta = self._check(theta)
        z = theta.copy()
        with np.errstate(divide="ignore", invalid="ignore"):
            z[:, self._is_log] = np.log10(theta[:, self._is_log])
        return z

    def from_z(self, z: np.ndarray) -> np.ndarray:
        """Inference space → physical units."""
        z = self._check(z)
        theta = z.copy()
        theta[:, self._is_log] = 10.0 ** z[:, self._is_log]
        return theta

    def to_unit(self, theta: np.ndarray) -> np.ndarray:
        """Physical units → unit cube [0, 1]^d of the inference space."""
        return (self.to_z(theta) - self._z_low) / (self._z_high - self._z_low)

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Unit cube → physical units."""
        u = self._check(u)
        return self.from_z(self._z_low + u * (self._z_high - self._z_low))

    # -- distribution ------------------------------------------------------
    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``n`` parameter sets (physical units) with the given generator."""
        return self.from_unit(rng.uniform(size=(n, self.dim)))

    def contains(self, theta: np.ndarray) -> np.ndarray:
        theta = self._check(theta)
        return np.all((theta >= self.lows) & (theta <= self.highs), axis=1)

    def log_prob(self, theta: np.ndarray) -> np.ndarray:
        """Log-density in physical units (−inf outside the bounds)."""
        theta = self._check(theta)
        out = np.full(theta.shape[0], -np.inf)
        inside = self.contains(theta)
        log_width = np.log(self._z_high - self._z_low)
        # d(log10 x)/dx = 1 / (x ln 10): the Jacobian of the log-scaled coordinates.
        with np.errstate(divide="ignore"):
            jac = np.where(self._is_log, -np.log(np.abs(theta) * math.log(10.0)), 0.0)
        out[inside] = (-log_width + jac[inside]).sum(axis=1)
        return out

    def to_sbi(self) -> torch.distributions.Distribution:
        """The prior in inference space as sbi's ``BoxUniform``."""
        import torch
        from sbi.utils import BoxUniform

        return BoxUniform(
            low=torch.as_tensor(self._z_low, dtype=torch.float32),
            high=torch.as_tensor(self._z_high, dtype=torch.float32),
        )

    def _check(self, theta: np.ndarray) -> np.ndarray:
        arr = np.array(theta, dtype=float, copy=True)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != self.dim:
            raise ValueError(f"expected parameters of shape (n, {self.dim}) ({self.names}), got {arr.shape}")
        return arr


REQUIRED = ("name", "unit", "low", "high")


def _parameter(number: int, record: Any) -> Parameter:
    """Parameter ``number`` (from 1) of a prior configuration."""
    if not isinstance(record, Mapping):
        raise ValueError(f"prior parameter {number} must be an object with {REQUIRED}, got {record!r}")
    label = f"prior parameter {number} ({record.get('name', 'unnamed')!r})"
    known = [f.name for f in fields(Parameter)]
    unknown = sorted(set(record) - set(known))
    if unknown:
        raise ValueError(f"{label}: unknown field(s) {unknown}; known: {known}")
    missing = [key for key in REQUIRED if key not in record]
    if missing:
        raise ValueError(f"{label}: missing field(s) {missing}")
    return Parameter(**record)


def _to_z(value: float, scale: Scale) -> float:
    return math.log10(value) if scale == "log" else value
