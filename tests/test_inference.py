"""NPE training, saving as plain data and reloading, on a problem with a known answer."""

from pathlib import Path

import numpy as np

from priors import Parameter, Prior
from sbi_neuro.inference.npe import train_npe
from sbi_neuro.inference.posterior import TrainedPosterior
from sbi_neuro.inference.settings import NPESettings


def linear_gaussian(n: int, rng: np.random.Generator, prior: Prior) -> tuple[np.ndarray, np.ndarray]:
    theta = prior.sample(n, rng)
    z = prior.to_z(theta)
    x = np.column_stack(
        [z[:, 0] + 0.05 * rng.normal(size=n), z[:, 1] + 0.05 * rng.normal(size=n), np.ones(n)]
    )
    return theta, x


def test_posterior_concentrates_and_round_trips_through_disk(tmp_path: Path) -> None:
    prior = Prior([Parameter("a", "", 0.0, 1.0), Parameter("b", "nS", 1e-2, 1.0, "log")])
    theta, x = linear_gaussian(2000, np.random.default_rng(0), prior)
    settings = NPESettings(max_num_epochs=60)
    post = train_npe(prior, theta, x, settings, seed=0)
    assert post.feature_mask.tolist() == [True, True, False]  # the constant feature is left out
    x_o = np.array([0.3, -1.0, 1.0])
    samples = post.sample(2000, x_o, seed=1)
    z = prior.to_z(samples)
    assert abs(z[:, 0].mean() - 0.3) < 0.05 and abs(z[:, 1].mean() + 1.0) < 0.05
    assert z[:, 0].std() < 0.15
    theta_map = post.map(x_o, seed=0, num_iter=100)
    assert abs(theta_map[0] - 0.3) < 0.05 and abs(np.log10(theta_map[1]) + 1.0) < 0.05

    post.save(tmp_path / "posterior")
    saved = sorted(p.name for p in (tmp_path / "posterior").iterdir())
    assert saved == ["estimator_0.pt", "estimator_1.pt", "spec.json"]  # a two-network ensemble
    loaded = TrainedPosterior.load(tmp_path / "posterior", prior)
    probe = samples[:50]
    np.testing.assert_allclose(loaded.log_prob(probe, x_o), post.log_prob(probe, x_o), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(loaded.sample(100, x_o, seed=5), post.sample(100, x_o, seed=5))


def test_failed_rows_are_dropped_and_counted() -> None:
    prior = Prior([Parameter("a", "", 0.0, 1.0)])
    rng = np.random.default_rng(0)
    theta = prior.sample(300, rng)
    x = theta + 0.01 * rng.normal(size=theta.shape)
    x[:40] = np.nan
    post = train_npe(prior, theta, x, NPESettings(max_num_epochs=5), seed=0)
    assert post.info["dropped_invalid"] == 40 and post.info["training_simulations"] == 260
