#!/usr/bin/env bash
# Runs `molecule test` for each scenario named on the command line and prints the time each took.
# Scenarios run MOLECULE_JOBS at a time (default 2), longest first: every scenario names its containers and
# networks after itself, and most of a scenario's time is spent waiting on services inside its
# containers, so two of them share a 2-core machine well. MOLECULE_JOBS=1 runs them one by one.
# A scenario's full output goes to .cache/molecule/<scenario>.log; its steps are echoed as they
# finish, prefixed with the scenario's name, and the whole log is shown when a scenario fails.
# Extra molecule test options come from MOLECULE_OPTS (e.g. MOLECULE_OPTS=--destroy=never).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOGDIR=$ROOT/.cache/molecule
JOBS=${MOLECULE_JOBS:-2}
mkdir -p "$LOGDIR"
cd "$ROOT" || exit 1

[ $# -gt 0 ] || { echo "molecule-run: no scenario given" >&2; exit 2; }
for s in "$@"; do
  [ -f "molecule/$s/molecule.yml" ] || { echo "molecule-run: no scenario molecule/$s" >&2; exit 2; }
done
case $JOBS in
  '' | *[!0-9]* | 0) echo "molecule-run: MOLECULE_JOBS must be a positive whole number, got '$JOBS'" >&2; exit 2 ;;
esac

# Longest first, so that the two slots finish close together: the scenarios below took 3 to 7 min
# each in CI (three containers or a package-heavy converge), the others 1 to 2 min. Scenarios not
# named here keep the order given, after these.
LONGEST_FIRST="platform_racepredictor monitoring_server tls emergency ufw"
ordered=()
for s in $LONGEST_FIRST; do
  for given in "$@"; do [ "$given" = "$s" ] && ordered+=("$s"); done
done
for given in "$@"; do
  case " $LONGEST_FIRST " in *" $given "*) ;; *) ordered+=("$given") ;; esac
done
set -- "${ordered[@]}"

"$ROOT/tools/docker-engine.sh" || exit 1
# The base image first, so that parallel scenarios do not wait on each other's debootstrap.
"$ROOT/tools/build-image.sh" >/dev/null || exit 1

# One scenario: molecule's output to its log, the finished steps echoed, the result in a file.
run_one() {
  local s=$1 log=$LOGDIR/$1.log start rc elapsed result
  start=$(date +%s)
  # shellcheck disable=SC2086
  molecule test -s "$s" ${MOLECULE_OPTS:-} >"$log" 2>&1 &
  local pid=$!
  tail -n +1 -f --pid="$pid" "$log" 2>/dev/null \
    | grep --line-buffered -E '\] Executed|^=+ .*(passed|failed|error)' \
    | sed -u "s/^/[$s] /" &
  wait "$pid"
  rc=$?
  sleep 0.2
  elapsed=$(($(date +%s) - start))
  if [ "$rc" -eq 0 ]; then result=passed; else result="FAILED (rc $rc)"; fi
  printf '%-24s %-14s %4d s\n' "$s" "$result" "$elapsed" >"$LOGDIR/$s.result"
  echo "--- molecule scenario $s: $result after $elapsed s (log: ${log#"$ROOT"/})"
}

for s in "$@"; do
  rm -f "$LOGDIR/$s.result"
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do
    wait -n
  done
  run_one "$s" &
done
wait

failed=0
for s in "$@"; do
  if ! grep -q ' passed ' "$LOGDIR/$s.result" 2>/dev/null; then
    failed=1
    echo "--- output of scenario $s"
    cat "$LOGDIR/$s.log"
  fi
done
echo "--- molecule summary ($JOBS at a time)"
for s in "$@"; do
  cat "$LOGDIR/$s.result" 2>/dev/null || printf '%-24s %-14s\n' "$s" "NO RESULT"
done
exit "$failed"
