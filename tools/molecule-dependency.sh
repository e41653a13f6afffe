#!/usr/bin/env bash
# molecule's dependency step for every scenario (see .config/molecule/config.yml):
#   tools/molecule-dependency.sh SCENARIO_DIRECTORY IMAGE_NAME
# makes sure a Docker engine answers, links this checkout as fleetops.runbook, and tags IMAGE_NAME:
# the base image plus the Debian packages named in SCENARIO_DIRECTORY/image-packages.txt (one a
# line, # comments allowed).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
scenario_dir=${1:?usage: $0 SCENARIO_DIRECTORY IMAGE_NAME}
image=${2:?usage: $0 SCENARIO_DIRECTORY IMAGE_NAME}

"$ROOT/tools/docker-engine.sh"

link=$ROOT/.cache/collections/ansible_collections/fleetops/runbook
if [ ! -e "$link" ]; then
  mkdir -p "$(dirname "$link")"
  ln -sfn "$ROOT" "$link"
fi

"$ROOT/tools/build-image.sh" \
  --packages-file "$scenario_dir/image-packages.txt" --tag "$image" >/dev/null
