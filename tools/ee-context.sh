#!/usr/bin/env bash
# Stages what extensions/awx/execution-environment.yml (or, with --decision, the decision
# environment extensions/eda/decision-environment.yml) builds from, under DEST (default .cache/ee,
# .cache/de), and the image it builds on:
# - the base image fleetops/debian12:ee-base (de-base): the locally built Debian 12 image
#   (tools/build-image.sh) with pip, dumb-init and the Debian packages of the bindep.txt in use,
#   built once per machine, so the build itself runs no apt-get (bindep finds its packages installed);
# - the definition, its requirements.txt and bindep.txt, and a wheelhouse for the image's Python
#   (Debian 12: CPython 3.11) downloaded here with pip: ansible-core, ansible-runner, the
#   requirements and what ansible-builder's stages need (bindep, PyYAML, packaging);
# - collections/: the collections galaxy.yml depends on (and theirs) copied from where Ansible finds
#   them here (tools/ee-deps.py), and the collection itself as `ansible-galaxy collection build`
#   packs it (build_ignore applies). No Galaxy requirements: ansible-builder's galaxy step is empty.
# Then writes the build context with `ansible-builder create`.
#
#   tools/ee-context.sh [--decision] [DEST]
#   ansible-builder build -f DEST/execution-environment.yml -c DEST/context -t fleetops/ee:latest
#   ansible-builder build -f DEST/decision-environment.yml -c DEST/context -t fleetops/de:latest
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY_VERSION=${EE_PYTHON_VERSION:-3.11}
PY_TAG=cp${PY_VERSION/./}

if [ "${1:-}" = --decision ]; then
  shift
  DEFINITION=$ROOT/extensions/eda/decision-environment.yml
  DEPS_DIR=$ROOT/extensions/eda
  BASE_IMAGE=fleetops/debian12:de-base
  DEFAULT_DEST=$ROOT/.cache/de
else
  DEFINITION=$ROOT/extensions/awx/execution-environment.yml
  DEPS_DIR=$ROOT
  BASE_IMAGE=fleetops/debian12:ee-base
  DEFAULT_DEST=$ROOT/.cache/ee
fi
DEST=$(mkdir -p "${1:-$DEFAULT_DEST}" && cd "${1:-$DEFAULT_DEST}" && pwd)

"$ROOT/tools/build-image.sh" \
  --packages "python3-pip dumb-init $(python "$ROOT/tools/ee-deps.py" debian-packages "$DEPS_DIR/bindep.txt")" \
  --tag "$BASE_IMAGE" >/dev/null

cp "$DEFINITION" "$DEPS_DIR/requirements.txt" "$DEPS_DIR/bindep.txt" "$DEST/"

# pip download matches environment markers against this Python, not the image's: typing_extensions
# (aiohttp's, for Python < 3.13) is asked for by name.
rm -rf "$DEST/wheels"
mkdir -p "$DEST/wheels"
python -m pip download -qq --dest "$DEST/wheels" --only-binary=:all: \
  --python-version "$PY_VERSION" --implementation cp --abi "$PY_TAG" --abi abi3 --abi none \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -r "$DEPS_DIR/requirements.txt" 'ansible-core>=2.18' 'ansible-runner>=2.3' bindep pyyaml packaging setuptools wheel typing_extensions

rm -rf "$DEST/collections" "$DEST/build"
mkdir -p "$DEST/collections/ansible_collections/fleetops/runbook" "$DEST/build"
python "$ROOT/tools/ee-deps.py" collections "$DEST/collections" >/dev/null
ansible-galaxy collection build --force --output-path "$DEST/build" "$ROOT" >/dev/null
tar -xzf "$DEST"/build/fleetops-runbook-*.tar.gz -C "$DEST/collections/ansible_collections/fleetops/runbook"

rm -rf "$DEST/context"
ansible-builder create --file "$DEST/$(basename "$DEFINITION")" --context "$DEST/context" >/dev/null
echo "$DEST"
