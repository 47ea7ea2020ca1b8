"""Ensembles of NPE networks: a training can fail silently, so several are trained and compared.

The network may settle on a posterior that ignores x (about one training in six on a toy
problem). ``sbi_neuro.inference.npe.train_npe`` therefore trains networks with different seeds on
the same data and validation split; ``assemble_ensemble`` drops any member whose validation loss is
far above the best one's, with a loud warning, and the posterior is the mixture of the others.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from priors import Prior
from sbi_neuro.inference.posterior import TrainedPosterior
from sbi_neuro.inference.settings import NPESettings

# A member is dropped when its best validation loss (mean −log q(θ|x) per validation simulation, nats)
# exceeds the best member's by more than this. Members share data and validation split, so they differ
# only in initial weights and batch order. Measured on a 2-d toy (x = θ + 5 % noise): converged trainings
# (2000 simulations, default settings) spread by 0.08 nats over six seeds; with training capped at 40
# epochs (500 simulations) five of six lay within 0.3 nats and one, still learning at the cap, 1.3 nats
# behind (a worse posterior, rightly dropped). A posterior that ignores x scores the prior's entropy, worse
# than a trained one by the information x carries about θ: 4 nats on that toy, more with more
# parameters. One nat per simulation means the dropped network gives held-out parameters on average
# e ≈ 2.7 times less density than the best one: clearly worse, not seed noise.
DIVERGENCE_MARGIN_NATS = 1.0


class EnsembleDivergenceWarning(UserWarning):
    """An ensemble member's training failed (validation loss far above the best) and it was dropped."""


@dataclass
class Member:
    """One trained network of an ensemble, with its training record."""

    estimator: torch.nn.Module
    seed: int
    best_validation_loss: float
    epochs: int
    training_wall_s: float
    validation_loss_per_epoch: list[float]
    training_loss_per_epoch: list[float]
    validation_indices: np.ndarray  # rows of the training data sbi held out for validation


def select_members(losses: Sequence[float], margin: float = DIVERGENCE_MARGIN_NATS) -> list[bool]:
    """Which members to keep: those whose best validation loss is within ``margin`` of the lowest.

    A non-finite loss counts as diverged. At least one member is always kept: when no loss is
    finite there is nothing to compare, and all are kept.
    """
    if len(losses) == 0:
        raise ValueError("an ensemble needs at least one member")
    if not margin >= 0:
        raise ValueError(f"margin must be >= 0 nats, got {margin}")
    values = np.asarray(losses, dtype=float)
    finite = np.isfinite(values)
    if not finite.any():
        return [True] * len(values)
    best = values[finite].min()
    return [bool(f and v <= best + margin) for f, v in zip(finite, values, strict=True)]


def assemble_ensemble(
    prior: Prior,
    members: Sequence[Member],
    settings: NPESettings,
    feature_mask: np.ndarray,
    data: Mapping[str, object] | None = None,
    margin: float = DIVERGENCE_MARGIN_NATS,
) -> TrainedPosterior:
    """The posterior of the members ``select_members`` keeps; a loud warning names each dropped one.

    ``data`` (e.g. the number of training simulations) goes into ``info`` with the ensemble record.
    """
    kept = select_members([m.best_validation_loss for m in members], margin)
    warning = divergence_message(members, kept, margin)
    if warning is not None:
        warnings.warn(warning, EnsembleDivergenceWarning, stacklevel=2)
        rule = "!" * 100
        print(f"\n{rule}\nWARNING: {warning}\n{rule}\n", file=sys.stderr, flush=True)
    info = _ensemble_info(members, kept, margin, warning, data or {})
    return TrainedPosterior(prior, [m.estimator for m in members], settings, feature_mask, info, kept)


def divergence_message(members: Sequence[Member], kept: Sequence[bool], margin: float) -> str | None:
    """What was dropped and why, or None when every member is kept."""
    dropped = [i for i, k in enumerate(kept) if not k]
    if not dropped:
        return None
    best = min((i for i, k in enumerate(kept) if k), key=lambda i: members[i].best_validation_loss)
    ref = members[best]
    lines = [
        f"NPE ENSEMBLE: {len(dropped)} of {len(members)} networks DIVERGED and were DROPPED.",
        *(
            f"  member {i} (seed {members[i].seed}): best validation loss "
            f"{members[i].best_validation_loss:.3f} vs {ref.best_validation_loss:.3f} for member {best} "
            f"(seed {ref.seed}), {members[i].best_validation_loss - ref.best_validation_loss:.2f} nats "
            f"per simulation worse (allowed: {margin:g})."
            for i in dropped
        ),
        "  A loss this far above the best means that training failed: most likely the network learnt a "
        "posterior that ignores the data x.",
        f"  The posterior uses the {sum(kept)} remaining network(s) only.",
    ]
    return "\n".join(lines)


def _ensemble_info(
    members: Sequence[Member],
    kept: Sequence[bool],
    margin: float,
    warning: str | None,
    data: Mapping[str, object],
) -> dict[str, object]:
    """Provenance: epochs and loss curves are the first member's, the best loss the kept members' best."""
    first = members[0]
    ensemble = {
        "members": [
            {
                "seed": m.seed,
                "best_validation_loss": m.best_validation_loss,
                "epochs": m.epochs,
                "training_wall_s": m.training_wall_s,
                "kept": k,
            }
            for m, k in zip(members, kept, strict=True)
        ],
        "kept": sum(kept),
        "margin_nats": margin,
        "warning": warning,
    }
    return {
        "seed": first.seed,
        **data,
        "epochs": first.epochs,
        "training_wall_s": round(sum(m.training_wall_s for m in members), 1),
        "best_validation_loss": min(m.best_validation_loss for m, k in zip(members, kept, strict=True) if k),
        "ensemble": ensemble,
        "validation_loss_per_epoch": first.validation_loss_per_epoch,
        "training_loss_per_epoch": first.training_loss_per_epoch,
    }
