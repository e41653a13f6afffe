#!/usr/bin/env bash
# Runs `molecule test` for each scenario named on the command line, one after the other, and
# prints the time each took. A scenario's full output goes to .cache/molecule/<scenario>.log;
# the steps are echoed as they finish, and the whole log is shown when a scenario fails.
# Extra molecule test options come from MOLECULE_OPTS (e.g. MOLECULE_OPTS=--destroy=never).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOGDIR=$ROOT/.cache/molecule
mkdir -p "$LOGDIR"
cd "$ROOT" || exit 1

[ $# -gt 0 ] || { echo "molecule-run: no scenario given" >&2; exit 2; }
for s in "$@"; do
  [ -f "molecule/$s/molecule.yml" ] || { echo "molecule-run: no scenario molecule/$s" >&2; exit 2; }
done

"$ROOT/tools/docker-engine.sh" || exit 1

declare -a summary
failed=0
for s in "$@"; do
  log=$LOGDIR/$s.log
  echo "--- molecule scenario $s (log: ${log#"$ROOT"/})"
  start=$(date +%s)
  # shellcheck disable=SC2086
  molecule test -s "$s" ${MOLECULE_OPTS:-} >"$log" 2>&1 &
  pid=$!
  tail -n +1 -f --pid="$pid" "$log" 2>/dev/null \
    | grep --line-buffered -E '\] Executed|^=+ .*(passed|failed|error)' &
  wait "$pid"
  rc=$?
  sleep 0.2
  elapsed=$(($(date +%s) - start))
  if [ "$rc" -eq 0 ]; then
    result=passed
  else
    result="FAILED (rc $rc)"
    failed=1
    echo "--- output of scenario $s"
    cat "$log"
  fi
  summary+=("$(printf '%-24s %-14s %4d s' "$s" "$result" "$elapsed")")
done

echo "--- molecule summary"
printf '%s\n' "${summary[@]}"
exit "$failed"
