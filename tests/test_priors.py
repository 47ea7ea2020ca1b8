import numpy as np
import pytest
import torch

from priors import Parameter, Prior


@pytest.fixture
def prior() -> Prior:
    return Prior(
        [
            Parameter("g", "S/cm2", 1e-3, 1.0, "log"),
            Parameter("e", "mV", -90.0, -50.0, "linear"),
        ]
    )


def test_samples_lie_in_bounds_and_are_log_uniform(prior: Prior) -> None:
    theta = prior.sample(20_000, np.random.default_rng(0))
    assert theta.shape == (20_000, 2)
    assert np.all(prior.contains(theta))
    # log-uniform over three decades: a third of the mass in each decade
    frac = np.mean(theta[:, 0] < 1e-2)
    assert abs(frac - 1 / 3) < 0.02
    assert abs(np.mean(theta[:, 1]) - (-70.0)) < 0.5


def test_same_seed_same_samples(prior: Prior) -> None:
    a = prior.sample(5, np.random.default_rng(3))
    b = prior.sample(5, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)


def test_log_prob_is_a_density_in_physical_units(prior: Prior) -> None:
    theta = np.array([[0.01, -70.0], [0.1, -60.0]])
    expected = -np.log(theta[:, 0] * np.log(10) * 3.0) - np.log(40.0)
    np.testing.assert_allclose(prior.log_prob(theta), expected)
    assert prior.log_prob(np.array([[2.0, -70.0]]))[0] == -np.inf
    # integrates to one: Monte Carlo over the bounding box
    rng = np.random.default_rng(1)
    box = rng.uniform([1e-3, -90], [1.0, -50], size=(400_000, 2))
    integral = np.mean(np.exp(prior.log_prob(box))) * (1.0 - 1e-3) * 40.0
    assert abs(integral - 1.0) < 0.05


def test_transforms_round_trip(prior: Prior) -> None:
    theta = prior.sample(100, np.random.default_rng(2))
    np.testing.assert_allclose(prior.from_unit(prior.to_unit(theta)), theta)
    np.testing.assert_allclose(prior.from_z(prior.to_z(theta)), theta)
    assert np.all((prior.to_unit(theta) >= 0) & (prior.to_unit(theta) <= 1))


def test_sbi_prior_is_the_box_in_inference_space(prior: Prior) -> None:
    box = prior.to_sbi()
    z = torch.as_tensor(prior.to_z(np.array([[0.01, -70.0]])), dtype=torch.float32)
    assert torch.isfinite(box.log_prob(z)).all()
    draws = box.sample((1000,)).numpy()
    assert draws[:, 0].min() >= -3 and draws[:, 0].max() <= 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"low": 1.0, "high": 1.0}, "must be smaller than high"),
        ({"low": 2.0, "high": 1.0}, "must be smaller than high"),
        ({"low": 0.0, "high": 1.0, "scale": "log"}, "needs low > 0"),
        ({"low": 0.0, "high": float("nan")}, "finite"),
        ({"low": 0.0, "high": 1.0, "scale": "cubic"}, "scale must be"),
    ],
)
def test_bad_parameters_name_the_problem(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        Parameter("gbar", "S/cm2", **kwargs)
    assert "gbar" in str(info.value)


def test_duplicate_names_rejected() -> None:
    with pytest.raises(ValueError, match="repeated"):
        Prior([Parameter("a", "", 0, 1), Parameter("a", "", 0, 2)])


def test_wrong_shape_rejected(prior: Prior) -> None:
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        prior.to_z(np.zeros((3, 5)))
