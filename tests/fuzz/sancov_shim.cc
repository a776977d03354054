// Coverage feedback for libFuzzer when the targets are compiled by g++.
//
// clang 14 cannot compile the project (libstdc++ 12's <expected> needs C++20 concepts level that
// clang 14 lacks), so the fuzz build uses g++ with -fsanitize-coverage=trace-pc and links the
// libFuzzer engine from Debian's clang runtime. That libFuzzer no longer consumes trace-pc
// callbacks, so this file replaces its __sanitizer_cov_trace_pc (linked first, with
// --allow-multiple-definition) with one that hashes the (previous, current) PC pair into a table
// of 8-bit counters registered through the interface clang's inline-8bit-counters use. Hashing
// edges rather than blocks gives libFuzzer edge-like coverage features.
#include <cstddef>
#include <cstdint>

extern "C" void __sanitizer_cov_8bit_counters_init(std::uint8_t* start, std::uint8_t* stop);

namespace {

constexpr std::size_t kCounterBits = 16;
std::uint8_t counters[std::size_t{1} << kCounterBits];
thread_local std::uintptr_t previous_pc = 0;

__attribute__((constructor)) void RegisterCounters() {
  __sanitizer_cov_8bit_counters_init(counters, counters + sizeof counters);
}

}  // namespace

extern "C" __attribute__((no_sanitize_address, no_sanitize_undefined)) void __sanitizer_cov_trace_pc() {
  const auto pc = reinterpret_cast<std::uintptr_t>(__builtin_return_address(0));
  const std::uintptr_t edge = (pc ^ (previous_pc >> 1)) * 0x9E3779B97F4A7C15ull;
  previous_pc = pc;
  ++counters[edge >> (64 - kCounterBits)];
}
