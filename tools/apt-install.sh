#!/usr/bin/env bash
# Installs the named Debian packages unless they are installed already. Refreshes the package lists
# once per machine (or when they are missing) before the first install.
# The packages are the test bed's programs (servers the tests start on their own ports): their
# services are not started while they install (a policy-rc.d of our own, only when the machine has
# none), so no nginx, Redis or postfix of the package's own is left listening on this machine.
set -euo pipefail
missing=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
export DEBIAN_FRONTEND=noninteractive
if [ "$(id -u)" -ne 0 ]; then
  echo "need root to install: ${missing[*]}" >&2
  exit 1
fi
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# fleetops.runbook tools/apt-install.sh: no service starts while test packages install\nexit 101\n' > "$policy"
  chmod 755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "installed: ${missing[*]}"
