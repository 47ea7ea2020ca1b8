#!/usr/bin/env bash
# The STG pyloric study (issue 6) in one command: TSNPE with restriction on preparation
# 845_082_0044, the posterior predictive check and connecting paths, a CMA-ES point estimate at
# the same kind of budget, and the spread/correlation figures. Needs ../shared/data (stg_pyloric).
# Time on this machine (2 cores): see docs/benchmarks/stg.md. Re-running continues where it stopped.
#   bash scripts/stg_study.sh [OUT]   (default OUT: runs/stg; figures go to docs/benchmarks/stg)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/sbi-neuro ] || bash scripts/setup.sh
OUT=${1:-runs/stg}
WORKERS=${WORKERS:-2}
stage() { echo "[stg_study] $1: $((SECONDS / 60)) min $((SECONDS % 60)) s so far"; }
SECONDS=0
# 60,000 prior simulations first (about 1% give a rhythm), then two truncated, restricted rounds.
.venv/bin/sbi-neuro infer stg --method tsnpe --restrict --rounds 3 --first-round 60000 \
    --simulations 90100 --seed 1 --workers "$WORKERS" --out "$OUT/tsnpe" --quiet
stage "inference"
.venv/bin/sbi-neuro path "$OUT/tsnpe" --tolerance "${TOLERANCE:-0.5}" --samples 200 --workers "$WORKERS"
stage "predictive check and paths"
.venv/bin/sbi-neuro fit stg --method cmaes --budget 5000 --popsize 50 --seed 1 --workers "$WORKERS" \
    --out "$OUT/cmaes" --quiet
stage "CMA-ES"
.venv/bin/python benchmarks/stg_spread.py "$OUT"
stage "figures (done)"
