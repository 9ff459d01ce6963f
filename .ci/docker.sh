#!/usr/bin/env bash
# Builds the connector image on a machine that reaches package registries but no container
# registry (this project's CI; README.md, "Run with Docker", walks through it). With access to
# Docker Hub none of this is needed: `docker build -t airbyte/source-avidtrak:dev .` is the whole story.
#
#   bash .ci/docker.sh start   as root: apt-get install docker.io and debootstrap if missing, then
#                              start a Docker daemon without a bridge or iptables rules and wait
#                              until it answers (an already running daemon is used instead)
#   bash .ci/docker.sh base    make a stand-in for Airbyte's Python base image from Debian's
#                              packages (debootstrap, about a minute; skipped when it exists)
#   bash .ci/docker.sh build   build the connector image on it as airbyte/source-avidtrak:dev
#                              (also tagged source-avidtrak:dev); prints build time and size
#   bash .ci/docker.sh stop    stop the daemon that `start` started, and no other
#
# Every container gets the host's network (`--network host`): the daemon has no bridge.
# Sourcing this file defines the same functions (and sets -euo pipefail in the caller).
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE_DIR=${AVIDTRAK_DOCKER_STATE_DIR:-${TMPDIR:-/tmp}/avidtrak-dockerd}
BASE_IMAGE=avidtrak-ci/python-connector-base:3.11
ROOTFS_IMAGE=avidtrak-ci/debian-python-rootfs:bookworm
IMAGE=${AVIDTRAK_IMAGE:-airbyte/source-avidtrak:dev}
# The short name scripts/test.sh and integration_tests/test_image.py use for the same image.
IMAGE_ALIAS=source-avidtrak:dev
HOST_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
DAEMON_WAIT_SECONDS=60

log() { echo "[docker.sh] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

ensure_packages() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  apt-get update -q || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" \
    || die "could not install ${missing[*]}"
}

daemon_answers() { docker info >/dev/null 2>&1; }

start() {
  ensure_packages
  if daemon_answers; then
    local ours
    if ours=$(started_pid); then
      log "the dockerd this script started (pid $ours) already answers"
    else
      log "a Docker daemon already answers; using it (stop will leave it running)"
    fi
    return 0
  fi
  mkdir -p "$STATE_DIR"
  local log_file="$STATE_DIR/dockerd.log"
  # No bridge and no iptables: containers run with --network host, and the host's firewall is
  # left alone. setsid keeps the daemon out of the caller's process group and its signals.
  setsid dockerd --bridge=none --iptables=false --ip6tables=false \
    --pidfile "$STATE_DIR/dockerd.pid" >"$log_file" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$STATE_DIR/started.pid"
  local waited=0
  until daemon_answers; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$log_file" >&2 || true
      rm -f "$STATE_DIR/started.pid"
      die "dockerd (pid $pid) exited before answering; its log is $log_file"
    fi
    if [ "$waited" -ge "$DAEMON_WAIT_SECONDS" ]; then
      tail -n 30 "$log_file" >&2 || true
      stop
      die "dockerd (pid $pid) did not answer \`docker info\` within ${DAEMON_WAIT_SECONDS}s"
    fi
    sleep 1
    waited=$((waited + 1))
  done
  log "dockerd $(docker version --format '{{.Server.Version}}') answers (pid $pid, log $log_file)"
}

# Prints the pid of the dockerd that `start` started, if that process still runs: a recorded pid
# is only ours while it still names a dockerd.
started_pid() {
  local pid
  pid=$(cat "$STATE_DIR/started.pid" 2>/dev/null) || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] || return 1
  echo "$pid"
}

stop() {
  local pid_file="$STATE_DIR/started.pid"
  if [ ! -f "$pid_file" ]; then
    log "no daemon started by this script; nothing to stop"
    return 0
  fi
  local pid
  if pid=$(started_pid); then
    kill -TERM "$pid"
    local waited=0
    while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 30 ]; do
      sleep 1
      waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "dockerd (pid $pid) ignored SIGTERM for 30s; killing it"
      kill -KILL "$pid"
    fi
    log "stopped dockerd (pid $pid)"
  else
    log "the dockerd this script started is not running any more"
  fi
  rm -f "$pid_file"
}

require_daemon() {
  daemon_answers || die "no Docker daemon answers \`docker info\`; run \`bash .ci/docker.sh start\` first"
}

# A subshell, so that its EXIT trap removes the scratch root file system on any exit.
base() (
  require_daemon
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    log "stand-in base image $BASE_IMAGE exists; not rebuilt"
    return 0
  fi
  ensure_packages
  [ -f "$HOST_CA_BUNDLE" ] || die "no CA bundle at $HOST_CA_BUNDLE to copy into the base image"
  local started=$SECONDS work
  work=$(mktemp -d)
  trap 'remove_scratch "$work"' EXIT
  log "debootstrap bookworm (minbase + python3, python3-venv, ca-certificates)"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
      bookworm "$work/rootfs" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
  # Downloads from inside a container go through the same TLS proxy as the host's.
  cp "$HOST_CA_BUNDLE" "$work/rootfs/etc/ssl/certs/ca-certificates.crt"
  rm -rf "$work"/rootfs/proc/* "$work"/rootfs/var/cache/apt/archives/*.deb \
    "$work"/rootfs/var/lib/apt/lists/*
  tar -C "$work/rootfs" -c . | docker import - "$ROOTFS_IMAGE" >/dev/null
  docker build --network host --build-arg "ROOTFS_IMAGE=$ROOTFS_IMAGE" -t "$BASE_IMAGE" \
    -f "$REPO_ROOT/integration_tests/docker/python-connector-base.Dockerfile" \
    "$REPO_ROOT/integration_tests/docker"
  log "built $BASE_IMAGE in $((SECONDS - started))s, $(image_size_mb "$BASE_IMAGE") MB"
)

build() {
  require_daemon
  docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 \
    || die "no stand-in base image $BASE_IMAGE; run \`bash .ci/docker.sh base\` first"
  local started=$SECONDS
  docker build --network host --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$IMAGE" -t "$IMAGE_ALIAS" "$REPO_ROOT"
  local seconds=$((SECONDS - started))
  log "built $IMAGE (also tagged $IMAGE_ALIAS) in ${seconds}s: $(image_size_mb "$IMAGE") MB" \
    "($(image_size_mb "$BASE_IMAGE") MB of it the base image)"
  # Earlier builds of the connector, untagged by this one, would pile up on a machine CI keeps.
  docker image prune --force --filter "label=io.airbyte.name=airbyte/source-avidtrak" >/dev/null
}

# debootstrap mounts /proc and /sys (and, in a container, host devices) in the root file system
# and unmounts them when it exits. Should one stay mounted, deleting the tree would reach the host.
remove_scratch() {
  if findmnt -rn -o TARGET | grep -q "^$1/"; then
    log "something is still mounted under $1; left in place"
  else
    rm -rf "$1"
  fi
}

image_size_mb() {
  local bytes
  bytes=$(docker image inspect --format '{{.Size}}' "$1")
  echo $(((bytes + 500000) / 1000000))
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case "${1:-}" in
    start | base | build | stop) "$1" ;;
    *) echo "usage: bash .ci/docker.sh start|base|build|stop" >&2; exit 2 ;;
  esac
fi
