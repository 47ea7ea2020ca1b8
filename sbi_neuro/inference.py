"""Neural posterior estimation with sbi: training, saving as plain data, sampling, MAP.

Inference happens in the prior's inference space (log10 for log-scaled
parameters), where the prior is a ``BoxUniform``; everything returned to the
caller is in physical units. The MAP is the mode in that space.

A training can fail silently: the network settles on a posterior that ignores x
(about one training in six on a toy problem). ``train_npe`` therefore trains an
ensemble of networks with different seeds on the same data and validation split,
drops any member whose validation loss is far above the best one's, with a loud
warning (``select_members``), and uses the equal-weight mixture of the others.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch

from priors import Prior

if TYPE_CHECKING:
    from sbi.neural_nets.estimators import ConditionalDensityEstimator

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


@dataclass(frozen=True)
class NPESettings:
    """Density estimator and training settings (sbi defaults unless stated).

    ``ensemble_size`` networks are trained with seeds seed, seed + 1, ... (see ``train_npe``).
    """

    density_estimator: Literal["maf", "nsf"] = "maf"
    hidden_features: int = 50
    num_transforms: int = 5
    training_batch_size: int = 200
    learning_rate: float = 5e-4
    validation_fraction: float = 0.1
    stop_after_epochs: int = 20
    max_num_epochs: int = 1000
    ensemble_size: int = 2

    def __post_init__(self) -> None:
        if self.density_estimator not in ("maf", "nsf"):
            raise ValueError(f"density_estimator must be 'maf' or 'nsf', got {self.density_estimator!r}")
        if not 0 < self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in (0, 1), got {self.validation_fraction}")
        size = self.ensemble_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(
                f"ensemble_size must be an integer >= 1 (networks trained with different seeds), got {size!r}"
            )


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


class TrainedPosterior:
    """A trained NPE posterior over a ``Prior``, with x preprocessing and provenance.

    ``posterior`` (an sbi posterior over the inference space) is the equal-weight mixture of the kept
    ``estimators`` (sbi's ``EnsemblePosterior``), or a plain ``DirectPosterior`` when one is kept.
    """

    def __init__(
        self,
        prior: Prior,
        estimators: Sequence[torch.nn.Module],
        settings: NPESettings,
        feature_mask: np.ndarray,
        info: dict[str, object],
        kept: Sequence[bool] | None = None,
    ) -> None:
        kept = [True] * len(estimators) if kept is None else [bool(k) for k in kept]
        if len(kept) != len(estimators) or not any(kept):
            raise ValueError(f"need one kept flag per estimator and at least one kept, got {kept}")
        self.prior = prior
        self.estimators = list(estimators)
        self.kept = kept
        self.settings = settings
        self.feature_mask = feature_mask.astype(bool)
        self.info = info
        self.posterior = _mixture(prior, self.kept_estimators)
        self._condition: torch.Tensor | None = None  # sbi's default x, set by ``_at``

    @property
    def kept_estimators(self) -> list[ConditionalDensityEstimator]:
        """The networks of the posterior: the kept members of the ensemble."""
        return [e for e, k in zip(self.estimators, self.kept, strict=True) if k]

    def _x(self, x: np.ndarray) -> torch.Tensor:
        x = np.atleast_2d(np.asarray(x, dtype=float))[:, self.feature_mask]
        if not np.all(np.isfinite(x)):
            raise ValueError(
                "the observed features contain NaN or inf after filling undefined values; "
                "the target cannot be conditioned on"
            )
        return torch.as_tensor(x, dtype=torch.float32)

    def sample(self, n: int, x_o: np.ndarray, seed: int) -> np.ndarray:
        """``n`` posterior samples at ``x_o``, physical units ``(n, d)``."""
        torch.manual_seed(seed)
        z = self.posterior.sample((n,), x=self._x(x_o), show_progress_bars=False)
        if sum(self.kept) > 1:  # sbi returns a mixture's samples grouped by member; callers take slices
            z = z[torch.randperm(len(z))]
        return self.prior.from_z(z.numpy().astype(float))

    def log_prob(self, theta: np.ndarray, x_o: np.ndarray, normalised: bool = True) -> np.ndarray:
        """Posterior log-density in inference space at physical ``theta``.

        sbi renormalises a density that leaks mass outside the prior box by a factor it estimates
        by rejection sampling (slow when the leak is large: most samples outside the box). It is
        estimated once per ``x_o`` here. ``normalised=False`` skips it: enough wherever only
        densities at one ``x_o`` are compared (truncation thresholds, paths).
        """
        z = torch.as_tensor(self.prior.to_z(theta), dtype=torch.float32)
        self._at(x_o)
        with torch.no_grad():
            return self.posterior.log_prob(z, norm_posterior=normalised).numpy().astype(float)

    def _at(self, x_o: np.ndarray) -> None:
        """Make ``x_o`` sbi's default x, so that sbi keeps its normalising factor for it."""
        x = self._x(x_o)
        if self._condition is None or not torch.equal(self._condition, x):
            self.posterior.set_default_x(x)
            self._condition = x

    def map(self, x_o: np.ndarray, seed: int, num_iter: int = 300) -> np.ndarray:
        """Maximum a posteriori estimate (gradient ascent from the best of many samples)."""
        torch.manual_seed(seed)
        self._at(x_o)
        # map() draws its starting points with sbi's own progress bar: keep it off the terminal.
        with contextlib.redirect_stderr(io.StringIO()):
            z = self.posterior.map(num_iter=num_iter, num_init_samples=1000, show_progress_bars=False)
        return self.prior.from_z(z.detach().numpy().astype(float).reshape(1, -1))[0]

    # -- persistence: state dicts plus a JSON spec, no pickled objects ----------
    def save(self, folder: str | Path) -> None:
        """Write ``estimator_<i>.pt`` for every member (dropped ones too) and ``spec.json``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for i, estimator in enumerate(self.estimators):
            tmp = folder / f"estimator_{i}.pt.tmp"
            torch.save(estimator.state_dict(), tmp)
            tmp.replace(folder / f"estimator_{i}.pt")
        spec = {
            "settings": asdict(self.settings),
            "prior": self.prior.to_config(),
            "feature_mask": self.feature_mask.tolist(),
            "theta_dim": self.prior.dim,
            "x_dim": int(self.feature_mask.sum()),
            "kept": self.kept,
            "sbi_version": _sbi_version(),
            "info": self.info,
        }
        (folder / "spec.json.tmp").write_text(json.dumps(spec, indent=1))
        (folder / "spec.json.tmp").replace(folder / "spec.json")

    @classmethod
    def load(cls, folder: str | Path, prior: Prior) -> TrainedPosterior:
        """Read a folder written by ``save``, or by the single-network code (one ``estimator.pt``)."""
        folder = Path(folder)
        spec = json.loads((folder / "spec.json").read_text())
        if spec["prior"] != prior.to_config():
            raise ValueError(f"posterior in {folder} was trained with another prior: {spec['prior']}")
        settings = NPESettings(**spec["settings"])
        if "kept" in spec:
            kept = [bool(k) for k in spec["kept"]]
            files = [folder / f"estimator_{i}.pt" for i in range(len(kept))]
        else:  # saved before ensembles: one network, trained with one seed
            kept, files = [True], [folder / "estimator.pt"]
            settings = replace(settings, ensemble_size=1)
        estimators = [_load_estimator(settings, spec["theta_dim"], spec["x_dim"], f) for f in files]
        return cls(prior, estimators, settings, np.array(spec["feature_mask"]), spec["info"], kept)


def train_npe(
    prior: Prior,
    theta: np.ndarray,
    x: np.ndarray,
    settings: NPESettings,
    seed: int,
    progress: bool = False,
) -> TrainedPosterior:
    """Train NPE on simulations (physical θ, filled features). Rows with NaN x are dropped.

    ``settings.ensemble_size`` networks are trained with seeds seed, seed + 1, ... on the same
    training/validation split; diverged ones are dropped with a warning (``assemble_ensemble``).
    """
    valid = np.all(np.isfinite(x), axis=1)
    if valid.sum() < 50:
        raise ValueError(
            f"only {valid.sum()} of {len(x)} simulations gave finite features; "
            "NPE needs at least 50 — raise the number of simulations or check the simulator"
        )
    theta, x = theta[valid], x[valid]
    # A constant feature carries no information and breaks z-scoring: leave it out.
    mask = np.std(x, axis=0) > 1e-12 * np.maximum(1.0, np.abs(np.mean(x, axis=0)))
    members = [
        train_member(prior, theta, x[:, mask], settings, seed + k, split_seed=seed, progress=progress)
        for k in range(settings.ensemble_size)
    ]
    data = {"training_simulations": int(valid.sum()), "dropped_invalid": int((~valid).sum())}
    return assemble_ensemble(prior, members, settings, mask, data)


def train_member(
    prior: Prior,
    theta: np.ndarray,
    x: np.ndarray,
    settings: NPESettings,
    seed: int,
    split_seed: int | None = None,
    progress: bool = False,
) -> Member:
    """Train one network on physical ``theta`` and finite features ``x`` (every column is used).

    sbi draws the training/validation split with ``split_seed`` (default ``seed``), then the initial
    weights and batch order with ``seed``: members sharing ``split_seed`` are validated on the same
    simulations, so their losses compare directly. With ``split_seed == seed`` this is exactly the
    single-network training used before ensembles.
    """
    from sbi.inference import NPE

    split_seed = seed if split_seed is None else split_seed
    torch.manual_seed(split_seed)
    np.random.seed(split_seed % 2**32)
    builder = _builder(settings)
    if seed != split_seed:
        builder = _seeded(builder, seed)
    inference = NPE(
        prior=prior.to_sbi(),
        density_estimator=builder,
        show_progress_bars=progress and sys.stderr.isatty(),  # epoch counters flood a log file
        tracker=LossTracker(),
    )
    inference.append_simulations(
        torch.as_tensor(prior.to_z(theta), dtype=torch.float32),
        torch.as_tensor(x, dtype=torch.float32),
        data_device="cpu",
    )
    start = time.perf_counter()
    estimator = inference.train(
        training_batch_size=settings.training_batch_size,
        learning_rate=settings.learning_rate,
        validation_fraction=settings.validation_fraction,
        stop_after_epochs=settings.stop_after_epochs,
        max_num_epochs=settings.max_num_epochs,
    )
    estimator.eval()
    summary = inference.summary
    return Member(
        estimator=estimator,
        seed=seed,
        best_validation_loss=float(summary["best_validation_loss"][-1]),
        epochs=int(summary["epochs_trained"][-1]),
        training_wall_s=round(time.perf_counter() - start, 1),
        validation_loss_per_epoch=[float(v) for v in summary["validation_loss"]],
        training_loss_per_epoch=[float(v) for v in summary["training_loss"]],
        validation_indices=inference.val_indices.numpy().copy(),
    )


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


def _mixture(prior: Prior, estimators: Sequence[torch.nn.Module]) -> Any:
    """sbi's equal-weight ``EnsemblePosterior`` of the estimators, or a ``DirectPosterior`` for one."""
    from sbi.inference.posteriors import DirectPosterior, EnsemblePosterior

    sbi_prior = prior.to_sbi()
    posteriors = [DirectPosterior(e, sbi_prior) for e in estimators]
    if len(posteriors) == 1:
        return posteriors[0]
    # The members' transform to unbounded space, so map() ascends inside the prior's box like theirs.
    return EnsemblePosterior(posteriors, theta_transform=posteriors[0].theta_transform)


class LossTracker:
    """sbi ``Tracker`` that keeps metrics in memory instead of writing ./sbi-logs (TensorBoard).

    The loss curves end up in the run folder, in ``posterior/spec.json``.
    """

    log_dir: str | None = None

    def __init__(self) -> None:
        self.metrics: dict[str, list[float]] = {}

    def log_metric(self, name: str, value: float, step: int | None = None) -> None:
        self.metrics.setdefault(name, []).append(float(value))

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        for name, value in metrics.items():
            self.log_metric(name, value, step)

    def log_params(self, params: dict[str, object]) -> None:
        pass

    def add_figure(self, name: str, figure: object, step: int | None = None) -> None:
        pass

    def flush(self) -> None:
        pass


def _builder(settings: NPESettings):  # type: ignore[no-untyped-def]
    from sbi.neural_nets import posterior_nn

    return posterior_nn(
        model=settings.density_estimator,
        hidden_features=settings.hidden_features,
        num_transforms=settings.num_transforms,
    )


def _seeded(builder: Callable[..., torch.nn.Module], seed: int) -> Callable[..., torch.nn.Module]:
    """``builder`` that seeds torch first: sbi calls it after drawing the validation split and before
    initialising the weights and shuffling batches."""

    def build(theta: torch.Tensor, x: torch.Tensor) -> torch.nn.Module:
        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)
        return builder(theta, x)

    return build


def _load_estimator(settings: NPESettings, theta_dim: int, x_dim: int, path: Path) -> torch.nn.Module:
    # The z-scoring statistics are buffers, restored by load_state_dict after building.
    gen = torch.Generator().manual_seed(0)
    estimator = _builder(settings)(
        torch.randn(64, theta_dim, generator=gen), torch.randn(64, x_dim, generator=gen)
    )
    estimator.load_state_dict(torch.load(path, weights_only=True))
    return estimator.eval()


def _sbi_version() -> str:
    import sbi

    return str(sbi.__version__)
