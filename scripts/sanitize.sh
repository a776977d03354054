#!/usr/bin/env bash
# Sanitizer runs (issue 7): the unit tests under ASan+UBSan (build-asan), and vsecretd under
# ThreadSanitizer driven by the daemon concurrency tests (build-tsan). Any report fails the run:
# ASan/UBSan abort the test that triggers them; TSan reports from the daemon, a child process
# whose stderr the harness may not show, are collected through log_path and must not exist.
#
#   scripts/sanitize.sh            both
#   scripts/sanitize.sh asan|tsan  one of them
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS="${SANITIZE_JOBS:-$(nproc)}"
WHAT="${1:-all}"
status=0

if [ "$WHAT" = all ] || [ "$WHAT" = asan ]; then
  cmake -S . -B build-asan -DVSECRET_SANITIZE=address,undefined -DVSECRET_BUILD_BENCH=OFF \
    -DVSECRET_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build-asan --target vsecret_unit_tests -j"$JOBS"
  export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  if ! ctest --test-dir build-asan -L unit --output-on-failure -j"$JOBS"; then
    echo "sanitize: ASan/UBSan unit tests FAILED" >&2
    status=1
  fi
  unset ASAN_OPTIONS UBSAN_OPTIONS
fi

if [ "$WHAT" = all ] || [ "$WHAT" = tsan ]; then
  cmake -S . -B build-tsan -DVSECRET_SANITIZE=thread -DVSECRET_BUILD_TESTS=OFF -DVSECRET_BUILD_BENCH=OFF \
    -DVSECRET_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build-tsan --target vsecretd -j"$JOBS"
  rm -rf build-tsan/tsan-logs && mkdir -p build-tsan/tsan-logs
  # exitcode=0: the report file is the verdict, so a report in a daemon the test then kills is
  # not lost and a clean daemon's exit status stays what the test expects.
  export TSAN_OPTIONS="halt_on_error=0:exitcode=0:second_deadlock_stack=1:log_path=$PWD/build-tsan/tsan-logs/tsan"
  if ! VSECRET_BIN="$PWD/build-tsan/bin" VSECRET_SOURCE_DIR="$PWD" \
      timeout 900 python3 tests/integration/daemon_concurrency_test.py; then
    echo "sanitize: daemon concurrency tests FAILED under TSan" >&2
    status=1
  fi
  unset TSAN_OPTIONS
  if compgen -G "build-tsan/tsan-logs/tsan*" >/dev/null; then
    echo "sanitize: ThreadSanitizer reports:" >&2
    cat build-tsan/tsan-logs/tsan* >&2
    status=1
  fi
fi
exit "$status"
