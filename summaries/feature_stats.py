"""Feature-statistics targets (UC6): eFEL features of model traces against experimental means and SDs.

The target file (shared/data/neuroptimus/uc6_ca1_detailed/target_features.json, the
Neuroptimus file ``opt_data_JMakara_OUR_features_selected_stim.json``) holds
``stimuli`` {delay, duration, amplitudes} and ``features`` {name: {weight,
"stimAmp_<amp>": {Mean, Std}}}: 20 eFEL feature types, each at some of the 6
amplitudes, 66 (feature, amplitude) targets in all. Only the file's pairs are used.

The cost reproduces Neuroptimus' ``fF.FFun_for_Features`` (KaliLab/neuroptimus,
neuroptimus/fitnessFunctions.py):

- eFEL runs on each sweep with its defaults except ``Threshold`` (0 mV, the
  settings' ``spike_thres``), with stim_start = delay and stim_end = delay + duration;
- a per-spike array becomes one number: the mean of the array, except for
  AP_rise_time, AP_amplitude, AP_duration_half_width, AP_begin_voltage and
  AP_rise_rate, whose first spike is skipped when there is more than one; a
  one-element array gives its element;
- error of a pair = |model − mean| / std, or 250 when the model does not produce the
  feature;
- the errors of a feature type are summed over amplitudes (20 components) and the total
  is Σ weight × component; the Neuroptimus settings give every feature weight 0.05.

Two choices differ from a literal reading of Neuroptimus, both documented on the
class: inverse-ISI features of traces with too few spikes are 0 (``legacy_zero_inverse``)
and non-finite eFEL values count as missing.
"""

from __future__ import annotations

import contextlib
import json
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simulators.errors import DataError
from summaries.costs import FAILED_ERROR
from summaries.efel_features import efel_session

MISSING_ERROR = 250.0  # Neuroptimus: a feature the model does not produce
# Neuroptimus skips the first spike of these per-spike features when there are several.
SKIP_FIRST_SPIKE = frozenset(
    {"AP_rise_time", "AP_amplitude", "AP_duration_half_width", "AP_begin_voltage", "AP_rise_rate"}
)
# Older eFEL returned 0 for these when there were too few spikes (BlueBrain/eFEL issue #243);
# after issue #281 (2023) it returns nothing (eFEL 5.7 here). The target file encodes the old behaviour
# (0 ± 0.001 at 0.05 nA, where the recorded cells did not fire).
LEGACY_ZERO_FEATURES = frozenset(
    {
        "inv_first_ISI",
        "inv_second_ISI",
        "inv_third_ISI",
        "inv_fourth_ISI",
        "inv_fifth_ISI",
        "inv_last_ISI",
        "inv_time_to_first_spike",
    }
)
_AMP_PREFIX = "stimAmp_"
FILE_LAYOUT = (
    '{"stimuli": {"delay": ms, "duration": ms, "amplitudes": [nA, ...]}, "features": '
    '{eFEL feature: {"weight": number, "stimAmp_<nA>": {"Mean": number, "Std": number > 0}, ...}, ...}}'
)


@dataclass(frozen=True)
class FeatureTarget:
    """One (feature, amplitude) target: experimental mean and SD, and which sweep it belongs to."""

    feature: str
    amplitude_nA: float
    sweep: int
    mean: float
    std: float

    @property
    def name(self) -> str:
        return f"{self.feature}@{self.amplitude_nA:g}nA"


@dataclass(frozen=True)
class FeatureStatistics:
    """eFEL feature targets with means and SDs, and the Neuroptimus feature cost.

    Build with ``FeatureStatistics.load(path)``. Traces passed to the methods have shape
    ``(n, n_sweeps, T)`` with one sweep per amplitude, in the file's amplitude order.

    Attributes:
        source: the target file.
        amplitudes_nA: stimulus amplitudes, one per sweep.
        stim_start_ms, stim_end_ms: stimulus window given to eFEL.
        feature_types: the 20 feature names, in file order (the cost components).
        targets: the (feature, amplitude) pairs of the file, grouped by feature type.
        file_weights: the ``weight`` field of each feature type in the file.
        weights: weights of the cost components (see ``load``).
        settings: eFEL settings applied for each call (eFEL defaults otherwise).
        legacy_zero_inverse: inverse-ISI features (``LEGACY_ZERO_FEATURES``) of traces with
            too few spikes are 0, as older eFEL computed them and as the target file
            assumes; False follows the installed eFEL (no value, so 250).
        missing_error: error of a feature the model does not produce.
    """

    source: str
    amplitudes_nA: tuple[float, ...]
    stim_start_ms: float
    stim_end_ms: float
    feature_types: tuple[str, ...]
    targets: tuple[FeatureTarget, ...]
    file_weights: tuple[float, ...]
    weights: tuple[float, ...]
    settings: Mapping[str, float | int | str] = field(default_factory=lambda: {"Threshold": 0.0})
    legacy_zero_inverse: bool = True
    missing_error: float = MISSING_ERROR

    def __post_init__(self) -> None:
        if len(self.weights) != len(self.feature_types) or len(self.file_weights) != len(self.feature_types):
            raise ValueError("weights and file_weights need one value per feature type")
        unknown = {t.feature for t in self.targets} - set(self.feature_types)
        if unknown:
            raise ValueError(f"targets refer to unknown feature types {sorted(unknown)}")
        if any(t.sweep >= len(self.amplitudes_nA) for t in self.targets):
            raise ValueError("a target refers to a sweep beyond amplitudes_nA")
        if not self.missing_error > 0:
            raise ValueError(f"missing_error must be > 0, got {self.missing_error}")

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        weights: str | Mapping[str, float] = "neuroptimus",
        threshold_mV: float = 0.0,
        legacy_zero_inverse: bool = True,
    ) -> FeatureStatistics:
        """Read a target file; DataError names the file and the problem.

        Args:
            weights: ``neuroptimus`` (default): the file's weights normalised to sum 1,
                which gives the 0.05 per feature of the Neuroptimus settings; ``file``: the
                file's ``weight`` fields as they are (1 each); or ``{feature: weight}`` for
                all 20 feature types.
            threshold_mV: eFEL spike threshold (Neuroptimus ``spike_thres``).
            legacy_zero_inverse: see the class docstring.
        """
        path = Path(path)
        if not path.is_file():
            raise DataError(f"feature target file {path} does not exist")
        try:
            data = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise DataError(f"feature target file {path} is not valid JSON: {err}") from None
        try:
            amplitudes, delay, duration = _parse_stimuli(data)
            types, file_weights, targets = _parse_features(data.get("features"), amplitudes)
        except ValueError as err:
            raise DataError(f"feature target file {path}: {err}; expected {FILE_LAYOUT}") from None
        if isinstance(weights, str):
            if weights == "neuroptimus":
                total = sum(file_weights)
                if total <= 0:
                    raise DataError(f"feature target file {path}: feature weights sum to {total}")
                used = tuple(w / total for w in file_weights)
            elif weights == "file":
                used = file_weights
            else:
                raise ValueError(f"weights must be 'neuroptimus', 'file' or a mapping, got {weights!r}")
        else:
            missing = sorted(set(types) - set(weights))
            if missing:
                raise ValueError(f"weights mapping lacks feature types {missing}")
            used = tuple(float(weights[t]) for t in types)
        return cls(
            source=str(path),
            amplitudes_nA=amplitudes,
            stim_start_ms=delay,
            stim_end_ms=delay + duration,
            feature_types=types,
            targets=targets,
            file_weights=file_weights,
            weights=used,
            settings={"Threshold": float(threshold_mV)},
            legacy_zero_inverse=legacy_zero_inverse,
        )

    @property
    def names(self) -> list[str]:
        """One name per target, ``feature@amplitude``, for example ``Spikecount@0.25nA``."""
        return [t.name for t in self.targets]

    @property
    def means(self) -> np.ndarray:
        return np.array([t.mean for t in self.targets])

    @property
    def stds(self) -> np.ndarray:
        return np.array([t.std for t in self.targets])

    @property
    def weight_vector(self) -> np.ndarray:
        """Weights of the 20 components, in ``feature_types`` order."""
        return np.array(self.weights)

    def values(self, t: np.ndarray, traces: np.ndarray) -> np.ndarray:
        """Model values ``(n, n_targets)`` of traces ``(n, n_sweeps, T)``; NaN where not produced.

        Rows whose traces are not finite (failed simulations) are all NaN.
        """
        t = np.asarray(t, dtype=float)
        traces = np.asarray(traces, dtype=float)
        if traces.ndim == 2:
            traces = traces[None]
        if traces.ndim != 3 or traces.shape[1] != len(self.amplitudes_nA) or traces.shape[2] != t.size:
            raise ValueError(
                f"traces must have shape (n, {len(self.amplitudes_nA)}, {t.size}) "
                f"(one sweep per amplitude {self.amplitudes_nA}), got {traces.shape}"
            )
        out = np.full((traces.shape[0], len(self.targets)), np.nan)
        by_sweep: dict[int, list[int]] = {}
        for j, target in enumerate(self.targets):
            by_sweep.setdefault(target.sweep, []).append(j)
        with self._efel() as efel:
            for i in range(traces.shape[0]):
                if not np.all(np.isfinite(traces[i])):
                    continue
                for sweep, columns in by_sweep.items():
                    names = sorted({self.targets[j].feature for j in columns})
                    trace = {
                        "T": t,
                        "V": traces[i, sweep],
                        "stim_start": [self.stim_start_ms],
                        "stim_end": [self.stim_end_ms],
                    }
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        result = efel.get_feature_values([trace], names, raise_warnings=False)[0]
                    for j in columns:
                        feature = self.targets[j].feature
                        out[i, j] = self._reduce(feature, result.get(feature))
        return out

    def pair_errors(self, values: np.ndarray) -> np.ndarray:
        """|value − mean| / std per target; ``missing_error`` where the value is NaN."""
        values = np.atleast_2d(np.asarray(values, dtype=float))
        z = np.abs(values - self.means) / self.stds
        return np.where(np.isnan(values), self.missing_error, z)

    def components(self, values: np.ndarray) -> np.ndarray:
        """Unweighted errors summed over amplitudes per feature type: ``(n, 20)``."""
        errors = self.pair_errors(values)
        index = {name: k for k, name in enumerate(self.feature_types)}
        comps = np.zeros((errors.shape[0], len(self.feature_types)))
        for j, target in enumerate(self.targets):
            comps[:, index[target.feature]] += errors[:, j]
        return comps

    def cost(self, values: np.ndarray) -> np.ndarray:
        """Weighted total per row: Σ weight × component."""
        return self.components(values) @ self.weight_vector

    def batch(self, t: np.ndarray, traces: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Components ``(n, 20)`` (NaN for failed rows) and totals ``(n,)`` (``FAILED_ERROR`` for failed)."""
        ok = np.asarray(ok, dtype=bool)
        comps = np.full((len(ok), len(self.feature_types)), np.nan)
        totals = np.full(len(ok), FAILED_ERROR)
        if ok.any():
            values = self.values(t, np.asarray(traces)[ok])
            comps[ok] = self.components(values)
            totals[ok] = comps[ok] @ self.weight_vector
        return comps, totals

    def within_sd(self, values: np.ndarray, k: float) -> np.ndarray:
        """Number of targets per row whose value lies within ``k`` SDs of the mean (missing: not within)."""
        values = np.atleast_2d(np.asarray(values, dtype=float))
        z = np.abs(values - self.means) / self.stds
        return np.sum(np.where(np.isnan(values), False, z <= k), axis=1)

    def _reduce(self, feature: str, value: Any) -> float:
        """Neuroptimus' reduction of an eFEL result to one number; NaN when absent or not finite."""
        arr = np.asarray([] if value is None else value, dtype=float).ravel()
        if arr.size == 0:
            return 0.0 if self.legacy_zero_inverse and feature in LEGACY_ZERO_FEATURES else math.nan
        if arr.size > 1:
            result = float(np.mean(arr[1:] if feature in SKIP_FIRST_SPIKE else arr))
        else:
            result = float(arr[0])
        return result if math.isfinite(result) else math.nan

    def _efel(self) -> contextlib.AbstractContextManager[Any]:
        """eFEL with this object's settings; eFEL's defaults are restored afterwards."""
        return efel_session(self.settings)


def _parse_stimuli(data: Any) -> tuple[tuple[float, ...], float, float]:
    """Amplitudes (nA), delay and duration (ms) of the file's ``stimuli``; ValueError names the field."""
    if not isinstance(data, dict) or not isinstance(data.get("stimuli"), dict):
        raise ValueError("the file needs an object 'stimuli'")
    stim = data["stimuli"]
    amplitudes = stim.get("amplitudes")
    if not isinstance(amplitudes, list) or not amplitudes:
        raise ValueError(f"stimuli.amplitudes must be a non-empty list of numbers (nA), got {amplitudes!r}")
    amps = tuple(_number(a, f"stimuli.amplitudes[{k}]") for k, a in enumerate(amplitudes))
    delay = _number(stim.get("delay"), "stimuli.delay (ms)")
    duration = _number(stim.get("duration"), "stimuli.duration (ms)")
    if duration <= 0:
        raise ValueError(f"stimuli.duration must be > 0 ms, got {duration:g}")
    return amps, delay, duration


def _parse_features(
    raw: Any, amplitudes: tuple[float, ...]
) -> tuple[tuple[str, ...], tuple[float, ...], tuple[FeatureTarget, ...]]:
    """Feature types, their weights and the targets, validated; ValueError names the field."""
    import efel

    if not isinstance(raw, dict) or not raw:
        raise ValueError(f"'features' must be a non-empty object {{eFEL feature: ...}}, got {raw!r}")
    known = set(efel.get_feature_names())
    types: list[str] = []
    weights: list[float] = []
    targets: list[FeatureTarget] = []
    for name, entry in raw.items():
        if name not in known:
            raise ValueError(f"features.{name} is not an eFEL feature (efel.get_feature_names() lists them)")
        if not isinstance(entry, dict):
            raise ValueError(f"features.{name} must be an object, got {entry!r}")
        weight = _number(entry.get("weight", 1.0), f"features.{name}.weight")
        if weight < 0:
            raise ValueError(f"features.{name}.weight must be a number >= 0, got {weight:g}")
        pairs = [_target(name, key, stats, amplitudes) for key, stats in entry.items() if key != "weight"]
        if not pairs:
            raise ValueError(f"features.{name} has no '{_AMP_PREFIX}<amplitude>' entries")
        types.append(name)
        weights.append(weight)
        targets.extend(sorted(pairs, key=lambda p: p.sweep))
    return tuple(types), tuple(weights), tuple(targets)


def _target(name: str, key: str, stats: Any, amplitudes: tuple[float, ...]) -> FeatureTarget:
    """One ``"stimAmp_<amplitude>": {"Mean": ..., "Std": ...}`` entry of feature ``name``."""
    where = f"features.{name}.{key}"
    if not key.startswith(_AMP_PREFIX):
        raise ValueError(f"features.{name}: unexpected key {key!r} (expected '{_AMP_PREFIX}<amplitude>')")
    amp = _number(key[len(_AMP_PREFIX) :], f"the amplitude of {where}")
    sweep = next((k for k, a in enumerate(amplitudes) if math.isclose(a, amp, abs_tol=1e-9)), None)
    if sweep is None:
        raise ValueError(f"{where}: amplitude {amp:g} nA is not among stimuli.amplitudes {amplitudes}")
    if not isinstance(stats, dict):
        raise ValueError(f'{where} must be an object {{"Mean": number, "Std": number > 0}}, got {stats!r}')
    mean, std = _number(stats.get("Mean"), f"{where}.Mean"), _number(stats.get("Std"), f"{where}.Std")
    if std <= 0:
        raise ValueError(f"{where}.Std must be > 0, got {std:g}")
    return FeatureTarget(name, amplitudes[sweep], sweep, mean, std)


def _number(value: Any, where: str) -> float:
    """A finite number (or a string holding one, as the Neuroptimus file writes weights)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{where} must be a finite number, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{where} must be a finite number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{where} must be a finite number, got {value!r}")
    return number


__all__ = [
    "FAILED_ERROR",
    "LEGACY_ZERO_FEATURES",
    "MISSING_ERROR",
    "SKIP_FIRST_SPIKE",
    "FeatureStatistics",
    "FeatureTarget",
]


# -- the Summary and Cost interfaces of a use case, on top of FeatureStatistics ------------

# "No spike" fill values for inference: 0 for spike-shape and timing features; the
# voltage-valued spike features take the sweep's steady-state voltage (or its baseline).
_VOLTAGE_FILLED = frozenset({"AHP_depth_abs", "AP_begin_voltage"})


@dataclass(frozen=True)
class FeatureStatSummary:
    """The model's values of every (feature, amplitude) target, as features for inference."""

    stats: FeatureStatistics

    @property
    def names(self) -> list[str]:
        return self.stats.names

    def __call__(self, t: np.ndarray, traces: np.ndarray) -> np.ndarray:
        return self.stats.values(t, traces)

    def fill_undefined(self, x: np.ndarray) -> np.ndarray:
        """Undefined values (no spikes) get a "no spike" value; failed rows stay NaN."""
        x = np.array(x, dtype=float, copy=True)
        single = x.ndim == 1
        x = np.atleast_2d(x)
        failed = np.all(np.isnan(x), axis=1)
        index = {(t.feature, t.sweep): j for j, t in enumerate(self.stats.targets)}
        for j, target in enumerate(self.stats.targets):
            missing = np.isnan(x[:, j]) & ~failed
            if not missing.any():
                continue
            if target.feature in _VOLTAGE_FILLED:
                fill: np.ndarray = np.full(x.shape[0], 0.0)
                for source in ("voltage_base", "steady_state_voltage"):
                    k = index.get((source, target.sweep))
                    if k is not None:
                        fill = np.where(np.isnan(x[:, k]), fill, x[:, k])
                x[missing, j] = fill[missing]
            else:
                x[missing, j] = 0.0
        return x[0] if single else x


@dataclass(frozen=True)
class FeatureStatCost:
    """Neuroptimus' feature-statistics error: 20 components (one per feature type)."""

    stats: FeatureStatistics

    @property
    def names(self) -> tuple[str, ...]:
        return self.stats.feature_types

    @property
    def labels(self) -> list[str]:
        return list(self.stats.feature_types)

    @property
    def weight_vector(self) -> np.ndarray:
        return self.stats.weight_vector

    def batch(
        self, t: np.ndarray, traces: np.ndarray, x: np.ndarray, target: Any, ok: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Components from the already computed feature values ``x`` (no second eFEL pass)."""
        ok = np.asarray(ok, dtype=bool)
        comps = np.full((len(ok), len(self.names)), np.nan)
        totals = np.full(len(ok), FAILED_ERROR)
        if ok.any():
            comps[ok] = self.stats.components(np.asarray(x)[ok])
            totals[ok] = comps[ok] @ self.weight_vector
        return comps, totals
