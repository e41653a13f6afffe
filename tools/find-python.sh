#!/usr/bin/env bash
# Prints the newest Python (3.13, 3.12, then 3.11) usable as the Ansible controller.
set -u
candidates=()
if command -v pyenv >/dev/null 2>&1; then
  root=$(pyenv root 2>/dev/null || true)
  for v in 3.13 3.12; do
    for p in "$root"/versions/"$v".*/bin/python"$v"; do
      [ -x "$p" ] && candidates+=("$p")
    done
  done
fi
candidates+=(python3.13 python3.12 python3.11 python3)
for c in "${candidates[@]}"; do
  if "$c" -c 'import sys, venv, ensurepip; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1; then
    command -v "$c" 2>/dev/null || echo "$c"
    exit 0
  fi
done
echo "no Python 3.11 or newer with venv and ensurepip found" >&2
exit 1
