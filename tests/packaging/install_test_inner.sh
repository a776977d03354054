#!/usr/bin/env bash
# The part of install_test.sh that runs inside its private mount namespace:
#   install_test_inner.sh BASE_ROOT DEB_DIR WORK_DIR
# BASE_ROOT is never written: an overlay over it (upper layer in WORK_DIR) is the test's root.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
BASE="$1"
DEBS="$2"
WORK="$3"

UUID="6b1f3f53-3b1e-4c1d-9a0a-16d0e1b2c3d4"
USER_UUID="0d2c7a1e-16de-4b00-8a11-5e0c6e7f8a9b"
OV="$WORK/overlay"
MNT="$OV/root"
daemon_pid=""

fail() {
  echo "install_test: FAILED: $*" >&2
  exit 1
}
cleanup() {
  if [ -n "$daemon_pid" ]; then
    kill "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT

rm -rf "$OV"
mkdir -p "$OV/upper" "$OV/work" "$MNT"
mount -t overlay overlay -o "lowerdir=$BASE,upperdir=$OV/upper,workdir=$OV/work" "$MNT"
mount -t proc proc "$MNT/proc"
mount --bind /dev "$MNT/dev"
mount -t tmpfs -o mode=0755 tmpfs "$MNT/run"
mount -t tmpfs -o mode=1777 tmpfs "$MNT/tmp"

# A command in the root, with a clean environment.
in_root() {
  chroot "$MNT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root \
    DEBIAN_FRONTEND=noninteractive "$@"
}
as_user() {
  in_root runuser -u tester -- /usr/bin/env HOME=/home/tester "$@"
}
# Every file, directory and link of the root that packages or the test may leave, one a line
# (directories end in /); dpkg's and apt's own databases, caches and logs are left out.
snapshot() {
  in_root find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp \
      -o -path /var/cache -o -path /var/lib/apt -o -path /var/lib/dpkg -o -path /var/log \
      -o -path /.vsecret-bookworm-ready \) -prune -o \( -type d -printf '%p/\n' \) -o -printf '%p\n' |
    LC_ALL=C sort
}
expect_eq() {  # expect_eq WHAT EXPECTED ACTUAL
  [ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"
}

echo "install_test: libvirt-clients from Debian" >&2
in_root apt-get install -y --no-install-recommends libvirt-clients >"$WORK/apt-clients.log" 2>&1 ||
  { cat "$WORK/apt-clients.log" >&2; fail "apt-get install libvirt-clients"; }
in_root useradd -m -s /bin/sh tester
[ ! -e "$MNT/etc/libvirt/secrets" ] || fail "/etc/libvirt/secrets exists before vsecretd is installed"
snapshot >"$WORK/files-before.txt"

echo "install_test: apt-get install vsecret vsecretd" >&2
mkdir -p "$MNT/tmp/debs"
cp "$DEBS"/vsecret_*.deb "$DEBS"/vsecretd_*.deb "$MNT/tmp/debs/"
debs=()
for d in "$MNT"/tmp/debs/*.deb; do debs+=("/tmp/debs/$(basename "$d")"); done
in_root apt-get install -y --no-install-recommends "${debs[@]}" >"$WORK/apt-install.log" 2>&1 ||
  { cat "$WORK/apt-install.log" >&2; fail "apt-get install of the packages"; }

expect_eq "/etc/libvirt/secrets mode and owner" "700 root:root" "$(stat -c '%a %U:%G' "$MNT/etc/libvirt/secrets")"
in_root dpkg-query -W -f='${Conffiles}\n' vsecretd | grep -q ' /etc/libvirt/vsecretd.conf ' ||
  fail "/etc/libvirt/vsecretd.conf is not a conffile of vsecretd"
for f in /usr/bin/vsecret /usr/bin/vsecret-admin /usr/sbin/vsecretd /lib/systemd/system/vsecretd.socket; do
  [ -e "$MNT$f" ] || fail "$f is not installed"
done

echo "install_test: vsecret secret-list as a user (default store)" >&2
out="$(as_user timeout 30 vsecret secret-list)" || fail "vsecret secret-list as tester"
printf '%s\n' "$out" | head -1 | grep -q '^ UUID *Usage' || fail "secret-list output: $out"
cat >"$MNT/tmp/user-secret.xml" <<XML
<secret ephemeral='no' private='no'><uuid>$USER_UUID</uuid><usage type='ceph'><name>tester-key</name></usage></secret>
XML
as_user timeout 30 vsecret secret-define /tmp/user-secret.xml >/dev/null || fail "vsecret secret-define as tester"
as_user timeout 30 vsecret secret-list | grep -q "$USER_UUID" || fail "the user's secret is not listed"

echo "install_test: vsecretd --system with the stock virsh" >&2
timeout 120 chroot "$MNT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin LANG=C.UTF-8 /usr/sbin/vsecretd --system \
  >"$WORK/vsecretd.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do
  [ -S "$MNT/run/libvirt/virtsecretd-sock" ] && break
  kill -0 "$daemon_pid" 2>/dev/null || { cat "$WORK/vsecretd.log" >&2; fail "vsecretd exited"; }
  sleep 0.1
done
[ -S "$MNT/run/libvirt/virtsecretd-sock" ] || fail "no /run/libvirt/virtsecretd-sock after 10 s"
cat >"$MNT/tmp/secret.xml" <<XML
<secret ephemeral='no' private='no'><uuid>$UUID</uuid><usage type='volume'><volume>/var/lib/images/disk.img</volume></usage></secret>
XML
# A value in a file, never in argv (virsh reads base64 from --file).
value_b64="$(head -c 32 /dev/urandom | base64 -w0)"
printf '%s' "$value_b64" >"$MNT/tmp/value.b64"
virsh() { in_root timeout 30 virsh -q -c secret:///system "$@"; }
virsh secret-define /tmp/secret.xml >/dev/null || fail "virsh secret-define"
virsh secret-set-value "$UUID" --file /tmp/value.b64 >/dev/null || fail "virsh secret-set-value"
rm -f "$MNT/tmp/value.b64"
got="$(virsh secret-get-value "$UUID")" || fail "virsh secret-get-value"
[ "$got" = "$value_b64" ] || fail "virsh secret-get-value returned another value"
virsh secret-list | grep -q "^ *$UUID  *volume /var/lib/images/disk.img" || fail "virsh secret-list: $(virsh secret-list)"
in_root timeout 30 virsh -q -r -c secret:///system secret-list | grep -q "$UUID" || fail "virsh -r secret-list"
[ -f "$MNT/etc/libvirt/secrets/$UUID.xml" ] || fail "the secret is not in /etc/libvirt/secrets"
kill "$daemon_pid"
wait "$daemon_pid" 2>/dev/null || true
daemon_pid=""

# An upgrade (here a reinstall) leaves the store alone: mode, files and contents.
chmod 0711 "$MNT/etc/libvirt/secrets"
store_before="$(cd "$MNT/etc/libvirt/secrets" && stat -c '%n %a %s %Y' ./* && sha256sum ./*)"
in_root apt-get install -y --reinstall "${debs[@]}" >"$WORK/apt-reinstall.log" 2>&1 ||
  { cat "$WORK/apt-reinstall.log" >&2; fail "apt-get install --reinstall"; }
expect_eq "store mode after reinstall" "711" "$(stat -c '%a' "$MNT/etc/libvirt/secrets")"
expect_eq "store after reinstall" "$store_before" \
  "$(cd "$MNT/etc/libvirt/secrets" && stat -c '%n %a %s %Y' ./* && sha256sum ./*)"
chmod 0700 "$MNT/etc/libvirt/secrets"

echo "install_test: apt-get remove" >&2
in_root apt-get remove -y vsecret vsecretd >"$WORK/apt-remove.log" 2>&1 ||
  { cat "$WORK/apt-remove.log" >&2; fail "apt-get remove"; }
[ ! -e "$MNT/usr/sbin/vsecretd" ] || fail "/usr/sbin/vsecretd is left after remove"
[ -f "$MNT/etc/libvirt/vsecretd.conf" ] || fail "remove deleted the conffile"
expect_eq "store after remove" "$store_before" \
  "$(cd "$MNT/etc/libvirt/secrets" && stat -c '%n %a %s %Y' ./* && sha256sum ./*)"

echo "install_test: apt-get purge" >&2
in_root apt-get purge -y vsecret vsecretd >"$WORK/apt-purge.log" 2>&1 ||
  { cat "$WORK/apt-purge.log" >&2; fail "apt-get purge"; }
# The libraries apt pulled in for the packages (libargon2, libnettle, ...) are marked automatic;
# a user removes them with autoremove, and only then is "what purge left" the packages' doing.
in_root apt-get autoremove --purge -y >"$WORK/apt-autoremove.log" 2>&1 ||
  { cat "$WORK/apt-autoremove.log" >&2; fail "apt-get autoremove --purge"; }
snapshot >"$WORK/files-after.txt"
LC_ALL=C comm -13 "$WORK/files-before.txt" "$WORK/files-after.txt" >"$WORK/leftovers.txt"
LC_ALL=C comm -23 "$WORK/files-before.txt" "$WORK/files-after.txt" >"$WORK/vanished.txt"
sed -e '/^#/d' -e '/^$/d' -e "s/@UUID@/$UUID/g" -e "s/@USER_UUID@/$USER_UUID/g" \
  "$HERE/purge_leftovers.txt" | LC_ALL=C sort >"$WORK/leftovers-expected.txt"
if ! diff -u "$WORK/leftovers-expected.txt" "$WORK/leftovers.txt" >&2; then
  fail "files left after purge differ from purge_leftovers.txt (- expected, + left)"
fi
[ ! -s "$WORK/vanished.txt" ] || { cat "$WORK/vanished.txt" >&2; fail "purge removed files it did not install"; }
echo "install_test: ok ($(wc -l <"$WORK/leftovers.txt") files left after purge, all expected)" >&2
