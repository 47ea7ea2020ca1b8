#!/usr/bin/env bash
# Create .venv in the project root and install sbi_neuro with everything it needs.
# Idempotent: re-installs only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "sbi_neuro needs Python 3.11 (brian2 2.9 / torch 2.13 wheels); found $("$PYTHON" --version)" >&2
  exit 1
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
stamp=.venv/.sbi_neuro-installed
want=$(sha256sum pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "installing sbi_neuro into .venv (about 2 minutes on a fresh machine)..."
  .venv/bin/pip install -q --upgrade pip setuptools wheel
  # The CPU build of torch first: otherwise sbi pulls the newest torch with GBs of CUDA packages.
  .venv/bin/pip install -q torch==2.13.0
  # compat: a .pth file puts the project on sys.path (the five top-level packages live at its root);
  # setuptools' default meta-path finder for this layout warns at every install about look-alike folders
  .venv/bin/pip install -q -e ".[dev,ray]" --config-settings editable_mode=compat
  echo "$want" > "$stamp"
fi
# The CA1 channel models (NMODL) of the ca1_detailed use case; rebuilt only when they change.
.venv/bin/python -c "from simulators.mechanisms import ensure_compiled; ensure_compiled()"
