"""NPE settings: the density estimator, its training, and the network builder they define."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sbi_neuro.core.validation import check_types


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


def network_builder(settings: NPESettings):  # type: ignore[no-untyped-def]
    from sbi.neural_nets import posterior_nn

    return posterior_nn(
        model=settings.density_estimator,
        hidden_features=settings.hidden_features,
        num_transforms=settings.num_transforms,
    )


def sbi_version() -> str:
    import sbi

    return str(sbi.__version__)
