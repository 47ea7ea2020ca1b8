"""UC3 of the Neuroptimus suite in NEURON: a passive reconstructed CA1 cell.

The morphology is the benchmark's geometry JSON (``simulators.morphology``) or a
user's SWC file (``simulators.swc``, chosen by the ``.swc`` suffix). Every section
gets ``pas`` with e_pas = 0 mV (the recording is relative to rest) and v_init = 0 mV;
θ = (cm, Ra, g_pas) is uniform over the cell. The stimulus waveform (nA, one value per
``stimulus_dt_ms``) is played into an IClamp at soma(0.5) with ``Vector.play`` (step,
not interpolated, as Neuroptimus does); soma(0.5) v is recorded every 0.05 ms,
t = 0, 0.05, …, 1499.95 ms (30,000 samples), the grid of target_voltage.dat.

Discretisation:
    "file": nseg as the morphology file sets it (1 per section for UC3, as in the
        original; Import3d also gives 1 per section for an SWC file).
    "d_lambda": the d_lambda rule (segments ≤ d_lambda × λ_AC at d_lambda_freq_hz),
        applied per parameter set after cm and Ra are set, since λ_AC ∝ 1/√(Ra·cm).
        The number of segments, and so the run time, then depends on θ (e.g. 584
        segments at Ra 100, cm 1; about 8,100 at Ra 3000, cm 10), and the trace jumps
        slightly where nseg changes.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simulators.base import SimulationResult, simulate_rows, theta_batch
from simulators.errors import DataError
from simulators.neuron_models import live_model

DISCRETISATIONS = ("file", "d_lambda")


@dataclass(frozen=True)
class PassiveMorphologyNeuron:
    """UC3 simulator. Times in ms, voltages in mV, currents in nA.

    Parameters θ, in order: ``cm`` (µF/cm²), ``Ra`` (Ω·cm), ``g_pas`` (S/cm²), the
    same in every section. Output: v (mV) at ``site_x`` of the site section.

    Attributes:
        morphology_path: geometry JSON or ``.swc`` file.
        stimulus_path: one current value (nA) per line, one per ``stimulus_dt_ms``.
        discretisation: "file" or "d_lambda" (see the module docstring).
        site_section: section holding the IClamp and the recording; "" = the root
            section (the soma).
    """

    morphology_path: str
    stimulus_path: str
    discretisation: str = "file"
    d_lambda: float = 0.1
    d_lambda_freq_hz: float = 100.0
    e_pas_mV: float = 0.0
    v_init_mV: float = 0.0
    stimulus_dt_ms: float = 0.05
    dt_ms: float = 0.05
    record_dt_ms: float = 0.05
    tstop_ms: float = 1500.0
    site_section: str = ""
    site_x: float = 0.5

    def __post_init__(self) -> None:
        for field in ("morphology_path", "stimulus_path"):
            value = getattr(self, field)
            if not isinstance(value, str | Path) or not str(value):
                raise ValueError(f"PassiveMorphologyNeuron.{field} must be a file path, got {value!r}")
            # An absolute str: small, hashable, and valid in workers with another cwd.
            object.__setattr__(self, field, str(Path(value).resolve()))
            if not Path(value).is_file():
                raise DataError(f"PassiveMorphologyNeuron.{field}: file {value} does not exist")
        if self.discretisation not in DISCRETISATIONS:
            raise ValueError(
                f"PassiveMorphologyNeuron.discretisation must be one of {DISCRETISATIONS}, "
                f"got {self.discretisation!r}"
            )
        for field in ("d_lambda", "d_lambda_freq_hz", "stimulus_dt_ms", "dt_ms", "record_dt_ms", "tstop_ms"):
            value = getattr(self, field)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"PassiveMorphologyNeuron.{field} must be > 0, got {value}")
        for field in ("e_pas_mV", "v_init_mV"):
            if not np.isfinite(getattr(self, field)):
                raise ValueError(
                    f"PassiveMorphologyNeuron.{field} must be finite, got {getattr(self, field)}"
                )
        if not 0 <= self.site_x <= 1:
            raise ValueError(f"PassiveMorphologyNeuron.site_x must be in [0, 1], got {self.site_x}")
        for name, value, unit in (
            ("record_dt_ms", self.record_dt_ms, self.dt_ms),
            ("tstop_ms", self.tstop_ms, self.record_dt_ms),
        ):
            ratio = value / unit
            if abs(ratio - round(ratio)) > 1e-9:
                raise ValueError(
                    f"PassiveMorphologyNeuron.{name} ({value}) must be a whole multiple of {unit}"
                )

    @property
    def parameter_names(self) -> list[str]:
        return ["cm", "Ra", "g_pas"]

    @property
    def sweep_names(self) -> list[str]:
        return ["soma_v"]

    @property
    def t(self) -> np.ndarray:
        """Sample times (ms): k·record_dt, k = 0 … tstop/record_dt − 1 (tstop itself excluded)."""
        return np.arange(round(self.tstop_ms / self.record_dt_ms)) * self.record_dt_ms

    def __call__(self, theta: np.ndarray, seed: int = 0) -> SimulationResult:
        """Simulate each row of θ (n, 3). Deterministic: ``seed`` is unused.

        Raises:
            DataError: the morphology or stimulus file is malformed (on first use).
            ValueError: θ is not (n, 3), or ``site_section`` is not a section of the cell.
        """
        theta = theta_batch(theta, 3, "UC3")
        model = self._model()  # built first: a bad model file is an error, not a failed row
        return simulate_rows(theta, self.t, 1, lambda row: model.run(*row), _check_row)

    def _model(self) -> _PassiveModel:
        return live_model(self, _PassiveModel)


def _check_row(row: np.ndarray) -> str:
    """Why a parameter set cannot be simulated ("" if it can)."""
    if not np.all(np.isfinite(row)):
        return "non-finite parameter"
    cm, ra, g_pas = row
    if cm <= 0 or ra <= 0 or g_pas < 0:
        return f"need cm > 0, Ra > 0, g_pas >= 0; got {row}"
    return ""


def load_stimulus(path: str | Path) -> np.ndarray:
    """Read a stimulus waveform: one current value (nA) per line. DataError names the file."""
    path = Path(path)
    try:
        values = np.loadtxt(path, ndmin=1)
    except (OSError, ValueError) as err:
        raise DataError(f"stimulus file {path} is not a column of numbers: {err}") from None
    if values.ndim != 1 or values.size == 0:
        raise DataError(f"stimulus file {path} must hold one value (nA) per line, got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise DataError(f"stimulus file {path} has non-finite values")
    return values


class _PassiveModel:
    """The NEURON objects of one PassiveMorphologyNeuron configuration, in this process."""

    def __init__(self, cfg: PassiveMorphologyNeuron) -> None:
        from neuron import h

        self.cfg = cfg
        self.h = h
        stimulus = load_stimulus(cfg.stimulus_path)
        self.is_swc = cfg.morphology_path.lower().endswith(".swc")
        if self.is_swc:
            from simulators.swc import load_swc

            self.sections = load_swc(cfg.morphology_path)
        else:
            from simulators.morphology import instantiate, load_geometry_json

            self.sections = instantiate(load_geometry_json(cfg.morphology_path), prefix=f"uc3_{id(self)}_")
        if cfg.site_section:
            if cfg.site_section not in self.sections:
                names = ", ".join(list(self.sections)[:5])
                self.close()
                raise ValueError(
                    f"PassiveMorphologyNeuron.site_section {cfg.site_section!r} is not a section of "
                    f"{cfg.morphology_path} (sections: {names}, …)"
                )
            self.site = self.sections[cfg.site_section]
        else:
            self.site = next(sec for sec in self.sections.values() if sec.parentseg() is None)
        for sec in self.sections.values():
            sec.insert("pas")
        self.iclamp = h.IClamp(self.site(cfg.site_x))
        self.iclamp.delay = 0
        self.iclamp.dur = 1e9
        self.stimulus = h.Vector(stimulus)
        self.stimulus.play(self.iclamp._ref_amp, cfg.stimulus_dt_ms)
        self.v: Any = None
        self.pc = h.ParallelContext()

    def run(self, cm: float, ra: float, g_pas: float) -> np.ndarray:
        h, cfg = self.h, self.cfg
        for sec in self.sections.values():
            sec.cm = cm
            sec.Ra = ra
        if cfg.discretisation == "d_lambda":
            self._discretise()
        for sec in self.sections.values():  # after any nseg change
            sec.g_pas = g_pas
            sec.e_pas = cfg.e_pas_mV
        if self.v is None:
            self.v = h.Vector()
            self.v.record(self.site(cfg.site_x)._ref_v, cfg.record_dt_ms)
        h.dt = cfg.dt_ms
        self.pc.set_maxstep(10)
        h.finitialize(cfg.v_init_mV)
        # One step past tstop (round-off in t); the caller trims.
        self.pc.psolve(cfg.tstop_ms + cfg.dt_ms)
        return self.v.as_numpy().copy()

    def _discretise(self) -> None:
        """Apply the d_lambda rule; re-attach the recording if any nseg changed (its node may be gone)."""
        from simulators.morphology import set_nseg_d_lambda

        before = [sec.nseg for sec in self.sections.values()]
        set_nseg_d_lambda(self.sections, self.cfg.d_lambda, self.cfg.d_lambda_freq_hz)
        if [sec.nseg for sec in self.sections.values()] != before:
            self.v = None

    @property
    def n_segments(self) -> int:
        return sum(sec.nseg for sec in self.sections.values())

    def close(self) -> None:
        """Delete this model's sections now (an SWC cell is owned by hoc and would outlive it)."""
        if self.is_swc:
            from simulators.swc import delete_swc_cell

            delete_swc_cell()
        else:
            for sec in self.sections.values():
                with contextlib.suppress(ReferenceError):
                    self.h.delete_section(sec=sec)
        self.sections = {}
