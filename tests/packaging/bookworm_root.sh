#!/usr/bin/env bash
# A clean Debian 12 (bookworm) root for the package install test (install_test.sh), made with
# debootstrap from Debian's mirror and cached. It is never modified after it is made: the test
# runs on an overlay of it. Prints the root's path on stdout when it is ready.
#
#   VSECRET_BOOKWORM_ROOT   where the root lives (default /var/cache/vsecret/bookworm-root)
#   VSECRET_DEBIAN_MIRROR   the mirror (default: the host's Debian mirror in /etc/apt/sources.list*,
#                           else http://deb.debian.org/debian)
#
# Holds Debian's packages only: minbase plus, downloaded but not installed, libvirt-clients and
# what the vsecret packages depend on, so that the test needs no network. A root is "ready" once
# the stamp file exists; a half-built one (interrupted run) is rebuilt. Needs root and debootstrap.
set -euo pipefail

ROOT="${VSECRET_BOOKWORM_ROOT:-/var/cache/vsecret/bookworm-root}"
STAMP="$ROOT/.vsecret-bookworm-ready"
APT_OPTS=(-o Acquire::Retries=3)
# Installed by the test; fetched into the root's archive cache here.
DOWNLOAD=(libvirt-clients libxml2 libssl3 libreadline8 libstdc++6)

if [ -f "$STAMP" ]; then
  echo "$ROOT"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "bookworm_root.sh: must run as root (debootstrap, chroot)" >&2
  exit 1
fi
# One builder at a time; a second caller waits and then finds the stamp.
mkdir -p "$(dirname "$ROOT")"
exec 9>"$ROOT.lock"
flock 9
if [ -f "$STAMP" ]; then
  echo "$ROOT"
  exit 0
fi
command -v debootstrap >/dev/null || { echo "bookworm_root.sh: debootstrap is not installed" >&2; exit 1; }

# The host's own mirror: the first deb URI of sources.list or of a deb822 .sources file.
host_mirror() {
  local f uri
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri="$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }' "$f")"
    case "$uri" in */debian | */debian/) echo "${uri%/}"; return ;; esac
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri="$(awk '$1 == "URIs:" { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }' "$f")"
    [ -n "$uri" ] && { echo "${uri%/}"; return; }
  done
  echo "http://deb.debian.org/debian"
}
MIRROR="${VSECRET_DEBIAN_MIRROR:-$(host_mirror)}"

log="$(mktemp /tmp/vsecret-bookworm-root.XXXXXX.log)"
trap 'echo "bookworm_root.sh: failed; log in $log" >&2' ERR
rm -rf "$ROOT"
mkdir -p "$(dirname "$ROOT")"
echo "bookworm_root.sh: debootstrap bookworm from $MIRROR into $ROOT (log $log)" >&2
debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR" >"$log" 2>&1
cat >"$ROOT/etc/apt/sources.list" <<SOURCES
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb ${MIRROR%/debian}/debian-security bookworm-security main
SOURCES
# No service may start inside the root while packages are installed.
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod 0755 "$ROOT/usr/sbin/policy-rc.d"
unshare -m chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive sh -c \
  "apt-get ${APT_OPTS[*]} update && apt-get ${APT_OPTS[*]} install -y --no-install-recommends --download-only ${DOWNLOAD[*]}" \
  >>"$log" 2>&1
touch "$STAMP"
rm -f "$log"
echo "$ROOT"
