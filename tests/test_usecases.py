"""Every use case of the suite end to end at small budgets (fast tier), plus its data checks."""

import json
from pathlib import Path

import numpy as np
import pytest

from sbi_neuro import RunConfig
from sbi_neuro.api.execute import execute
from sbi_neuro.registry import get_usecase, usecase_names
from simulators.errors import DataError
from tests.conftest import run_cli

DATA_USECASES = ["hh", "vclamp", "ca1_passive", "adex", "ca1_detailed"]


@pytest.mark.parametrize(
    ("name", "npe_budget", "fit_budget", "popsize"),
    [
        ("vclamp", 300, 100, 50),
        ("ca1_passive", 300, 100, 50),
        ("adex", 300, 100, 50),
        ("hh_allen", 300, 100, 50),
    ],
)
def test_infer_and_fit_end_to_end(
    tmp_path: Path, name: str, npe_budget: int, fit_budget: int, popsize: int
) -> None:
    npe = execute(
        RunConfig(usecase=name, method="npe", budget=npe_budget, workers=2, progress=False), tmp_path / "n"
    ).summary
    cma = execute(
        RunConfig(
            usecase=name,
            method="cmaes",
            budget=fit_budget,
            population_size=popsize,
            workers=2,
            progress=False,
        ),
        tmp_path / "c",
    ).summary
    for summary, folder, budget in ((npe, "n", npe_budget), (cma, "c", fit_budget)):
        assert summary["simulations"] == budget
        assert np.isfinite(summary["best_error"]) and summary["best_error"] < 100
        meta = json.loads((tmp_path / folder / "metadata.json").read_text())
        assert meta["number_of_evaluations"] == budget
        assert (tmp_path / folder / "plots" / "best_fit.png").stat().st_size > 10_000
    assert (tmp_path / "n" / "posterior_samples.csv").exists()


def test_detailed_ca1_fit_runs_at_a_tiny_budget(tmp_path: Path) -> None:
    """UC6 costs about 8 s per evaluation: the fast tier checks the pipeline with 4 of them."""
    summary = execute(
        RunConfig(
            usecase="ca1_detailed", method="cmaes", budget=4, population_size=2, workers=2, progress=False
        ),
        tmp_path,
    ).summary
    meta = json.loads((tmp_path / "metadata.json").read_text())
    assert len(meta["error_function"]) == 20
    assert summary["best_error"] == pytest.approx(meta["final_fitness"])
    assert np.isfinite(summary["best_error"])


def test_vclamp_ground_truth_reproduces_the_shipped_target(data_dir: Path) -> None:
    uc = get_usecase("vclamp")
    shipped = uc.load_target("data", data_dir)
    simulated = uc.load_target("simulated")
    assert uc.cost.components(simulated.traces, shipped.traces)[0] < 1e-10


def test_hh_allen_targets_for_every_cell(data_dir: Path) -> None:
    index = json.loads((data_dir / "allen_cell_types" / "index.json").read_text())
    cells = [s["specimen_id"] for s in index["sweeps"]]
    assert len(cells) == 10
    for cell in cells[:3]:
        uc = get_usecase("hh_allen", cell=str(cell))
        target = uc.load_target("data", data_dir)
        x = uc.features(target.t, target.traces[None])[0]
        assert target.traces.shape == (1, uc.simulator.t.size)
        assert np.all(np.isfinite(x)) and x[0] >= 1  # the recordings spike


@pytest.mark.parametrize("name", DATA_USECASES)
def test_missing_data_dir_says_where_and_how(name: str, tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        uc = get_usecase(name, data_dir=tmp_path / "nowhere")
        uc.load_target("data", tmp_path / "nowhere")
    message = str(info.value)
    assert "nowhere" in message and "--data-dir" in message and "SBI_NEURO_DATA" in message


def test_adex_target_file_checks(tmp_path: Path) -> None:
    uc = get_usecase("adex")
    wrong = tmp_path / "three.tsv"
    np.savetxt(wrong, np.full((5500, 3), -60.0), delimiter="\t")
    with pytest.raises(DataError, match="4 columns"):
        uc.load_target(str(wrong))
    volts = tmp_path / "volts.tsv"
    np.savetxt(volts, np.full((5500, 4), -0.06), delimiter="\t")
    with pytest.raises(DataError, match="looks like volts"):
        uc.load_target(str(volts))


def test_unknown_usecase_and_option_are_named() -> None:
    with pytest.raises(ValueError, match=r"available: .*hh_allen"):
        get_usecase("nope")
    with pytest.raises(ValueError, match=r"has no option \[.colour.\]; its options: cell"):
        get_usecase("hh_allen", colour="red")


def test_cli_lists_every_usecase() -> None:
    out = run_cli("usecases")
    assert out.returncode == 0, out.stderr
    for name in usecase_names():
        assert f"{name}:" in out.stdout
    assert "backends: neuron, batched (default neuron)" in out.stdout  # hh
    assert "backends: batched, brian2 (default batched)" in out.stdout  # hh_allen
    assert "neuron: 0.0" in out.stdout  # a stored time per evaluation


def test_cli_cell_option(tmp_path: Path) -> None:
    out = run_cli("infer", "hh_allen", "--cell", "123", "--simulations", "200", "--out", str(tmp_path / "r"))
    assert out.returncode == 2 and "123" in out.stderr and "Traceback" not in out.stderr
