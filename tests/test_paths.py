"""Connecting paths on a real trained posterior: a ring, where the straight line cuts through the hole."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from priors import Parameter, Prior
from sbi_neuro.analysis.connecting_paths import (
    PathDensity,
    curve,
    farthest_pair,
    optimise_path,
    orthogonal_path,
    straight_path,
    within_tolerance,
)
from sbi_neuro.inference.npe import train_npe
from sbi_neuro.inference.settings import NPESettings

PRIOR = Prior([Parameter("a", "1", 0.0, 1.0, "linear", ""), Parameter("b", "1", 0.0, 1.0, "linear", "")])
CENTRE, RADIUS = np.array([0.5, 0.5]), 0.3


def radius(theta: np.ndarray) -> np.ndarray:
    return np.linalg.norm(theta - CENTRE, axis=1)


@pytest.fixture(scope="module")
def ring() -> PathDensity:
    """NPE on x = ‖θ − c‖ + noise, conditioned on x = 0.3: its posterior is a ring (degenerate)."""
    rng = np.random.default_rng(0)
    theta = PRIOR.sample(4000, rng)
    x = (radius(theta) + 0.01 * rng.standard_normal(len(theta)))[:, None]
    # One network: the test is about path geometry, and averaging two networks makes the hole shallower.
    settings = NPESettings(stop_after_epochs=10, max_num_epochs=150, ensemble_size=1)
    posterior = train_npe(PRIOR, theta, x, settings, seed=1)
    return PathDensity(posterior, np.array([RADIUS]))


def endpoints(angle_deg: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    direction = np.array([np.cos(np.radians(angle_deg)), np.sin(np.radians(angle_deg))])
    return CENTRE + RADIUS * direction, CENTRE - RADIUS * direction


def test_curve_ends_at_the_endpoints_and_its_derivative_is_right() -> None:
    a, b = np.array([0.1, 0.2, 0.3]), np.array([0.7, 0.4, 0.9])
    coefficients = np.random.default_rng(1).normal(0, 0.3, (4, 3))
    s = np.linspace(0, 1, 101)
    points, slope = curve(a, b, coefficients, s)
    np.testing.assert_allclose(points[0], a, atol=1e-12)
    np.testing.assert_allclose(points[-1], b, atol=1e-12)
    np.testing.assert_allclose(slope[1:-1], (points[2:] - points[:-2]) / (s[2] - s[0]), atol=2e-3)
    straight, _ = curve(a, b, np.zeros((4, 3)), s)
    np.testing.assert_allclose(straight, a + s[:, None] * (b - a), atol=1e-12)


def test_high_probability_path_follows_the_ring_and_the_straight_line_does_not(ring: PathDensity) -> None:
    a, b = endpoints()
    samples = ring.posterior.sample(2000, np.array([RADIUS]), seed=2)
    assert np.median(np.abs(radius(samples) - RADIUS)) < 0.03  # the posterior is the ring
    log_prob_max = float(np.max(ring.log_prob_theta(samples))) + 1.0
    torch.manual_seed(0)
    path, record = optimise_path(ring, a, b, log_prob_max)
    line = straight_path(ring, a, b)
    assert record["loss_optimised"] < 0.8 * record["loss_straight_line"]
    np.testing.assert_allclose(path.theta[[0, -1]], [a, b], atol=1e-6)
    on_ring = np.abs(radius(path.theta) - RADIUS) < 0.05
    assert on_ring.mean() > 0.8, radius(path.theta)
    assert np.abs(radius(line.theta) - RADIUS).max() > 0.25  # through the hole
    assert path.log_prob.min() > line.log_prob.min() + 3.0


def test_orthogonal_path_crosses_the_path_and_leaves_the_ring(ring: PathDensity) -> None:
    a, b = endpoints()
    samples = ring.posterior.sample(2000, np.array([RADIUS]), seed=3)
    path, _ = optimise_path(ring, a, b, float(np.max(ring.log_prob_theta(samples))) + 1.0)
    contrast = orthogonal_path(ring, path, samples)
    mid = path.theta[len(path.theta) // 2]
    assert np.min(np.linalg.norm(contrast.theta - mid, axis=1)) < 0.02  # it crosses at the midpoint
    tangent = path.theta[len(path.theta) // 2 + 1] - path.theta[len(path.theta) // 2 - 1]
    direction = contrast.theta[-1] - contrast.theta[0]
    cosine = abs(tangent @ direction) / (np.linalg.norm(tangent) * np.linalg.norm(direction))
    assert cosine < 0.05
    assert np.all(PRIOR.contains(contrast.theta))
    assert contrast.log_prob.min() < path.log_prob.min() - 3.0


def test_farthest_pair_and_tolerance() -> None:
    points = np.array([[0.1, 0.1], [0.5, 0.5], [0.9, 0.8], [0.4, 0.6]])
    assert set(farthest_pair(points, points)) == {0, 2}
    with pytest.raises(ValueError, match="at least two"):
        farthest_pair(points[:1], points[:1])
    x_o, scale = np.array([1.0, 10.0]), np.array([1.0, 5.0])
    x = np.array([[1.05, 10.4], [1.2, 10.0], [np.nan, 10.0]])
    assert within_tolerance(x, x_o, scale, 0.1).tolist() == [True, False, False]
