"""Use cases: a problem = prior + simulator + summaries + cost + target.

One small declarative module per benchmark (``hh``, ``vclamp``, ``ca1_passive``, ``adex``,
``ca1_detailed``, ``hh_allen``, ``stg``), each with a ``build`` function; they are looked up by
name through ``sbi_neuro.registry`` (``get_usecase``), which also takes a user's own. Importing
this package loads none of them.
"""

from __future__ import annotations

from usecases.base import Cost, Summary, Target, UseCase

__all__ = ["Cost", "Summary", "Target", "UseCase"]
