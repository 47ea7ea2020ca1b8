"""NPE ensembles: members trained with different seeds, diverged ones dropped loudly, saved and reloaded.

Real (small) sbi trainings on x = z + noise, a problem where a trained posterior is far narrower than
the prior, so a network that ignores x has a validation loss several nats above a trained one.
"""

import json
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from priors import Parameter, Prior
from sbi_neuro.inference.ensemble import (
    DIVERGENCE_MARGIN_NATS,
    EnsembleDivergenceWarning,
    Member,
    assemble_ensemble,
    select_members,
)
from sbi_neuro.inference.npe import train_member, train_npe
from sbi_neuro.inference.posterior import TrainedPosterior
from sbi_neuro.inference.settings import NPESettings

PRIOR = Prior([Parameter("a", "", 0.0, 1.0), Parameter("b", "nS", 1e-2, 1.0, "log")])
QUICK = NPESettings(stop_after_epochs=5, max_num_epochs=40, training_batch_size=50)
X_O = np.array([0.3, -1.0])  # z of the parameters (0.3, 0.1 nS)
NOISE = 0.05


def simulations(n: int = 500) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    theta = PRIOR.sample(n, rng)
    return theta, PRIOR.to_z(theta) + NOISE * rng.normal(size=(n, 2))


def near_x_o(samples: np.ndarray) -> np.ndarray:
    """Samples within 0.2 (four noise widths) of the observation in inference space."""
    return np.all(np.abs(PRIOR.to_z(samples) - X_O) < 0.2, axis=1)


def single(posterior: TrainedPosterior, i: int) -> TrainedPosterior:
    """Member ``i`` of ``posterior`` on its own."""
    return TrainedPosterior(PRIOR, [posterior.estimators[i]], QUICK, posterior.feature_mask, {})


def seeded_log_prob(posterior: TrainedPosterior, theta: np.ndarray) -> np.ndarray:
    torch.manual_seed(0)  # sbi estimates each member's leakage outside the prior by sampling
    return posterior.log_prob(theta, X_O)


@pytest.fixture(scope="module")
def trained() -> TrainedPosterior:
    theta, x = simulations()
    with warnings.catch_warnings():
        warnings.simplefilter("error", EnsembleDivergenceWarning)
        return train_npe(PRIOR, theta, x, QUICK, seed=0)


@pytest.fixture(scope="module")
def good() -> Member:
    theta, x = simulations()
    return train_member(PRIOR, theta, x, QUICK, seed=0)


@pytest.fixture(scope="module")
def ignores_x() -> Member:
    """A network trained on x shuffled against θ: it can only learn the prior, as a failed training."""
    theta, x = simulations()
    shuffled = x[np.random.default_rng(1).permutation(len(x))]
    return train_member(PRIOR, theta, shuffled, QUICK, seed=7, split_seed=0)


# -- the rule ------------------------------------------------------------------------------------
def test_select_members_keeps_members_within_the_margin_of_the_best() -> None:
    assert select_members([-3.1, -3.0]) == [True, True]
    assert select_members([-3.2, 0.9]) == [True, False]
    assert select_members([0.9, -3.2, -3.0]) == [False, True, True]
    assert select_members([0.0, DIVERGENCE_MARGIN_NATS]) == [True, True]  # exactly at the margin
    assert select_members([0.0, DIVERGENCE_MARGIN_NATS + 1e-6]) == [True, False]
    assert select_members([0.0, 0.3], margin=0.2) == [True, False]
    assert select_members([0.0, 0.3], margin=0.5) == [True, True]
    assert select_members([2.5]) == [True]


def test_select_members_drops_non_finite_losses_but_never_everything() -> None:
    assert select_members([float("nan"), 0.5]) == [False, True]
    assert select_members([0.5, float("inf")]) == [True, False]
    assert select_members([float("nan"), float("inf")]) == [True, True]  # nothing to compare with
    rng = np.random.default_rng(0)
    for _ in range(200):
        losses = rng.normal(0, 3, rng.integers(1, 6))
        losses[rng.uniform(size=losses.size) < 0.2] = np.nan
        kept = select_members(list(losses))
        assert any(kept)
        if np.isfinite(losses).any():
            assert kept[int(np.nanargmin(losses))]


def test_select_members_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="at least one member"):
        select_members([])
    with pytest.raises(ValueError, match="margin"):
        select_members([0.0, 1.0], margin=-0.1)


def test_ensemble_size_is_validated() -> None:
    assert NPESettings().ensemble_size == 2
    for bad in (0, -1, 1.5):
        with pytest.raises(ValueError, match="ensemble_size"):
            NPESettings(ensemble_size=bad)  # type: ignore[arg-type]


# -- real trainings ------------------------------------------------------------------------------
def test_default_trains_two_members_keeps_both_and_records_them(trained: TrainedPosterior) -> None:
    assert len(trained.estimators) == 2 and trained.kept == [True, True]
    info = trained.info
    ensemble = info["ensemble"]
    assert isinstance(ensemble, dict)
    members = ensemble["members"]
    assert [m["seed"] for m in members] == [0, 1] and [m["kept"] for m in members] == [True, True]
    assert ensemble["kept"] == 2 and ensemble["margin_nats"] == DIVERGENCE_MARGIN_NATS
    assert ensemble["warning"] is None
    losses = [m["best_validation_loss"] for m in members]
    assert info["best_validation_loss"] == min(losses)
    assert max(losses) < -2.0  # both learnt: the prior's entropy here is log 2 ≈ 0.69 nats
    curve = info["validation_loss_per_epoch"]  # the first member's
    assert isinstance(curve, list) and info["epochs"] == members[0]["epochs"] == len(curve)
    assert info["training_simulations"] == 500 and info["dropped_invalid"] == 0
    json.dumps(info)  # it goes into summary.json


def test_ensemble_is_the_equal_weight_mixture_and_sample_log_prob_map_work(trained: TrainedPosterior) -> None:
    samples = trained.sample(1000, X_O, seed=1)
    assert samples.shape == (1000, 2) and near_x_o(samples).mean() > 0.95
    log_p = seeded_log_prob(trained, samples[:100])
    assert np.all(np.isfinite(log_p))
    parts = np.stack([seeded_log_prob(single(trained, i), samples[:100]) for i in (0, 1)])
    np.testing.assert_allclose(log_p, np.logaddexp(parts[0], parts[1]) - np.log(2), atol=2e-3)
    theta_map = trained.map(X_O, seed=0, num_iter=50)
    assert near_x_o(theta_map[None, :])[0]


def test_member_zero_is_the_single_network_training(trained: TrainedPosterior, good: Member) -> None:
    first = trained.info["ensemble"]["members"][0]  # type: ignore[index]
    assert good.best_validation_loss == first["best_validation_loss"] and good.epochs == first["epochs"]


def test_a_member_that_ignores_x_is_dropped_loudly(
    good: Member, ignores_x: Member, capsys: pytest.CaptureFixture[str]
) -> None:
    assert np.array_equal(good.validation_indices, ignores_x.validation_indices)  # same split
    assert ignores_x.best_validation_loss > good.best_validation_loss + 2.0
    with pytest.warns(EnsembleDivergenceWarning, match=r"member 1 \(seed 7\)") as record:
        posterior = assemble_ensemble(PRIOR, [good, ignores_x], QUICK, np.ones(2, bool), {"note": 1})
    message = str(record[0].message)
    assert "DIVERGED" in message and "ignores the data x" in message
    assert message in capsys.readouterr().err
    assert posterior.kept == [True, False] and len(posterior.estimators) == 2
    ensemble = posterior.info["ensemble"]
    assert isinstance(ensemble, dict)
    assert ensemble["kept"] == 1 and ensemble["warning"] == message
    assert [m["kept"] for m in ensemble["members"]] == [True, False]
    assert posterior.info["best_validation_loss"] == good.best_validation_loss
    assert posterior.info["note"] == 1
    # Only the good network is used: all samples sit at x_o; a mixture with the other would not.
    assert near_x_o(posterior.sample(1000, X_O, seed=2)).mean() > 0.95


def test_mixture_samples_are_shuffled_across_members(good: Member, ignores_x: Member) -> None:
    both = TrainedPosterior(
        PRIOR, [good.estimator, ignores_x.estimator], QUICK, np.ones(2, bool), {}, kept=[True, True]
    )
    near = near_x_o(both.sample(2000, X_O, seed=3))
    assert 0.35 < near.mean() < 0.7  # half the samples come from the network that learnt the prior
    assert 0.25 < near[:200].mean() < 0.8  # a leading slice is not one member's samples


# -- persistence ---------------------------------------------------------------------------------
def test_save_and_load_round_trip(trained: TrainedPosterior, tmp_path: Path) -> None:
    trained.save(tmp_path / "posterior")
    names = sorted(p.name for p in (tmp_path / "posterior").iterdir())
    assert names == ["estimator_0.pt", "estimator_1.pt", "spec.json"]
    assert json.loads((tmp_path / "posterior" / "spec.json").read_text())["kept"] == [True, True]
    loaded = TrainedPosterior.load(tmp_path / "posterior", PRIOR)
    assert loaded.kept == [True, True] and loaded.settings == QUICK and loaded.info == trained.info
    probe = trained.sample(200, X_O, seed=4)
    np.testing.assert_array_equal(seeded_log_prob(loaded, probe), seeded_log_prob(trained, probe))
    np.testing.assert_array_equal(loaded.sample(100, X_O, seed=5), trained.sample(100, X_O, seed=5))


def test_dropped_flags_survive_the_round_trip(good: Member, ignores_x: Member, tmp_path: Path) -> None:
    with pytest.warns(EnsembleDivergenceWarning):
        posterior = assemble_ensemble(PRIOR, [ignores_x, good], QUICK, np.ones(2, bool))
    posterior.save(tmp_path)
    loaded = TrainedPosterior.load(tmp_path, PRIOR)
    assert loaded.kept == [False, True] and len(loaded.estimators) == 2
    assert near_x_o(loaded.sample(500, X_O, seed=6)).mean() > 0.95


def test_a_folder_saved_before_ensembles_still_loads(trained: TrainedPosterior, tmp_path: Path) -> None:
    """The single-network layout: estimator.pt, and a spec without ensemble_size or kept flags."""
    estimator = trained.estimators[0]
    torch.save(estimator.state_dict(), tmp_path / "estimator.pt")
    settings = {k: v for k, v in asdict(QUICK).items() if k != "ensemble_size"}
    old_info = {k: v for k, v in trained.info.items() if k != "ensemble"}
    spec = {
        "settings": settings,
        "prior": PRIOR.to_config(),
        "feature_mask": [True, True],
        "theta_dim": 2,
        "x_dim": 2,
        "sbi_version": "0.24.0",
        "info": old_info,
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec, indent=1))
    loaded = TrainedPosterior.load(tmp_path, PRIOR)
    assert len(loaded.estimators) == 1 and loaded.kept == [True]
    assert loaded.settings.ensemble_size == 1 and loaded.info == old_info
    probe = trained.sample(100, X_O, seed=7)
    np.testing.assert_array_equal(seeded_log_prob(loaded, probe), seeded_log_prob(single(trained, 0), probe))
    assert near_x_o(loaded.sample(500, X_O, seed=8)).mean() > 0.95
