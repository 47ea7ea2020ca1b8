"""`sbi-neuro path` end to end on a small real NPE run of UC1 (batched backend): files, fractions, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sbi_neuro.api.check import study_paths


def test_path_study_writes_its_report_and_figures(npe_run: Path) -> None:
    report = study_paths(npe_run, tolerance=5.0, samples=40, workers=1)
    out = npe_run / "path"
    files = ("path.json", "posterior_predictive.csv", "high_probability_path.csv")
    figures = ("parameters_along_path.png", "posterior_along_paths.png", "traces_along_paths.png")
    for name in files + figures:
        assert (out / name).stat().st_size > 0, name
    assert json.loads((out / "path.json").read_text()) == report
    ppc = report["posterior_predictive"]
    assert ppc["samples"] == 40 and 0 < ppc["within_tolerance_fraction"] <= 1
    a, b = (np.array(list(report["endpoints"][k].values())) for k in "ab")
    assert report["endpoint_distance_normalised"] > 0 and not np.allclose(a, b)
    assert set(report["paths"]) == {"high-probability path", "straight line", "orthogonal path"}
    for path in report["paths"].values():
        assert path["points"] == 80 and len(path["within_tolerance"]) == 80
        assert 0 <= path["within_tolerance_fraction"] <= 1
    table = np.genfromtxt(out / "posterior_predictive.csv", delimiter=",", names=True)
    assert len(table) == 40 and np.mean(table["within_tolerance"]) == ppc["within_tolerance_fraction"]


def test_endpoints_can_be_given_and_bad_input_is_explained(npe_run: Path, tmp_path: Path) -> None:
    summary = json.loads((npe_run / "summary.json").read_text())
    names = list(summary["best_fit"])
    ends = tmp_path / "ends.csv"
    rows = [list(summary["best_fit"].values()), list(summary["posterior_mean"].values())]
    ends.write_text(",".join(names) + "\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n")
    report = study_paths(npe_run, tolerance=5.0, samples=20, workers=1, endpoints=str(ends))
    np.testing.assert_allclose(list(report["endpoints"]["a"].values()), rows[0])
    with pytest.raises(ValueError, match="raise --tolerance"):
        study_paths(npe_run, tolerance=1e-9, samples=20, workers=1)
    with pytest.raises(ValueError, match="not a run folder"):
        study_paths(tmp_path, workers=1)
