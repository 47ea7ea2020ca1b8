"""The layer contract holds, fails on a wrong-way import, and matches the picture in the docs."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

LINT = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("sbi_neuro", "usecases", "summaries", "simulators", "priors")


def contract_layers(name: str) -> list[str]:
    """The layers of contract ``name`` in ``.importlinter``, top first."""
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    return [line.strip() for line in config[f"importlinter:contract:{name}"]["layers"].splitlines() if line]


def pictured_layers(heading: str) -> list[str]:
    """The names starting the lines of the code block under ``heading`` in docs/architecture.md."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    block = text.split(heading, 1)[1].split("```", 2)[1]
    return [m.group(1) for m in re.finditer(r"^([a-z_]+(?: \| [a-z_]+)?)\s{2,}", block, re.M)]


def test_the_docs_picture_the_contract() -> None:
    assert pictured_layers("## The stages") == contract_layers("stages")
    assert pictured_layers("## Inside `sbi_neuro`") == contract_layers("library")


def test_the_import_contract_is_kept() -> None:
    done = subprocess.run([str(LINT), "--no-cache"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "3 kept, 0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("simulators/base.py", "from usecases import Target", "The pipeline stages"),
        ("sbi_neuro/core/seeds.py", "from sbi_neuro.methods.config import RunConfig", "Inside sbi_neuro"),
        ("sbi_neuro/optimizers/base.py", "from sbi_neuro.inference.settings import NPESettings", "Inside"),
        # a function-level import closing a cycle (dispatcher imports executors)
        (
            "sbi_neuro/execution/executors.py",
            "def _late() -> None:\n    from sbi_neuro.execution import dispatcher",
            "cycles",
        ),
    ],
)
def test_a_wrong_way_import_breaks_the_contract(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    """On a copy of the packages, one import against the layers (or a cycle) is reported as broken."""
    skip = shutil.ignore_patterns("__pycache__", "build")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=skip)
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    target = tmp_path / module
    target.write_text(target.read_text() + "\n\n" + line + "\n")
    done = subprocess.run(
        [str(LINT), "--no-cache"], capture_output=True, text=True, cwd=tmp_path, timeout=300,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode != 0, done.stdout[-2000:]
    assert "BROKEN" in done.stdout and contract in done.stdout.replace("\n", " ")
