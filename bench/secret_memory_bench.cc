// Cost of the memory that holds secret values (SecretBytes and RPC frame buffers share one
// allocator). Loading a store creates one small SecretBytes per secret; every RPC reply builds a
// WireBuffer that starts at 256 bytes and grows with its payload.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "rpc/frame.h"
#include "vsecret/secret_bytes.h"

namespace {

using vsecret::SecretBytes;

// Create, touch and release one value of state.range(0) bytes.
void BM_SecretBytesCreateRelease(benchmark::State& state) {
  const std::vector<std::uint8_t> value(static_cast<std::size_t>(state.range(0)), 0x42);
  for (auto _ : state) {
    SecretBytes s(value);
    benchmark::DoNotOptimize(s.data());
  }
}
BENCHMARK(BM_SecretBytesCreateRelease)->Arg(32)->Arg(1024)->Arg(4096)->Arg(16384)->Arg(1 << 20);

// A store load: many values alive at once, released together.
void BM_SecretBytesLoad100k(benchmark::State& state) {
  const std::vector<std::uint8_t> value(48, 0x42);
  for (auto _ : state) {
    std::vector<SecretBytes> values;
    values.reserve(100000);
    for (int i = 0; i < 100000; ++i) values.emplace_back(value);
    benchmark::DoNotOptimize(values.data());
  }
}
BENCHMARK(BM_SecretBytesLoad100k)->Unit(benchmark::kMillisecond);

// A reply frame: header, then a payload appended in pieces of 64 bytes up to state.range(0).
void BM_WireBufferReply(benchmark::State& state) {
  const std::vector<std::uint8_t> piece(64, 0x17);
  const vsecret::rpc::Header header{};
  for (auto _ : state) {
    vsecret::rpc::FrameBuilder b(header);
    for (std::int64_t n = 0; n < state.range(0); n += 64) b.payload().FixedOpaque(piece);
    auto frame = std::move(b).Finish();
    benchmark::DoNotOptimize(frame);
  }
}
BENCHMARK(BM_WireBufferReply)->Arg(64)->Arg(2048)->Arg(65536);

// Two threads allocating and releasing small values concurrently.
void BM_SecretBytesContended(benchmark::State& state) {
  const std::vector<std::uint8_t> value(64, 0x42);
  for (auto _ : state) {
    SecretBytes s(value);
    benchmark::DoNotOptimize(s.data());
  }
}
BENCHMARK(BM_SecretBytesContended)->Threads(2);

}  // namespace
