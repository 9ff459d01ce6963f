#!/usr/bin/env bash
# Regenerates requirements.lock: the exact versions of every package the connector, its tests,
# its lint/type tools and the demo's PyAirbyte resolve to, together, for Python 3.11.
# The image, scripts/setup.sh, scripts/demo.sh and CI install with `-c requirements.lock`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
.venv/bin/pip-compile --quiet --strip-extras --no-emit-index-url --allow-unsafe \
  --extra tests --extra dev --extra demo --output-file requirements.lock setup.py
echo "requirements.lock: $(grep -c '==' requirements.lock) packages"
