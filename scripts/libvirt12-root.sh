#!/usr/bin/env bash
# The second reference installation: a Debian testing root (libvirt 12.x, QEMU, python3-libvirt)
# built once with debootstrap and cached. Prints the root's path on stdout when it is ready.
#
#   VSECRET_LIBVIRT12_ROOT  where the root lives (default /var/cache/vsecret/libvirt12-root)
#   VSECRET_DEBIAN_MIRROR   the mirror (default http://deb.debian.org/debian)
#
# Tools in the root run with chroot, inside a private mount namespace (unshare -m) so that the
# host's /etc/libvirt and /run/libvirt are never touched: tests/support/reference.py does that.
# A root is "ready" once the stamp file exists; a half-built one (interrupted run) is rebuilt.
# Needs root, debootstrap and network access to the mirror.
set -euo pipefail

ROOT="${VSECRET_LIBVIRT12_ROOT:-/var/cache/vsecret/libvirt12-root}"
MIRROR="${VSECRET_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
STAMP="$ROOT/.vsecret-reference-ready"
# What the tests need from libvirt 12.x: its daemon with the QEMU, secret and storage drivers,
# virsh, the Python binding, and QEMU itself.
PACKAGES=(libvirt-daemon libvirt-daemon-driver-qemu libvirt-daemon-driver-secret
          libvirt-daemon-driver-storage-disk libvirt-clients python3-libvirt
          qemu-system-x86 qemu-utils)
# The mirror serves a snapshot whose testing Release file has expired.
APT_OPTS=(-o Acquire::Check-Valid-Until=false -o Acquire::Retries=3)

if [ -f "$STAMP" ]; then
  echo "$ROOT"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "libvirt12-root.sh: must run as root (debootstrap, chroot)" >&2
  exit 1
fi
command -v debootstrap >/dev/null || { echo "libvirt12-root.sh: debootstrap is not installed" >&2; exit 1; }

log="$(mktemp /tmp/vsecret-libvirt12-root.XXXXXX.log)"
trap 'echo "libvirt12-root.sh: failed; log in $log" >&2' ERR
rm -rf "$ROOT"
mkdir -p "$(dirname "$ROOT")"
echo "libvirt12-root.sh: debootstrap testing into $ROOT (log $log)" >&2
debootstrap --variant=minbase --include=ca-certificates testing "$ROOT" "$MIRROR" >"$log" 2>&1
# No service may start inside the root while packages are installed.
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod 0755 "$ROOT/usr/sbin/policy-rc.d"
unshare -m chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive sh -c \
  "apt-get ${APT_OPTS[*]} update && apt-get ${APT_OPTS[*]} install -y --no-install-recommends ${PACKAGES[*]}" \
  >>"$log" 2>&1
# The QEMU driver looks the libvirt-qemu user up even when it runs QEMU as root.
chroot "$ROOT" getent passwd libvirt-qemu >/dev/null ||
  chroot "$ROOT" useradd --system --no-create-home --shell /usr/sbin/nologin libvirt-qemu >>"$log" 2>&1
chroot "$ROOT" virsh --version >>"$log" 2>&1
touch "$STAMP"
rm -f "$log"
echo "$ROOT"
