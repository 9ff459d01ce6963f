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
# Exact versions: the runtime lock (what the image runs) and the tests' and tools' lock, which
# pins the same runtime versions (scripts/lock.sh regenerates both); setup.py keeps ranges.
locks=(-c requirements.lock -c requirements-dev.lock)
"$venv/bin/python" -m pip install --quiet "${locks[@]}" pip
# The distribution was `source-avidtrak` before it took Airbyte's name: an older .venv would list
# the connector twice.
"$venv/bin/python" -m pip uninstall --quiet --yes source-avidtrak 2>/dev/null || true
"$venv/bin/python" -m pip install --quiet "${locks[@]}" -e ".[tests,dev]"
