#!/usr/bin/env bash
# Stages what extensions/awx/execution-environment.yml builds from, under DEST (default .cache/ee):
# the definition, requirements.txt, bindep.txt, a wheelhouse for the image's Python (Debian 12:
# CPython 3.11) downloaded here with pip, and the collection as `ansible-galaxy collection build`
# packs it (build_ignore applies). Then writes the build context with `ansible-builder create`.
#
#   tools/ee-context.sh [DEST]
#   ansible-builder build -f DEST/execution-environment.yml -c DEST/context -t fleetops/ee:latest
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEST=$(mkdir -p "${1:-$ROOT/.cache/ee}" && cd "${1:-$ROOT/.cache/ee}" && pwd)
PY_VERSION=${EE_PYTHON_VERSION:-3.11}
PY_TAG=cp${PY_VERSION/./}

cp "$ROOT/extensions/awx/execution-environment.yml" "$ROOT/requirements.txt" "$ROOT/bindep.txt" "$DEST/"

# Wheels for the image's interpreter: what ansible-builder installs (ansible, ansible-runner,
# requirements.txt) and what its build stages need (bindep, PyYAML, packaging).
mkdir -p "$DEST/wheels"
python -m pip download --quiet --dest "$DEST/wheels" --only-binary=:all: \
  --python-version "$PY_VERSION" --implementation cp --abi "$PY_TAG" --abi abi3 --abi none \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -r "$ROOT/requirements.txt" 'ansible>=10' 'ansible-runner>=2.3' bindep pyyaml packaging setuptools wheel

# The collection as it is published.
rm -rf "$DEST/collection" "$DEST/build"
mkdir -p "$DEST/collection" "$DEST/build"
ansible-galaxy collection build --force --output-path "$DEST/build" "$ROOT" >/dev/null
tar -xzf "$DEST"/build/fleetops-runbook-*.tar.gz -C "$DEST/collection"

rm -rf "$DEST/context"
ansible-builder create --file "$DEST/execution-environment.yml" --context "$DEST/context" >/dev/null
echo "$DEST"
