"""What a run is: the settings that determine its results (``RunConfig``).

Names in it (use case, method) are plain strings, resolved through ``sbi_neuro.registry`` at the
edge (the command line, a configuration file, the public verbs); each method checks what it
needs of the settings (``sbi_neuro.registry.MethodSpec.check``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sbi_neuro.core.seeds import MAX_SEED
from sbi_neuro.core.validation import check_fields, check_types
from sbi_neuro.execution.executors import ExecutorConfig
from sbi_neuro.inference.settings import NPESettings, check_npe_settings

# Settings that change where or how fast a run goes, not what it computes: a run may move from local
# processes to a cluster and continue there.
NOT_IDENTITY = ("workers", "executor", "scheduler", "data_dir", "progress")


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run's results (plus where it runs, which does not: ``NOT_IDENTITY``).

    Attributes:
        usecase: use case name (``sbi-neuro usecases`` lists them).
        method: ``npe`` (Bayesian), an optimiser name (``cmaes``), or ``prior`` (prior
            simulations into the bank, nothing fitted).
        budget: total simulations charged to the run, training and best-fit included.
        seed: master seed; every random choice derives from it.
        target: ``data`` (the benchmark file), ``simulated`` (from the ground truth) or a file path.
        data_dir: benchmark data directory (default: ``$SBI_NEURO_DATA`` or ``../shared/data``).
        workers: local worker processes (or the workers of the Dask ``LocalCluster`` started
            when ``executor`` is ``dask`` without a ``scheduler``).
        executor: where simulations run: ``local`` (processes on this machine), ``joblib``,
            ``dask`` or ``ray``.
        scheduler: dask or ray: address of a running cluster; None starts a local one.
        record_dt_ms: sampling interval of recorded traces; None keeps the use case's.
        backend: simulator engine (``neuron``/``brian2`` reference, ``batched`` compiled
            kernel); None takes the use case's default. Stored resolved in config.json.
        options: use-case options (for example ``{"cell": "509881736"}``), see ``sbi-neuro usecases``.
        batch_size: simulations per bank file (and per parallel task) for prior simulations.
        population_size: optimiser population (Neuroptimus protocol: 100).
        fit_candidates: simulations spent on the best fit of a Bayesian run (MAP + top
            posterior samples); 0 means min(100, max(10, budget // 50)).
        posterior_samples: posterior samples drawn at the target (≥ 1000 are saved).
        npe: density estimator and training settings.
        rounds: TSNPE rounds (the training budget is split equally, unless ``first_round`` is set).
        first_round: tsnpe: simulations in round 0 (0: an equal share); the later rounds share the
            rest. A model with few valid prior samples needs a large first round to learn from.
        npe_fraction: npe_cmaes: share of the budget spent on NPE training simulations.
        search_population: npe_cmaes: CMA-ES population (0: CMA-ES's default 4 + ⌊3 ln d⌋).
        restrict: tsnpe: restrict each round's proposal to where a classifier predicts valid
            simulations (for models where most prior samples give undefined features).
    """

    usecase: str
    method: str
    budget: int
    seed: int = 1
    target: str = "default"
    data_dir: str | None = None
    workers: int = 1
    record_dt_ms: float | None = None
    backend: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    batch_size: int = 100
    population_size: int = 100
    fit_candidates: int = 0
    posterior_samples: int = 10_000
    npe: NPESettings = field(default_factory=NPESettings)
    rounds: int = 4
    npe_fraction: float = 0.3
    search_population: int = 0
    restrict: bool = False
    first_round: int = 0
    progress: bool = True
    executor: str = "local"
    scheduler: str | None = None

    def __post_init__(self) -> None:
        check_types(self)
        check_npe_settings(self.npe)
        ExecutorConfig(self.executor, self.scheduler, self.workers)  # validates where the run goes
        if not self.method.strip() or not self.usecase.strip():
            raise ValueError(f"usecase and method must be names, got {self.usecase!r} and {self.method!r}")
        for name in ("budget", "workers", "batch_size", "population_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if not 0 <= self.seed <= MAX_SEED:
            raise ValueError(f"seed must be an integer from 0 to {MAX_SEED}, got {self.seed}")
        if self.rounds < 1:
            raise ValueError(f"rounds must be >= 1, got {self.rounds}")
        if not 0 < self.npe_fraction < 1:
            raise ValueError(f"npe_fraction must lie in (0, 1), got {self.npe_fraction}")
        if self.search_population < 0 or self.search_population == 1:
            raise ValueError(f"search_population must be 0 (default) or >= 2, got {self.search_population}")
        if self.fit_candidates < 0:
            raise ValueError(f"fit_candidates must be >= 0, got {self.fit_candidates}")
        if self.posterior_samples < 1000:
            raise ValueError(f"posterior_samples must be >= 1000, got {self.posterior_samples}")
        if self.record_dt_ms is not None and self.record_dt_ms <= 0:
            raise ValueError(f"record_dt_ms must be > 0, got {self.record_dt_ms}")
        if self.first_round < 0:
            raise ValueError(f"first_round must be >= 0 (0: an equal share), got {self.first_round}")

    @property
    def execution(self) -> ExecutorConfig:
        """Where the run's simulations run."""
        return ExecutorConfig(self.executor, self.scheduler, self.workers)

    @property
    def rounds_used(self) -> int:
        return self.rounds if self.method == "tsnpe" else 1

    @property
    def round_sizes(self) -> list[int]:
        """Training simulations of each TSNPE round (round 0 first)."""
        total = self.training_simulations
        if not self.first_round or self.rounds == 1:
            return _split(total, self.rounds)
        return [self.first_round, *_split(total - self.first_round, self.rounds - 1)]

    @property
    def n_fit_candidates(self) -> int:
        return self.fit_candidates or min(100, max(10, self.budget // 50))

    @property
    def training_simulations(self) -> int:
        if self.method == "npe_cmaes":
            return round(self.npe_fraction * self.budget)
        return self.budget - self.n_fit_candidates

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> RunConfig:
        """A configuration from its JSON form; ValueError names the field and what it must be."""
        if not isinstance(data, dict):
            raise ValueError(f"a run configuration is a JSON object of fields, got {type(data).__name__}")
        data = dict(data)
        if isinstance(data.get("npe"), dict):
            check_fields(NPESettings, data["npe"], "npe.")
            data["npe"] = NPESettings(**data["npe"])
        check_fields(cls, data)
        return cls(**data)


def check_bayesian_budget(config: RunConfig) -> None:
    """A Bayesian method's training budget leaves every round at least 100 simulations."""
    training = config.training_simulations
    if config.method == "tsnpe" and config.first_round:
        later = training - config.first_round
        if config.first_round < 100 or later < 100 * (config.rounds - 1):
            raise ValueError(
                f"first_round {config.first_round} leaves {later} of {training} training simulations "
                f"for {config.rounds - 1} later rounds; each round needs at least 100 (raise --budget "
                "or lower --first-round)"
            )
    if training < 100 * config.rounds_used:
        raise ValueError(
            f"budget {config.budget} leaves {training} training simulations for {config.method}; it "
            "needs at least 100 per round"
        )


def check_optimizer_budget(config: RunConfig) -> None:
    """An optimiser's budget holds at least one generation."""
    if config.budget < config.population_size:
        raise ValueError(
            f"budget ({config.budget}) must be at least one generation (population_size "
            f"{config.population_size})"
        )


def read_config(path: Path) -> RunConfig:
    """The configuration in a run folder's ``config.json``; ValueError names the file and the problem."""
    try:
        return RunConfig.from_json(json.loads(path.read_text()))
    except (OSError, UnicodeDecodeError, ValueError, TypeError) as err:  # JSONDecodeError is a ValueError
        raise ValueError(
            f"{path} is not a valid run configuration: {err}. It records the settings of the run in "
            f"{path.parent}: restore it, or choose another --out folder"
        ) from None


def _split(total: int, parts: int) -> list[int]:
    """``total`` in ``parts`` near-equal shares, the larger ones first."""
    return [total // parts + (1 if r < total % parts else 0) for r in range(parts)]
