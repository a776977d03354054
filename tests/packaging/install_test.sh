#!/usr/bin/env bash
# The Debian package install test (issue 16), scripts/test.sh's package stage:
#
#   1. builds the packages from this checkout with dpkg-buildpackage -us -uc -b (warnings as
#      errors, the unit tests run by dh_auto_test) and runs lintian on them;
#   2. in an overlay of a clean Debian 12 root (bookworm_root.sh), inside a private mount
#      namespace, installs libvirt-clients and then the packages with apt-get, and checks:
#      the store /etc/libvirt/secrets (root, 0700) and the conffile; `vsecret secret-list` as a
#      user on the default (embedded) store; `vsecretd --system` driven by the root's stock virsh
#      (define, set-value, get-value, list, read-only list); a reinstall leaves an existing store's
#      mode and files alone; `apt-get remove` keeps the secrets and the conffile; after
#      `apt-get purge` exactly the files in purge_leftovers.txt remain of what the packages and
#      the test created.
#
#   VSECRET_PACKAGE_DIR   where the source copy, build and .debs go (default build-package)
#   VSECRET_CMAKE_ARGS    extra cmake arguments for the package build (e.g. a ccache launcher)
#   VSECRET_PACKAGE_DEBS  a directory of already built .debs: skips step 1
#   VSECRET_DEB_BUILD_OPTIONS  added to DEB_BUILD_OPTIONS (e.g. nocheck: no unit tests)
#
# Needs root, debootstrap (first run: network to the mirror), dpkg-dev, debhelper, lintian.
# Every process it starts is bounded by timeout and stopped by PID.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
SRC="$(cd "$HERE/../.." && pwd)"

if [ "$(id -u)" -ne 0 ]; then
  echo "install_test.sh: must run as root (chroot, mount namespaces)" >&2
  exit 1
fi

WORK="$(realpath -m "${VSECRET_PACKAGE_DIR:-$SRC/build-package}")"
if [ -n "${VSECRET_PACKAGE_DEBS:-}" ]; then
  DEBS="$(realpath "$VSECRET_PACKAGE_DEBS")"
else
  # Build from a copy of the checkout's files (tracked and new, not ignored ones), so that the
  # build directory and the .debs dpkg-buildpackage writes into the parent stay out of the tree.
  version="$(dpkg-parsechangelog -l "$SRC/debian/changelog" -S Version)"
  tree="$WORK/vsecret-$version"
  rm -rf "$WORK"
  mkdir -p "$tree"
  # (A tracked file deleted in the checkout is skipped: --ignore-failed-read.)
  (cd "$SRC" && git ls-files -z --cached --others --exclude-standard |
     tar --null -T - --ignore-failed-read -cf - 2>/dev/null) | tar -C "$tree" -xf -
  echo "install_test.sh: dpkg-buildpackage in $tree" >&2
  (cd "$tree" &&
   VSECRET_WERROR=ON VSECRET_CMAKE_ARGS="${VSECRET_CMAKE_ARGS:-}" \
   DEB_BUILD_OPTIONS="parallel=$(nproc) ${VSECRET_DEB_BUILD_OPTIONS:-}" \
   timeout 3000 dpkg-buildpackage -us -uc -b) >"$WORK/build.log" 2>&1 || {
    tail -n 60 "$WORK/build.log" >&2
    echo "install_test.sh: dpkg-buildpackage failed (log $WORK/build.log)" >&2
    exit 1
  }
  changes=("$WORK"/vsecret_*.changes)
  # lintian: no error or warning; informational tags are shown, each override explained in
  # debian/*.lintian-overrides.
  if ! timeout 600 lintian --fail-on error,warning --info --display-info "${changes[@]}" >"$WORK/lintian.log" 2>&1; then
    cat "$WORK/lintian.log" >&2
    echo "install_test.sh: lintian reported errors or warnings" >&2
    exit 1
  fi
  # (lintian's note that it runs as root is left out: this test needs root for chroot.)
  if grep -qv '^running with root privileges is not recommended!$' "$WORK/lintian.log"; then
    echo "install_test.sh: lintian's remarks (no error or warning):" >&2
    grep -v '^running with root privileges is not recommended!$' "$WORK/lintian.log" >&2
  fi
  DEBS="$WORK"
fi
ls "$DEBS"/vsecret_*.deb "$DEBS"/vsecretd_*.deb >/dev/null

BASE="$(bash "$HERE/bookworm_root.sh")"
# The namespace is private: the overlay, /proc and the tmpfs mounts vanish with it, and the host's
# /etc/libvirt and /run/libvirt are never touched.
timeout 900 unshare -m --propagation private bash "$HERE/install_test_inner.sh" "$BASE" "$DEBS" "$WORK"
