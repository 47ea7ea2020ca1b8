"""eFEL features for inference, with explicit settings and NaN when undefined.

eFEL keeps its settings in module-global state; ``EfelFeatures`` applies its
own settings for the duration of each call and restores eFEL's defaults after,
so it never leaks settings to other users of eFEL in the process.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Reduce = Literal["first", "mean"]


@dataclass(frozen=True)
class Feature:
    """One summary feature taken from an eFEL feature.

    Args:
        name: our name for it (column name in banks and plots).
        efel_name: the eFEL feature computed.
        unit: physical unit.
        reduce: how a per-spike array becomes one number (``first`` or ``mean``).
        fill: value used *for inference* when the feature is undefined (for
            example AP width of a trace without spikes): a number, or the name
            of another feature whose value is copied. The raw summaries keep NaN.
    """

    name: str
    efel_name: str
    unit: str
    reduce: Reduce = "first"
    fill: float | str = np.nan


@dataclass(frozen=True)
class EfelFeatures:
    """Compute a fixed list of eFEL features on every sweep of a batch of traces.

    Args:
        features: the features, in output order.
        stim_start_ms, stim_end_ms: stimulus window passed to eFEL.
        settings: eFEL settings (``Threshold``, ``interp_step``, ...) applied for each call.
        sweep_names: one prefix per sweep; features of all sweeps are concatenated.
    """

    features: tuple[Feature, ...]
    stim_start_ms: float
    stim_end_ms: float
    settings: Mapping[str, float | int | str] = field(default_factory=dict)
    sweep_names: tuple[str, ...] = ("",)

    def __post_init__(self) -> None:
        names = [f.name for f in self.features]
        for f in self.features:
            if isinstance(f.fill, str) and f.fill not in names:
                raise ValueError(f"feature {f.name!r}: fill refers to unknown feature {f.fill!r}")
        if self.stim_end_ms <= self.stim_start_ms:
            raise ValueError(
                f"stimulus window must have stim_end_ms > stim_start_ms, got "
                f"[{self.stim_start_ms}, {self.stim_end_ms}]"
            )

    @property
    def names(self) -> list[str]:
        prefix = [f"{s}." if s and len(self.sweep_names) > 1 else "" for s in self.sweep_names]
        return [p + f.name for p in prefix for f in self.features]

    @property
    def units(self) -> list[str]:
        return [f.unit for _ in self.sweep_names for f in self.features]

    def __call__(self, t: np.ndarray, traces: np.ndarray) -> np.ndarray:
        """Features ``(n, n_sweeps * k)`` of traces ``(n, n_sweeps, T)``; NaN where undefined."""
        traces = np.asarray(traces, dtype=float)
        if traces.ndim == 2:
            traces = traces[:, None, :]
        n, n_sweeps, _ = traces.shape
        if n_sweeps != len(self.sweep_names):
            raise ValueError(f"expected {len(self.sweep_names)} sweeps, got {n_sweeps}")
        out = np.full((n, n_sweeps * len(self.features)), np.nan)
        efel_names = sorted({f.efel_name for f in self.features})
        with self._efel() as efel:
            for i in range(n):
                for s in range(n_sweeps):
                    v = traces[i, s]
                    if not np.all(np.isfinite(v)):
                        continue
                    trace = {
                        "T": t,
                        "V": v,
                        "stim_start": [self.stim_start_ms],
                        "stim_end": [self.stim_end_ms],
                    }
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        values = efel.get_feature_values([trace], efel_names, raise_warnings=False)[0]
                    cols = slice(s * len(self.features), (s + 1) * len(self.features))
                    out[i, cols] = [_reduce(values.get(f.efel_name), f.reduce) for f in self.features]
        return out

    def fill_undefined(self, x: np.ndarray) -> np.ndarray:
        """Replace NaN features by their declared fill values (rows of failed runs stay NaN)."""
        x = np.array(x, dtype=float, copy=True)
        single = x.ndim == 1
        x = np.atleast_2d(x)
        k = len(self.features)
        for s in range(len(self.sweep_names)):
            block = x[:, s * k : (s + 1) * k]
            failed = np.all(np.isnan(block), axis=1)
            index = {f.name: j for j, f in enumerate(self.features)}
            for j, f in enumerate(self.features):
                missing = np.isnan(block[:, j]) & ~failed
                if isinstance(f.fill, str):
                    block[missing, j] = block[missing, index[f.fill]]
                else:
                    block[missing, j] = f.fill
        return x[0] if single else x

    def _efel(self) -> contextlib.AbstractContextManager[Any]:
        return efel_session(self.settings)


@contextlib.contextmanager
def efel_session(settings: Mapping[str, float | int | str]) -> Iterator[Any]:
    """eFEL with ``settings`` applied; eFEL's defaults are restored afterwards, even on error."""
    import efel

    efel.reset()
    try:
        for key, value in settings.items():
            efel.set_setting(key, value)
        yield efel
    finally:
        efel.reset()


def _reduce(value: np.ndarray | None, how: Reduce) -> float:
    if value is None or len(value) == 0:
        return np.nan
    arr = np.asarray(value, dtype=float)
    result = float(arr[0]) if how == "first" else float(np.mean(arr))
    return result if np.isfinite(result) else np.nan


def feature_table(features: Sequence[Feature]) -> list[dict[str, object]]:
    """The features as plain records, for configs and docs."""
    return [
        {"name": f.name, "efel": f.efel_name, "unit": f.unit, "reduce": f.reduce, "fill": f.fill}
        for f in features
    ]
