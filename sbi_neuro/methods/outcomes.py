"""What a run returns: typed results, the same whether the run kept a folder or ran in memory.

``sbi_neuro.simulate`` returns a ``BankResult``, ``fit`` a ``FitResult``, ``infer`` an
``InferenceResult``. Parameters are in physical units throughout. ``summary`` is the run's record as
written to ``summary.json`` (a folder's readers, the report and the results index, read that file).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from priors import Prior
from sbi_neuro.core.convergence import Convergence
from sbi_neuro.core.evaluation import EvalBatch
from sbi_neuro.inference.posterior import TrainedPosterior
from sbi_neuro.methods.workspace import Workspace


@dataclass(frozen=True)
class Simulations:
    """Simulations of a run, rows in the order they were charged.

    Attributes:
        parameter_names, feature_names, component_names: the columns.
        theta: ``(n, d)`` parameters. x: ``(n, k)`` features, NaN where undefined or failed.
        components: ``(n, c)`` unweighted error components. error: ``(n,)`` weighted error.
        status: ``(n,)`` 0 ok, 1 failed, 2 timed out, 3 crashed its process. seed: ``(n,)``.
    """

    parameter_names: list[str]
    feature_names: list[str]
    component_names: list[str]
    theta: np.ndarray
    x: np.ndarray
    components: np.ndarray
    error: np.ndarray
    status: np.ndarray
    seed: np.ndarray

    @classmethod
    def of(cls, batch: EvalBatch, columns: dict[str, list[str]]) -> Simulations:
        """The rows of ``batch`` with the bank's column names."""
        return cls(columns["theta"], columns["x"], columns["components"], **batch.arrays())

    def __len__(self) -> int:
        return int(self.theta.shape[0])

    @property
    def failed(self) -> int:
        """How many simulations did not finish (failed, timed out or crashed)."""
        return int(np.count_nonzero(self.status != 0))


@dataclass(frozen=True)
class BestFit:
    """One evaluated parameter set: the best of a run, or its MAP.

    Attributes:
        parameters: by name, physical units.
        error: weighted error.
        components: unweighted error components, by component name.
        evaluation: its index in the run's charge order.
    """

    parameters: dict[str, float]
    error: float
    components: dict[str, float]
    evaluation: int

    @classmethod
    def of(cls, simulations: Simulations, row: int) -> BestFit:
        return cls(
            parameters=dict(
                zip(simulations.parameter_names, map(float, simulations.theta[row]), strict=True)
            ),
            error=float(simulations.error[row]),
            components=dict(
                zip(simulations.component_names, map(float, simulations.components[row]), strict=True)
            ),
            evaluation=row,
        )

    @property
    def theta(self) -> np.ndarray:
        """The parameters as a vector, in the prior's order."""
        return np.array(list(self.parameters.values()))


class Posterior:
    """A trained posterior over a use case's parameters; at the run's target unless told another ``x``.

    Args:
        trained: the network(s) and the prior they were trained over.
        x_o: the target's features (undefined ones filled as in training).
        feature_names: names of the features, in order.
    """

    def __init__(self, trained: TrainedPosterior, x_o: np.ndarray, feature_names: list[str]) -> None:
        self.trained = trained
        self.x_o = np.asarray(x_o, dtype=float)
        self.feature_names = list(feature_names)

    @property
    def prior(self) -> Prior:
        return self.trained.prior

    @property
    def names(self) -> list[str]:
        return self.trained.prior.names

    def sample(self, n: int, seed: int = 0, x: np.ndarray | None = None) -> np.ndarray:
        """``n`` posterior samples ``(n, d)`` in physical units, at ``x`` (default: the target)."""
        return self.trained.sample(n, self._x(x), seed=seed)

    def log_prob(self, theta: np.ndarray, x: np.ndarray | None = None) -> np.ndarray:
        """Log posterior density (in the prior's inference space) of physical ``theta`` ``(n, d)``."""
        return self.trained.log_prob(np.atleast_2d(theta), self._x(x))

    def map(self, seed: int = 0, x: np.ndarray | None = None) -> dict[str, float]:
        """The maximum a posteriori parameters, by name."""
        return self.trained.prior.as_dict(self.trained.map(self._x(x), seed=seed))

    def _x(self, x: np.ndarray | None) -> np.ndarray:
        return self.x_o if x is None else np.asarray(x, dtype=float)


@dataclass(frozen=True, kw_only=True)
class BankResult:
    """Prior simulations kept in a bank (``simulate``), and the speed reached.

    ``evaluations_per_s`` counts simulation + features + cost, worker start-up included; None
    when everything was already in the bank.
    """

    usecase: str
    simulations: Simulations
    new_simulations: int
    wall_time_s: float
    evaluations_per_s: float | None
    folder: Path | None
    summary: dict[str, Any] = field(repr=False)


@dataclass(frozen=True, kw_only=True)
class FitResult:
    """A fit: the best evaluated parameter set and how the search got there.

    Attributes:
        method, usecase: what ran on what. target: where the target came from.
        best_fit: the lowest-error evaluation of the run.
        convergence: every evaluation's error in charge order.
        simulations: every evaluation (the run's bank in charge order).
        truth: the parameters that made the target, when it was made from the ground truth.
        wall_time_s: of the run (a resumed run: of this session).
        folder: the run folder, or None for a run in memory.
        summary: the record written to ``summary.json``.
        algorithm: the method's name and settings, as ``metadata.json`` records them.
    """

    method: str
    usecase: str
    target: str
    best_fit: BestFit
    convergence: Convergence
    simulations: Simulations
    truth: dict[str, float] | None
    wall_time_s: float
    folder: Path | None
    summary: dict[str, Any] = field(repr=False)
    algorithm: dict[str, Any] = field(repr=False)


@dataclass(frozen=True, kw_only=True)
class InferenceResult(FitResult):
    """A Bayesian run: the posterior at the target, with its best fit and MAP.

    Attributes:
        posterior: ``sample``, ``log_prob`` and ``map`` at the target (or any x).
        map: the MAP as simulated and charged (the first best-fit candidate).
        samples: posterior samples at the target ``(posterior_samples, d)``, physical units.
        interval_90: central 90% interval of each parameter's samples.
        workspace: the run's settings, problem and bank (what ``check`` of a run in memory uses).
    """

    posterior: Posterior
    map: BestFit
    samples: np.ndarray = field(repr=False)
    interval_90: dict[str, tuple[float, float]]
    workspace: Workspace = field(repr=False, compare=False)
