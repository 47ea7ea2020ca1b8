"""Run configuration and the run folder: what a run is, where its files go, how it resumes."""

from __future__ import annotations

import json
import math
import types
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import numpy as np

from sbi_neuro.bank import SimulationBank, atomic_write_text
from sbi_neuro.evaluation import Evaluator
from sbi_neuro.executors import ExecutorConfig
from sbi_neuro.inference import NPESettings
from sbi_neuro.optimizers import OPTIMIZERS
from usecases import Summary, Target, UseCase, get_usecase

# Bayesian methods; optimisers (sbi_neuro.optimizers.OPTIMIZERS); prior: a bank of prior simulations
# only (sbi-neuro simulate).
BAYESIAN_METHODS = ("npe", "tsnpe", "npe_cmaes")
METHODS = (*BAYESIAN_METHODS, *OPTIMIZERS, "prior")
# Settings that change where or how fast a run goes, not what it computes: a run may move from local
# processes to a cluster and continue there.
NOT_IDENTITY = ("workers", "executor", "scheduler", "data_dir", "progress")
# Seeds reach numpy's RandomState (CMA-ES), which takes 32 bits, with offsets up to 10^6 for analyses.
MAX_SEED = 2**31 - 1


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
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
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
        if self.method == "tsnpe" and self.first_round:
            later = self.training_simulations - self.first_round
            if self.first_round < 100 or later < 100 * (self.rounds - 1):
                raise ValueError(
                    f"first_round {self.first_round} leaves {later} of {self.training_simulations} "
                    f"training simulations for {self.rounds - 1} later rounds; each round needs at "
                    "least 100 (raise --budget or lower --first-round)"
                )
        if self.method in BAYESIAN_METHODS and self.training_simulations < 100 * self.rounds_used:
            raise ValueError(
                f"budget {self.budget} leaves {self.training_simulations} training simulations for "
                f"{self.method}; it needs at least 100 per round"
            )
        if self.method in OPTIMIZERS and self.budget < self.population_size:
            raise ValueError(
                f"budget ({self.budget}) must be at least one generation (population_size "
                f"{self.population_size})"
            )

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


def read_config(path: Path) -> RunConfig:
    """The configuration in a run folder's ``config.json``; ValueError names the file and the problem."""
    try:
        return RunConfig.from_json(json.loads(path.read_text()))
    except (OSError, UnicodeDecodeError, ValueError, TypeError) as err:  # JSONDecodeError is a ValueError
        raise ValueError(
            f"{path} is not a valid run configuration: {err}. It records the settings of the run in "
            f"{path.parent}: restore it, or choose another --out folder"
        ) from None


def check_fields(cls: type, data: dict[str, Any], prefix: str = "") -> None:
    """``data`` holds every required field of the dataclass ``cls``, no unknown one, each of its type."""
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(
            f"unknown {prefix.rstrip('.') or 'configuration'} fields {unknown}; known: {sorted(known)}"
        )
    hints = get_type_hints(cls)
    required = [n for n, f in known.items() if f.default is MISSING and f.default_factory is MISSING]
    missing = [f"{prefix}{n} ({_describe(hints[n])})" for n in required if n not in data]
    if missing:
        raise ValueError(f"missing required field(s): {', '.join(missing)}")
    for name, value in data.items():
        _check_type(prefix + name, value, hints[name])


def check_types(obj: Any, prefix: str = "") -> None:
    """Every field of the dataclass instance ``obj`` holds a value of its annotated type."""
    hints = get_type_hints(type(obj))
    for f in fields(obj):
        _check_type(prefix + f.name, getattr(obj, f.name), hints[f.name])


def check_npe_settings(npe: NPESettings) -> None:
    """Types and ranges of the NPE settings (NPESettings itself checks the estimator and fractions)."""
    check_types(npe, "npe.")
    counts = (
        "hidden_features",
        "num_transforms",
        "training_batch_size",
        "stop_after_epochs",
        "max_num_epochs",
    )
    for name in counts:
        if getattr(npe, name) < 1:
            raise ValueError(f"npe.{name} must be an integer >= 1, got {getattr(npe, name)}")
    if npe.learning_rate <= 0:
        raise ValueError(f"npe.learning_rate must be > 0, got {npe.learning_rate}")


def _check_type(name: str, value: Any, hint: Any) -> None:
    if not _matches(value, hint):
        raise ValueError(f"{name} must be {_describe(hint)}, got {value!r}")


def _matches(value: Any, hint: Any) -> bool:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        return any(_matches(value, arg) for arg in get_args(hint))
    if origin is Literal:
        return any(value == arg and type(value) is type(arg) for arg in get_args(hint))
    if origin is dict:
        key, item = get_args(hint)
        return isinstance(value, dict) and all(
            _matches(k, key) and _matches(v, item) for k, v in value.items()
        )
    if hint is type(None):
        return value is None
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return isinstance(value, hint) if isinstance(hint, type) else True


def _describe(hint: Any) -> str:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in get_args(hint))
    if origin is Literal:
        return "one of " + ", ".join(repr(arg) for arg in get_args(hint))
    if origin is dict:
        return "an object of strings"
    names = {type(None): "null", int: "an integer", float: "a finite number", str: "a string"}
    if hint is bool:
        return "true or false"
    if is_dataclass(hint):
        return f"an object with the fields {[f.name for f in fields(hint)]}"
    return names.get(hint, getattr(hint, "__name__", str(hint)))


@dataclass
class Run:
    """A run folder with its resolved use case, target and evaluator."""

    config: RunConfig
    folder: Path
    usecase: UseCase
    target: Target
    evaluator: Evaluator
    bank: SimulationBank
    resumed: bool

    @property
    def plots(self) -> Path:
        path = self.folder / "plots"
        path.mkdir(exist_ok=True)
        return path


def open_run(config: RunConfig, folder: str | Path) -> Run:
    """Create the run folder, or reopen it to continue if it holds the same run.

    Everything that can be refused is checked before anything is written: the stored
    configuration, the target (loaded, its features computed once), the bank's columns.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config_path = folder / "config.json"
    usecase = get_usecase(
        config.usecase,
        backend=config.backend,
        data_dir=config.data_dir,
        record_dt_ms=config.record_dt_ms,
        **config.options,
    )
    # Record what "default" resolved to, so the folder says exactly what ran.
    t = usecase.simulator.t
    config = replace(config, record_dt_ms=round(float(t[1] - t[0]), 12), backend=usecase.backend)
    resumed = config_path.exists()
    if resumed:
        stored = read_config(config_path).to_json()  # fills new defaults
        if stored["backend"] is None:  # written before backends existed: the default ran
            stored["backend"] = usecase.backends[0]
        _check_same_run(stored, config, config_path)
    else:
        _refuse_orphan_bank(folder)
    target_spec = usecase.default_target if config.target == "default" else config.target
    target = usecase.load_target(target_spec, config.data_dir)
    _check_target(usecase, target, config.method)
    columns = {
        "theta": usecase.prior.names,
        "x": usecase.features.names,
        "components": list(usecase.cost.names),
    }
    bank = _open_bank(folder / "bank", columns)
    atomic_write_text(config_path, json.dumps(config.to_json(), indent=1))
    evaluator = Evaluator(usecase.simulator, usecase.features, usecase.cost, target)
    return Run(config, folder, usecase, target, evaluator, bank, resumed)


def _refuse_orphan_bank(folder: Path) -> None:
    """A bank without config.json holds simulations of unknown settings: never mix a new run into it."""
    bank = folder / "bank"
    batches = sorted(bank.glob("batch_*.npz")) if bank.is_dir() else []
    if batches:
        raise ValueError(
            f"{folder} holds {len(batches)} simulation batch file(s) in bank/ but no config.json, so the "
            "settings they were made with are unknown; restore config.json or choose another --out folder"
        )


def _check_target(usecase: UseCase, target: Target, method: str) -> None:
    """Compute the target's features once, so a summary that cannot handle the target (or a Bayesian
    target without defined features) is refused before any simulation."""
    if target.traces is not None:
        usecase.features(target.t, target.traces[None])
    if method in BAYESIAN_METHODS:
        target_features(usecase.features, target)


def _open_bank(folder: Path, columns: dict[str, list[str]]) -> SimulationBank:
    try:
        return SimulationBank(folder, columns)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(
            f"{folder / 'columns.json'} is not valid JSON ({err}); it names the columns of the bank's "
            "batch files: restore it, or choose another --out folder"
        ) from None


def _check_same_run(stored: dict[str, Any], config: RunConfig, path: Path) -> None:
    current = config.to_json()
    changed = [
        f"{k}: {stored.get(k)!r} → {current.get(k)!r}"
        for k in sorted(set(stored) | set(current))
        if k not in NOT_IDENTITY and stored.get(k) != current.get(k)
    ]
    if changed:
        raise ValueError(
            f"{path} belongs to a run with other settings ({'; '.join(changed)}). "
            "Re-run with the same settings to continue it, or choose another --out folder."
        )


def observed_features(run: Run) -> np.ndarray:
    """x_o: the target's features, with undefined ones filled as for training."""
    return target_features(run.usecase.features, run.target)


def target_features(features: Summary, target: Target) -> np.ndarray:
    """The features of ``target``, filled as for training; ValueError if any stays undefined."""
    if target.x_o is not None:
        raw = np.asarray(target.x_o, dtype=float)
    elif target.traces is not None:
        raw = features(target.t, target.traces[None])[0]
    else:
        raise ValueError(f"target {target.source} has neither traces nor features")
    x_o = features.fill_undefined(raw)
    if not np.all(np.isfinite(x_o)):
        bad = [n for n, v in zip(features.names, x_o, strict=True) if not np.isfinite(v)]
        raise ValueError(
            f"target {target.source}: features {bad} are undefined for the target trace; Bayesian "
            "inference needs every feature of the target (an optimiser, `sbi-neuro fit`, does not)"
        )
    return x_o


def _split(total: int, parts: int) -> list[int]:
    """``total`` in ``parts`` near-equal shares, the larger ones first."""
    return [total // parts + (1 if r < total % parts else 0) for r in range(parts)]
