#!/usr/bin/env bash
# Bounded fuzzing of every parser that reads untrusted bytes (issue 7): builds the fuzz targets in
# build-fuzz (ASan+UBSan, see tests/fuzz/CMakeLists.txt), makes the seed corpora from the test
# suite, replays the checked-in regression inputs and fuzzes each target for FUZZ_SECONDS
# (default 20). A crash fails the script; its reproducer is left in build-fuzz/artifacts/.
#
#   scripts/fuzz.sh                  every target
#   scripts/fuzz.sh rpc_frame base64 only these
#   FUZZ_SECONDS=600 scripts/fuzz.sh a longer run
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${FUZZ_SECONDS:-20}"
JOBS="${FUZZ_JOBS:-$(nproc)}"
BUILD=build-fuzz
TARGETS=(secret_xml base64 value_codec virconf rpc_frame encryption_xml luks_header)
if [ "$#" -gt 0 ]; then TARGETS=("$@"); fi

cmake -S . -B "$BUILD" -DVSECRET_FUZZ=ON -DVSECRET_BUILD_TESTS=OFF -DVSECRET_BUILD_BENCH=OFF \
  -DVSECRET_WERROR=ON >/dev/null
cmake --build "$BUILD" --target fuzz_all -j"$JOBS"

# Fresh corpora every run: seeds only, so the run is reproducible from the tree.
rm -rf "$BUILD/corpus" "$BUILD/artifacts"
mkdir -p "$BUILD/artifacts" "$BUILD/logs"
python3 tests/fuzz/make_corpus.py . "$BUILD/corpus"
"$BUILD/fuzz/fuzz_seeds" "$BUILD/corpus"

export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# One target per core at a time: the targets are independent, so a 2-core machine fuzzes two at
# once and every target still gets its full FUZZ_SECONDS.
fuzz_one() {
  local t="$1" log="$BUILD/logs/$1.log"
  # -timeout: a single input taking seconds is a hang worth reporting. -rss_limit_mb bounds
  # memory on the shared CI machine. The extra wall-clock margin covers corpus loading.
  if timeout $((SECONDS_PER_TARGET + 60)) "$BUILD/fuzz/${t}_fuzz" -max_total_time="$SECONDS_PER_TARGET" \
      -timeout=10 -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 \
      -artifact_prefix="$BUILD/artifacts/$t-" "$BUILD/corpus/$t" >"$log" 2>&1; then
    echo "fuzz $t: ok ($(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$') runs)"
  else
    echo "fuzz $t: FAILED, see $log and $BUILD/artifacts/" >&2
    grep -E 'invariant|ERROR|SUMMARY|runtime error' "$log" | head -5 >&2 || true
    return 1
  fi
}

status=0
pids=()
for t in "${TARGETS[@]}"; do
  # Wait for the oldest running target when every core is busy.
  if [ "${#pids[@]}" -ge "$JOBS" ]; then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
  fi
  fuzz_one "$t" &
  pids+=("$!")
done
for p in "${pids[@]}"; do
  wait "$p" || status=1
done
exit "$status"
