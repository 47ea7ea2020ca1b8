"""Bad input, tried systematically (docs/bad_input.md lists every case and the test that checks it).

Configuration files, prior configurations, target and data files, and traces fed to the
summaries: each bad input gets an error naming the file or field and what is expected, or a
recorded failure (NaN features, the failed-simulation error), never a traceback from inside a
library, and never a change to a run folder's existing files. Property-based tests (hypothesis)
generate the bad inputs; explicit tests pin one example of every row of the table.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import string
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from priors import Parameter, Prior
from sbi_neuro.cli import main
from sbi_neuro.methods.config import RunConfig
from sbi_neuro.methods.workspace import target_features
from sbi_neuro.registry import get_usecase
from sbi_neuro.results.folder import open_run
from simulators.errors import DataError
from summaries import (
    FAILED_ERROR,
    BatchedEfelFeatures,
    EfelFeatures,
    FeatureStatistics,
    FeatureStatSummary,
    GoncalvesFeatures,
    PyloricFeatures,
    TraceCost,
    TraceSamples,
    load_observed,
)
from summaries.costs import COMPONENTS
from summaries.feature_stats import FeatureTarget
from tests.conftest import run_cli
from usecases.adex import load_sweep_table
from usecases.base import Target
from usecases.data import load_two_column_trace, resample
from usecases.hh import FEATURES as HH_FEATURES

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
VALID = {"usecase": "hh", "method": "cmaes", "budget": 200}


def cli(*args: str) -> tuple[int, str]:
    """Run the real entry point in this process: exit status and stderr."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(list(args))
        except SystemExit as exit_:  # argparse refuses an argument
            code = int(exit_.code or 0)
    return code, err.getvalue()


# -- run configuration: RunConfig.from_json and a run folder's config.json ------------------------

# Fields and a predicate saying which JSON values are of the right type (the specification).
_INT = ("budget", "seed", "workers", "batch_size", "population_size", "fit_candidates", "rounds")
_OPTIONAL_STR = ("data_dir", "backend", "scheduler")
_IS_INT = lambda v: type(v) is int  # noqa: E731
_IS_NUMBER = lambda v: type(v) in (int, float) and math.isfinite(v)  # noqa: E731
FIELD_TYPES: dict[str, Any] = {
    **{name: _IS_INT for name in _INT},
    "npe_fraction": _IS_NUMBER,
    "record_dt_ms": lambda v: v is None or _IS_NUMBER(v),
    "restrict": lambda v: type(v) is bool,
    "progress": lambda v: type(v) is bool,
    "target": lambda v: type(v) is str,
    "method": lambda v: type(v) is str,
    "usecase": lambda v: type(v) is str,
    **{name: (lambda v: v is None or type(v) is str) for name in _OPTIONAL_STR},
    "options": lambda v: isinstance(v, dict) and all(type(a) is str and type(b) is str for a, b in v.items()),
}
JSON_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers() | st.text(max_size=3), max_size=2),
)


@FAST
@given(field=st.sampled_from(sorted(FIELD_TYPES)), value=JSON_VALUES)
def test_config_field_of_wrong_type_is_named(field: str, value: Any) -> None:
    if FIELD_TYPES[field](value):
        return  # the right type: other tests cover values
    with pytest.raises(ValueError) as info:
        RunConfig.from_json({**VALID, field: value})
    assert f"{field} must be" in str(info.value)


@FAST
@given(name=st.text(string.ascii_lowercase + "_", min_size=1, max_size=12), value=JSON_VALUES)
def test_config_unknown_field_is_named(name: str, value: Any) -> None:
    if name in RunConfig.__dataclass_fields__:
        return
    with pytest.raises(ValueError, match="unknown configuration fields") as info:
        RunConfig.from_json({**VALID, name: value})
    assert repr(name) in str(info.value) and "known:" in str(info.value)


@FAST
@given(missing=st.sets(st.sampled_from(sorted(VALID)), min_size=1))
def test_config_missing_required_field_is_named(missing: set[str]) -> None:
    with pytest.raises(ValueError, match="missing required field") as info:
        RunConfig.from_json({k: v for k, v in VALID.items() if k not in missing})
    assert all(name in str(info.value) for name in missing)


@FAST
@given(
    budget=st.integers(200, 10**6),
    seed=st.integers(0, 2**31 - 1),
    batch_size=st.integers(1, 1000),
    record_dt_ms=st.none() | st.floats(1e-3, 1.0),
    method=st.sampled_from(["cmaes", "npe", "tsnpe", "prior"]),
    options=st.dictionaries(st.sampled_from(["cell", "morphology"]), st.text(max_size=4), max_size=2),
)
def test_valid_config_round_trips(
    budget: int, seed: int, batch_size: int, record_dt_ms: float | None, method: str, options: dict[str, str]
) -> None:
    config = RunConfig(
        "hh", method, budget * 4, seed=seed, batch_size=batch_size, record_dt_ms=record_dt_ms, options=options
    )
    assert RunConfig.from_json(json.loads(json.dumps(config.to_json()))) == config


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"budget": "ten"}, "budget must be an integer, got 'ten'"),
        ({"seed": 1.5}, "seed must be an integer, got 1.5"),
        ({"batch_size": -1}, "batch_size must be a positive integer, got -1"),
        ({"seed": -1}, "seed must be an integer from 0 to 2147483647, got -1"),
        ({"record_dt_ms": float("nan")}, "record_dt_ms must be a finite number or null"),
        ({"options": {"cell": 5}}, "options must be an object of strings"),
        ({"npe": "maf"}, "npe must be an object with the fields"),
        ({"npe": {"hidden_features": "50"}}, "npe.hidden_features must be an integer, got '50'"),
        ({"npe": {"learning_rate": 0}}, "npe.learning_rate must be > 0"),
        ({"npe": {"layers": 3}}, "unknown npe fields ['layers']"),
        ({"budgett": 200}, "unknown configuration fields ['budgett']"),
    ],
)
def test_config_examples(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        RunConfig.from_json({**VALID, **change})
    assert message in str(info.value)


def test_config_must_be_an_object() -> None:
    with pytest.raises(ValueError, match="a run configuration is a JSON object of fields, got list"):
        RunConfig.from_json([VALID])  # type: ignore[arg-type]


@pytest.fixture
def run_folder(tmp_path: Path) -> Path:
    """A run folder as `sbi-neuro fit` leaves it (config.json, bank/ with a batch file); no simulation."""
    folder = tmp_path / "run"
    open_run(RunConfig("hh", "cmaes", 100, backend="batched", target="simulated"), folder)
    (folder / "bank" / "batch_000000.npz").write_bytes(b"simulations")
    return folder


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: "{" + json.dumps(c), "is not a valid run configuration: Expecting property name"),
        (lambda c: json.dumps({**c, "budget": "ten"}), "budget must be an integer, got 'ten'"),
        (lambda c: json.dumps({**c, "notes": "mine"}), "unknown configuration fields ['notes']"),
        (lambda c: json.dumps({k: v for k, v in c.items() if k != "method"}), "missing required field(s)"),
        (
            lambda c: json.dumps({**c, "budget": 300}),
            "belongs to a run with other settings (budget: 300 → 100)",
        ),
    ],
)
def test_edited_config_json_is_refused_and_nothing_is_touched(
    run_folder: Path, edit: Any, message: str
) -> None:
    config_path = run_folder / "config.json"
    config_path.write_text(edit(json.loads(config_path.read_text())))
    before = {p: p.read_bytes() for p in run_folder.rglob("*") if p.is_file()}
    code, err = cli(
        "fit",
        "hh",
        "--backend",
        "batched",
        "--target",
        "simulated",
        "--budget",
        "100",
        "--out",
        str(run_folder),
    )
    assert code == 2 and message in err and str(config_path) in err and "Traceback" not in err
    assert {p: p.read_bytes() for p in run_folder.rglob("*") if p.is_file()} == before


def test_an_edited_config_json_is_named_by_the_analyses_too(run_folder: Path) -> None:
    config_path = run_folder / "config.json"
    config_path.write_text(json.dumps({**json.loads(config_path.read_text()), "budget": "ten"}))
    code, err = cli("check", str(run_folder), "--predictive", "10")
    assert code == 2 and "budget must be an integer, got 'ten'" in err and str(config_path) in err
    assert "Traceback" not in err


def test_bank_without_config_is_refused(run_folder: Path) -> None:
    (run_folder / "config.json").unlink()
    with pytest.raises(ValueError, match=r"holds 1 simulation batch file.*but no config\.json"):
        open_run(RunConfig("hh", "cmaes", 100, seed=2, backend="batched", target="simulated"), run_folder)
    assert not (run_folder / "config.json").exists()


def test_corrupt_bank_columns_are_named(run_folder: Path) -> None:
    (run_folder / "bank" / "columns.json").write_text("theta, x")
    with pytest.raises(ValueError, match=r"bank/columns.json is not valid JSON"):
        open_run(RunConfig("hh", "cmaes", 100, backend="batched", target="simulated"), run_folder)


# -- command-line arguments --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fit", "hh", "--seed", "-1"], "seed must be an integer from 0 to 2147483647, got -1"),
        (["fit", "hh", "--record-dt", "nan"], "record_dt_ms must be a finite number"),
        (["fit", "hh", "--backend", "batched", "--record-dt", "0.05"], "records every 0.025 ms"),
        (["fit", "hh", "--record-dt", "1000"], "leaves 2 sample(s) in the protocol of 'hh'"),
        (["compare", "hh", "--seeds", "a,b"], "argument --seeds: expected a count N >= 1"),
        (["compare", "hh", "--methods", ","], "argument --methods: expected a comma-separated list"),
        (["path", "RUN", "--tolerance", "-1"], "argument --tolerance: expected a finite number > 0"),
        (["path", "RUN", "--samples", "0"], "argument --samples: expected an integer >= 1"),
        (["check", "RUN", "--predictive", "-3"], "argument --predictive: expected an integer >= 0"),
        (["check", "RUN", "--calibration", "x"], "argument --calibration: expected an integer >= 0"),
    ],
)
def test_cli_arguments_are_named(tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "out"
    args = [str(tmp_path / "run") if a == "RUN" else a for a in args]
    if args[0] in ("fit", "compare"):
        args += ["--out", str(out)]
    code, err = cli(*args)
    assert code == 2 and message in err and "Traceback" not in err
    assert not (out / "config.json").exists()


# -- prior configurations ----------------------------------------------------------------------

BOUNDS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 5), st.text(max_size=3), st.none()
)


@FAST
@given(low=BOUNDS, high=BOUNDS, scale=st.sampled_from(["linear", "log", "Log", 1]))
def test_parameter_bounds_are_valid_or_named(low: Any, high: Any, scale: Any) -> None:
    numbers = all(type(b) in (int, float) and math.isfinite(b) for b in (low, high))
    valid = numbers and low < high and scale in ("linear", "log") and (scale == "linear" or low > 0)
    if valid:
        assert Parameter("gbar", "S/cm2", low, high, scale).low == low
        return
    with pytest.raises(ValueError) as info:
        Parameter("gbar", "S/cm2", low, high, scale)
    text = str(info.value)
    assert "'gbar'" in text
    assert any(
        word in text
        for word in ("low must be", "high must be", "smaller than high", "scale must be", "needs low > 0")
    )


@FAST
@given(
    st.lists(
        st.tuples(st.floats(-1e6, 1e6), st.floats(1e-6, 1e6), st.sampled_from(["linear", "log"])),
        min_size=1,
        max_size=5,
    )
)
def test_prior_config_round_trips(spec: list[tuple[float, float, str]]) -> None:
    parameters = [
        Parameter(f"p{i}", "mV", abs(low) + 1e-3 if scale == "log" else low, abs(low) + 1e-3 + width, scale)
        for i, (low, width, scale) in enumerate(spec)
    ]
    prior = Prior(parameters)
    assert Prior.from_config(json.loads(json.dumps(prior.to_config()))).parameters == prior.parameters


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"name": "g"}, "non-empty list of parameters"),
        ([], "non-empty list of parameters"),
        (["g"], "prior parameter 1 must be an object"),
        ([{"name": "g", "unit": "mV", "low": 0}], "prior parameter 1 ('g'): missing field(s) ['high']"),
        ([{"name": "g", "unit": "mV", "low": 0, "high": 1, "max": 2}], "unknown field(s) ['max']"),
        ([{"name": "g", "unit": "mV", "low": 1, "high": 1}], "'g': low (1) must be smaller than high (1)"),
        (
            [{"name": "g", "unit": "S", "low": 0, "high": 1, "scale": "log"}],
            "log-scaled parameter needs low > 0",
        ),
        ([{"name": "g", "unit": "mV", "low": float("nan"), "high": 1}], "'g': low must be a finite number"),
        ([{"name": "g", "unit": "mV", "low": "0", "high": 1}], "'g': low must be a finite number (in mV)"),
    ],
)
def test_prior_config_examples(config: Any, message: str) -> None:
    with pytest.raises(ValueError) as info:
        Prior.from_config(config)
    assert message in str(info.value)


# -- target and data files ---------------------------------------------------------------------


def write_trace(path: Path, t: np.ndarray, v: np.ndarray) -> Path:
    np.savetxt(path, np.column_stack([t, v]))
    return path


# mutation of a valid two-column file → a phrase the error must contain
MUTATIONS = {
    "empty": (lambda lines, rng: [], "is empty; expected two columns: time (ms), voltage (mV)"),
    "one column": (
        lambda lines, rng: [ln.split()[0] for ln in lines],
        "has 1 column(s); expected two columns",
    ),
    "three columns": (
        lambda lines, rng: [ln + " 1" for ln in lines],
        "has 3 column(s); expected two columns",
    ),
    "header": (lambda lines, rng: ["time voltage", *lines], "line 1 ('time voltage') is not numbers"),
    "commas": (lambda lines, rng: [ln.replace(" ", ",") for ln in lines], "not commas"),
    "ragged": (lambda lines, rng: [*lines[:5], lines[5] + " 7", *lines[6:]], "line 6 has 3 values"),
    "nan": (lambda lines, rng: [*lines[:3], lines[3].split()[0] + " nan", *lines[4:]], "non-finite values"),
    "volts": (
        lambda lines, rng: [f"{a} {float(b) / 1000}" for a, b in map(str.split, lines)],
        "looks like volts",
    ),
    "microvolts": (
        lambda lines, rng: [f"{a} {float(b) * 1000}" for a, b in map(str.split, lines)],
        "looks like microvolts",
    ),
    "time reversed": (lambda lines, rng: lines[::-1], "the time column (ms) must increase strictly"),
    "too short": (lambda lines, rng: lines[:5], "has only 5 rows"),
}


@FAST
@given(
    mutation=st.sampled_from(sorted(MUTATIONS)),
    n=st.integers(20, 200),
    dt=st.floats(0.01, 1.0),
    rest=st.floats(-90.0, -40.0),
    seed=st.integers(0, 2**16),
)
def test_malformed_target_files_name_the_file(
    tmp_path: Path, mutation: str, n: int, dt: float, rest: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    v = rest + rng.normal(0.0, 5.0, n)
    lines = [f"{k * dt!r} {float(value)!r}" for k, value in enumerate(v)]
    mutate, phrase = MUTATIONS[mutation]
    path = tmp_path / f"{mutation.replace(' ', '_')}_{seed}.dat"
    path.write_text("\n".join(mutate(lines, rng)) + "\n")
    with pytest.raises(DataError) as info:
        load_two_column_trace(path)
    assert str(path) in str(info.value) and phrase in str(info.value)


@FAST
@given(
    n=st.integers(10, 300), dt=st.floats(0.005, 0.2), rest=st.floats(-90.0, -40.0), seed=st.integers(0, 99)
)
def test_valid_target_files_load_and_resample(
    tmp_path: Path, n: int, dt: float, rest: float, seed: int
) -> None:
    v = rest + np.random.default_rng(seed).normal(0.0, 5.0, n)
    t = np.arange(n) * dt
    trace = load_two_column_trace(write_trace(tmp_path / f"ok{seed}.dat", t, v))
    grid = np.linspace(0.0, t[-1], 50)
    out = resample(trace, grid, max_step_ms=0.2)
    assert out.shape == (50,) and np.all(np.isfinite(out))
    assert np.isclose(out[0], v[0]) and np.isclose(out[-1], v[-1])


@pytest.fixture(scope="module")
def hh_batched():  # type: ignore[no-untyped-def]
    return get_usecase("hh", backend="batched")


UC1_T = np.round(np.arange(40_001) * 0.025, 6)
UC1_V = np.where((UC1_T % 20) < 1, 30.0, -65.0)  # a spike train in mV


@pytest.mark.parametrize(
    ("t", "v", "message"),
    [
        (UC1_T / 1000, UC1_V, "the time column looks like seconds: it must hold ms"),
        (UC1_T[:20_000], UC1_V[:20_000], "covers 0–499.975 ms but the protocol needs 0–1000 ms"),
        (
            UC1_T[::40],
            UC1_V[::40],
            "a step of 1 ms at 0–1 ms (median step 1 ms); this use case's features need a "
            "step of at most 0.2 ms",
        ),
        (
            np.r_[UC1_T[:4000], UC1_T[8000:]],
            np.r_[UC1_V[:4000], UC1_V[8000:]],
            "a step of 100.025 ms at 99.975–200",
        ),
        (UC1_T, UC1_V / 1000, "looks like volts; the file must hold mV"),
    ],
)
def test_uc1_target_sampling_and_units(
    hh_batched, tmp_path: Path, t: np.ndarray, v: np.ndarray, message: str
) -> None:  # type: ignore[no-untyped-def]
    path = write_trace(tmp_path / "target.dat", t, v)
    with pytest.raises(DataError) as info:
        hh_batched.load_target(str(path))
    assert str(path) in str(info.value) and message in str(info.value)


def test_uc1_target_at_the_coarsest_accepted_sampling_loads(hh_batched, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write_trace(tmp_path / "target.dat", UC1_T[::8], UC1_V[::8])  # 0.2 ms
    assert hh_batched.load_target(str(path)).traces.shape == (1, 40_001)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "is a directory, not a file"),
        (b"\x00\xff\xfe binary", "is not a text file (byte 1 is not UTF-8)"),
    ],
)
def test_target_that_is_not_a_text_file(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "target.dat"
    path.mkdir() if content is None else path.write_bytes(content)
    with pytest.raises(DataError, match=r"target file .*target\.dat") as info:
        load_two_column_trace(path)
    assert message in str(info.value)


def test_cli_bad_target_leaves_no_run_behind(tmp_path: Path) -> None:
    volts = write_trace(tmp_path / "volts.dat", UC1_T, UC1_V / 1000)
    out = tmp_path / "run"
    result = run_cli(
        "fit", "hh", "--backend", "batched", "--target", str(volts), "--budget", "100", "--out", str(out)
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"target file {volts}: every voltage value lies within ±1, which looks like volts" in result.stderr
    assert not (out / "config.json").exists() and not (out / "bank").exists()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            np.full((5500, 3), -60.0),
            "has shape (5500, 3); expected 5500 rows (one every 0.2 ms from 0 ms) and 4",
        ),
        (np.full((5500, 4), -0.06), "looks like volts"),
        (np.where(np.arange(5500)[:, None] == 9, np.nan, np.full((5500, 4), -60.0)), "first at data row 10"),
    ],
)
def test_adex_sweep_table(tmp_path: Path, table: np.ndarray, message: str) -> None:
    path = tmp_path / "sweeps.tsv"
    np.savetxt(path, table, delimiter="\t")
    with pytest.raises(DataError) as info:
        load_sweep_table(path, 4, 5500)
    assert str(path) in str(info.value) and message in str(info.value)


GOOD_STATS = {
    "stimuli": {"delay": 200, "duration": 300, "amplitudes": [0.1, 0.2]},
    "features": {"Spikecount": {"weight": "1", "stimAmp_0.1": {"Mean": 2.0, "Std": 1.0}}},
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"stimuli": {"delay": 200, "duration": 300, "amplitudes": "0.1"}},
            "stimuli.amplitudes must be a non-empty",
        ),
        (
            {"stimuli": {"delay": "x", "duration": 300, "amplitudes": [0.1]}},
            "stimuli.delay (ms) must be a finite",
        ),
        (
            {"features": {"Spikecount": {"stimAmp_0.1": "2"}}},
            "features.Spikecount.stimAmp_0.1 must be an object",
        ),
        (
            {"features": {"Spikecount": {"stimAmp_0.1": {"Mean": 2}}}},
            "stimAmp_0.1.Std must be a finite number",
        ),
        ({"features": {"Spikecount": {"stimAmp_0.3": {"Mean": 2, "Std": 1}}}}, "0.3 nA is not among stimuli"),
        (
            {"features": {"Spikes": {"stimAmp_0.1": {"Mean": 2, "Std": 1}}}},
            "features.Spikes is not an eFEL feature",
        ),
    ],
)
def test_feature_statistics_file(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    path = tmp_path / "target_features.json"
    path.write_text(json.dumps({**GOOD_STATS, **change}))
    with pytest.raises(DataError) as info:
        FeatureStatistics.load(path)
    assert (
        str(path) in str(info.value)
        and message in str(info.value)
        and '"stimuli": {"delay"' in str(info.value)
    )


def test_pyloric_observed_file(tmp_path: Path) -> None:
    path = tmp_path / "observed.json"
    path.write_text(json.dumps({"features": {"cycle_period_ms": "slow"}}))
    with pytest.raises(DataError, match="has the wrong feature names: missing") as info:
        load_observed(path)
    assert str(path) in str(info.value)


def test_bayesian_target_with_undefined_features_is_refused() -> None:
    t = np.arange(0, 200.0, 0.1)
    features = GoncalvesFeatures(stim_start_ms=0.0, stim_end_ms=150.0)  # no sample before the stimulus
    with pytest.raises(
        ValueError, match=r"target mine.dat: features \['rest_mean', 'rest_sd'\] are undefined"
    ):
        target_features(features, Target(t, np.full((1, t.size), -65.0), "mine.dat"))


# -- traces into the summaries and the cost ---------------------------------------------------

DT = 0.1
T = np.round(np.arange(2001) * DT, 6)  # 0–200 ms; stimulus 50–150 ms
SPIKING = np.where((T % 10) < 0.6, 30.0, -65.0) + np.where((T % 10) < 0.3, 10 * (T % 10), 0.0)
SEGMENT_KINDS = {
    "nan": np.nan,
    "inf": np.inf,
    "-inf": -np.inf,
    "huge": 1e6,
    "near max": 1e308,
    "-near max": -1e308,
    "flat": -65.0,
    "zero": 0.0,
}
STATS = FeatureStatistics(
    source="test",
    amplitudes_nA=(0.1,),
    stim_start_ms=50.0,
    stim_end_ms=150.0,
    feature_types=("Spikecount", "AP_amplitude", "voltage_base"),
    targets=(
        FeatureTarget("Spikecount", 0.1, 0, 10.0, 1.0),
        FeatureTarget("AP_amplitude", 0.1, 0, 80.0, 5.0),
        FeatureTarget("voltage_base", 0.1, 0, -65.0, 2.0),
    ),
    file_weights=(1.0, 1.0, 1.0),
    weights=(1 / 3, 1 / 3, 1 / 3),
)
EFEL_ARGS = {
    "features": HH_FEATURES,
    "stim_start_ms": 50.0,
    "stim_end_ms": 150.0,
    "settings": {"Threshold": 0.0, "interp_step": DT},
}
SUMMARIES = {
    "EfelFeatures": EfelFeatures(**EFEL_ARGS),
    "BatchedEfelFeatures": BatchedEfelFeatures(**EFEL_ARGS),
    "GoncalvesFeatures": GoncalvesFeatures(50.0, 150.0),
    "TraceSamples": TraceSamples((20.0, 60.0, 100.0, 140.0), half_window_ms=0.5),
    "FeatureStatSummary": FeatureStatSummary(STATS),
}
COSTS = {
    "every component": dict.fromkeys(COMPONENTS, 1 / len(COMPONENTS)),
    "spike count only": {"spike_count": 1.0},  # blind to NaN between spikes unless the row is failed
}
SEGMENTS = st.lists(
    st.tuples(st.sampled_from(sorted(SEGMENT_KINDS)), st.integers(0, T.size - 1), st.integers(1, T.size)),
    max_size=3,
)


def bad_trace(base: str, segments: list[tuple[str, int, int]]) -> np.ndarray:
    v = SPIKING.copy() if base == "spiking" else np.full(T.size, SEGMENT_KINDS[base])
    for kind, start, length in segments:
        v[start : start + length] = SEGMENT_KINDS[kind]
    return v


def check_features(x: np.ndarray, n: int, k: int) -> None:
    """Features of ``n`` traces: shape ``(n, k)``, each finite or NaN (undefined)."""
    assert x.shape == (n, k)
    assert not np.any(np.isinf(x))


@FAST
@given(
    base=st.sampled_from(["spiking", *SEGMENT_KINDS]),
    segments=SEGMENTS,
    summary=st.sampled_from(sorted(SUMMARIES)),
)
def test_summaries_of_bad_traces_are_finite_or_nan(
    base: str, segments: list[tuple[str, int, int]], summary: str
) -> None:
    traces = np.stack([bad_trace(base, segments), SPIKING])[:, None, :]
    features = SUMMARIES[summary]
    x = features(T, traces)
    check_features(x, 2, len(features.names))
    assert np.all(np.isfinite(features.fill_undefined(x)[1]))  # the good neighbour is untouched
    if not np.all(np.isfinite(traces[0])):
        assert np.all(np.isnan(x[0]))  # a non-finite trace is a failed row


@pytest.mark.parametrize("kind", sorted(SEGMENT_KINDS))
@pytest.mark.parametrize("summary", sorted(SUMMARIES))
def test_summaries_of_whole_bad_traces(summary: str, kind: str) -> None:
    traces = np.full((1, 1, T.size), SEGMENT_KINDS[kind])
    features = SUMMARIES[summary]
    x = features(T, traces)
    check_features(x, 1, len(features.names))
    if kind in ("nan", "inf", "-inf"):
        assert np.all(np.isnan(x))


@FAST
@given(base=st.sampled_from(["spiking", *SEGMENT_KINDS]), segments=SEGMENTS, sweep=st.integers(0, 2))
def test_pyloric_features_of_bad_traces(base: str, segments: list[tuple[str, int, int]], sweep: int) -> None:
    traces = np.stack([SPIKING, SPIKING, SPIKING])[None].repeat(2, axis=0)
    traces[0, sweep] = bad_trace(base, segments)
    x, reasons = PyloricFeatures().evaluate(T, traces)
    check_features(x, 2, 18)
    assert all(isinstance(r, str) for r in reasons)
    if not np.all(np.isfinite(traces[0])):
        assert np.all(np.isnan(x[0])) and reasons[0].startswith("non-finite trace")


@FAST
@given(
    base=st.sampled_from(["spiking", *SEGMENT_KINDS]),
    segments=SEGMENTS,
    weights=st.sampled_from(sorted(COSTS)),
)
def test_cost_of_bad_traces_is_finite_or_a_recorded_failure(
    base: str, segments: list[tuple[str, int, int]], weights: str
) -> None:
    cost = TraceCost(weights=COSTS[weights], stim_start_ms=50.0, stim_end_ms=150.0, dt_ms=DT)
    traces = np.stack([bad_trace(base, segments), SPIKING])[:, None, :]
    target = Target(T, SPIKING[None], "spiking")
    x = SUMMARIES["BatchedEfelFeatures"](T, traces)
    comps, error = cost.batch(T, traces, x, target, np.array([True, True]))
    assert comps.shape == (2, len(cost.names)) and np.all(np.isfinite(error))
    assert error[1] == 0.0 and np.all(comps[1] == 0.0)
    failed = np.isnan(comps[0])
    assert failed.all() == (error[0] == FAILED_ERROR) and (failed.all() or not failed.any())
    if not np.all(np.isfinite(traces[0])):
        assert error[0] == FAILED_ERROR


UC1_BAD_TRACES = {
    "flat": lambda t: np.full(t.size, -65.0),
    "all NaN": lambda t: np.full(t.size, np.nan),
    "inf": lambda t: np.where(np.isclose(t, 500.0), np.inf, -65.0),
    "1e6 mV": lambda t: np.full(t.size, 1e6),
    "1e308 mV": lambda t: np.full(t.size, 1e308),
}


@pytest.mark.parametrize("backend", ["hh", "hh_batched"])
@pytest.mark.parametrize("name", sorted(UC1_BAD_TRACES))
def test_uc1_summaries_and_cost_on_bad_traces(
    request: pytest.FixtureRequest, backend: str, name: str
) -> None:
    uc = request.getfixturevalue(backend)
    t = uc.simulator.t
    traces = UC1_BAD_TRACES[name](t)[None, None, :]
    x = uc.features(t, traces)
    check_features(x, 1, len(uc.features.names))
    target = Target(t, np.where((t % 20) < 1, 30.0, -65.0)[None], "spike train")
    comps, error = uc.cost.batch(t, traces, x, target, np.array([True]))
    names = uc.features.names
    if name in ("all NaN", "inf"):  # a failed simulation: recorded as such
        assert np.all(np.isnan(x)) and np.all(np.isnan(comps)) and error[0] == FAILED_ERROR
    elif name == "flat":  # no spikes: spike features undefined (then filled), voltages defined
        assert x[0, names.index("spike_count")] == 0 and np.isnan(x[0, names.index("ap_half_width")])
        assert np.isclose(x[0, names.index("voltage_base")], -65.0)
        assert np.all(np.isfinite(uc.features.fill_undefined(x))) and 0 < error[0] < FAILED_ERROR
    elif name == "1e6 mV":  # nonsense but computable: a large finite error
        assert np.all(np.isfinite(comps)) and error[0] > 1e6
    else:  # the error overflows: recorded as a failure
        assert np.all(np.isnan(comps)) and error[0] == FAILED_ERROR
