"""Bad input files and data locations give errors that name the problem."""

from pathlib import Path

import numpy as np
import pytest

from simulators.errors import DataError
from tests.conftest import run_cli
from usecases.data import load_two_column_trace, resolve_data_dir


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_two_column_trace(tmp_path / "nope.dat")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ("\n".join(f"{i}" for i in range(20)), "1 column"),
        ("\n".join(f"{i} 1 2" for i in range(20)), "3 column"),
        ("\n".join(f"{i} {'nan' if i == 7 else -65}" for i in range(20)), "non-finite.*row 8"),
        ("\n".join(f"{i} -0.065" for i in range(20)), "looks like volts"),
        ("\n".join(f"{20 - i} -65" for i in range(20)), "must increase"),
        ("0 -65\n1 abc\n", "not a numeric"),
        ("0 -65\n1 -65\n", "only 2 rows"),
    ],
)
def test_malformed_files(tmp_path: Path, content: str, message: str) -> None:
    path = write(tmp_path / "target.dat", content)
    with pytest.raises(DataError, match=message) as info:
        load_two_column_trace(path)
    assert str(path) in str(info.value)


def test_target_must_cover_the_protocol(hh, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    t = np.arange(0, 500, 0.025)
    path = tmp_path / "short.dat"
    np.savetxt(path, np.column_stack([t, np.full(t.size, -65.0)]))
    with pytest.raises(DataError, match=r"covers 0–499\.975 ms but the protocol needs 0–1000 ms"):
        hh.load_target(str(path))


def test_user_target_resampled_to_the_simulation_grid(hh, data_dir, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    shipped = np.loadtxt(data_dir / "neuroptimus/uc1_hh/target_voltage.dat")
    path = tmp_path / "coarse.dat"
    np.savetxt(path, shipped[::4])  # 10 kHz instead of 40 kHz
    target = hh.load_target(str(path))
    assert target.traces.shape == (1, 40_001)
    assert not target.from_ground_truth


def test_data_dir_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_data_dir(tmp_path) == tmp_path.resolve()
    monkeypatch.setenv("SBI_NEURO_DATA", str(tmp_path))
    assert resolve_data_dir() == tmp_path.resolve()
    monkeypatch.setenv("SBI_NEURO_DATA", str(tmp_path / "missing"))
    with pytest.raises(DataError, match="SBI_NEURO_DATA") as info:
        resolve_data_dir()
    assert "--data-dir" in str(info.value)


def test_cli_reports_bad_targets_clearly(tmp_path: Path) -> None:
    one_column = write(tmp_path / "one.dat", "\n".join(str(i) for i in range(50)))
    nan_file = write(tmp_path / "nan.dat", "\n".join(f"{i} {'nan' if i else -65}" for i in range(50)))
    cases = [
        (str(tmp_path / "missing.dat"), "does not exist"),
        (str(one_column), "has 1 column"),
        (str(nan_file), "non-finite"),
    ]
    for target, message in cases:
        out = run_cli("infer", "hh", "--target", target, "--simulations", "500", "--out", str(tmp_path / "r"))
        assert out.returncode == 2, out.stderr
        assert message in out.stderr and "Traceback" not in out.stderr


def test_cli_missing_data_dir(tmp_path: Path) -> None:
    out = run_cli(
        "fit", "hh", "--data-dir", str(tmp_path / "nowhere"), "--budget", "100", "--out", str(tmp_path / "r")
    )
    assert out.returncode == 2
    assert "data directory not found" in out.stderr and "SBI_NEURO_DATA" in out.stderr
