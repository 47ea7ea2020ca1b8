#!/usr/bin/env bash
# Set up (if needed) and run the end-to-end demo: UC1 Hodgkin–Huxley, NPE vs CMA-ES,
# simulated target (no downloaded data). Report: runs/demo/report.md
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/sbi-neuro demo --out runs/demo "$@"
