#!/usr/bin/env bash
# Stages what extensions/awx/execution-environment.yml builds from, under DEST (default .cache/ee),
# and the image it builds on:
# - the base image fleetops/debian12:ee-base: the locally built Debian 12 image (tools/build-image.sh)
#   with pip, dumb-init and the Debian packages of bindep.txt, built once per machine, so the EE
#   build itself runs no apt-get (bindep then finds every package it asks for installed);
# - the definition, requirements.txt, bindep.txt and a wheelhouse for the image's Python (Debian 12:
#   CPython 3.11) downloaded here with pip: ansible-core, ansible-runner, requirements.txt and what
#   ansible-builder's stages need (bindep, PyYAML, packaging);
# - collections/: the collections galaxy.yml depends on (and theirs) copied from where Ansible finds
#   them here (tools/ee-deps.py), and the collection itself as `ansible-galaxy collection build`
#   packs it (build_ignore applies). No Galaxy requirements: ansible-builder's galaxy step is empty.
# Then writes the build context with `ansible-builder create`.
#
#   tools/ee-context.sh [DEST]
#   ansible-builder build -f DEST/execution-environment.yml -c DEST/context -t fleetops/ee:latest
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEST=$(mkdir -p "${1:-$ROOT/.cache/ee}" && cd "${1:-$ROOT/.cache/ee}" && pwd)
PY_VERSION=${EE_PYTHON_VERSION:-3.11}
PY_TAG=cp${PY_VERSION/./}
EE_BASE_IMAGE=fleetops/debian12:ee-base

"$ROOT/tools/build-image.sh" --packages "python3-pip dumb-init $(python "$ROOT/tools/ee-deps.py" debian-packages)" \
  --tag "$EE_BASE_IMAGE" >/dev/null

cp "$ROOT/extensions/awx/execution-environment.yml" "$ROOT/requirements.txt" "$ROOT/bindep.txt" "$DEST/"

rm -rf "$DEST/wheels"
mkdir -p "$DEST/wheels"
python -m pip download -qq --dest "$DEST/wheels" --only-binary=:all: \
  --python-version "$PY_VERSION" --implementation cp --abi "$PY_TAG" --abi abi3 --abi none \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -r "$ROOT/requirements.txt" 'ansible-core>=2.18' 'ansible-runner>=2.3' bindep pyyaml packaging setuptools wheel

rm -rf "$DEST/collections" "$DEST/build" "$DEST/collection"
mkdir -p "$DEST/collections/ansible_collections/fleetops/runbook" "$DEST/build"
python "$ROOT/tools/ee-deps.py" collections "$DEST/collections" >/dev/null
ansible-galaxy collection build --force --output-path "$DEST/build" "$ROOT" >/dev/null
tar -xzf "$DEST"/build/fleetops-runbook-*.tar.gz -C "$DEST/collections/ansible_collections/fleetops/runbook"

rm -rf "$DEST/context"
ansible-builder create --file "$DEST/execution-environment.yml" --context "$DEST/context" >/dev/null
echo "$DEST"
