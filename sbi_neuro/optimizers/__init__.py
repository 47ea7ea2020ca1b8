"""Optimisers behind one ask/tell interface on the unit cube of the prior (``AskTell``).

``BUILTIN`` maps each method name to its class: the baselines of the Neuroptimus comparison.
Names are resolved through ``sbi_neuro.registry`` (where ``register_optimizer`` adds others);
nothing below the registry looks an optimiser up by name.
"""

from __future__ import annotations

from collections.abc import Callable

from sbi_neuro.optimizers.base import AskTell, Optimizer
from sbi_neuro.optimizers.cma_es import CMAES, SeededCMAES
from sbi_neuro.optimizers.ibea import IBEA
from sbi_neuro.optimizers.pymoo_methods import DE, NSGA2, PSO
from sbi_neuro.optimizers.random_search import RandomSearch
from sbi_neuro.optimizers.scipy_local import LBFGSB, NelderMead

# (dim, seed, population_size, **settings) → a fresh optimiser
OptimizerFactory = Callable[..., AskTell]

BUILTIN: dict[str, OptimizerFactory] = {
    "cmaes": CMAES,
    "random": RandomSearch,
    "pso": PSO,
    "de": DE,
    "nsga2": NSGA2,
    "ibea": IBEA,
    "nelder_mead": NelderMead,
    "lbfgsb": LBFGSB,
}

__all__ = [
    "BUILTIN",
    "CMAES",
    "DE",
    "IBEA",
    "LBFGSB",
    "NSGA2",
    "PSO",
    "AskTell",
    "NelderMead",
    "Optimizer",
    "OptimizerFactory",
    "RandomSearch",
    "SeededCMAES",
]
