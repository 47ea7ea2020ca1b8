"""Every Python code block of the docs runs, in order, as a reader would paste it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text())


def test_the_api_page_has_code_blocks() -> None:
    assert len(python_blocks(ROOT / "docs" / "api.md")) >= 6


@pytest.mark.timeout(1200)
def test_api_tutorial_runs(tmp_path: Path) -> None:
    """docs/api.md from top to bottom in one fresh interpreter, in an empty folder."""
    code = "\n\n".join(python_blocks(ROOT / "docs" / "api.md"))
    # -c, as a notebook: the main module has no file for worker processes to import (a script needs
    # `if __name__ == "__main__":`, and stdin would be taken for a file named "<stdin>")
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=1100
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "tutorial.png").stat().st_size > 10_000
    assert (tmp_path / "runs" / "tutorial" / "cmaes" / "report.html").is_file()
    assert "reproduce the target" in done.stdout
    assert "Warning" not in done.stderr, done.stderr[-3000:]
