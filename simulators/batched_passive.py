"""UC3 with a compiled batch kernel: NEURON's fixed-step scheme for the passive CA1 cell, in numba.

The morphology is read once per process by NEURON itself: the kernel takes NEURON's
tree of nodes, each node's area (``seg.area()``) and axial resistance to its parent
(``seg.ri()``), so the geometry (3-D frustums, nseg, where children attach) is
NEURON's and not a re-implementation. Nodes, as in NEURON: the root node at the
soma's x = 0, one node per segment centre, and a zero-area node at each section's
x = 1 (area taken as 100 µm², so that a·v there is in nA); a child's x = 0 end is
its parent's node at the attachment point. The coefficients are NEURON's
(``nrn_area_ri``, ``connection_coef``): a = −100·rinv/area(parent),
b = −100·rinv/area(node), with rinv ∝ 1/Ra, so the tree is extracted once at
Ra = 1 Ω·cm and scaled per parameter set.

NEURON's step (``nrn_fixed_step``, ``secondorder = 0``) is backward Euler on the
linear system (10⁻³·cm/dt·A + g·A + L/Ra)·v(k+1) = 10⁻³·cm/dt·A·v(k) + I(k), with A
the node areas, L the axial conductances and I the IClamp current, whose amplitude in
the step from t to t + dt is the stimulus sample at the last play time ≤ t + dt/2.
Because cm and g_pas are uniform, the generalised eigenvectors of (L, A) diagonalise
it for every θ: they depend on the morphology alone and Ra only scales the
eigenvalues. So the tree is diagonalised once per process (zero-area nodes, which
carry no membrane current, eliminated exactly by a Schur complement) and each
parameter set runs one scalar recursion per mode, x ← ρ·x + γ·I, the same backward
Euler step in another basis: 2 multiply-adds per mode and step instead of Hines'
elimination over 289 nodes. Rows of the batch are the inner loop, so the compiler
vectorises across parameter sets. NEURON's numerical di/dv of pas,
(i(v + 0.001) − i(v))/0.001, is g up to round-off; the kernel uses g.

Measured (this machine, one process): about 1.1 ms per 1,500 ms simulation in batches
of 32, against 96 ms for NEURON (90×); a Hines-ordered kernel of the same scheme took
19 ms. Agreement with NEURON: ≤ 5e-11 mV at the prior's corners (traces up to 44 mV);
the uniform mode is set analytically, since left to the eigensolver its weight is off
by ~eps·λ_max/λ_1 and the slow mode accumulates that to 7e-9 mV.

Only the "file" discretisation: with d_lambda, nseg (and so the tree) changes with
θ, which is the NEURON backend's job.

Verified against ``PassiveMorphologyNeuron`` (NEURON 9, tests/test_batched_passive.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numba
import numpy as np

from simulators.base import SimulationResult, screen_rows, theta_batch
from simulators.neuron_passive import PassiveMorphologyNeuron, _check_row, load_stimulus

ZERO_AREA_NODE_UM2 = 1.0e2  # NEURON's area of a zero-area node


@dataclass(frozen=True)
class PassiveTree:
    """NEURON's node tree of a cell at Ra = 1 Ω·cm. Parents come before their children.

    Attributes:
        parent: parent node index per node (−1 for the root).
        area_um2: node areas (100 for zero-area nodes).
        has_membrane: False for zero-area nodes (no capacitance, no pas).
        rinv_at_ra1: 1/ri to the parent (µS) at Ra = 1 Ω·cm (0 for the root).
        site: index of the node holding the IClamp and the recording.
    """

    parent: np.ndarray
    area_um2: np.ndarray
    has_membrane: np.ndarray
    rinv_at_ra1: np.ndarray
    site: int


def extract_tree(model: object) -> PassiveTree:
    """The node tree of a built ``_PassiveModel`` (its sections, site section and x)."""
    sections = model.sections  # type: ignore[attr-defined]
    site_sec, site_x = model.site, model.cfg.site_x  # type: ignore[attr-defined]
    for sec in sections.values():
        sec.Ra = 1.0
    root = next(sec for sec in sections.values() if sec.parentseg() is None)
    parent, area, membrane, rinv = [-1], [ZERO_AREA_NODE_UM2], [False], [0.0]
    centre_nodes: dict[str, list[int]] = {}  # section name → its centre nodes, then its x = 1 node
    x0_node: dict[str, int] = {root.name(): 0}

    def add(parent_index: int, node_area: float, has_membrane: bool, ri: float) -> int:
        parent.append(parent_index)
        area.append(node_area)
        membrane.append(has_membrane)
        rinv.append(1.0 / ri)
        return len(parent) - 1

    def node_at(sec: object, x: float) -> int:
        """The node a child attaching at ``sec(x)`` joins (NEURON's node_exact)."""
        nodes = centre_nodes[sec.name()]  # type: ignore[attr-defined]
        if x <= 0.0:
            return x0_node[sec.name()]  # type: ignore[attr-defined]
        if x >= 1.0:
            return nodes[-1]
        return nodes[min(int(x * sec.nseg), sec.nseg - 1)]  # type: ignore[attr-defined]

    stack = [root]
    while stack:  # depth first: a section is numbered after the section it hangs from
        sec = stack.pop()
        if sec is not root:
            attach = sec.parentseg()
            x0_node[sec.name()] = node_at(attach.sec, attach.x)
        previous = x0_node[sec.name()]
        nodes = []
        for seg in sec:
            previous = add(previous, seg.area(), True, seg.ri())
            nodes.append(previous)
        nodes.append(add(previous, ZERO_AREA_NODE_UM2, False, sec(1.0).ri()))
        centre_nodes[sec.name()] = nodes
        stack.extend(reversed(list(sec.children())))
    return PassiveTree(
        parent=np.array(parent, dtype=np.int64),
        area_um2=np.array(area),
        has_membrane=np.array(membrane),
        rinv_at_ra1=np.array(rinv),
        site=node_at(site_sec, site_x),
    )


@dataclass(frozen=True)
class PassiveModes:
    """The cell's modes at Ra = 1 Ω·cm: L φ = λ A φ on the membrane nodes, φᵀ A φ = I.

    L is NEURON's axial conductance matrix (µS) with the zero-area nodes eliminated
    (they carry no current to the membrane, so they are an exact Schur complement), and
    A the node areas in units of 100 µm² (so that A·density in mA/cm² is a current in nA).

    Attributes:
        eigenvalues: λ (µS per 100 µm²) at Ra = 1; they scale as 1/Ra.
        site_weight: φ at the site node, per mode.
        uniform_weight: the coordinates of a uniform voltage of 1 mV, φᵀ A 1, per mode.
    """

    eigenvalues: np.ndarray
    site_weight: np.ndarray
    uniform_weight: np.ndarray


def passive_modes(tree: PassiveTree) -> PassiveModes:
    """Diagonalise the cell's linear system once (it depends on the morphology only)."""
    n = tree.parent.size
    laplacian = np.zeros((n, n))
    for i in range(1, n):
        p, g = tree.parent[i], tree.rinv_at_ra1[i]
        laplacian[i, i] += g
        laplacian[p, p] += g
        laplacian[i, p] -= g
        laplacian[p, i] -= g
    membrane, zero = np.flatnonzero(tree.has_membrane), np.flatnonzero(~tree.has_membrane)
    if not tree.has_membrane[tree.site]:
        raise ValueError("the batched UC3 kernel needs the stimulus site on a segment centre (0 < x < 1)")
    l_mm = laplacian[np.ix_(membrane, membrane)]
    l_mz, l_zz = laplacian[np.ix_(membrane, zero)], laplacian[np.ix_(zero, zero)]
    l_eff = l_mm - l_mz @ np.linalg.solve(l_zz, l_mz.T)
    mass = tree.area_um2[membrane] * 1.0e-2
    scale = 1.0 / np.sqrt(mass)
    symmetric = scale[:, None] * l_eff * scale[None, :]
    # The uniform voltage is an exact mode (λ = 0). It is set analytically and the rest solved in
    # its orthogonal complement: left to eigh, its weight carries an error of about
    # eps·λ_max/λ_1 (3e-10 relative), which the slow mode then accumulates over the whole run.
    uniform = np.sqrt(mass) / np.linalg.norm(np.sqrt(mass))
    basis, _ = np.linalg.qr(np.column_stack([uniform, np.eye(mass.size)[:, :-1]]))
    complement = basis[:, 1:]
    rest, q_rest = np.linalg.eigh(complement.T @ symmetric @ complement)
    eigenvalues = np.concatenate([[0.0], rest])
    phi = scale[:, None] * np.column_stack([uniform, complement @ q_rest])
    site = int(np.flatnonzero(membrane == tree.site)[0])
    return PassiveModes(
        eigenvalues=np.clip(eigenvalues, 0.0, None),
        site_weight=phi[site].copy(),
        uniform_weight=phi.T @ mass,
    )


@numba.njit(cache=True, error_model="numpy")
def _modal_kernel(
    theta: np.ndarray,
    eigenvalues: np.ndarray,
    site_weight: np.ndarray,
    uniform_weight: np.ndarray,
    stim_nA: np.ndarray,
    e_pas: float,
    v_init: float,
    dt: float,
    record_every: int,
    out: np.ndarray,
) -> None:
    """Fill ``out`` (n, T) with v at the site at steps 0, record_every, 2·record_every, …

    Backward Euler per mode m: (c·cm + g + λ_m/Ra)·x_m(k+1) = c·cm·x_m(k) + φ_m(site)·u(k),
    c = 10⁻³/dt, with x the mode's coordinate of v − e_pas; v(site) = e_pas + Σ φ_m(site)·x_m.
    Rows are the inner loop (vectorised); each mode carries y_m = φ_m(site)·x_m.
    """
    n_rows, n_samples = theta.shape[0], out.shape[1]
    n_modes = eigenvalues.shape[0]
    cfac = 0.001 / dt
    decay = np.empty((n_modes, n_rows))
    gain = np.empty((n_modes, n_rows))
    y = np.empty((n_modes, n_rows))
    total = np.empty(n_rows)
    for m in range(n_modes):
        for r in range(n_rows):
            cm, ra, g_pas = theta[r, 0], theta[r, 1], theta[r, 2]
            diagonal = cfac * cm + g_pas + eigenvalues[m] / ra
            decay[m, r] = cfac * cm / diagonal
            gain[m, r] = site_weight[m] * site_weight[m] / diagonal
            y[m, r] = site_weight[m] * uniform_weight[m] * (v_init - e_pas)
    for r in range(n_rows):
        out[r, 0] = v_init
    n_steps = (n_samples - 1) * record_every
    for step in range(n_steps):
        u = stim_nA[step]
        for r in range(n_rows):
            total[r] = 0.0
        for m in range(n_modes):
            for r in range(n_rows):
                y[m, r] = decay[m, r] * y[m, r] + gain[m, r] * u
                total[r] += y[m, r]
        if (step + 1) % record_every == 0:
            sample = (step + 1) // record_every
            for r in range(n_rows):
                out[r, sample] = e_pas + total[r]


@dataclass(frozen=True)
class PassiveMorphologyBatched(PassiveMorphologyNeuron):
    """UC3 on the compiled kernel: the same protocol, fields and results as ``PassiveMorphologyNeuron``
    (discretisation "file" only).

    Parameters θ, in order: ``cm`` (µF/cm²), ``Ra`` (Ω·cm), ``g_pas`` (S/cm²). Output: v (mV).
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.discretisation != "file":
            raise ValueError(
                "the batched UC3 kernel runs the morphology file's discretisation; with "
                f"discretisation={self.discretisation!r} nseg changes with θ: use --backend neuron"
            )

    def __call__(self, theta: np.ndarray, seed: int = 0) -> SimulationResult:
        """Simulate each row of θ (n, 3). Deterministic: ``seed`` is unused."""
        theta = theta_batch(theta, 3, "UC3")
        t = self.t
        result, runnable = screen_rows(theta, t, 1, _check_row)
        if runnable is None:
            return result
        modes = self.modes()
        out = np.empty((theta.shape[0], t.size))
        with np.errstate(all="ignore"):
            _modal_kernel(
                runnable, modes.eigenvalues, modes.site_weight, modes.uniform_weight, self.stimulus_nA(),
                self.e_pas_mV, self.v_init_mV, self.dt_ms, round(self.record_dt_ms / self.dt_ms), out,
            )  # fmt: skip
        for i in np.flatnonzero(result.status == 0):
            result.store(i, out[i])
        return result

    def modes(self) -> PassiveModes:
        """The modes of this cell (NEURON's tree, diagonalised once per process)."""
        return _modes(self)

    def stimulus_nA(self) -> np.ndarray:
        """The IClamp current (nA) of each step.

        ``Vector.play`` sets the amplitude to sample i at t = i·stimulus_dt, and an event
        counts in the step from t to t + dt when it falls by t + dt/2; after the last sample
        the amplitude stays.
        """
        stimulus = load_stimulus(self.stimulus_path)
        n_steps = round(self.tstop_ms / self.dt_ms)
        midpoints = (np.arange(n_steps) + 0.5) * self.dt_ms
        index = np.minimum(np.floor(midpoints / self.stimulus_dt_ms + 1e-9).astype(int), stimulus.size - 1)
        return stimulus[index]


@lru_cache(maxsize=4)
def _modes(sim: PassiveMorphologyBatched) -> PassiveModes:
    from simulators.neuron_models import live_model, release_models
    from simulators.neuron_passive import _PassiveModel

    reference = PassiveMorphologyNeuron(
        morphology_path=sim.morphology_path, stimulus_path=sim.stimulus_path,
        site_section=sim.site_section, site_x=sim.site_x,
    )  # fmt: skip
    try:
        tree = extract_tree(live_model(reference, _PassiveModel))
    finally:
        release_models()
    return passive_modes(tree)
