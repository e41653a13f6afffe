#!/usr/bin/env bash
# Fails when tests/sanity/ignore-*.txt holds an entry without a justification: every line must end
# in a `# why` comment that says why the finding cannot be fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=0
shopt -s nullglob
for f in tests/sanity/ignore-*.txt; do
  while IFS= read -r line || [ -n "$line" ]; do
    n=$((${n:-0} + 1))
    [[ -z "${line// }" || "$line" =~ ^[[:space:]]*# ]] && continue
    if [[ ! "$line" =~ \ \#\ *[^[:space:]] ]]; then
      echo "$f:$n: sanity ignore without a justification comment: $line" >&2
      bad=1
    fi
  done < "$f"
  unset n
done
exit "$bad"
