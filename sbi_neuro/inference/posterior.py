"""A trained NPE posterior over a ``Prior``: sampling, densities, MAP, and saving as plain data.

Inference happens in the prior's inference space (log10 for log-scaled parameters), where the
prior is a ``BoxUniform``; everything returned to the caller is in physical units. The MAP is the
mode in that space. The posterior is the equal-weight mixture of the kept networks of an ensemble
(``sbi_neuro.inference.ensemble``).
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from priors import Prior
from sbi_neuro.core.files import atomic_path, atomic_write_json
from sbi_neuro.inference.settings import NPESettings, network_builder, sbi_version

if TYPE_CHECKING:
    from sbi.neural_nets.estimators import ConditionalDensityEstimator


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
            with atomic_path(folder / f"estimator_{i}.pt") as tmp:
                torch.save(estimator.state_dict(), tmp)
        spec = {
            "settings": asdict(self.settings),
            "prior": self.prior.to_config(),
            "feature_mask": self.feature_mask.tolist(),
            "theta_dim": self.prior.dim,
            "x_dim": int(self.feature_mask.sum()),
            "kept": self.kept,
            "sbi_version": sbi_version(),
            "info": self.info,
        }
        atomic_write_json(folder / "spec.json", spec)

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


def _mixture(prior: Prior, estimators: Sequence[torch.nn.Module]) -> Any:
    """sbi's equal-weight ``EnsemblePosterior`` of the estimators, or a ``DirectPosterior`` for one."""
    from sbi.inference.posteriors import DirectPosterior, EnsemblePosterior

    sbi_prior = prior.to_sbi()
    posteriors = [DirectPosterior(e, sbi_prior) for e in estimators]
    if len(posteriors) == 1:
        return posteriors[0]
    # The members' transform to unbounded space, so map() ascends inside the prior's box like theirs.
    return EnsemblePosterior(posteriors, theta_transform=posteriors[0].theta_transform)


def _load_estimator(settings: NPESettings, theta_dim: int, x_dim: int, path: Path) -> torch.nn.Module:
    # The z-scoring statistics are buffers, restored by load_state_dict after building.
    gen = torch.Generator().manual_seed(0)
    estimator = network_builder(settings)(
        torch.randn(64, theta_dim, generator=gen), torch.randn(64, x_dim, generator=gen)
    )
    estimator.load_state_dict(torch.load(path, weights_only=True))
    return estimator.eval()
