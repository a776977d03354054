// OPENSSL_SUPPRESS_DEPRECATED: the PBKDF2 fast path drives the SHA block functions
// (SHA256_Transform and friends) directly; OpenSSL 3 still ships them but marks them deprecated.
// They are the only public entry to its SHA-NI block code without the per-call EVP overhead.
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include "volume/luks_crypto.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "volume/gcrypt_hash.h"

namespace vsecret::volume {
namespace {

struct HashInfo {
  HashAlgo algo;
  std::string_view name;
  const char* openssl_name;
  std::size_t digest_size;
};

constexpr HashInfo kHashes[] = {
    {HashAlgo::kSha1, "sha1", "SHA1", 20},
    {HashAlgo::kSha224, "sha224", "SHA224", 28},
    {HashAlgo::kSha256, "sha256", "SHA256", 32},
    {HashAlgo::kSha384, "sha384", "SHA384", 48},
    {HashAlgo::kSha512, "sha512", "SHA512", 64},
    {HashAlgo::kRipemd160, "ripemd160", "RIPEMD160", 20},
    {HashAlgo::kWhirlpool, "whirlpool", "WHIRLPOOL", 64},
};

const HashInfo& Info(HashAlgo algo) {
  for (const HashInfo& h : kHashes) {
    if (h.algo == algo) return h;
  }
  return kHashes[2];
}

std::unexpected<Error> CryptoFailure(const std::string& what) {
  ERR_clear_error();
  return InternalError(ErrorDomain::kCrypto, what);
}

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct MdFree {
  void operator()(EVP_MD* md) const { EVP_MD_free(md); }
};
using MdPtr = std::unique_ptr<EVP_MD, MdFree>;

// ripemd160 lives in the legacy provider on some OpenSSL 3 builds; the default provider is tried
// first and the failure reported as an unsupported hash rather than a crash.
MdPtr FetchMd(HashAlgo algo) { return MdPtr(EVP_MD_fetch(nullptr, Info(algo).openssl_name, nullptr)); }

// ---------------------------------------------------------------------------------------------
// PBKDF2 fast path: one HMAC iteration is exactly two block-function calls on precomputed
// inner/outer states, with the message padding laid out once.

template <typename Word, std::size_t kWords>
void StoreBigEndian(const Word (&words)[kWords], std::uint8_t* out, std::size_t len) {
  for (std::size_t i = 0; i < len; ++i) {
    const Word w = words[i / sizeof(Word)];
    out[i] = static_cast<std::uint8_t>(w >> (8 * (sizeof(Word) - 1 - i % sizeof(Word))));
  }
}

// Adaptors over OpenSSL's context structs: the chaining state is an array for sha256/sha512 and
// five named fields for sha1.
struct Sha1Traits {
  using Ctx = SHA_CTX;
  using Word = SHA_LONG;
  static constexpr std::size_t kBlock = SHA_CBLOCK, kDigest = SHA_DIGEST_LENGTH, kWords = 5, kLenBytes = 8;
  static void Init(Ctx* c) { SHA1_Init(c); }
  static void Update(Ctx* c, const void* d, std::size_t n) { SHA1_Update(c, d, n); }
  static void Final(std::uint8_t* out, Ctx* c) { SHA1_Final(out, c); }
  static void Transform(Ctx* c, const std::uint8_t* block) { SHA1_Transform(c, block); }
  static void Get(const Ctx& c, Word (&w)[kWords]) {
    w[0] = c.h0, w[1] = c.h1, w[2] = c.h2, w[3] = c.h3, w[4] = c.h4;
  }
  static void Set(Ctx* c, const Word (&w)[kWords]) {
    c->h0 = w[0], c->h1 = w[1], c->h2 = w[2], c->h3 = w[3], c->h4 = w[4];
  }
};

struct Sha256Traits {
  using Ctx = SHA256_CTX;
  using Word = SHA_LONG;
  static constexpr std::size_t kBlock = SHA256_CBLOCK, kDigest = SHA256_DIGEST_LENGTH, kWords = 8,
                               kLenBytes = 8;
  static void Init(Ctx* c) { SHA256_Init(c); }
  static void Update(Ctx* c, const void* d, std::size_t n) { SHA256_Update(c, d, n); }
  static void Final(std::uint8_t* out, Ctx* c) { SHA256_Final(out, c); }
  static void Transform(Ctx* c, const std::uint8_t* block) { SHA256_Transform(c, block); }
  static void Get(const Ctx& c, Word (&w)[kWords]) { std::copy(c.h, c.h + kWords, w); }
  static void Set(Ctx* c, const Word (&w)[kWords]) { std::copy(w, w + kWords, c->h); }
};

struct Sha512Traits {
  using Ctx = SHA512_CTX;
  using Word = SHA_LONG64;
  static constexpr std::size_t kBlock = SHA512_CBLOCK, kDigest = SHA512_DIGEST_LENGTH, kWords = 8,
                               kLenBytes = 16;
  static void Init(Ctx* c) { SHA512_Init(c); }
  static void Update(Ctx* c, const void* d, std::size_t n) { SHA512_Update(c, d, n); }
  static void Final(std::uint8_t* out, Ctx* c) { SHA512_Final(out, c); }
  static void Transform(Ctx* c, const std::uint8_t* block) { SHA512_Transform(c, block); }
  static void Get(const Ctx& c, Word (&w)[kWords]) { std::copy(c.h, c.h + kWords, w); }
  static void Set(Ctx* c, const Word (&w)[kWords]) { std::copy(w, w + kWords, c->h); }
};

// One PBKDF2 output block T_index (1-based) into out (len <= digest size).
template <typename T>
void Pbkdf2Block(std::span<const std::uint8_t> password, std::span<const std::uint8_t> salt,
                 std::uint32_t iterations, std::uint32_t index, std::uint8_t* out, std::size_t len) {
  using Ctx = typename T::Ctx;
  using Word = typename T::Word;
  std::array<std::uint8_t, T::kBlock> key{};
  if (password.size() > T::kBlock) {
    Ctx c;
    T::Init(&c);
    T::Update(&c, password.data(), password.size());
    T::Final(key.data(), &c);
    SecureWipe(&c, sizeof c);
  } else {
    std::copy(password.begin(), password.end(), key.begin());
  }
  Ctx inner_ctx, outer_ctx;
  std::array<std::uint8_t, T::kBlock> pad;
  for (std::size_t i = 0; i < T::kBlock; ++i) pad[i] = key[i] ^ 0x36;
  T::Init(&inner_ctx);
  T::Update(&inner_ctx, pad.data(), pad.size());
  for (std::size_t i = 0; i < T::kBlock; ++i) pad[i] = key[i] ^ 0x5c;
  T::Init(&outer_ctx);
  T::Update(&outer_ctx, pad.data(), pad.size());
  SecureWipe(key.data(), key.size());
  SecureWipe(pad.data(), pad.size());

  // U_1 = HMAC(P, S || be32(index)) through the ordinary streaming interface.
  std::uint8_t u[T::kDigest];
  {
    Ctx c = inner_ctx;
    const std::uint8_t be[4] = {static_cast<std::uint8_t>(index >> 24),
                                static_cast<std::uint8_t>(index >> 16), static_cast<std::uint8_t>(index >> 8),
                                static_cast<std::uint8_t>(index)};
    T::Update(&c, salt.data(), salt.size());
    T::Update(&c, be, sizeof be);
    T::Final(u, &c);
    c = outer_ctx;
    T::Update(&c, u, T::kDigest);
    T::Final(u, &c);
    SecureWipe(&c, sizeof c);
  }
  std::uint8_t acc[T::kDigest];
  std::memcpy(acc, u, T::kDigest);

  // Both HMAC halves hash (64- or 128-byte pad block) + one digest, so the second block is the
  // digest followed by constant padding encoding (block + digest) bits.
  std::uint8_t block_in[T::kBlock] = {};
  std::uint8_t block_out[T::kBlock] = {};
  const std::uint64_t bits = static_cast<std::uint64_t>(T::kBlock + T::kDigest) * 8;
  for (std::uint8_t* b : {block_in, block_out}) {
    b[T::kDigest] = 0x80;
    for (std::size_t i = 0; i < 8; ++i) b[T::kBlock - 1 - i] = static_cast<std::uint8_t>(bits >> (8 * i));
  }
  std::memcpy(block_in, u, T::kDigest);
  Word inner_state[T::kWords], outer_state[T::kWords], w[T::kWords];
  T::Get(inner_ctx, inner_state);
  T::Get(outer_ctx, outer_state);
  Ctx work = inner_ctx;
  for (std::uint32_t it = 1; it < iterations; ++it) {
    T::Set(&work, inner_state);
    T::Transform(&work, block_in);
    T::Get(work, w);
    StoreBigEndian(w, block_out, T::kDigest);
    T::Set(&work, outer_state);
    T::Transform(&work, block_out);
    T::Get(work, w);
    StoreBigEndian(w, block_in, T::kDigest);
    for (std::size_t i = 0; i < T::kDigest; ++i) acc[i] ^= block_in[i];
  }
  std::memcpy(out, acc, len);
  SecureWipe(acc, sizeof acc);
  SecureWipe(u, sizeof u);
  SecureWipe(block_in, sizeof block_in);
  SecureWipe(block_out, sizeof block_out);
  SecureWipe(&work, sizeof work);
  SecureWipe(&inner_ctx, sizeof inner_ctx);
  SecureWipe(&outer_ctx, sizeof outer_ctx);
  SecureWipe(inner_state, sizeof inner_state);
  SecureWipe(outer_state, sizeof outer_state);
  SecureWipe(w, sizeof w);
}

template <typename T>
void FastPbkdf2(std::span<const std::uint8_t> password, std::span<const std::uint8_t> salt,
                std::uint32_t iterations, std::span<std::uint8_t> out) {
  const std::size_t blocks = (out.size() + T::kDigest - 1) / T::kDigest;
  auto run = [&](std::size_t b) {
    const std::size_t len = std::min(T::kDigest, out.size() - b * T::kDigest);
    Pbkdf2Block<T>(password, salt, iterations, static_cast<std::uint32_t>(b + 1), out.data() + b * T::kDigest,
                   len);
  };
  // The output blocks are independent, so a long derivation of a multi-block key (64-byte
  // AES-XTS keys with sha256) runs them in parallel: the iteration count, fixed by whoever
  // created the slot, stays the same; only the wall time shrinks.
  if (blocks > 1 && iterations >= 20000 && std::thread::hardware_concurrency() > 1) {
    std::vector<std::thread> helpers;
    for (std::size_t b = 1; b < blocks; ++b) helpers.emplace_back(run, b);
    run(0);
    for (std::thread& t : helpers) t.join();
  } else {
    for (std::size_t b = 0; b < blocks; ++b) run(b);
  }
}

double ThreadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

void Diffuse(EVP_MD_CTX* ctx, const EVP_MD* md, std::size_t digest_size, std::uint8_t* buf, std::size_t len) {
  std::uint8_t digest[EVP_MAX_MD_SIZE];
  const std::size_t pieces = (len + digest_size - 1) / digest_size;
  for (std::size_t j = 0; j < pieces; ++j) {
    const std::size_t piece = std::min(digest_size, len - j * digest_size);
    const std::uint8_t be[4] = {static_cast<std::uint8_t>(j >> 24), static_cast<std::uint8_t>(j >> 16),
                                static_cast<std::uint8_t>(j >> 8), static_cast<std::uint8_t>(j)};
    EVP_DigestInit_ex(ctx, md, nullptr);
    EVP_DigestUpdate(ctx, be, sizeof be);
    EVP_DigestUpdate(ctx, buf + j * digest_size, piece);
    EVP_DigestFinal_ex(ctx, digest, nullptr);
    std::memcpy(buf + j * digest_size, digest, piece);
  }
  SecureWipe(digest, sizeof digest);
}

// Diffuse through libgcrypt, for the hashes OpenSSL cannot fetch.
Result<void> GcryptDiffuse(HashAlgo hash, std::uint8_t* buf, std::size_t len) {
  const std::size_t digest_size = HashDigestSize(hash);
  std::uint8_t digest[64];
  const std::size_t pieces = (len + digest_size - 1) / digest_size;
  for (std::size_t j = 0; j < pieces; ++j) {
    const std::size_t piece = std::min(digest_size, len - j * digest_size);
    const std::uint8_t be[4] = {static_cast<std::uint8_t>(j >> 24), static_cast<std::uint8_t>(j >> 16),
                                static_cast<std::uint8_t>(j >> 8), static_cast<std::uint8_t>(j)};
    if (Result<void> r = GcryptHash(HashName(hash), be, {buf + j * digest_size, piece}, digest); !r) {
      SecureWipe(digest, sizeof digest);
      return r;
    }
    std::memcpy(buf + j * digest_size, digest, piece);
  }
  SecureWipe(digest, sizeof digest);
  return {};
}

// The shared accumulate-and-diffuse chain of AF split and merge over the first stripes-1 blocks.
Result<SecretBytes> AfChain(std::span<const std::uint8_t> material, std::size_t n, std::uint32_t stripes,
                            HashAlgo hash) {
  MdPtr md = FetchMd(hash);
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  const bool gcrypt = !md && GcryptDigestSize(HashName(hash)) == HashDigestSize(hash);
  if ((!md && !gcrypt) || !ctx)
    return CryptoFailure("hash '" + std::string(HashName(hash)) + "' is not available");
  SecretBytes acc;
  acc.Resize(n);
  std::memset(acc.data(), 0, n);
  for (std::uint32_t i = 0; i + 1 < stripes; ++i) {
    const std::uint8_t* stripe = material.data() + static_cast<std::size_t>(i) * n;
    for (std::size_t k = 0; k < n; ++k) acc.data()[k] ^= stripe[k];
    if (!gcrypt) {
      Diffuse(ctx.get(), md.get(), HashDigestSize(hash), acc.data(), n);
    } else if (Result<void> r = GcryptDiffuse(hash, acc.data(), n); !r) {
      return std::unexpected(r.error());
    }
  }
  return acc;
}

}  // namespace

std::optional<HashAlgo> HashFromName(std::string_view name) {
  for (const HashInfo& h : kHashes) {
    if (h.name == name) return h.algo;
  }
  return std::nullopt;
}

std::string_view HashName(HashAlgo hash) { return Info(hash).name; }
std::size_t HashDigestSize(HashAlgo hash) { return Info(hash).digest_size; }

Result<void> HashBytes(HashAlgo hash, std::span<const std::uint8_t> data, std::span<std::uint8_t> out) {
  MdPtr md = FetchMd(hash);
  if (!md && out.size() >= HashDigestSize(hash)) return GcryptHash(HashName(hash), {}, data, out);
  if (!md || out.size() < HashDigestSize(hash))
    return CryptoFailure("cannot compute " + std::string(HashName(hash)));
  unsigned len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, md.get(), nullptr) != 1) {
    return CryptoFailure("cannot compute " + std::string(HashName(hash)));
  }
  return {};
}

Result<void> Pbkdf2(HashAlgo hash, std::span<const std::uint8_t> password, std::span<const std::uint8_t> salt,
                    std::uint32_t iterations, std::span<std::uint8_t> out) {
  if (iterations == 0 || out.empty()) return InternalError(ErrorDomain::kCrypto, "invalid PBKDF2 parameters");
  switch (hash) {
    case HashAlgo::kSha1:
      FastPbkdf2<Sha1Traits>(password, salt, iterations, out);
      return {};
    case HashAlgo::kSha256:
      FastPbkdf2<Sha256Traits>(password, salt, iterations, out);
      return {};
    case HashAlgo::kSha512:
      FastPbkdf2<Sha512Traits>(password, salt, iterations, out);
      return {};
    default:
      break;
  }
  MdPtr md = FetchMd(hash);
  if (!md) return GcryptPbkdf2(HashName(hash), password, salt, iterations, out);
  if (iterations > static_cast<std::uint32_t>(INT_MAX) ||
      PKCS5_PBKDF2_HMAC(reinterpret_cast<const char*>(password.data()), static_cast<int>(password.size()),
                        salt.data(), static_cast<int>(salt.size()), static_cast<int>(iterations), md.get(),
                        static_cast<int>(out.size()), out.data()) != 1) {
    return CryptoFailure("PBKDF2 with " + std::string(HashName(hash)) + " failed");
  }
  return {};
}

std::uint32_t CalibratePbkdf2(HashAlgo hash, std::size_t out_len, std::chrono::milliseconds budget) {
  constexpr double kMinSampleMs = 100.0;
  constexpr std::uint32_t kMinIterations = 1000;
  static constexpr std::uint8_t kPassword[] = "vsecret calibration";
  std::array<std::uint8_t, 32> salt{};
  std::vector<std::uint8_t> out(std::max<std::size_t>(out_len, 1));
  // Time one output block on one thread: iterations are defined per block, whatever the
  // parallelism of the machine that later unlocks the slot.
  const std::size_t block = std::min(out.size(), HashDigestSize(hash));
  std::uint32_t iterations = 1u << 12;
  double rate_per_ms = 0;
  for (int round = 0; round < 24; ++round) {
    const double start = ThreadCpuMs();
    if (!Pbkdf2(hash, {kPassword, sizeof kPassword - 1}, salt, iterations, {out.data(), block})) break;
    const double elapsed = ThreadCpuMs() - start;
    if (elapsed >= kMinSampleMs || iterations >= (1u << 30)) {
      rate_per_ms = elapsed > 0 ? iterations / elapsed : 0;
      break;
    }
    // Jump straight to the size that should take the sample time, with headroom; a zero reading
    // (coarse clock, descheduled thread) only doubles.
    const double factor = elapsed > 1.0 ? std::min(16.0, kMinSampleMs * 1.2 / elapsed) : 2.0;
    iterations = static_cast<std::uint32_t>(std::min<double>(iterations * std::max(2.0, factor), 1u << 30));
  }
  const std::size_t blocks = (out_len + HashDigestSize(hash) - 1) / HashDigestSize(hash);
  const double total = rate_per_ms * static_cast<double>(budget.count()) /
                       static_cast<double>(std::max<std::size_t>(blocks, 1));
  if (total >= static_cast<double>(UINT32_MAX)) return UINT32_MAX;
  return std::max(kMinIterations, static_cast<std::uint32_t>(total));
}

Result<SecretBytes> AfSplit(const SecretBytes& key, std::uint32_t stripes, HashAlgo hash) {
  const std::size_t n = key.size();
  SecretBytes material;
  material.Resize(n * stripes);
  if (Result<void> r = RandomBytes({material.data(), n * (stripes - 1)}); !r)
    return std::unexpected(r.error());
  Result<SecretBytes> acc = AfChain(material.span(), n, stripes, hash);
  if (!acc) return std::unexpected(acc.error());
  std::uint8_t* last = material.data() + n * (stripes - 1);
  for (std::size_t k = 0; k < n; ++k) last[k] = acc->data()[k] ^ key.data()[k];
  return material;
}

Result<SecretBytes> AfMerge(std::span<const std::uint8_t> material, std::size_t key_size,
                            std::uint32_t stripes, HashAlgo hash) {
  if (stripes == 0 || material.size() < key_size * stripes) {
    return InternalError(ErrorDomain::kCrypto, "key material is truncated");
  }
  Result<SecretBytes> acc = AfChain(material, key_size, stripes, hash);
  if (!acc) return std::unexpected(acc.error());
  const std::uint8_t* last = material.data() + key_size * (stripes - 1);
  for (std::size_t k = 0; k < key_size; ++k) acc->data()[k] ^= last[k];
  return acc;
}

Result<void> RandomBytes(std::span<std::uint8_t> out) {
  std::size_t done = 0;
  while (done < out.size()) {
    const int chunk = static_cast<int>(std::min<std::size_t>(out.size() - done, 1 << 20));
    if (RAND_bytes(out.data() + done, chunk) != 1) return CryptoFailure("cannot generate random bytes");
    done += static_cast<std::size_t>(chunk);
  }
  return {};
}

}  // namespace vsecret::volume
