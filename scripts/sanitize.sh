#!/usr/bin/env bash
# Sanitizer runs (issue 7), part of scripts/test.sh:
#   asan  every target built with ASan+UBSan (build-asan) and the WHOLE test suite run against
#         it: unit tests (as gtest shards), conformance, daemon integration, interop and hardening
#         tests, so the vsecret/vsecretd/vsecret-admin processes those suites start are
#         instrumented too.
#   tsan  vsecretd and the unit tests built with ThreadSanitizer (build-tsan): the in-process
#         RPC/driver/event tests (server loop, client reader threads, events raised on other
#         threads) and the daemon concurrency and limits tests (64 concurrent clients).
# Any report fails the run. Reports from child processes, whose stderr a test may not show, are
# collected through log_path and must not exist; a test that trips a sanitizer also fails.
#
#   scripts/sanitize.sh            both
#   scripts/sanitize.sh asan|tsan  one of them
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS="${SANITIZE_JOBS:-$(nproc)}"
WHAT="${1:-all}"
status=0

# Prints the sanitizer reports left in a log directory; true when there are none.
# LeakSanitizer writes "==PID==Unable to get registers from thread TID." when a thread is exiting
# while it suspends the process for the leak check; it is a notice, not a finding (a leak is
# still reported as "ERROR: LeakSanitizer"), so a log holding only such lines is not a report.
no_reports() {
  local dir="$1" name="$2" found=0 f
  for f in "$dir"/*; do
    [ -e "$f" ] || continue
    if grep -qv '^==[0-9]*==Unable to get registers from thread [0-9]*\.$' "$f"; then
      found=1
    else
      echo "sanitize: $name notice (not a report): $(cat "$f")" >&2
      rm -f "$f"
    fi
  done
  if [ "$found" -eq 1 ]; then
    echo "sanitize: $name reports:" >&2
    cat "$dir"/* >&2
    return 1
  fi
  return 0
}

if [ "$WHAT" = all ] || [ "$WHAT" = asan ]; then
  # -O1 without debug info: a quarter of RelWithDebInfo's build time; reports still name
  # functions (frame pointers are kept).
  cmake -S . -B build-asan -DVSECRET_SANITIZE=address,undefined -DVSECRET_BUILD_BENCH=OFF \
    -DVSECRET_WERROR=ON -DCMAKE_BUILD_TYPE=Sanitize -DCMAKE_CXX_FLAGS_SANITIZE="-O1" >/dev/null
  cmake --build build-asan -j"$JOBS"
  logs="$PWD/build-asan/sanitizer-logs"
  rm -rf "$logs" && mkdir -p "$logs"
  export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:log_path=$logs/asan"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$logs/ubsan"
  export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan-suppressions.txt:print_suppressions=0"
  # The gtest cases run as one process per core (gtest shards), not as one ctest process per
  # case: an ASan process of the unit-test binary costs about 0.7 s to start and exit (shadow
  # memory, the leak check), which for 1300 cases was 7 of the stage's minutes on 2 cores. A
  # failure or a sanitizer report in one case still fails the shard (abort_on_error, log_path).
  # The SASL cases run Cyrus's DIGEST-MD5, whose known leak is suppressed by its module name
  # (scripts/lsan-suppressions.txt); that needs whole allocation stacks, i.e. the slow unwinder,
  # which costs too much for the other cases. So they are a shard of their own.
  pids=()
  for ((i = 0; i < JOBS; i++)); do
    GTEST_TOTAL_SHARDS="$JOBS" GTEST_SHARD_INDEX="$i" timeout 1800 \
      build-asan/tests/vsecret_unit_tests --gtest_brief=1 --gtest_filter='-Sasl*' \
      >"build-asan/unit-shard-$i.log" 2>&1 &
    pids+=("$!")
  done
  if ! ASAN_OPTIONS="$ASAN_OPTIONS:fast_unwind_on_malloc=0" timeout 600 \
      build-asan/tests/vsecret_unit_tests --gtest_brief=1 --gtest_filter='Sasl*' >build-asan/unit-sasl.log 2>&1; then
    cat build-asan/unit-sasl.log >&2
    echo "sanitize: SASL unit tests FAILED under ASan+UBSan" >&2
    status=1
  fi
  for ((i = 0; i < JOBS; i++)); do
    if wait "${pids[$i]}"; then
      tail -n 3 "build-asan/unit-shard-$i.log"
    else
      cat "build-asan/unit-shard-$i.log" >&2
      echo "sanitize: unit tests (shard $i of $JOBS) FAILED under ASan+UBSan" >&2
      status=1
    fi
  done
  # Everything else (conformance, daemon integration, interop, hardening, docs, layering,
  # packaging) through ctest as usual; gtest case names start with a capital, the suites' do not.
  if ! ctest --test-dir build-asan --output-on-failure -j"$JOBS" -E '^[A-Z]'; then
    echo "sanitize: the test suite FAILED under ASan+UBSan" >&2
    status=1
  fi
  unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
  no_reports "$logs" "ASan/UBSan" || status=1
fi

if [ "$WHAT" = all ] || [ "$WHAT" = tsan ]; then
  cmake -S . -B build-tsan -DVSECRET_SANITIZE=thread -DVSECRET_BUILD_BENCH=OFF \
    -DVSECRET_WERROR=ON -DCMAKE_BUILD_TYPE=Sanitize -DCMAKE_CXX_FLAGS_SANITIZE="-O1" >/dev/null
  cmake --build build-tsan --target vsecretd vsecret_unit_tests -j"$JOBS"
  logs="$PWD/build-tsan/sanitizer-logs"
  rm -rf "$logs" && mkdir -p "$logs"
  # exitcode=0: the report file is the verdict, so a report in a daemon the test then kills is
  # not lost and a clean daemon's exit status stays what the test expects.
  export TSAN_OPTIONS="halt_on_error=0:exitcode=0:second_deadlock_stack=1:log_path=$logs/tsan"
  if ! timeout 900 build-tsan/tests/vsecret_unit_tests \
      --gtest_filter='Rpc*:EventBus*:SecretDriver*:EmbeddedConnection*:CliEvent*:SecureHeap*' \
      --gtest_brief=1; then
    echo "sanitize: threaded unit tests FAILED under TSan" >&2
    status=1
  fi
  for t in daemon_concurrency_test daemon_limits_test; do
    if ! VSECRET_BIN="$PWD/build-tsan/bin" VSECRET_SOURCE_DIR="$PWD" VSECRET_SANITIZED=thread PYTHONPATH="$PWD/tests" \
        timeout 900 /usr/bin/python3 "tests/integration/$t.py"; then
      echo "sanitize: $t FAILED under TSan" >&2
      status=1
    fi
  done
  unset TSAN_OPTIONS
  no_reports "$logs" "ThreadSanitizer" || status=1
fi
exit "$status"
