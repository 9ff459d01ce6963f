#!/usr/bin/env bash
# One command from a fresh clone: sets up .venv, then runs the benchmark (bench/README.md).
# Arguments go to bench/run.py (e.g. --quick). Exits non-zero when a target fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export AIRBYTE_OFFLINE_MODE=1 DO_NOT_TRACK=1
exec .venv/bin/python bench/run.py "$@"
