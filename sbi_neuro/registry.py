"""Names → objects, in one place: use cases, optimisers and methods.

Names (``"hh"``, ``"cmaes"``) are resolved here, once, at the edge: the command line, a run
folder's ``config.json``, the public verbs. Everything below the registry takes objects.

The built-in use cases are the modules of ``usecases`` named in ``BUILTIN_USECASES``; the built-in
optimisers are ``sbi_neuro.optimizers.BUILTIN``; the Bayesian methods are listed below. Others
join with ``register_usecase`` / ``register_optimizer``, or from an installed package through the
entry-point groups ``sbi_neuro.usecases`` and ``sbi_neuro.optimizers`` (each entry point names a
use-case module or build function, or an optimiser class or factory; the entry point's name is
the registered name). Importing this module is light: methods and use cases load on first use.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, replace
from importlib.metadata import entry_points
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from sbi_neuro.methods.config import RunConfig, check_bayesian_budget, check_optimizer_budget

if TYPE_CHECKING:
    from sbi_neuro.execution.dispatcher import Dispatcher
    from sbi_neuro.methods.outcomes import BankResult, FitResult
    from sbi_neuro.methods.workspace import Workspace
    from sbi_neuro.optimizers import OptimizerFactory
    from usecases import UseCase

BUILTIN_USECASES = ("hh", "vclamp", "ca1_passive", "adex", "ca1_detailed", "hh_allen", "stg")
USECASE_GROUP, OPTIMIZER_GROUP = "sbi_neuro.usecases", "sbi_neuro.optimizers"
COMMON_OPTIONS = ("data_dir", "record_dt_ms", "backend")  # every use case's build takes these
MIN_SAMPLES = 3  # the fewest samples any summary accepts (eFEL needs more than 2 points)

Kind = Literal["bayesian", "optimizer", "prior"]
RunMethod = Callable[["Workspace", "Dispatcher"], "FitResult | BankResult"]


@dataclass(frozen=True)
class UseCaseSpec:
    """A registered use case: its name, its build function and the simulator backends it runs on.

    ``build(**options)`` returns a ``UseCase``; it takes ``record_dt_ms`` and ``data_dir`` (and
    ``backend`` when it has several), plus options of its own (``sbi-neuro usecases`` lists them).
    """

    name: str
    build: Callable[..., UseCase]
    backends: tuple[str, ...] = ("neuron",)

    @property
    def options(self) -> list[str]:
        """The use case's own options (beyond data_dir, record_dt_ms and backend)."""
        return [p for p in inspect.signature(self.build).parameters if p not in COMMON_OPTIONS]

    def __call__(self, backend: str | None = None, **options: Any) -> UseCase:
        """Build the use case on ``backend`` (None: its default) with ``options``; ValueError names a
        wrong option or backend."""
        accepted = set(inspect.signature(self.build).parameters)
        unknown = sorted(set(options) - accepted)
        if unknown:
            own = ", ".join(self.options or ["none"])
            raise ValueError(f"use case {self.name!r} has no option {unknown}; its options: {own}")
        if options.get("record_dt_ms", 0) is None:
            options = {k: v for k, v in options.items() if k != "record_dt_ms"}
        backend = self.backends[0] if backend is None else backend
        if backend not in self.backends:
            raise ValueError(
                f"use case {self.name!r} runs on the backends {', '.join(self.backends)} (default "
                f"{self.backends[0]}); got --backend {backend!r}"
            )
        chosen = {k: str(v) for k, v in options.items() if k not in COMMON_OPTIONS}
        if "backend" in accepted:
            options["backend"] = backend
        usecase = replace(self.build(**options), backend=backend, backends=self.backends, options=chosen)
        samples = usecase.simulator.t.size
        if samples < MIN_SAMPLES:
            raise ValueError(
                f"record_dt_ms {options.get('record_dt_ms')} leaves {samples} sample(s) in the protocol of "
                f"{self.name!r}; summaries need at least {MIN_SAMPLES}: record more finely"
            )
        return usecase


@dataclass(frozen=True)
class MethodSpec:
    """A registered method: what it is, how it runs on a workspace, what it needs of the settings.

    Attributes:
        name: as given to ``--method``.
        kind: ``bayesian`` (a posterior), ``optimizer`` (a best fit) or ``prior`` (a bank only).
        run: ``(workspace, dispatcher) → result``.
        check: raises ValueError when a ``RunConfig`` does not suit the method (too small a budget).
        amortised: a Bayesian method whose posterior is trained on prior simulations, so that
            calibration on held-out prior simulations applies to it.
    """

    name: str
    kind: Kind
    run: RunMethod
    check: Callable[[RunConfig], None]
    amortised: bool = True

    @property
    def bayesian(self) -> bool:
        return self.kind == "bayesian"


_usecases: dict[str, UseCaseSpec] = {}
_methods: dict[str, MethodSpec] = {}
_loaded: set[str] = set()  # which tables hold their built-ins and entry points already


def register_usecase(
    name: str, build: Callable[..., UseCase], backends: tuple[str, ...] = ("neuron",), replace: bool = False
) -> UseCaseSpec:
    """Make ``build`` available as use case ``name`` (``sbi-neuro infer NAME``, ``get_usecase(NAME)``).

    ``backends``: the simulator engines ``build(backend=...)`` accepts, its default first.
    """
    _load_usecases()
    _check_new(name, _usecases, "use case", replace)
    if not backends:
        raise ValueError(f"use case {name!r}: backends must name at least one simulator engine")
    spec = UseCaseSpec(name, build, tuple(backends))
    _usecases[name] = spec
    return spec


def register_optimizer(name: str, factory: OptimizerFactory, replace: bool = False) -> MethodSpec:
    """Make ``factory`` available as method ``name`` (``sbi-neuro fit --method NAME``, ``compare``).

    ``factory(dim=..., seed=..., population_size=...)`` returns a fresh ask/tell optimiser on the unit
    cube (``sbi_neuro.optimizers.AskTell``).
    """
    _load_methods()
    _check_new(name, _methods, "method", replace)
    spec = _optimizer_spec(name, factory)
    _methods[name] = spec
    return spec


def get_usecase(name: str, backend: str | None = None, **options: Any) -> UseCase:
    """Build the use case registered as ``name``; ``options`` (``data_dir``, ``record_dt_ms``, ``cell``...)
    go to its build. ``backend`` picks the simulator (None: the use case's default)."""
    return usecase_spec(name)(backend, **options)


def usecase_of(config: RunConfig) -> UseCase:
    """The use case a run configuration names, built with its recorded backend and options."""
    return get_usecase(
        config.usecase,
        backend=config.backend,
        data_dir=config.data_dir,
        record_dt_ms=config.record_dt_ms,
        **config.options,
    )


def usecase_spec(name: str) -> UseCaseSpec:
    """The registered use case ``name``; ValueError lists those that exist."""
    _load_usecases()
    if name not in _usecases:
        raise ValueError(f"unknown use case {name!r}; available: {', '.join(sorted(_usecases))}")
    return _usecases[name]


def usecase_names() -> list[str]:
    """Registered use cases, built-ins first in their usual order."""
    _load_usecases()
    return list(_usecases)


def method_spec(name: str) -> MethodSpec:
    """The registered method ``name``; ValueError lists those that exist."""
    _load_methods()
    if name not in _methods:
        raise ValueError(f"unknown method {name!r}; available: {', '.join(method_names())}")
    return _methods[name]


def method_names(kind: Kind | None = None) -> list[str]:
    """Registered methods (of one ``kind``), in registration order; ``prior`` only when asked for."""
    _load_methods()
    if kind is None:
        return [n for n, m in _methods.items() if m.kind != "prior"]
    return [n for n, m in _methods.items() if m.kind == kind]


def optimizer_factory(name: str) -> OptimizerFactory:
    """The factory registered for optimiser ``name``."""
    spec = method_spec(name)
    factory = getattr(spec.run, "factory", None)
    if spec.kind != "optimizer" or factory is None:
        raise ValueError(f"{name!r} is not an optimiser; optimisers: {', '.join(method_names('optimizer'))}")
    return factory  # type: ignore[no-any-return]


# -- built-ins and entry points ----------------------------------------------------------------------
def _run_npe(ws: Workspace, dispatcher: Dispatcher) -> FitResult:
    from sbi_neuro.methods.bayesian import run_npe

    return run_npe(ws, dispatcher)


def _run_tsnpe(ws: Workspace, dispatcher: Dispatcher) -> FitResult:
    from sbi_neuro.methods.sequential import run_tsnpe

    return run_tsnpe(ws, dispatcher)


def _run_npe_cmaes(ws: Workspace, dispatcher: Dispatcher) -> FitResult:
    from sbi_neuro.methods.sequential import run_npe_cmaes

    return run_npe_cmaes(ws, dispatcher)


def _run_prior(ws: Workspace, dispatcher: Dispatcher) -> BankResult:
    from sbi_neuro.methods.bayesian import run_prior

    return run_prior(ws, dispatcher)


class _RunOptimizer:
    """``run`` of an optimiser's MethodSpec: ``run_optimizer`` with its factory."""

    def __init__(self, factory: OptimizerFactory) -> None:
        self.factory = factory

    def __call__(self, ws: Workspace, dispatcher: Dispatcher) -> FitResult:
        from sbi_neuro.methods.optimization import run_optimizer

        return run_optimizer(ws, dispatcher, self.factory)


def _optimizer_spec(name: str, factory: OptimizerFactory) -> MethodSpec:
    if not callable(factory):
        raise ValueError(f"optimiser {name!r}: the factory must be callable, got {factory!r}")
    return MethodSpec(name, "optimizer", _RunOptimizer(factory), check_optimizer_budget)


def _load_usecases() -> None:
    """Register the built-in use cases and those of installed packages, once."""
    if "usecases" in _loaded:
        return
    _loaded.add("usecases")
    for name in BUILTIN_USECASES:
        _usecases[name] = _spec_of_module(importlib.import_module(f"usecases.{name}"), name)
    for entry in entry_points(group=USECASE_GROUP):
        _usecases[entry.name] = _spec_of_module(entry.load(), entry.name)


def _load_methods() -> None:
    """Register the built-in methods and the optimisers of installed packages, once."""
    if "methods" in _loaded:
        return
    _loaded.add("methods")
    from sbi_neuro.optimizers import BUILTIN

    _methods.update(
        {
            "npe": MethodSpec("npe", "bayesian", _run_npe, check_bayesian_budget),
            "tsnpe": MethodSpec("tsnpe", "bayesian", _run_tsnpe, check_bayesian_budget, amortised=False),
            "npe_cmaes": MethodSpec("npe_cmaes", "bayesian", _run_npe_cmaes, check_bayesian_budget),
        }
    )
    _methods.update({name: _optimizer_spec(name, factory) for name, factory in BUILTIN.items()})
    _methods["prior"] = MethodSpec("prior", "prior", _run_prior, _no_check)
    for entry in entry_points(group=OPTIMIZER_GROUP):
        _methods[entry.name] = _optimizer_spec(entry.name, entry.load())


def _no_check(config: RunConfig) -> None:
    """``prior`` (a bank of prior simulations) accepts any budget."""


def _spec_of_module(found: ModuleType | Callable[..., UseCase], name: str) -> UseCaseSpec:
    """A use-case module declares ``build`` (or the entry point names the build function itself) and,
    when it runs on several engines, ``BACKENDS`` (on the module, or as an attribute of the function)."""
    build = found.build if isinstance(found, ModuleType) else found
    backends = getattr(found, "BACKENDS", ("neuron",))
    return UseCaseSpec(getattr(found, "NAME", name), build, tuple(backends))


def _check_new(name: str, table: dict[str, Any], what: str, replace: bool) -> None:
    if not isinstance(name, str) or not name.replace("_", "").isalnum():
        raise ValueError(f"a {what} name must be a non-empty identifier (letters, digits, _), got {name!r}")
    if name in table and not replace:
        raise ValueError(f"{what} {name!r} is registered already; pass replace=True to replace it")
