#!/usr/bin/env bash
# Installs every Debian package vsecret needs to build, test and benchmark.
# Safe to run repeatedly. Needs root (or sudo) and network access to the Debian mirror.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends \
  build-essential g++ cmake pkg-config ninja-build \
  libxml2-dev libssl-dev libreadline-dev libsystemd-dev nettle-dev libgcrypt20-dev \
  libgtest-dev libgmock-dev googletest libbenchmark-dev \
  clang-format clang libclang-rt-14-dev clang-16 \
  libvirt-clients libvirt-daemon python3-libvirt python3 \
  libvirt-daemon-driver-qemu qemu-system-x86 debootstrap \
  qemu-utils cryptsetup-bin \
  libargon2-dev nlohmann-json3-dev python3-cryptography \
  libxml2-utils xxd procps util-linux jq \
  systemd gdb \
  debhelper dpkg-dev lintian \
  openssh-server openssh-client \
  python3-docutils man-db bash-completion \
  libsasl2-dev libsasl2-modules libsasl2-modules-gssapi-mit sasl2-bin \
  krb5-kdc krb5-admin-server krb5-user strace

# The second reference installation (libvirt 12.x in a Debian testing root), built once and cached.
$SUDO bash "$(dirname "$0")/libvirt12-root.sh" >/dev/null
$SUDO bash "$(dirname "$0")/cryptsetup-test-images.sh" >/dev/null  # cryptsetup's test images, cached

# libvirt's QEMU driver looks this user up even when it runs QEMU as root (the hypervisor chain
# tests run it so); Debian's libvirt-daemon-system would create it.
getent passwd libvirt-qemu >/dev/null ||
  $SUDO useradd --system --no-create-home --shell /usr/sbin/nologin libvirt-qemu
