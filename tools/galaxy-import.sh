#!/usr/bin/env bash
# Builds the collection tarball and checks it with galaxy-importer, offline, as a Galaxy server
# would on upload. Fails when the importer reports any error or warning.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
importer_venv=${IMPORTER_VENV:-$root/.venv-importer}
out=$root/.cache/galaxy-import

rm -rf "$out"
mkdir -p "$out"
ansible-galaxy collection build --force --output-path "$out" "$root"
tarball=$(find "$out" -maxdepth 1 -name 'fleetops-runbook-*.tar.gz' -print -quit)
[ -n "$tarball" ] || { echo "no collection tarball in $out" >&2; exit 1; }

cd "$out"
# The importer's own lint and ansible-doc runs come from its venv, and write importer_result.json here.
PATH="$importer_venv/bin:$PATH" \
  GALAXY_IMPORTER_RUN_ANSIBLE_DOC=true \
  GALAXY_IMPORTER_RUN_ANSIBLE_LINT=true \
  GALAXY_IMPORTER_OFFLINE_ANSIBLE_LINT=true \
  GALAXY_IMPORTER_RUN_ANSIBLE_TEST=false \
  GALAXY_IMPORTER_CHECK_CHANGELOG=true \
  GALAXY_IMPORTER_ANSIBLE_LOCAL_TMP="$out/.ansible-tmp" \
  "$importer_venv/bin/python" -m galaxy_importer.main "$tarball" 2>&1 | tee importer.log
status=${PIPESTATUS[0]}

if [ "$status" -ne 0 ] || ! grep -q '^Importer processing completed successfully' importer.log; then
  echo "galaxy-importer failed on $(basename "$tarball")" >&2
  exit 1
fi
if grep -E '^(ERROR|WARNING|CRITICAL):' importer.log >/dev/null; then
  echo "galaxy-importer reported the problems above for $(basename "$tarball")" >&2
  exit 1
fi
echo "galaxy-importer: $(basename "$tarball") imports cleanly"
