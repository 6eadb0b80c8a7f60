#!/usr/bin/env bash
# Quick start: make ./.venv if missing, install minutebook into it, and run a
# local 3-node cluster with a sample organisation (`minutebook devnet up`).
# Extra arguments go to `devnet up`, e.g. `scripts/devnet.sh --nodes 5 --dir /tmp/dn`.
# Ctrl-C stops the nodes; run it again to resume from the same directory.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  echo "creating .venv with $PY"
  "$PY" -m venv .venv
fi
if ! .venv/bin/python -c "import client.cli" >/dev/null 2>&1; then
  echo "installing minutebook into .venv"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e .
fi
exec .venv/bin/minutebook devnet up "$@"
