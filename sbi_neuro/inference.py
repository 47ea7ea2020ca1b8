"""Neural posterior estimation with sbi: training, saving as plain data, sampling, MAP.

Inference happens in the prior's inference space (log10 for log-scaled
parameters), where the prior is a ``BoxUniform``; everything returned to the
caller is in physical units. The MAP is the mode in that space.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from priors import Prior


@dataclass(frozen=True)
class NPESettings:
    """Density estimator and training settings (sbi defaults unless stated)."""

    density_estimator: Literal["maf", "nsf"] = "maf"
    hidden_features: int = 50
    num_transforms: int = 5
    training_batch_size: int = 200
    learning_rate: float = 5e-4
    validation_fraction: float = 0.1
    stop_after_epochs: int = 20
    max_num_epochs: int = 1000

    def __post_init__(self) -> None:
        if self.density_estimator not in ("maf", "nsf"):
            raise ValueError(f"density_estimator must be 'maf' or 'nsf', got {self.density_estimator!r}")
        if not 0 < self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in (0, 1), got {self.validation_fraction}")


class TrainedPosterior:
    """A trained NPE posterior over a ``Prior``, with x preprocessing and provenance."""

    def __init__(
        self,
        prior: Prior,
        estimator: torch.nn.Module,
        settings: NPESettings,
        feature_mask: np.ndarray,
        info: dict[str, object],
    ) -> None:
        from sbi.inference.posteriors import DirectPosterior

        self.prior = prior
        self.estimator = estimator
        self.settings = settings
        self.feature_mask = feature_mask.astype(bool)
        self.info = info
        self.posterior = DirectPosterior(estimator, prior.to_sbi())

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
        return self.prior.from_z(z.numpy().astype(float))

    def log_prob(self, theta: np.ndarray, x_o: np.ndarray) -> np.ndarray:
        """Posterior log-density in inference space at physical ``theta``."""
        z = torch.as_tensor(self.prior.to_z(theta), dtype=torch.float32)
        with torch.no_grad():
            return self.posterior.log_prob(z, x=self._x(x_o)).numpy().astype(float)

    def map(self, x_o: np.ndarray, seed: int, num_iter: int = 300) -> np.ndarray:
        """Maximum a posteriori estimate (gradient ascent from the best of many samples)."""
        torch.manual_seed(seed)
        self.posterior.set_default_x(self._x(x_o))
        # map() draws its starting points with sbi's own progress bar: keep it off the terminal.
        with contextlib.redirect_stderr(io.StringIO()):
            z = self.posterior.map(num_iter=num_iter, num_init_samples=1000, show_progress_bars=False)
        return self.prior.from_z(z.detach().numpy().astype(float).reshape(1, -1))[0]

    # -- persistence: a state dict plus a JSON spec, no pickled objects ----------
    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / "estimator.pt.tmp"
        torch.save(self.estimator.state_dict(), tmp)
        tmp.replace(folder / "estimator.pt")
        spec = {
            "settings": asdict(self.settings),
            "prior": self.prior.to_config(),
            "feature_mask": self.feature_mask.tolist(),
            "theta_dim": self.prior.dim,
            "x_dim": int(self.feature_mask.sum()),
            "sbi_version": _sbi_version(),
            "info": self.info,
        }
        (folder / "spec.json.tmp").write_text(json.dumps(spec, indent=1))
        (folder / "spec.json.tmp").replace(folder / "spec.json")

    @classmethod
    def load(cls, folder: str | Path, prior: Prior) -> TrainedPosterior:
        folder = Path(folder)
        spec = json.loads((folder / "spec.json").read_text())
        if spec["prior"] != prior.to_config():
            raise ValueError(f"posterior in {folder} was trained with another prior: {spec['prior']}")
        settings = NPESettings(**spec["settings"])
        estimator = _build_estimator(settings, spec["theta_dim"], spec["x_dim"])
        estimator.load_state_dict(torch.load(folder / "estimator.pt", weights_only=True))
        estimator.eval()
        return cls(prior, estimator, settings, np.array(spec["feature_mask"]), spec["info"])


def train_npe(
    prior: Prior,
    theta: np.ndarray,
    x: np.ndarray,
    settings: NPESettings,
    seed: int,
    progress: bool = False,
) -> TrainedPosterior:
    """Train NPE on simulations (physical θ, filled features). Rows with NaN x are dropped."""
    from sbi.inference import NPE

    valid = np.all(np.isfinite(x), axis=1)
    if valid.sum() < 50:
        raise ValueError(
            f"only {valid.sum()} of {len(x)} simulations gave finite features; "
            "NPE needs at least 50 — raise the number of simulations or check the simulator"
        )
    theta, x = theta[valid], x[valid]
    # A constant feature carries no information and breaks z-scoring: leave it out.
    mask = np.std(x, axis=0) > 1e-12 * np.maximum(1.0, np.abs(np.mean(x, axis=0)))
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    tracker = LossTracker()
    inference = NPE(
        prior=prior.to_sbi(),
        density_estimator=_builder(settings),
        show_progress_bars=progress and sys.stderr.isatty(),  # epoch counters flood a log file
        tracker=tracker,
    )
    inference.append_simulations(
        torch.as_tensor(prior.to_z(theta), dtype=torch.float32),
        torch.as_tensor(x[:, mask], dtype=torch.float32),
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
    summary = inference.summary
    info: dict[str, object] = {
        "seed": seed,
        "training_simulations": int(valid.sum()),
        "dropped_invalid": int((~valid).sum()),
        "epochs": int(summary["epochs_trained"][-1]),
        "training_wall_s": round(time.perf_counter() - start, 1),
        "best_validation_loss": float(summary["best_validation_loss"][-1]),
        "validation_loss_per_epoch": [float(v) for v in summary["validation_loss"]],
        "training_loss_per_epoch": [float(v) for v in summary["training_loss"]],
    }
    estimator.eval()
    return TrainedPosterior(prior, estimator, settings, mask, info)


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


def _build_estimator(settings: NPESettings, theta_dim: int, x_dim: int) -> torch.nn.Module:
    # The z-scoring statistics are buffers, restored by load_state_dict afterwards.
    gen = torch.Generator().manual_seed(0)
    return _builder(settings)(
        torch.randn(64, theta_dim, generator=gen), torch.randn(64, x_dim, generator=gen)
    )


def _sbi_version() -> str:
    import sbi

    return str(sbi.__version__)
