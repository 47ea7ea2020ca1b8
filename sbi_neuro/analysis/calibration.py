"""Calibration of a run's posterior on held-out simulations: SBC ranks, expected coverage and TARP.

A posterior is calibrated when its α credible regions hold the true parameters in a share α of
cases, over pairs (θ, x) drawn from the prior and the simulator. On a finished NPE run:

1. ``n_held_out`` parameter sets are drawn from the prior and simulated (seeded from the run
   seed, offset by ``CALIBRATION_OFFSET``); pairs whose features stay undefined after
   filling are left out and counted, as training left them out. The pairs are kept in
   ``RUN/calibration/held_out.npz`` and reused by a later call.
2. For each pair, ``n_samples`` posterior samples at x, by rejection inside the prior box with a cap
   on the flow draws (``draw_in_box``); the accepted share estimates each network's mass inside
   the box, which normalises the ensemble's density. A pair whose posterior leaks so much that the
   cap is reached (an x far from the training bulk) is counted as ``n_leaking`` and its truth as
   outside every credible region.
3. SBC (Talts et al. 2018): the rank of each true parameter among its posterior samples, one
   marginal at a time; uniform ranks for a calibrated posterior (KS p-values from sbi).
4. Expected coverage (HPD): the credibility of the truth is the share of posterior samples of
   higher posterior density than the truth; the empirical coverage at level α is the share of
   pairs whose truth has credibility < α. The run's one number, ``max_coverage_deviation``, is
   the largest |empirical coverage − α| over the levels. With finitely many pairs even the exact
   posterior deviates: ``calibrated_deviation_95`` is what 95% of exactly calibrated posteriors
   stay under (levels 0.05…0.95, 1000 samples: median 0.050 and 95% 0.085 at 200 pairs, 0.032
   and 0.056 at 500, 0.022 and 0.039 at 1000), the yardstick for a goal such as ≤ 0.05.
5. TARP (Lemos et al. 2023): the same with the share of samples closer than the truth to a random
   reference point (uniform over the prior, distances in the prior's unit cube); ATC and KS
   p-value from sbi's ``check_tarp``.

A posterior trained on a truncated proposal (TSNPE) is fitted to one target, not amortised over
the prior, and is refused. Outputs: ``RUN/calibration/calibration.json``, ``sbc_ranks.png`` and
``coverage.png``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.special import logsumexp
from tqdm.auto import tqdm

from sbi_neuro.core.files import atomic_savefig, atomic_savez, atomic_write_json
from sbi_neuro.core.plotting import pyplot
from sbi_neuro.core.seeds import CALIBRATION_OFFSET, batch_seed
from sbi_neuro.execution.dispatcher import Dispatcher
from sbi_neuro.inference.posterior import TrainedPosterior
from sbi_neuro.methods.workspace import Workspace
from sbi_neuro.registry import method_spec

DEFAULT_LEVELS = np.round(np.linspace(0.05, 0.95, 19), 2)
TARP_GRID = np.linspace(0.0, 1.0, 101)  # credibility grid of the TARP curve given to sbi's check_tarp
DRAWS_PER_SAMPLE = 100  # flow draws allowed per posterior sample before a pair counts as leaking
FLOW_CHUNK = 20_000  # flow draws per chunk after the first


@dataclass(frozen=True)
class HeldOut:
    """Held-out prior simulations: every simulated row, and which ones are usable."""

    theta: np.ndarray  # (n, d) physical units
    x: np.ndarray  # (n, k) features, undefined ones filled
    valid: np.ndarray  # (n,) all features finite
    reused: bool  # read from held_out.npz rather than simulated now

    @property
    def n_valid(self) -> int:
        return int(self.valid.sum())


@dataclass(frozen=True)
class PosteriorDraws:
    """Posterior samples at each held-out x, in the prior's unit cube, and the HPD credibility of θ."""

    samples: np.ndarray  # (n, s, d) unit cube
    truth: np.ndarray  # (n, d) unit cube
    hpd_credibility: np.ndarray  # (n,) share of samples of higher posterior density than the truth
    leaking: np.ndarray  # (n,) posterior mass inside the prior box too small to sample; counted uncovered


# -- pure pieces: no run, no training --------------------------------------------------------------
def sbc_ranks(samples: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Rank of each true parameter among its samples, per marginal: ``(n, d)`` integers in 0…s.

    Args:
        samples: ``(n, s, d)`` posterior samples for ``n`` pairs.
        truth: ``(n, d)`` true parameters.
    """
    return np.sum(samples < truth[:, None, :], axis=1)


def hpd_credibility(log_prob_samples: np.ndarray, log_prob_truth: np.ndarray) -> np.ndarray:
    """Credibility of the smallest highest-density region holding the truth, per pair.

    Args:
        log_prob_samples: ``(n, s)`` posterior log-densities of the posterior samples.
        log_prob_truth: ``(n,)`` posterior log-density of the true parameters.
    """
    return np.mean(log_prob_samples > log_prob_truth[:, None], axis=1)


def tarp_credibility(samples: np.ndarray, truth: np.ndarray, references: np.ndarray) -> np.ndarray:
    """TARP (Lemos et al. 2023, algorithm 2): share of samples closer to the reference than the truth.

    Args:
        samples: ``(n, s, d)`` posterior samples.
        truth: ``(n, d)`` true parameters.
        references: ``(n, d)`` one reference point per pair.
    """
    sample_distance = np.linalg.norm(samples - references[:, None, :], axis=-1)
    truth_distance = np.linalg.norm(truth - references, axis=-1)
    return np.mean(sample_distance < truth_distance[:, None], axis=1)


def empirical_coverage(credibility: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Share of pairs whose truth lies inside the α credible region, for each level α."""
    return np.mean(np.asarray(credibility)[:, None] < np.asarray(levels)[None, :], axis=0)


def max_deviation(coverage: np.ndarray, levels: np.ndarray) -> float:
    """Largest |empirical coverage − nominal level|."""
    return float(np.max(np.abs(np.asarray(coverage) - np.asarray(levels))))


def calibrated_deviation_quantile(
    n_pairs: int, n_samples: int, levels: np.ndarray, q: float = 0.95, reps: int = 2000, seed: int = 0
) -> float:
    """Quantile ``q`` of ``max_deviation`` for an exactly calibrated posterior (Monte Carlo).

    The yardstick for a measured deviation: with finitely many pairs even the true posterior
    deviates from the diagonal. Under calibration the truth is one more draw from the posterior,
    so the number of samples ranked above it is uniform on 0…``n_samples``.
    """
    rng = np.random.default_rng(seed)
    credibility = rng.integers(0, n_samples + 1, size=(reps, n_pairs)) / n_samples
    coverage = np.stack([np.mean(credibility < a, axis=1) for a in levels], axis=1)
    return float(np.quantile(np.max(np.abs(coverage - np.asarray(levels)), axis=1), q))


def rank_statistics(ranks: np.ndarray, n_samples: int, names: list[str]) -> dict[str, dict[str, float]]:
    """Per parameter: KS p-value of uniform ranks (sbi), and mean and SD of the normalised rank.

    A calibrated marginal has mean 0.5 and SD 1/√12 ≈ 0.289; a larger SD means an overconfident
    posterior (truths in the tails), a smaller one an underconfident one; a mean above 0.5 means the
    posterior sits below the truth.
    """
    from sbi.diagnostics.sbc import check_uniformity_frequentist

    pvalues = check_uniformity_frequentist(torch.as_tensor(ranks, dtype=torch.float32), n_samples)
    normalised = ranks / n_samples
    return {
        name: {
            "ks_pvalue": float(pvalues[k]),
            "mean_normalised_rank": float(np.mean(normalised[:, k])),
            "sd_normalised_rank": float(np.std(normalised[:, k])),
        }
        for k, name in enumerate(names)
    }


def tarp_summary(credibility: np.ndarray, levels: np.ndarray) -> dict[str, Any]:
    """TARP coverage at ``levels``, its largest deviation, and sbi's ATC and KS p-value."""
    from sbi.diagnostics import check_tarp

    curve = empirical_coverage(credibility, TARP_GRID)
    atc, ks_pvalue = check_tarp(torch.as_tensor(curve), torch.as_tensor(TARP_GRID))
    coverage = empirical_coverage(credibility, levels)
    return {
        "empirical_coverage": coverage.tolist(),
        "max_coverage_deviation": max_deviation(coverage, levels),
        "atc": float(atc),
        "ks_pvalue": float(ks_pvalue),
    }


# -- the analysis on a run folder --------------------------------------------------------------------
def calibrate(
    ws: Workspace,
    posterior: TrainedPosterior,
    dispatcher: Dispatcher,
    n_held_out: int = 200,
    n_samples: int = 1000,
    levels: np.ndarray = DEFAULT_LEVELS,
) -> dict[str, Any]:
    """Calibrate a run's posterior on held-out prior simulations; returns the report, and for a run
    with a folder writes it to ``RUN/calibration/`` with its figures.

    Args:
        ws: the run (its posterior must be amortised: trained on prior simulations).
        posterior: the run's trained posterior.
        dispatcher: where the held-out simulations run.
        n_held_out: prior draws simulated for the check (invalid ones are left out and counted).
        n_samples: posterior samples per held-out pair.
        levels: credibility levels α at which coverage is compared with α.
    """
    start = time.perf_counter()
    method = ws.config.method
    if not method_spec(method).amortised:
        raise ValueError(
            f"{ws.folder or 'this run'}: method {method!r} trains its final posterior on a proposal "
            "truncated to the target's region, not on the prior, so it is not amortised over prior draws and "
            "calibration on held-out prior simulations does not apply; calibrate an npe or npe_cmaes run"
        )
    levels = np.asarray(levels, dtype=float)
    if n_held_out < 2 or n_samples < 2:
        raise ValueError(f"need n_held_out >= 2 and n_samples >= 2, got {n_held_out} and {n_samples}")
    if levels.ndim != 1 or not np.all((levels > 0) & (levels < 1)):
        raise ValueError(f"levels must be credibility levels in (0, 1), got {levels}")
    out = None if ws.folder is None else ws.folder / "calibration"
    if out is not None:
        out.mkdir(exist_ok=True)
    held = held_out_simulations(ws, dispatcher, n_held_out)
    if held.n_valid < 2:
        raise ValueError(
            f"only {held.n_valid} of {n_held_out} held-out simulations gave defined features; "
            "raise n_held_out"
        )
    base = ws.config.seed + CALIBRATION_OFFSET
    draws = draw_posterior(
        posterior, held.theta[held.valid], held.x[held.valid], n_samples, base, progress=ws.config.progress
    )
    if int((~draws.leaking).sum()) < 2:
        raise ValueError(
            f"the posterior leaks nearly all its mass outside the prior box at {int(draws.leaking.sum())} of "
            f"{held.n_valid} held-out x, leaving fewer than 2 pairs to rank; the network did not learn"
        )
    references = np.random.default_rng([base, 2]).uniform(size=draws.truth.shape)  # uniform over the prior
    tarp = np.ones(len(draws.truth))  # a leaking pair's truth counts as outside every region
    sampled = ~draws.leaking
    tarp[sampled] = tarp_credibility(draws.samples[sampled], draws.truth[sampled], references[sampled])
    ranks = sbc_ranks(draws.samples[sampled], draws.truth[sampled])
    report = _report(ws, held, draws, tarp, ranks, n_samples, levels)
    report["wall_time_s"] = round(time.perf_counter() - start, 1)
    if out is not None:
        atomic_write_json(out / "calibration.json", report)
        _plot_ranks(ranks, n_samples, ws.usecase.prior.names, out)
        _plot_coverage(draws.hpd_credibility, tarp, report, out)
    return report


def held_out_simulations(ws: Workspace, dispatcher: Dispatcher, n: int) -> HeldOut:
    """``n`` prior draws simulated once; a run with a folder keeps them in ``RUN/calibration/held_out.npz``
    and a later call reuses them."""
    path = None if ws.folder is None else ws.folder / "calibration" / "held_out.npz"
    base = ws.config.seed + CALIBRATION_OFFSET
    stored = None if path is None else _read_held_out(path, n, base, ws.usecase.prior.names)
    if stored is not None:
        return stored
    theta = ws.usecase.prior.sample(n, np.random.default_rng(base))
    batch = dispatcher.evaluate(theta, base, desc="held-out simulations")
    x = ws.usecase.features.fill_undefined(batch.x)
    valid = np.all(np.isfinite(x), axis=1)
    if path is not None:
        path.parent.mkdir(exist_ok=True)
        names = np.array(ws.usecase.prior.names)
        atomic_savez(path, theta=theta, x=x, valid=valid, seed=base, names=names)
    return HeldOut(theta, x, valid, reused=False)


def _read_held_out(path: Path, n: int, seed: int, names: list[str]) -> HeldOut | None:
    """The stored held-out set if it is the one this call would simulate, else None."""
    if not path.exists():
        return None
    with np.load(path) as data:
        same = len(data["theta"]) == n and int(data["seed"]) == seed and data["names"].tolist() == names
        return HeldOut(data["theta"], data["x"], data["valid"], reused=True) if same else None


def draw_posterior(
    posterior: TrainedPosterior,
    theta: np.ndarray,
    x: np.ndarray,
    n_samples: int,
    seed: int,
    draws_per_sample: int = DRAWS_PER_SAMPLE,
    progress: bool = False,
) -> PosteriorDraws:
    """``n_samples`` posterior samples at each ``x`` (pair i seeded by ``batch_seed(seed + 1, i)``).

    A pair whose posterior leaks so much mass outside the prior box that ``draws_per_sample`` flow
    draws per sample do not fill it is marked ``leaking``: its samples are NaN and its truth counts
    as outside every credible region (credibility 1), the conservative reading.
    """
    prior = posterior.prior
    samples = np.full((len(theta), n_samples, prior.dim), np.nan)
    credibility = np.ones(len(theta))
    leaking = np.zeros(len(theta), dtype=bool)
    for i in tqdm(
        range(len(theta)), desc="posterior samples", unit="pair", disable=None if progress else True
    ):
        box = draw_in_box(posterior, x[i], n_samples, batch_seed(seed + 1, i), draws_per_sample * n_samples)
        if box.z is None:
            leaking[i] = True
            continue
        log_prob = box_log_density(posterior, x[i], np.vstack([prior.to_z(theta[i]), box.z]), box.log_mass)
        credibility[i] = hpd_credibility(log_prob[None, 1:], log_prob[:1])[0]
        samples[i] = prior.to_unit(prior.from_z(box.z))
    return PosteriorDraws(samples, prior.to_unit(theta), credibility, leaking)


@dataclass(frozen=True)
class BoxDraw:
    """Posterior samples inside the prior box at one x, and each kept network's mass inside the box."""

    z: np.ndarray | None  # (n, d) inference space, shuffled; None when the flows leak too much
    log_mass: np.ndarray  # (members,) log of the share of each network's draws that fell inside the box
    draws: int  # flow draws made


def draw_in_box(posterior: TrainedPosterior, x: np.ndarray, n: int, seed: int, max_draws: int) -> BoxDraw:
    """Rejection sampling of the ensemble inside the prior box, with a cap on the flow draws.

    The networks share the samples equally (sbi's equal-weight ensemble, stratified). Each network is
    drawn in chunks until its share is inside the box or ``max_draws`` are spent between them; the
    accepted share of the draws estimates the network's mass inside the box, the normaliser sbi
    would estimate by a second rejection run.
    """
    torch.manual_seed(seed)
    condition = posterior._x(x)
    low, high = (torch.as_tensor(b, dtype=torch.float32) for b in posterior.prior.z_bounds)
    members = posterior.kept_estimators
    shares = np.full(len(members), n // len(members)) + (np.arange(len(members)) < n % len(members))
    budget = max(max_draws // len(members), 1)
    accepted, log_mass, drawn_total = [], np.empty(len(members)), 0
    for k, (estimator, share) in enumerate(zip(members, shares, strict=True)):
        inside: list[torch.Tensor] = []
        count = drawn = 0
        while count < share and drawn < budget:
            chunk = int(min(budget - drawn, max(2 * (share - count), 1000) if drawn == 0 else FLOW_CHUNK))
            with torch.no_grad():
                z = estimator.sample(torch.Size([chunk]), condition=condition)[:, 0]
            keep = z[torch.all((z >= low) & (z <= high), dim=1)]
            inside.append(keep)
            count += len(keep)
            drawn += chunk
        drawn_total += drawn
        if count < share:
            return BoxDraw(None, np.full(len(members), np.nan), drawn_total)
        log_mass[k] = np.log(count / drawn)
        accepted.append(torch.cat(inside)[:share])
    z_all = torch.cat(accepted)
    z_all = z_all[torch.randperm(len(z_all))]
    return BoxDraw(z_all.numpy().astype(float), log_mass, drawn_total)


def box_log_density(
    posterior: TrainedPosterior, x: np.ndarray, z: np.ndarray, log_mass: np.ndarray
) -> np.ndarray:
    """Log-density of the box-truncated ensemble at inference-space ``z``: log Σ_k q_k(z) / (K m_k)."""
    condition = posterior._x(x)
    z_t = torch.as_tensor(z, dtype=torch.float32)[:, None, :]
    with torch.no_grad():
        per_member = (
            torch.stack(
                [
                    estimator.log_prob(z_t, condition=condition)[:, 0]
                    for estimator in posterior.kept_estimators
                ]
            )
            .numpy()
            .astype(float)
        )
    members = len(per_member)
    return logsumexp(per_member - np.asarray(log_mass)[:, None] - np.log(members), axis=0)


def _report(
    ws: Workspace,
    held: HeldOut,
    draws: PosteriorDraws,
    tarp: np.ndarray,
    ranks: np.ndarray,
    n_samples: int,
    levels: np.ndarray,
) -> dict[str, Any]:
    coverage = empirical_coverage(draws.hpd_credibility, levels)
    deviation = max_deviation(coverage, levels)
    return {
        "run": str(ws.folder) if ws.folder is not None else None,
        "method": ws.config.method,
        "n_held_out": len(held.theta),
        "n_valid": held.n_valid,
        "n_invalid": len(held.theta) - held.n_valid,
        "held_out_reused": held.reused,
        "n_leaking": int(draws.leaking.sum()),
        "n_samples": n_samples,
        "levels": levels.tolist(),
        "max_coverage_deviation": deviation,
        "calibrated_deviation_95": calibrated_deviation_quantile(held.n_valid, n_samples, levels),
        "hpd": {"empirical_coverage": coverage.tolist(), "max_coverage_deviation": deviation},
        "tarp": tarp_summary(tarp, levels),
        "sbc": rank_statistics(ranks, n_samples, ws.usecase.prior.names),
    }


def _plot_ranks(ranks: np.ndarray, n_samples: int, names: list[str], out: Path) -> None:
    plt = pyplot()
    from scipy.stats import binom

    n, d = ranks.shape
    bins = int(np.clip(n // 10, 4, 20))
    low, high = binom.ppf([0.005, 0.995], n, 1 / bins)
    cols = min(d, 4)
    rows = -(-d // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k >= d:
            ax.axis("off")
            continue
        ax.axhspan(low, high, color="0.85")
        counts, _, _ = ax.hist(ranks[:, k], bins=bins, range=(0, n_samples + 1), color="tab:blue", alpha=0.8)
        ax.set_ylim(0, 1.15 * max(high, counts.max()))
        ax.set_title(names[k], fontsize=9)
        ax.set_xlabel("rank", fontsize=8)
    fig.suptitle(
        f"SBC ranks of the true parameters among {n_samples} posterior samples ({n} pairs);\n"
        "grey: 99% band of uniform ranks",
        fontsize=10,
    )
    fig.tight_layout()
    atomic_savefig(fig, out / "sbc_ranks.png", dpi=110)
    plt.close(fig)


def _plot_coverage(hpd: np.ndarray, tarp: np.ndarray, report: dict[str, Any], out: Path) -> None:
    plt = pyplot()

    band = report["calibrated_deviation_95"]
    fig, ax = plt.subplots(figsize=(5.5, 5.2))
    ax.fill_between(TARP_GRID, TARP_GRID - band, TARP_GRID + band, color="0.88",
                    label=f"±{band:.3f}: 95% of calibrated posteriors")  # fmt: skip
    ax.plot(TARP_GRID, TARP_GRID, color="k", lw=0.8, ls="--")
    for key, credibility, color in (("hpd", hpd, "tab:blue"), ("tarp", tarp, "tab:orange")):
        deviation = report[key]["max_coverage_deviation"]
        ax.plot(TARP_GRID, empirical_coverage(credibility, TARP_GRID), color=color,
                label=f"{key.upper()} (max deviation {deviation:.3f})")  # fmt: skip
        ax.plot(report["levels"], report[key]["empirical_coverage"], "o", ms=3, color=color)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("credibility level α")
    ax.set_ylabel("empirical coverage")
    leaking = f", {report['n_leaking']} leaking (counted uncovered)" if report["n_leaking"] else ""
    ax.set_title(f"Expected coverage on {report['n_valid']} held-out simulations{leaking}", fontsize=10)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    fig.tight_layout()
    atomic_savefig(fig, out / "coverage.png", dpi=110)
    plt.close(fig)
