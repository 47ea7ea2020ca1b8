"""Neural posterior estimation with sbi: an ensemble of networks trained on simulations.

``train_npe`` takes physical parameters and filled features, trains ``settings.ensemble_size``
networks with sbi's ``NPE`` and returns the ``TrainedPosterior`` of the members that trained well.
"""

from __future__ import annotations

import contextlib
import io
import sys
import time
import warnings
from collections.abc import Callable

import numpy as np
import torch

from priors import Prior
from sbi_neuro.inference.ensemble import Member, assemble_ensemble
from sbi_neuro.inference.posterior import TrainedPosterior
from sbi_neuro.inference.settings import NPESettings, network_builder


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
    builder = network_builder(settings)
    if seed != split_seed:
        builder = _seeded(builder, seed)
    show = progress and sys.stderr.isatty()  # epoch counters flood a log file
    inference = NPE(
        prior=prior.to_sbi(), density_estimator=builder, show_progress_bars=show, tracker=LossTracker()
    )
    with warnings.catch_warnings():
        # sbi warns when values lie beyond 10 interquartile ranges. Fill values ("no spike": 0 spikes,
        # latency = stimulus duration) make most columns' IQR tiny or 0, so 10-20% of rows count as
        # outliers; but z-scoring divides by the SD, not the IQR. Measured on 3,000 UC1 prior
        # simulations: the largest |z| is 36 (ap_half_width), so float32 z-scores still resolve
        # 4e-6 of an SD, and no two values that differ in float32 coincide after z-scoring beyond
        # float32's own rounding. Nothing for a user to act on.
        warnings.filterwarnings("ignore", message="Data has extreme outliers", category=UserWarning)
        inference.append_simulations(
            torch.as_tensor(prior.to_z(theta), dtype=torch.float32),
            torch.as_tensor(x, dtype=torch.float32),
            data_device="cpu",
        )
    start = time.perf_counter()
    # sbi prints its epoch counter and "converged after N epochs" to stdout, ending lines with "\r"
    # only: kept on a terminal that shows progress (then ended), else left out (the record has them).
    with contextlib.nullcontext() if show else contextlib.redirect_stdout(io.StringIO()):
        estimator = inference.train(
            training_batch_size=settings.training_batch_size,
            learning_rate=settings.learning_rate,
            validation_fraction=settings.validation_fraction,
            stop_after_epochs=settings.stop_after_epochs,
            max_num_epochs=settings.max_num_epochs,
        )
    if show:
        print()
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


def _seeded(builder: Callable[..., torch.nn.Module], seed: int) -> Callable[..., torch.nn.Module]:
    """``builder`` that seeds torch first: sbi calls it after drawing the validation split and before
    initialising the weights and shuffling batches."""

    def build(theta: torch.Tensor, x: torch.Tensor) -> torch.nn.Module:
        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)
        return builder(theta, x)

    return build
