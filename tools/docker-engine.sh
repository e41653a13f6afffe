#!/usr/bin/env bash
# Makes sure a Docker engine answers, sharing the one that runs if any.
#
# Installs docker.io and debootstrap from the machine's Debian sources when they are missing, then
# starts a single dockerd when `docker info` fails. A lock serialises concurrent callers, and a
# dockerd that is already starting is waited for instead of being joined by a second engine (a
# second engine would delete the first one's bridge).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${FLEETOPS_CACHE:-$ROOT/.cache}
LOG=$CACHE/dockerd.log
LOCK=${FLEETOPS_DOCKER_LOCK:-/run/lock/fleetops-docker-engine-start.lock}
WAIT=${FLEETOPS_DOCKER_WAIT:-90}

log() { printf 'docker-engine: %s\n' "$*" >&2; }

engine_up() { docker info >/dev/null 2>&1; }

wait_engine() {
  local i
  for ((i = 0; i < WAIT; i++)); do
    engine_up && return 0
    sleep 1
  done
  return 1
}

install_packages() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v docker >/dev/null 2>&1 || missing+=(docker.io)
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

if engine_up && command -v debootstrap >/dev/null 2>&1; then
  exit 0
fi

mkdir -p "$CACHE" "$(dirname "$LOCK")"
exec 9>"$LOCK"
flock -w 600 9 || { log "another caller holds $LOCK for more than 10 minutes"; exit 1; }

install_packages

if engine_up; then
  exit 0
fi

if pgrep -x dockerd >/dev/null 2>&1; then
  log "a dockerd is starting; waiting for it"
else
  log "starting dockerd (log: $LOG)"
  # fd 9 (the lock) must not outlive this script inside the engine.
  setsid nohup dockerd >"$LOG" 2>&1 </dev/null 9>&- &
  disown || true
fi

if ! wait_engine; then
  log "the Docker engine did not answer within ${WAIT}s; last lines of $LOG:"
  tail -n 20 "$LOG" >&2 || true
  exit 1
fi
log "engine ready"
