#!/usr/bin/env bash
# Sets up everything on a fresh machine and runs the whole test suite; `--help` says what,
# how long it takes and what it needs. CI (.ci/run) runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<'EOF'
usage: scripts/test.sh [--no-docker] [--help]

Runs, in order (times on a 2-core machine):
  1. scripts/setup.sh: .venv with the connector, its tests, ruff and mypy at the
     versions in requirements-dev.lock                     about 30 s, seconds once made
  2. ruff check, ruff format --check, mypy --strict        about 5 s
  3. pytest, in 2 processes (pytest-xdist): unit tests, integration tests against the
     bundled AvidTrak simulator (127.0.0.1, ports the system picks) and Airbyte's
     standard tests                                         about 1 minute
  4. the Docker image: build it, then its tests and the CDK's image tests
                                                            about 1 minute once
     .ci/docker.sh has made its stand-in base image (kept by the daemon); making it
     the first time adds a few minutes

Needs Python 3.11+ and pip's package index (for step 1). Step 4 also needs root and
apt: .ci/docker.sh installs docker.io and debootstrap when missing, starts a Docker
daemon (or uses the one running) and stops the one it started.

  --no-docker   skip step 4
  --help        this text
EOF
}

with_docker=1
for arg in "$@"; do
  case "$arg" in
    --no-docker) with_docker=0 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done

venv=.venv
export AIRBYTE_OFFLINE_MODE=1 DO_NOT_TRACK=1
bash scripts/setup.sh
export PATH="$PWD/$venv/bin:$PATH"

echo "== lint (ruff), format (ruff format --check), types (mypy --strict on source_avidtrak)"
"$venv/bin/ruff" check .
"$venv/bin/ruff" format --check .
"$venv/bin/mypy"

echo "== unit, integration and standard tests"
"$venv/bin/python" -m pytest -m "not image and not image_tests" -n 2

if [ "$with_docker" = 1 ]; then
  echo "== Docker image: build and test"
  trap 'bash .ci/docker.sh stop' EXIT
  bash .ci/docker.sh start
  bash .ci/docker.sh base
  bash .ci/docker.sh build
  # The image's own tests and the CDK's standard image tests, against the image just built.
  # The spec backward-compatibility test is left out: it fetches the published spec from
  # Airbyte's registry, which these machines must not reach (and the connector is unpublished).
  "$venv/bin/python" -m pytest -m "image or image_tests" --connector-image=source-avidtrak:dev \
    --read-from-streams=true -k "not test_docker_image_spec_backward_compatibility"
fi
