#include "volume/aesni_xts.h"

#include <cstdlib>
#include <cstring>

#include "vsecret/secret_bytes.h"

namespace vsecret::volume {

bool AesNiXts::Available() {
  const char* off = std::getenv("VSECRET_NO_AESNI");
  if (off != nullptr && *off != '\0') return false;
  __builtin_cpu_init();
  return __builtin_cpu_supports("aes") && __builtin_cpu_supports("sse4.1");
}

}  // namespace vsecret::volume

// Everything below may use AES-NI; it only runs after Available() said the CPU has it.
#pragma GCC push_options
#pragma GCC target("aes,sse4.1")
#include <smmintrin.h>
#include <wmmintrin.h>

namespace vsecret::volume {

struct AesNiXts::Schedule {
  __m128i enc1[15];  // data key, encryption rounds
  __m128i dec1[15];  // data key, equivalent inverse cipher rounds
  __m128i enc2[15];  // tweak key
  int rounds = 0;
};

namespace {

// One step of the key schedule: the previous round key with each word xored into the next, then
// the (RotWord/SubWord/Rcon or SubWord only) contribution aeskeygenassist computed, broadcast
// from the word the shuffle selects.
template <int kShuffle>
__m128i ExpandStep(__m128i key, __m128i assist) {
  assist = _mm_shuffle_epi32(assist, kShuffle);
  key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
  key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
  key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
  return _mm_xor_si128(key, assist);
}

void Expand128(const std::uint8_t* key, __m128i* k) {
  k[0] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(key));
  k[1] = ExpandStep<0xff>(k[0], _mm_aeskeygenassist_si128(k[0], 0x01));
  k[2] = ExpandStep<0xff>(k[1], _mm_aeskeygenassist_si128(k[1], 0x02));
  k[3] = ExpandStep<0xff>(k[2], _mm_aeskeygenassist_si128(k[2], 0x04));
  k[4] = ExpandStep<0xff>(k[3], _mm_aeskeygenassist_si128(k[3], 0x08));
  k[5] = ExpandStep<0xff>(k[4], _mm_aeskeygenassist_si128(k[4], 0x10));
  k[6] = ExpandStep<0xff>(k[5], _mm_aeskeygenassist_si128(k[5], 0x20));
  k[7] = ExpandStep<0xff>(k[6], _mm_aeskeygenassist_si128(k[6], 0x40));
  k[8] = ExpandStep<0xff>(k[7], _mm_aeskeygenassist_si128(k[7], 0x80));
  k[9] = ExpandStep<0xff>(k[8], _mm_aeskeygenassist_si128(k[8], 0x1b));
  k[10] = ExpandStep<0xff>(k[9], _mm_aeskeygenassist_si128(k[9], 0x36));
}

void Expand256(const std::uint8_t* key, __m128i* k) {
  k[0] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(key));
  k[1] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(key + 16));
  k[2] = ExpandStep<0xff>(k[0], _mm_aeskeygenassist_si128(k[1], 0x01));
  k[3] = ExpandStep<0xaa>(k[1], _mm_aeskeygenassist_si128(k[2], 0x00));
  k[4] = ExpandStep<0xff>(k[2], _mm_aeskeygenassist_si128(k[3], 0x02));
  k[5] = ExpandStep<0xaa>(k[3], _mm_aeskeygenassist_si128(k[4], 0x00));
  k[6] = ExpandStep<0xff>(k[4], _mm_aeskeygenassist_si128(k[5], 0x04));
  k[7] = ExpandStep<0xaa>(k[5], _mm_aeskeygenassist_si128(k[6], 0x00));
  k[8] = ExpandStep<0xff>(k[6], _mm_aeskeygenassist_si128(k[7], 0x08));
  k[9] = ExpandStep<0xaa>(k[7], _mm_aeskeygenassist_si128(k[8], 0x00));
  k[10] = ExpandStep<0xff>(k[8], _mm_aeskeygenassist_si128(k[9], 0x10));
  k[11] = ExpandStep<0xaa>(k[9], _mm_aeskeygenassist_si128(k[10], 0x00));
  k[12] = ExpandStep<0xff>(k[10], _mm_aeskeygenassist_si128(k[11], 0x20));
  k[13] = ExpandStep<0xaa>(k[11], _mm_aeskeygenassist_si128(k[12], 0x00));
  k[14] = ExpandStep<0xff>(k[12], _mm_aeskeygenassist_si128(k[13], 0x40));
}

__m128i EncryptBlock(const __m128i* k, int rounds, __m128i x) {
  x = _mm_xor_si128(x, k[0]);
  for (int r = 1; r < rounds; ++r) x = _mm_aesenc_si128(x, k[r]);
  return _mm_aesenclast_si128(x, k[rounds]);
}

// Multiplication of the tweak by x in GF(2^128) (little-endian, polynomial x^128+x^7+x^2+x+1):
// shift left by one across both 64-bit halves; the bit leaving the low half enters the high
// half, the bit leaving the top folds back as 0x87.
__m128i MulAlpha(__m128i t) {
  const __m128i carries = _mm_shuffle_epi32(_mm_srli_epi64(t, 63), 0x4E);
  const __m128i mask = _mm_sub_epi64(_mm_setzero_si128(), carries);
  return _mm_xor_si128(_mm_slli_epi64(t, 1), _mm_and_si128(mask, _mm_set_epi64x(1, 0x87)));
}

// The round count is a template parameter and the eight-block loops are unrolled so that the
// eight states stay in registers and the AES units see eight independent instructions per round.
template <bool kEncrypt, int kRounds>
void XtsSector(const AesNiXts::Schedule& s, const std::uint8_t* tweak_input, std::uint8_t* sector) {
  const __m128i* k = kEncrypt ? s.enc1 : s.dec1;
  __m128i t = EncryptBlock(s.enc2, kRounds, _mm_loadu_si128(reinterpret_cast<const __m128i*>(tweak_input)));
  auto* blocks = reinterpret_cast<__m128i*>(sector);
  for (int b = 0; b < 32; b += 8) {
    __m128i tw[8], x[8];
    tw[0] = t;
#pragma GCC unroll 8
    for (int i = 1; i < 8; ++i) tw[i] = MulAlpha(tw[i - 1]);
    t = MulAlpha(tw[7]);
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) {
      x[i] = _mm_xor_si128(_mm_xor_si128(_mm_loadu_si128(blocks + b + i), tw[i]), k[0]);
    }
#pragma GCC unroll 14
    for (int r = 1; r < kRounds; ++r) {
      const __m128i key = k[r];
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i) x[i] = kEncrypt ? _mm_aesenc_si128(x[i], key) : _mm_aesdec_si128(x[i], key);
    }
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) {
      x[i] = kEncrypt ? _mm_aesenclast_si128(x[i], k[kRounds]) : _mm_aesdeclast_si128(x[i], k[kRounds]);
      _mm_storeu_si128(blocks + b + i, _mm_xor_si128(x[i], tw[i]));
    }
  }
}

template <bool kEncrypt>
void XtsSector(const AesNiXts::Schedule& s, const std::uint8_t* tweak_input, std::uint8_t* sector) {
  if (s.rounds == 14) {
    XtsSector<kEncrypt, 14>(s, tweak_input, sector);
  } else {
    XtsSector<kEncrypt, 10>(s, tweak_input, sector);
  }
}

}  // namespace

std::unique_ptr<AesNiXts> AesNiXts::Create(std::span<const std::uint8_t> key) {
  if (key.size() != 32 && key.size() != 64) return nullptr;
  auto s = std::make_unique<Schedule>();
  const std::size_t half = key.size() / 2;
  if (half == 16) {
    s->rounds = 10;
    Expand128(key.data(), s->enc1);
    Expand128(key.data() + half, s->enc2);
  } else {
    s->rounds = 14;
    Expand256(key.data(), s->enc1);
    Expand256(key.data() + half, s->enc2);
  }
  // The equivalent inverse cipher: reversed round keys, InvMixColumns on the inner ones.
  s->dec1[0] = s->enc1[s->rounds];
  for (int r = 1; r < s->rounds; ++r) s->dec1[r] = _mm_aesimc_si128(s->enc1[s->rounds - r]);
  s->dec1[s->rounds] = s->enc1[0];
  return std::unique_ptr<AesNiXts>(new AesNiXts(std::move(s)));
}

AesNiXts::AesNiXts(std::unique_ptr<Schedule> schedule) : schedule_(std::move(schedule)) {}

AesNiXts::~AesNiXts() { SecureWipe(schedule_.get(), sizeof(Schedule)); }

void AesNiXts::EncryptSector(const std::uint8_t* tweak_input, std::uint8_t* sector) const {
  XtsSector<true>(*schedule_, tweak_input, sector);
}

void AesNiXts::DecryptSector(const std::uint8_t* tweak_input, std::uint8_t* sector) const {
  XtsSector<false>(*schedule_, tweak_input, sector);
}

}  // namespace vsecret::volume
#pragma GCC pop_options
