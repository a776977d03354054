#!/usr/bin/env bash
# Proves that the thread-safety stage can fail: scripts/thread_safety.sh, the command CI runs,
# must refuse unguarded_access.cc (naming its violations) and accept guarded_access.cc.
#   check.sh BUILD_DIR
# Exit 77 (ctest: skipped) only when clang++-16 is absent; scripts/install-deps.sh installs it.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
top="$(cd "$here/../.." && pwd)"
build="${1:?usage: check.sh BUILD_DIR}"
if ! command -v "${VSECRET_TSA_CXX:-clang++-16}" >/dev/null; then
  echo "SKIPPED: clang++-16 not installed (scripts/install-deps.sh installs clang-16)"
  exit 77
fi
export VSECRET_TSA_BUILD="$build/thread-safety-probe"
status=0

if out=$(bash "$top/scripts/thread_safety.sh" "$here/unguarded_access.cc" 2>&1); then
  echo "FAIL: unguarded_access.cc was accepted"
  status=1
else
  for expect in "unguarded_access.cc:9:.*writing variable 'value_' requires holding mutex 'mutex_'" \
                "unguarded_access.cc:10:.*calling function 'ReadLocked' requires holding mutex 'mutex_'"; do
    if ! grep -q -- "$expect" <<<"$out"; then
      echo "FAIL: no diagnostic matching: $expect"
      status=1
    fi
  done
fi
[ "$status" -eq 0 ] || printf '%s\n' "$out"

if ! out=$(bash "$top/scripts/thread_safety.sh" "$here/guarded_access.cc" 2>&1); then
  echo "FAIL: guarded_access.cc was refused"
  printf '%s\n' "$out"
  status=1
fi
[ "$status" -eq 0 ] && echo "ok: unguarded access refused, guarded access accepted"
exit "$status"
