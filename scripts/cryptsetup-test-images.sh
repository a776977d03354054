#!/usr/bin/env bash
# Fetches cryptsetup's own test images (tests/*.img.xz, evil_hdr-*.xz, luks2_*.tar.xz, ...) from
# Debian's cryptsetup source package, for the version of cryptsetup-bin installed here, and unpacks
# only those images into a cache directory. The images are cryptsetup's, not ours: they are never
# vendored into the repository, only downloaded for the tests (tests/interop/
# volume_cryptsetup_images_test.py). Prints the directory on stdout when it is ready.
#
#   VSECRET_CRYPTSETUP_TESTS  where the images go (default /var/cache/vsecret/cryptsetup-tests)
#   VSECRET_DEBIAN_MIRROR     the mirror (default http://deb.debian.org/debian)
#
# apt does the verification: the deb-src index comes from a signed InRelease file (Debian's
# archive keyring) and apt-get source checks the downloaded files' hashes against that index.
# The host's apt configuration is not changed: a private sources list and private index/cache
# directories under the target's parent are used. Idempotent: a stamp file naming the source
# version marks a complete cache; an interrupted run leaves no stamp and is redone.
set -euo pipefail

DEST="${VSECRET_CRYPTSETUP_TESTS:-/var/cache/vsecret/cryptsetup-tests}"
MIRROR="${VSECRET_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
STAMP="$DEST/.vsecret-cryptsetup-tests-ready"
# Every network step is bounded: a hung mirror must fail the run, not stall CI.
TIMEOUT=300

version="$(dpkg-query -W -f='${source:Version}' cryptsetup-bin 2>/dev/null || true)"
if [ -z "$version" ]; then
  echo "cryptsetup-test-images.sh: cryptsetup-bin is not installed" >&2
  exit 1
fi
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "cryptsetup $version" ]; then
  echo "$DEST"
  exit 0
fi

work="$(mktemp -d /tmp/vsecret-cryptsetup-src.XXXXXX)"
trap 'rm -rf "$work"' EXIT
codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")"
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/parts"
cat >"$work/sources.list" <<EOF
deb-src [signed-by=$KEYRING] $MIRROR $codename main
deb-src [signed-by=$KEYRING] $MIRROR $codename-updates main
deb-src [signed-by=$KEYRING] http://deb.debian.org/debian-security $codename-security main
EOF
APT_OPTS=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=$work/parts"
          -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache"
          -o Acquire::Retries=3 -o APT::Sandbox::User=root)

timeout "$TIMEOUT" apt-get "${APT_OPTS[@]}" update >"$work/update.log" 2>&1 || {
  cat "$work/update.log" >&2
  echo "cryptsetup-test-images.sh: apt-get update of the private deb-src list failed" >&2
  exit 1
}
# Only the upstream tarball holds the images; --download-only skips unpacking and patching.
(cd "$work" && timeout "$TIMEOUT" apt-get "${APT_OPTS[@]}" source --download-only \
  "cryptsetup=$version") >"$work/source.log" 2>&1 || {
  cat "$work/source.log" >&2
  echo "cryptsetup-test-images.sh: apt-get source cryptsetup=$version failed" >&2
  exit 1
}
orig="$(ls "$work"/cryptsetup_*.orig.tar.* | head -n1)"

rm -rf "$DEST.new"
mkdir -p "$DEST.new"
# The images are the compressed files directly under tests/ (and their tarballs); the scripts
# that use them are kept too, as a record of what each image is for and which passphrase opens it.
timeout "$TIMEOUT" tar -xf "$orig" -C "$DEST.new" --strip-components=2 --wildcards \
  '*/tests/*.xz' '*/tests/*-test' '*/tests/*-test2' '*/tests/generators/*'
rm -rf "$DEST"
mv "$DEST.new" "$DEST"
echo "cryptsetup $version" >"$STAMP"
echo "$DEST"
