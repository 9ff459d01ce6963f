#!/usr/bin/env bash
# Regenerates the three locks, for Python 3.11 (the image's), with pip-tools' pip-compile:
#
#   requirements.lock        the connector's runtime: airbyte-cdk, requests and what they pull in.
#                            The Docker image installs from this file alone.
#   requirements-dev.lock    runtime + the `tests` and `dev` extras (pytest, ruff, mypy, pip-tools):
#                            scripts/setup.sh, scripts/test.sh, CI.
#   requirements-demo.lock   runtime + the `demo` extra (PyAirbyte): scripts/demo.sh.
#
# The runtime lock is resolved first and on its own, then used as a constraint for the other
# two, so every runtime package has the same version in all three: neither the test tools nor
# PyAirbyte decide what the image runs. A dev or demo extra that cannot live with the runtime
# pins fails here, naming the conflict, instead of moving them.
#
# pip-compile keeps a lock's existing pins while they still fit; arguments go to every
# pip-compile call, e.g. `--upgrade-package requests`, or `--upgrade` for everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null

# No --find-links or index options in the output: a lock must not name this machine's paths.
compile() {
  .venv/bin/pip-compile --quiet --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links \
    --no-emit-trusted-host "$@" setup.py
}

# On the runtime lock: a dev or demo extra that needs another runtime version stops here.
compile_on_runtime() {
  local lock=$1
  shift
  compile --constraint requirements.lock "$@" --output-file "$lock" || {
    echo "scripts/lock.sh: $lock cannot keep the runtime versions of requirements.lock (the conflict" \
      "is above). Move the runtime pin with --upgrade-package NAME==VERSION, or change the extra in setup.py." >&2
    exit 1
  }
}

compile "$@" --output-file requirements.lock
compile_on_runtime requirements-dev.lock "$@" --extra tests --extra dev
compile_on_runtime requirements-demo.lock "$@" --extra demo

for lock in requirements.lock requirements-dev.lock requirements-demo.lock; do
  echo "$lock: $(grep -c '==' "$lock") packages"
done
