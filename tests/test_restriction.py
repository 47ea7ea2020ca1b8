"""The valid-region classifier (sbi's RestrictionEstimator) on a toy with a known valid region."""

from __future__ import annotations

import numpy as np
import pytest

from priors import Parameter, Prior
from sbi_neuro.inference.restriction import learn_valid_region

PRIOR = Prior([Parameter("a", "1", 0.0, 1.0, "linear", ""), Parameter("b", "1", 1e-3, 1.0, "log", "")])


def simulations(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Valid only where a < 0.3 (about 30% of the prior); invalid rows are NaN."""
    theta = PRIOR.sample(n, np.random.default_rng(seed))
    x = np.where(theta[:, :1] < 0.3, theta, np.nan)
    return theta, x


def test_restricted_samples_lie_in_the_valid_region_and_are_seeded() -> None:
    theta, x = simulations(3000, 0)
    region = learn_valid_region(PRIOR, theta, x, seed=1)
    assert region.valid == int(np.isfinite(x[:, 0]).sum()) and region.total == 3000
    drawn = region.sample(2000, seed=4)
    assert np.all(PRIOR.contains(drawn))
    assert np.mean(drawn[:, 0] < 0.3) > 0.8  # the prior gives 30%
    assert np.mean(drawn[:, 0] < 0.25) > 0.5  # and the valid region is covered, not just its edge
    np.testing.assert_array_equal(drawn, region.sample(2000, seed=4))
    # No valid training simulation is rejected (sbi's allowed_false_negatives = 0).
    assert region.accepts(theta[np.isfinite(x[:, 0])]).mean() > 0.99


def test_all_valid_keeps_the_prior_and_none_valid_is_an_error() -> None:
    theta = PRIOR.sample(200, np.random.default_rng(0))
    region = learn_valid_region(PRIOR, theta, theta.copy(), seed=1)
    assert region.restricted is None and region.accepts(theta).all()
    assert region.sample(50, 3).shape == (50, 2)
    with pytest.raises(ValueError, match="none of 200 simulations"):
        learn_valid_region(PRIOR, theta, np.full_like(theta, np.nan), seed=1)
