#!/usr/bin/env bash
# Creates .venv (if missing) and installs the connector with its test requirements into it.
# Called by scripts/test.sh and scripts/bench.sh; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

python_bin=${PYTHON:-$(command -v python3.11 || command -v python3)}
venv=.venv
export PIP_DISABLE_PIP_VERSION_CHECK=1

echo "== setting up $venv with $("$python_bin" --version)"
[ -x "$venv/bin/python" ] || "$python_bin" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet -c requirements.lock pip
# Exact versions from requirements.lock (scripts/lock.sh regenerates it); setup.py keeps ranges.
"$venv/bin/python" -m pip install --quiet -c requirements.lock -e ".[tests,dev]"
