#!/usr/bin/env bash
# Builds the Debian 12 container images the molecule scenarios run on, without any image registry.
#
#   tools/build-image.sh                                  base image, prints its name
#   tools/build-image.sh --packages "nginx logrotate"     base + packages, prints its name
#   tools/build-image.sh --packages-file FILE --tag NAME  packages listed in FILE, also tagged NAME
#
# The base image (fleetops/debian12:base) is a debootstrap minbase rootfs with systemd, imported
# with `docker import`; its tarball is cached under .cache/images so a rebuild only imports it.
# A derived image holds extra Debian packages installed with apt-get in a throwaway container and
# committed as fleetops/debian12:pkg-<hash>, the hash covering the sorted package list and the base
# image, so every package set is built once per machine. The Debian mirror is read from this
# machine's apt sources at run time; the sources file is copied into the image as it is.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${FLEETOPS_CACHE:-$ROOT/.cache}
REPO=${FLEETOPS_IMAGE_REPO:-fleetops/debian12}
BASE=$REPO:base
SUITE=bookworm
BASE_PACKAGES=python3,python3-apt,sudo,procps,ca-certificates,iproute2,systemd,systemd-sysv,dbus
TARBALL=$CACHE/images/debian12-base.tar
LOCK=${FLEETOPS_IMAGE_LOCK:-/run/lock/fleetops-build-image.lock}

log() { printf 'build-image: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

packages=""
tag=""
while [ $# -gt 0 ]; do
  case $1 in
    --packages) packages="$packages ${2:?--packages needs a list}"; shift 2 ;;
    --packages-file)
      if [ -f "${2:?--packages-file needs a path}" ]; then
        packages="$packages $(sed -e 's/#.*//' "$2" | tr '\n' ' ')"
      fi
      shift 2 ;;
    --tag) tag=${2:?--tag needs an image name}; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) die "unknown argument: $1" ;;
  esac
done

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# The apt sources file of this machine (deb822 first, then the one-line format).
sources_file() {
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    echo /etc/apt/sources.list.d/debian.sources
  elif [ -f /etc/apt/sources.list ]; then
    echo /etc/apt/sources.list
  else
    die "no apt sources found on this machine (/etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list)"
  fi
}

mirror() {
  local src m
  src=$(sources_file)
  case $src in
    *.sources) m=$(awk '/^URIs:/{print $2; exit}' "$src") ;;
    *) m=$(awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i !~ /^\[/) {print $i; exit}}' "$src") ;;
  esac
  [ -n "$m" ] || die "cannot read a Debian mirror from $src"
  echo "$m"
}

build_tarball() {
  local rootfs src m
  rootfs=$(mktemp -d "${TMPDIR:-/tmp}/fleetops-rootfs.XXXXXX")
  # shellcheck disable=SC2064
  trap "rm -rf '$rootfs'" EXIT
  src=$(sources_file)
  m=$(mirror)
  log "debootstrap $SUITE minbase (about a minute)"
  debootstrap --variant=minbase --include="$BASE_PACKAGES" "$SUITE" "$rootfs" "$m" \
    >"$CACHE/images/debootstrap.log" 2>&1 \
    || { tail -n 30 "$CACHE/images/debootstrap.log" >&2; die "debootstrap failed"; }
  rm -f "$rootfs/etc/apt/sources.list"
  mkdir -p "$rootfs/etc/apt/sources.list.d"
  cp "$src" "$rootfs/etc/apt/${src#/etc/apt/}"
  chroot "$rootfs" apt-get clean
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin
  # No container gets a console or a hardware clock; these units only slow the boot down.
  for unit in getty.target console-getty.service systemd-udevd.service systemd-udev-trigger.service \
              systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer; do
    ln -sfn /dev/null "$rootfs/etc/systemd/system/$unit"
  done
  : >"$rootfs/etc/machine-id"
  tar -C "$rootfs" -cf "$TARBALL.tmp" .
  mv "$TARBALL.tmp" "$TARBALL"
  rm -rf "$rootfs"
  trap - EXIT
}

ensure_base() {
  image_exists "$BASE" && return 0
  if [ ! -s "$TARBALL" ]; then
    build_tarball
  fi
  log "importing $TARBALL as $BASE"
  docker import -c 'ENV container=docker' -c 'CMD ["/sbin/init"]' "$TARBALL" "$BASE" >/dev/null
}

ensure_derived() {
  local list hash name builder
  # shellcheck disable=SC2086  # split the list into names; set -f keeps a name from globbing
  list=$(set -f; printf '%s\n' $packages | sort -u | tr '\n' ' ' | sed 's/ $//')
  for p in $list; do
    [[ $p =~ ^[a-z0-9][a-z0-9+.:=~-]*$ ]] || die "not a Debian package name: $p"
  done
  hash=$( { docker image inspect -f '{{.Id}}' "$BASE"; echo "$list"; } | sha256sum | cut -c1-12)
  name=$REPO:pkg-$hash
  if ! image_exists "$name"; then
    builder=fleetops-image-build-$hash
    docker rm -f "$builder" >/dev/null 2>&1 || true
    log "installing into $name: $list"
    # shellcheck disable=SC2086
    if ! docker run --name "$builder" -e DEBIAN_FRONTEND=noninteractive "$BASE" /bin/sh -ec "
          apt-get update -qq
          apt-get install -y -qq --no-install-recommends $list
          apt-get clean
          rm -rf /var/lib/apt/lists/*" >"$CACHE/images/pkg-$hash.log" 2>&1; then
      tail -n 30 "$CACHE/images/pkg-$hash.log" >&2
      docker rm -f "$builder" >/dev/null 2>&1 || true
      die "installing $list failed"
    fi
    docker commit -c 'CMD ["/sbin/init"]' -c "LABEL org.fleetops.packages=\"$list\"" \
      "$builder" "$name" >/dev/null
    docker rm -f "$builder" >/dev/null
  fi
  echo "$name"
}

# Before the lock below, so that a dockerd started here does not inherit it.
"$ROOT/tools/docker-engine.sh"

mkdir -p "$CACHE/images" "$(dirname "$LOCK")"
exec 9>"$LOCK"
flock -w 1200 9 || die "another build holds $LOCK for more than 20 minutes"

ensure_base
result=$BASE
if [ -n "${packages// /}" ]; then
  result=$(ensure_derived)
fi
if [ -n "$tag" ] && [ "$tag" != "$result" ]; then
  docker tag "$result" "$tag"
fi
echo "${tag:-$result}"
