#!/usr/bin/env bash
# Runs `ansible-test ARGS...` offline on a real copy of the collection.
#
# ansible-test needs the collection at .../ansible_collections/fleetops/runbook as a real directory,
# and bootstraps pip into the virtual environments it creates with a script it downloads. Here the
# pip wheel comes from PyPI through pip, and the bootstrap script is our own (tools/ansible-test/get_pip.py).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
stage=${ANSIBLE_TEST_STAGE:-$root/.cache/ansible-test}/ansible_collections/fleetops/runbook
cache=$HOME/.ansible/test/cache

ansible_test=$(command -v ansible-test) || { echo "ansible-test not on PATH (make venv)" >&2; exit 1; }
controller_python=$(head -n1 "$ansible_test" | sed 's/^#! *//')

# Real interpreters first (pyenv shims for other versions fail), newest first. Only the versions
# ansible-test supports and tests/config.yml allows (3.11+) matter.
py_path=""
pythons=()
if command -v pyenv >/dev/null 2>&1; then
  pyenv_root=$(pyenv root)
  for v in 3.14 3.13 3.12 3.11; do
    for d in "$pyenv_root"/versions/"$v".*/bin; do
      if [ -x "$d/python$v" ]; then
        py_path="$py_path$d:"
        pythons+=("$v")
        break
      fi
    done
  done
fi
for v in 3.14 3.13 3.12 3.11; do
  command -v "python$v" >/dev/null 2>&1 && pythons+=("$v")
done

# pip version(s) ansible-test bootstraps, read from ansible-test itself.
mapfile -t pip_versions < <("$controller_python" - "${pythons[@]}" <<'PY'
import sys, types
from ansible_test._internal.python_requirements import get_venv_packages
versions = sys.argv[1:] or ["%d.%d" % sys.version_info[:2]]
print("\n".join(sorted({get_venv_packages(types.SimpleNamespace(version=v))["pip"] for v in versions})))
PY
)
mkdir -p "$cache"
for v in "${pip_versions[@]}"; do
  if [ ! -f "$cache/pip-$v-py3-none-any.whl" ]; then
    "$controller_python" -m pip download --quiet --no-deps "pip==$v" -d "$cache"
  fi
  install -m 0644 "$root/tools/ansible-test/get_pip.py" "$cache/get_pip_${v//./_}.py"
done

"$controller_python" "$root/tools/stage-collection.py" "$root" "$stage"
cd "$stage"
PATH="$py_path$PATH" exec "$ansible_test" "$@"
