// Micro benchmarks of the volume encryption engine (run: vsecret_micro_bench --benchmark_filter=Volume).
//  * BM_VolumeSectorEngine: one core encrypting/decrypting 512-byte sectors of a 4 MiB buffer
//    in place, per mode (the bar: >= 2.5 GiB/s per core for aes-xts-plain64).
//  * BM_VolumePbkdf2: HMAC iterations per second of the PBKDF2 loop (unlock time is iterations
//    divided by this), next to OpenSSL's generic PKCS5_PBKDF2_HMAC.
// The end-to-end comparison with qemu-img is bench/volume_bench.py.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <vector>

#include "volume/luks_crypto.h"
#include "volume/sector_cipher.h"

namespace {

using vsecret::SecretBytes;
using namespace vsecret::volume;

void BM_VolumeSectorEngine(benchmark::State& state, const char* mode, std::uint32_t key_bytes, bool encrypt) {
  SecretBytes key;
  key.Resize(key_bytes);
  (void)RandomBytes({key.data(), key.size()});
  auto cipher = SectorCipher::Create(*ParseCipherSpec("aes", mode, key_bytes), key);
  // 4 MiB: the transfer engine's chunk, encrypted right after it is read.
  std::vector<std::uint8_t> buffer(4u << 20, 0x5a);
  std::uint64_t sector = 0;
  for (auto _ : state) {
    auto r = encrypt ? (*cipher)->Encrypt(sector, buffer) : (*cipher)->Decrypt(sector, buffer);
    benchmark::DoNotOptimize(r);
    sector += buffer.size() / kSectorSize;
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * buffer.size()));
}
BENCHMARK_CAPTURE(BM_VolumeSectorEngine, xts_plain64_enc, "xts-plain64", 64, true)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_VolumeSectorEngine, xts_plain64_dec, "xts-plain64", 64, false)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_VolumeSectorEngine, xts_plain64_128_enc, "xts-plain64", 32, true)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_VolumeSectorEngine, cbc_essiv_enc, "cbc-essiv:sha256", 32, true)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_VolumeSectorEngine, cbc_essiv_dec, "cbc-essiv:sha256", 32, false)
    ->Unit(benchmark::kMillisecond);

void BM_VolumePbkdf2(benchmark::State& state, HashAlgo hash, bool generic) {
  std::vector<std::uint8_t> pass(7, 'p'), salt(32, 's'), out(HashDigestSize(hash));
  constexpr std::uint32_t kIterations = 100000;
  for (auto _ : state) {
    if (generic) {
      PKCS5_PBKDF2_HMAC("ppppppp", 7, salt.data(), 32, kIterations,
                        hash == HashAlgo::kSha1 ? EVP_sha1() : EVP_sha256(), static_cast<int>(out.size()),
                        out.data());
    } else {
      (void)Pbkdf2(hash, pass, salt, kIterations, out);
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["iterations/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * kIterations, benchmark::Counter::kIsRate);
}
BENCHMARK_CAPTURE(BM_VolumePbkdf2, sha256_vsecret, HashAlgo::kSha256, false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_VolumePbkdf2, sha256_openssl_generic, HashAlgo::kSha256, true)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_VolumePbkdf2, sha1_vsecret, HashAlgo::kSha1, false)->Unit(benchmark::kMillisecond);

}  // namespace
