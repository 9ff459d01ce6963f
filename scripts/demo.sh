#!/usr/bin/env bash
# The main job, from a fresh clone: sets up .venv-demo (PyAirbyte + this connector), then
# syncs the last 30 days of both reports from the bundled AvidTrak simulator into PyAirbyte's
# local DuckDB cache and prints a summary. Arguments go to scripts/demo.py
# (e.g. --pin/--base-url, or AVIDTRAK_PIN_CODE/AVIDTRAK_BASE_URL, for a real account).
set -euo pipefail
cd "$(dirname "$0")/.."

python_bin=${PYTHON:-$(command -v python3.11 || command -v python3)}
venv=.venv-demo
export AIRBYTE_OFFLINE_MODE=1 DO_NOT_TRACK=1 PIP_DISABLE_PIP_VERSION_CHECK=1

if [ ! -x "$venv/bin/source-avidtrak" ] || [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import airbyte" 2>/dev/null; then
  echo "== setting up $venv (PyAirbyte and the connector; a few minutes the first time)"
  [ -x "$venv/bin/python" ] || "$python_bin" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet -c requirements.lock pip
  "$venv/bin/python" -m pip install --quiet -c requirements.lock -e ".[demo]"
fi
exec "$venv/bin/python" scripts/demo.py "$@"
