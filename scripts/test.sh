#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run):
#   1. build with warnings as errors; unit, conformance (against the installed libvirt),
#      daemon integration (stock virsh, python3-libvirt, libvirtd), interop (qemu-img,
#      cryptsetup) and hardening tests;
#   2. bounded fuzzing of every parser (scripts/fuzz.sh, FUZZ_SECONDS per target, default 15);
#   3. the whole suite again under ASan+UBSan, and the threaded tests under TSan
#      (scripts/sanitize.sh).
# Every stage runs even if an earlier one failed; the exit status is non-zero if any failed.
# Arguments go to the first ctest run (e.g. -R rpc). VSECRET_TEST_STAGES=build picks stages
# (build, fuzz, sanitize; default all three) for a quicker local loop.
set -uo pipefail
cd "$(dirname "$0")/.."
STAGES="${VSECRET_TEST_STAGES:-build fuzz sanitize}"
failed=()
summary=()

stage() {
  local name="$1"
  shift
  case " $STAGES " in *" $name "*) ;; *) return 0 ;; esac
  local start=$SECONDS
  echo "=== $name ==="
  if "$@"; then
    summary+=("$name: ok ($((SECONDS - start)) s)")
  else
    summary+=("$name: FAILED ($((SECONDS - start)) s)")
    failed+=("$name")
  fi
}

build_and_test() {
  cmake -S . -B build -DVSECRET_WERROR=ON &&
    cmake --build build -j"$(nproc)" &&
    ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
}

stage build build_and_test "$@"
stage fuzz env FUZZ_SECONDS="${FUZZ_SECONDS:-15}" bash scripts/fuzz.sh
stage sanitize bash scripts/sanitize.sh

printf '%s\n' "${summary[@]}"
[ "${#failed[@]}" -eq 0 ]
