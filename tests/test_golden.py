"""Results stay bit for bit what they were: three small UC1 runs against tests/golden/uc1_batched.npz.

The golden file was written by ``tests/golden/uc1_golden.py`` before the package was reorganised
(issue 15); a refactor must leave every bank array, charged evaluation, network weight and posterior
sample exactly as it was. Rewrite the file only for a change meant to alter results.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.golden.uc1_golden import GOLDEN, outputs, run_commands


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    return outputs(run_commands(tmp_path_factory.mktemp("golden")))


@pytest.fixture(scope="module")
def golden() -> dict[str, np.ndarray]:
    with np.load(GOLDEN) as data:
        return {key: data[key] for key in data.files}


@pytest.mark.parametrize("run", ["simulate", "npe", "cmaes"])
def test_run_is_bit_identical(run: str, fresh: dict[str, np.ndarray], golden: dict[str, np.ndarray]) -> None:
    keys = sorted(k for k in golden if k.startswith(f"{run}/"))
    assert keys, f"no golden arrays for {run}"
    assert sorted(k for k in fresh if k.startswith(f"{run}/")) == keys
    different = [k for k in keys if not np.array_equal(fresh[k], golden[k], equal_nan=True)]
    assert not different, f"{len(different)} of {len(keys)} arrays differ, e.g. {different[:5]}"


def test_golden_file_is_in_the_repository() -> None:
    assert Path(GOLDEN).stat().st_size > 10_000
