#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run):
#   1. formatting check (clang-format), build with warnings as errors; unit, conformance (against the installed libvirt),
#      daemon integration (stock virsh, python3-libvirt, libvirtd), interop (qemu-img,
#      cryptsetup) and hardening tests;
#   2. bounded fuzzing of every parser (scripts/fuzz.sh, FUZZ_SECONDS per target, default 15);
#   3. the whole suite again under ASan+UBSan, and the threaded tests under TSan
#      (scripts/sanitize.sh);
#   4. the Debian packages (tests/packaging/install_test.sh): dpkg-buildpackage (what a packager
#      runs: Debian's flags, warnings as errors, the unit tests), lintian, and an install, use,
#      remove and purge test in a clean Debian 12 root. It replaces the separate Release build;
#   5. clang's thread-safety analysis of src/ (scripts/thread_safety.sh: every GUARDED_BY member
#      accessed with its mutex held, every REQUIRES function called with the lock).
# Every stage runs even if an earlier one failed; the exit status is non-zero if any failed.
# Arguments go to the first ctest run (e.g. -R rpc). VSECRET_TEST_STAGES=build picks stages
# (build, fuzz, sanitize, package, thread-safety; default all five; "release" is the package
# stage's old name) for a quicker local loop.
set -uo pipefail
cd "$(dirname "$0")/.."
STAGES="${VSECRET_TEST_STAGES:-build fuzz sanitize package thread-safety}"
case " $STAGES " in *" release "*) STAGES="$STAGES package" ;; esac
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

# Every C++ source formatted as .clang-format says (clang-format --dry-run names the deviations).
format_check() {
  find src include tests bench \( -name '*.cc' -o -name '*.h' \) -print0 |
    xargs -0 clang-format --dry-run -Werror
}

build_and_test() {
  format_check &&
  cmake -S . -B build -DVSECRET_WERROR=ON &&
    cmake --build build -j"$(nproc)" &&
    ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
}

stage build build_and_test "$@"
stage fuzz env FUZZ_SECONDS="${FUZZ_SECONDS:-15}" bash scripts/fuzz.sh
stage sanitize bash scripts/sanitize.sh
stage package bash tests/packaging/install_test.sh
stage thread-safety bash scripts/thread_safety.sh

printf '%s\n' "${summary[@]}"
[ "${#failed[@]}" -eq 0 ]
