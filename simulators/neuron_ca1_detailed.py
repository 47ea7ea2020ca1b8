"""UC6 of the Neuroptimus suite in NEURON: a detailed CA1 pyramidal cell with 12 abstract parameters.

Model (Mohácsi et al. 2024, testcase 6; shared/docs/USECASES.md "UC6 detailed CA1"):

- Morphology: the uc6 geometry JSON (soma, 158 ``dendrite[i]``, 5 ``axon[i]``; nseg as in
  the original hoc file, 554 segments; 19,187.7 µm²).
- Passive: Ra 100 Ω·cm, cm 1 µF/cm² everywhere; leak = NEURON's ``pas`` (the original
  ``Leak_pyr`` is the same linear current). Source: the model's biophysics hoc file
  (KaliLab/optimizer, ``biophys_na_inhomo_minimal_model+KM+KA+KD.hoc``).
- Channels: mechanisms written for this project in ``simulators/mechanisms/ca1`` (each
  .mod file says where its equations come from). Insertion as in the original hoc file:
  every section: leak, Ih (proximal); soma: Na (soma), K_DR, K_M, K_A (prox), K_D;
  dendrites: Na (dend), K_DR, K_M, K_A prox + dist, Ih prox + dist; axon: Na (axon), K_DR,
  K_M, K_A (prox).
- Reversal potentials: ena 50 mV, ek −77 mV (NEURON's defaults, which is what the original
  ran with: its mechanisms assign ena = 55 / ek = −80 inside INITIAL, which NEURON ignores
  for ions they only read); Ih reverses at −30 mV. celsius 33 °C (hoc file); no mechanism
  depends on temperature.
- Protocol: six 300 ms current steps at the soma (−0.25 … 0.25 nA, delay 200 ms), tstop
  600 ms, dt 0.05 ms, voltage recorded at soma(0.5).

The 12 parameters θ (order of USECASES.md and of the Neuroptimus settings file) and the
density rules of the Neuroptimus user function are listed in ``PARAMETERS`` and
``dendritic_densities``.

Initial state: ``finitialize(v_init_mV)`` then, unless ``settle_ms`` is 0, a settling run
of ``settle_ms`` at ``settle_dt_ms`` with the stimulus off, after which t is reset to 0
(NEURON's custom-initialisation recipe). The cell therefore starts at its own resting
state, which depends on θ (leak reversal, Ih, K_M). ``settle_ms = 0`` gives Neuroptimus'
initialisation (finitialize at −65 mV, no settling).

Runs: the 200 ms before the stimulus are the same in all six sweeps, so they are simulated
once and the state at 200 ms is saved (``SaveState``) and restored for each sweep
(``share_prestimulus``; identical to six full runs, a test checks it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from simulators.base import SimulationResult, simulate_rows, theta_batch
from simulators.errors import DataError
from simulators.neuron_models import live_model

MORPHOLOGY_FILE = "neuroptimus/uc6_ca1_detailed/morphology.geometry.json"

DistanceRule = Literal["path", "neuroptimus_axon4"]


@dataclass(frozen=True)
class UC6Parameter:
    """One of the 12 abstract parameters: our name, the Neuroptimus name, unit and bounds."""

    name: str
    neuroptimus_name: str
    unit: str
    low: float
    high: float
    description: str


# Order, names and bounds: Neuroptimus testcase_6 settings file ("adjusted_params",
# "boundaries"), which agree with USECASES.md and shared/data/.../boundaries.txt.
PARAMETERS: tuple[UC6Parameter, ...] = (
    UC6Parameter(
        "na_shift", "Na_BG_act_inact_shift", "mV", 5.0, 15.0,
        "Na half-activation minus half-inactivation voltage (soma, dendrites, axon)",
    ),
    UC6Parameter("gkdr_dend", "gmax_K_DRS4_params_voltage_dep_dend", "S/cm2", 0.01, 0.2, "K_DR, dendrites"),
    UC6Parameter(
        "gna_soma", "gmax_Na_BG_soma", "S/cm2", 0.002, 0.1,
        "Na at the soma; dendrites decay linearly with distance from it, axon 40x",
    ),
    UC6Parameter("gkdr_soma", "gmax_K_DRS4_params_voltage_dep_soma", "S/cm2", 0.01, 0.5, "K_DR, soma"),
    UC6Parameter("gkdr_axon", "gmax_K_DRS4_params_voltage_dep_axon", "S/cm2", 0.01, 10.0, "K_DR, axon"),
    UC6Parameter("g_leak", "gmax_Leak_pyr", "S/cm2", 1e-5, 1e-4, "leak, everywhere"),
    UC6Parameter("h_scale", "H_ratio", "1", 0.1, 15.0, "scales the distance-dependent Ih baseline"),
    UC6Parameter("e_leak", "e_Leak_pyr", "mV", -70.0, -40.0, "leak reversal potential"),
    UC6Parameter("gkm_soma_dend", "gbar_km_soma_dend", "S/cm2", 5e-5, 0.01, "K_M, soma and dendrites"),
    UC6Parameter("gkm_axon", "gbar_km_axon", "S/cm2", 1e-4, 5.0, "K_M, axon"),
    UC6Parameter("ka_scale", "KA_ratio", "1", 0.3, 3.0, "scales the distance-dependent K_A baseline"),
    UC6Parameter("gkd_soma", "gbar_kd", "S/cm2", 1e-5, 0.01, "K_D, soma"),
)  # fmt: skip
PARAMETER_NAMES: tuple[str, ...] = tuple(p.name for p in PARAMETERS)

# --- Density rules of the Neuroptimus user function (testcase_6 settings, "u_fun_string") ---
NA_DEND_SLOPE_PER_UM = -0.00125  # gNa_dend(d) = gNa_soma (1 − 0.00125 d)
NA_AXON_FACTOR = 40.0  # gNa_axon = 40 gNa_soma
H_BASE = 2e-5  # S/cm², Ih at the soma and axon (× h_scale); dendrites: (2e-5 + 4e-7 d) × h_scale
H_SLOPE_PER_UM = 4e-7
H_FAR = 1.8e-4  # S/cm² × h_scale beyond 400 µm (= the linear rule at 400 µm)
KA_BASE = 0.0035  # S/cm², K_A at the soma and axon (× ka_scale); dendrites: (0.0035 + 5.5e-5 d) × ka_scale
KA_SLOPE_PER_UM = 5.5e-5
KA_FAR = 0.0255  # S/cm² × ka_scale beyond 400 µm (= the linear rule at 400 µm)
PROXIMAL_LIMIT_UM = 100.0  # d <= 100 µm: proximal Ih and K_A variants; beyond: distal variants
FAR_LIMIT_UM = 400.0  # d > 400 µm: densities stay at their 400 µm values
# Na half-activation voltages the model's biophysics hoc file sets (X_v0_Na_BG_*); the
# inactivation half-voltage is this minus θ[0] (Y_v0 = X_v0 − shift in the user function).
NA_VHALF_M_mV = {"ca1_na_soma": -30.0, "ca1_na_dend": -30.0, "ca1_na_axon": -33.0}


def dendritic_densities(
    distance_um: np.ndarray, gna_soma: float, h_scale: float, ka_scale: float
) -> dict[str, np.ndarray]:
    """Dendritic Na, Ih and K_A densities (S/cm²) at path distances ``distance_um`` from soma(0).

    Rules of the Neuroptimus user function: Na decays linearly from the somatic value
    (clipped at 0; it would reach 0 at 800 µm, beyond this cell's 744 µm); Ih and K_A rise
    linearly from their somatic baselines, carried by the proximal mechanism up to 100 µm
    and by the distal one beyond, and stay at their 400 µm values further out.
    """
    d = np.asarray(distance_um, dtype=float)
    proximal = d <= PROXIMAL_LIMIT_UM
    far = d > FAR_LIMIT_UM
    h_linear = h_scale * (H_BASE + H_SLOPE_PER_UM * d)
    ka_linear = ka_scale * (KA_BASE + KA_SLOPE_PER_UM * d)
    h_dist = np.where(far, h_scale * H_FAR, h_linear)
    ka_dist = np.where(far, ka_scale * KA_FAR, ka_linear)
    return {
        "ca1_na_dend": np.maximum(gna_soma * (1.0 + NA_DEND_SLOPE_PER_UM * d), 0.0),
        "ca1_h_prox": np.where(proximal, h_linear, 0.0),
        "ca1_h_dist": np.where(proximal, 0.0, h_dist),
        "ca1_ka_prox": np.where(proximal, ka_linear, 0.0),
        "ca1_ka_dist": np.where(proximal, 0.0, ka_dist),
    }


@dataclass(frozen=True)
class CA1DetailedNeuron:
    """UC6 simulator. Times in ms, voltages in mV, currents in nA, lengths in µm.

    θ has shape ``(n, 12)`` in the order of ``PARAMETER_NAMES`` (physical units:
    S/cm², mV or dimensionless scale factors). The result has one sweep per amplitude.

    Args:
        morphology_path: geometry JSON (the benchmark's: ``MORPHOLOGY_FILE`` in the data directory,
            which ``usecases.ca1_detailed`` resolves).
        v_init_mV: potential given to ``finitialize`` (Neuroptimus: −65 mV).
        settle_ms: settling run before t = 0 with the stimulus off (0: none, as in Neuroptimus).
        settle_dt_ms: time step of the settling run.
        dt_ms, record_dt_ms, tstop_ms: integration step, recording interval (a multiple of
            dt_ms), end of each sweep.
        stim_delay_ms, stim_dur_ms, amplitudes_nA: the current steps at soma(0.5).
        celsius: temperature set during runs (restored after; no mechanism depends on it).
        ra_ohm_cm, cm_uF_cm2, ena_mV, ek_mV: passive properties and reversal potentials.
        distance_rule: ``path`` (default): dendritic densities use the path distance of each
            segment from soma(0), as the rules describe. ``neuroptimus_axon4``: what the
            Neuroptimus user function most likely computed: it calls ``h.distance(seg.x)``,
            which measures to the *currently accessed* section, and the model's morphology
            file ends with ``access axon[4]``; every dendritic segment then gets the distance
            of axon[4](x) (239–461 µm).
        share_prestimulus: simulate the common 0–200 ms once per parameter set.
    """

    morphology_path: str
    v_init_mV: float = -65.0
    settle_ms: float = 1000.0
    settle_dt_ms: float = 0.5
    dt_ms: float = 0.05
    record_dt_ms: float = 0.05
    tstop_ms: float = 600.0
    stim_delay_ms: float = 200.0
    stim_dur_ms: float = 300.0
    amplitudes_nA: tuple[float, ...] = (-0.25, 0.05, 0.1, 0.15, 0.2, 0.25)
    celsius: float = 33.0
    ra_ohm_cm: float = 100.0
    cm_uF_cm2: float = 1.0
    ena_mV: float = 50.0
    ek_mV: float = -77.0
    distance_rule: DistanceRule = "path"
    share_prestimulus: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "amplitudes_nA", tuple(float(a) for a in self.amplitudes_nA))
        for name in ("dt_ms", "record_dt_ms", "tstop_ms", "settle_dt_ms", "ra_ohm_cm", "cm_uF_cm2"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"CA1DetailedNeuron.{name} must be > 0, got {value}")
        for name in ("settle_ms", "stim_delay_ms", "stim_dur_ms"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"CA1DetailedNeuron.{name} must be >= 0, got {value}")
        if not _is_multiple(self.record_dt_ms, self.dt_ms):
            raise ValueError(
                f"record_dt_ms ({self.record_dt_ms}) must be a whole multiple of dt_ms ({self.dt_ms})"
            )
        if self.stim_delay_ms + self.stim_dur_ms > self.tstop_ms:
            raise ValueError(
                f"the stimulus (stim_delay_ms + stim_dur_ms = {self.stim_delay_ms + self.stim_dur_ms}) "
                f"must end by tstop_ms ({self.tstop_ms})"
            )
        if self.share_prestimulus and not _is_multiple(self.stim_delay_ms, self.record_dt_ms):
            raise ValueError(
                f"stim_delay_ms ({self.stim_delay_ms}) must be a whole multiple of record_dt_ms "
                f"({self.record_dt_ms}) when share_prestimulus is True"
            )
        if not self.amplitudes_nA or not all(np.isfinite(self.amplitudes_nA)):
            raise ValueError(f"amplitudes_nA must be a non-empty list of numbers, got {self.amplitudes_nA}")
        if self.distance_rule not in ("path", "neuroptimus_axon4"):
            raise ValueError(
                f"distance_rule must be 'path' or 'neuroptimus_axon4', got {self.distance_rule!r}"
            )
        if not Path(self.morphology_path).is_file():
            raise DataError(f"morphology file {self.morphology_path} does not exist")

    @property
    def sweep_names(self) -> list[str]:
        return [f"step_{a:+g}nA" for a in self.amplitudes_nA]

    @property
    def t(self) -> np.ndarray:
        n = round(self.tstop_ms / self.record_dt_ms) + 1
        return np.arange(n) * self.record_dt_ms

    def __call__(self, theta: np.ndarray, seed: int = 0) -> SimulationResult:
        """Simulate each row of θ (n, 12). Deterministic: ``seed`` is unused."""
        theta = theta_batch(theta, len(PARAMETERS), "UC6")
        model = self._model()  # built first: a bad model file is an error, not a failed row
        return simulate_rows(theta, self.t, len(self.amplitudes_nA), lambda row: model.run(row), _check_row)

    def _model(self) -> _CA1Model:
        return live_model(self, _CA1Model)


def _is_multiple(value: float, step: float) -> bool:
    ratio = value / step
    return abs(ratio - round(ratio)) < 1e-9


def _check_row(row: np.ndarray) -> str:
    """Why a parameter set cannot be simulated, or '' (bounds are the prior's business)."""
    bad = [PARAMETER_NAMES[j] for j in np.flatnonzero(~np.isfinite(row))]
    if bad:
        return f"non-finite parameter(s): {', '.join(bad)}"
    negative = [p.name for p, x in zip(PARAMETERS, row, strict=True) if p.unit != "mV" and x < 0]
    if negative:
        return f"negative density or scale: {', '.join(negative)}"
    return ""


class _CA1Model:
    """The NEURON objects of one CA1DetailedNeuron configuration, in this process."""

    def __init__(self, cfg: CA1DetailedNeuron) -> None:
        from neuron import h

        from simulators.mechanisms import load_ca1_mechanisms
        from simulators.morphology import instantiate, load_geometry_json

        load_ca1_mechanisms()
        path = Path(cfg.morphology_path)
        morphology = load_geometry_json(path)
        self.cfg, self.h = cfg, h
        self.sections = instantiate(morphology, prefix=f"uc6_{id(self)}_")
        soma = self.sections.get("soma")
        self.dendrites = [s for name, s in self.sections.items() if name.startswith("dendrite")]
        self.axon = [s for name, s in self.sections.items() if name.startswith("axon")]
        if soma is None or not self.dendrites or not self.axon:
            raise DataError(f"morphology file {path}: expected sections soma, dendrite[i] and axon[i]")
        self.soma: Any = soma
        if cfg.distance_rule == "neuroptimus_axon4" and "axon[4]" not in self.sections:
            raise DataError(f"morphology file {path}: distance_rule 'neuroptimus_axon4' needs axon[4]")

        # Insertion per region: the model's biophysics hoc file.
        regions = {
            "soma": ([self.soma], ("ca1_na_soma", "ca1_kdr", "ca1_km", "ca1_ka_prox", "ca1_kd")),
            "dend": (
                self.dendrites,
                ("ca1_na_dend", "ca1_kdr", "ca1_km", "ca1_ka_prox", "ca1_ka_dist", "ca1_h_dist"),
            ),
            "axon": (self.axon, ("ca1_na_axon", "ca1_kdr", "ca1_km", "ca1_ka_prox")),
        }
        for sections, mechanisms in regions.values():
            for sec in sections:
                sec.Ra = cfg.ra_ohm_cm
                sec.cm = cfg.cm_uF_cm2
                for mech in ("pas", "ca1_h_prox", *mechanisms):  # leak and proximal Ih everywhere
                    sec.insert(mech)
                sec.ena = cfg.ena_mV
                sec.ek = cfg.ek_mV

        # Path distance (µm) of every dendritic segment from soma(0): the user function
        # measures from "soma distance()", the 0 end of the soma.
        origin = self.soma(0)
        self.dend_segments = [seg for sec in self.dendrites for seg in sec]
        if cfg.distance_rule == "path":
            distances = [h.distance(origin, seg) for seg in self.dend_segments]
        else:
            axon4 = self.sections["axon[4]"]
            distances = [h.distance(origin, axon4(seg.x)) for seg in self.dend_segments]
        self.distance_um = np.array(distances)

        self.stim = h.IClamp(self.soma(0.5))
        self.stim.delay = cfg.stim_delay_ms
        self.stim.dur = cfg.stim_dur_ms
        self.stim.amp = 0.0
        self.v = h.Vector()
        self.v.record(self.soma(0.5)._ref_v)  # every time step; subsampled to record_dt_ms
        self.pc = h.ParallelContext()
        self.stride = round(cfg.record_dt_ms / cfg.dt_ms)
        self.n_samples = round(cfg.tstop_ms / cfg.record_dt_ms) + 1

    def set_parameters(self, theta: np.ndarray) -> None:
        """Densities and kinetics of one parameter set (rules: see the module constants)."""
        h = self.h
        p = dict(zip(PARAMETER_NAMES, (float(x) for x in theta), strict=True))
        for mech, vhalf_m in NA_VHALF_M_mV.items():
            setattr(h, f"vhalf_m_{mech}", vhalf_m)
            setattr(h, f"vhalf_h_{mech}", vhalf_m - p["na_shift"])  # Y_v0 = X_v0 − θ[0]
        for sec in self.sections.values():
            for seg in sec:
                seg.pas.g = p["g_leak"]
                seg.pas.e = p["e_leak"]
        for seg in self.soma:
            seg.ca1_na_soma.gbar = p["gna_soma"]
            seg.ca1_kdr.gbar = p["gkdr_soma"]
            seg.ca1_km.gbar = p["gkm_soma_dend"]
            seg.ca1_ka_prox.gbar = KA_BASE * p["ka_scale"]
            seg.ca1_kd.gbar = p["gkd_soma"]
            seg.ca1_h_prox.gbar = H_BASE * p["h_scale"]
        for sec in self.axon:
            for seg in sec:
                seg.ca1_na_axon.gbar = NA_AXON_FACTOR * p["gna_soma"]
                seg.ca1_kdr.gbar = p["gkdr_axon"]
                seg.ca1_km.gbar = p["gkm_axon"]
                seg.ca1_ka_prox.gbar = KA_BASE * p["ka_scale"]
                seg.ca1_h_prox.gbar = H_BASE * p["h_scale"]
        dens = dendritic_densities(self.distance_um, p["gna_soma"], p["h_scale"], p["ka_scale"])
        for k, seg in enumerate(self.dend_segments):
            seg.ca1_kdr.gbar = p["gkdr_dend"]
            seg.ca1_km.gbar = p["gkm_soma_dend"]
            for mech, values in dens.items():
                getattr(seg, mech).gbar = values[k]

    def run(self, theta: np.ndarray) -> np.ndarray:
        """Voltage at soma(0.5), shape (n_sweeps, T) on the record grid."""
        h, cfg = self.h, self.cfg
        self.set_parameters(theta)
        saved_celsius = h.celsius
        h.celsius = cfg.celsius
        try:
            out = np.empty((len(cfg.amplitudes_nA), self.n_samples))
            if cfg.share_prestimulus:
                self.stim.amp = 0.0
                self._initialise()
                n_pre = round(cfg.stim_delay_ms / cfg.dt_ms)
                self.pc.psolve(n_pre * cfg.dt_ms)
                pre = self.v.as_numpy().copy()
                if pre.size != n_pre + 1:
                    raise RuntimeError(f"pre-stimulus run recorded {pre.size} samples, expected {n_pre + 1}")
                # Made here, not once: a SaveState is invalid once any section is created or deleted.
                state = h.SaveState()
                state.save()
                for k, amp in enumerate(cfg.amplitudes_nA):
                    state.restore()
                    self.stim.amp = amp
                    h.frecord_init()  # restart recording at t = stim_delay_ms
                    self.pc.psolve(cfg.tstop_ms + cfg.dt_ms)
                    out[k] = self._on_grid(np.concatenate([pre[:-1], self.v.as_numpy()]))
            else:
                for k, amp in enumerate(cfg.amplitudes_nA):
                    self.stim.amp = amp
                    self._initialise()
                    # One step past tstop: t accumulates round-off and may stop just short
                    # of tstop, losing the last sample. The extra samples are trimmed.
                    self.pc.psolve(cfg.tstop_ms + cfg.dt_ms)
                    out[k] = self._on_grid(self.v.as_numpy())
            return out
        finally:
            h.celsius = saved_celsius

    def _initialise(self) -> None:
        """finitialize, then settle with the stimulus off, then t = 0 (NEURON's custom init recipe)."""
        h, cfg = self.h, self.cfg
        h.dt = cfg.dt_ms
        self.pc.set_maxstep(10)
        h.finitialize(cfg.v_init_mV)
        if cfg.settle_ms > 0:
            n = max(1, round(cfg.settle_ms / cfg.settle_dt_ms))
            h.dt = cfg.settle_dt_ms
            h.t = -n * cfg.settle_dt_ms
            for _ in range(n):  # fadvance: psolve does not integrate from negative t
                h.fadvance()
            h.t = 0.0
            h.dt = cfg.dt_ms
            h.fcurrent()
            h.frecord_init()

    def _on_grid(self, v: np.ndarray) -> np.ndarray:
        need = (self.n_samples - 1) * self.stride + 1
        if v.size < need:
            raise RuntimeError(f"recorded {v.size} samples, expected at least {need}")
        return v[: need : self.stride]


__all__ = [
    "MORPHOLOGY_FILE",
    "PARAMETERS",
    "PARAMETER_NAMES",
    "CA1DetailedNeuron",
    "UC6Parameter",
    "dendritic_densities",
]
