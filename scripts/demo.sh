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

# Runs one set-up step with a line before it and its wall time after it, so a cold run
# (minutes) shows where it is.
step() {
  local title=$1 started=$EPOCHREALTIME
  shift
  echo "== $title"
  "$@"
  echo "   done in $(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s: $title"
}

# Whether the venv already has the connector and PyAirbyte. find_spec locates the package
# without importing it: `import airbyte` alone takes about 7 s, and a warm run must start at once.
is_ready() {
  [ -x "$venv/bin/python" ] && [ -x "$venv/bin/source-avidtrak" ] &&
    "$venv/bin/python" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('airbyte') is None)" 2>/dev/null
}

install_pyairbyte_and_connector() {
  # Exact versions: the runtime lock (what the image runs) and the demo's lock, which adds
  # PyAirbyte (the `demo` extra) on the same runtime versions (scripts/lock.sh).
  # Not --quiet: on a cold run it is the long step, and pip's output shows it moving.
  "$venv/bin/python" -m pip install -c requirements.lock -c requirements-demo.lock -e ".[demo]"
}

if is_ready; then
  echo "== $venv is ready (PyAirbyte and the connector installed); starting the demo"
else
  echo "== setting up $venv with $("$python_bin" --version) (a few minutes the first time)"
  [ -x "$venv/bin/python" ] || step "creating the virtual environment $venv" "$python_bin" -m venv "$venv"
  # pip itself is pinned in the development lock (pip-tools needs it); the demo uses the same one.
  step "installing the locked pip" "$venv/bin/python" -m pip install --quiet -c requirements-dev.lock pip
  step "installing PyAirbyte and the connector (pip's output follows)" install_pyairbyte_and_connector
fi
exec "$venv/bin/python" scripts/demo.py "$@"
