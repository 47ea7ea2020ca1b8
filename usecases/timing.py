"""Measured time per evaluation of each use case on this machine, written by benchmarks/usecase_timing.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TIMINGS_FILE = Path(__file__).resolve().parents[1] / "docs" / "usecase_timings.json"


def stored_timings() -> dict[str, dict[str, dict[str, Any]]]:
    """``{use case: {backend: {seconds_per_evaluation_1_worker, ..._2_workers, date}}}``."""
    if not TIMINGS_FILE.is_file():
        return {}
    return dict(json.loads(TIMINGS_FILE.read_text()))
