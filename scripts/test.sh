#!/usr/bin/env bash
# Set up (if needed), then lint, type-check, check the import layers and run the fast test tier.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m slow` for the slow tier.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/install_chromium.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy sbi_neuro simulators priors summaries usecases
.venv/bin/lint-imports   # the layer contract in .importlinter: one-way imports, no cycles
.venv/bin/python -m pytest "$@"
