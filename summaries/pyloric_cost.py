"""An error for the pyloric rhythm, so optimisers can be run on the STG use case beside inference.

Components: per feature, the distance to the observation in units of a feature scale,
|x − x_o| / scale (18 components). The error is their mean. A network without a
triphasic rhythm (NaN features) gets ``FAILED_ERROR``, as a failed simulation does:
there is no rhythm to compare. The scale is the spread of each feature over
pyloric networks of the prior (``usecases/stg.py`` states where its numbers come
from), the same yardstick as Gonçalves et al.'s "within 0.1 SD of the data".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from summaries.costs import FAILED_ERROR


@dataclass(frozen=True)
class PyloricCost:
    """Mean scaled distance of the 18 pyloric features to the observation.

    Attributes:
        names: the feature names (one component each).
        scale: one positive scale per feature, in the feature's unit.
    """

    names: tuple[str, ...]
    scale: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.names) != len(self.scale):
            raise ValueError(f"PyloricCost: {len(self.names)} names but {len(self.scale)} scales")
        if not all(np.isfinite(s) and s > 0 for s in self.scale):
            raise ValueError(f"PyloricCost: every scale must be finite and > 0, got {self.scale}")

    @property
    def labels(self) -> list[str]:
        return list(self.names)

    @property
    def weight_vector(self) -> np.ndarray:
        return np.full(len(self.names), 1.0 / len(self.names))

    def components(self, x: np.ndarray, x_o: np.ndarray) -> np.ndarray:
        """|x − x_o| / scale per feature, ``(n, 18)``; NaN where x is NaN."""
        return np.abs(np.atleast_2d(x) - np.asarray(x_o)[None, :]) / np.asarray(self.scale)[None, :]

    def batch(
        self, t: np.ndarray, traces: np.ndarray, x: np.ndarray, target: Any, ok: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Components and errors of a batch whose features ``x`` are computed; ``target.x_o`` is observed."""
        if target.x_o is None:
            raise ValueError("the pyloric cost needs observed features (target.x_o)")
        comps = self.components(np.asarray(x, dtype=float), target.x_o)
        ok = np.asarray(ok, dtype=bool) & np.all(np.isfinite(comps), axis=1)
        errors = np.full(comps.shape[0], FAILED_ERROR)
        errors[ok] = comps[ok] @ self.weight_vector
        return comps, errors
