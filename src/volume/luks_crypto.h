// The key-derivation half of LUKS1: hash lookup, PBKDF2-HMAC,
// iteration calibration and the anti-forensic (AF) splitter.
//
// PBKDF2 for sha1/sha256/sha512 runs a dedicated loop over OpenSSL's block functions with the
// HMAC pads precomputed, because unlock time is PBKDF2 time: OpenSSL's generic
// PKCS5_PBKDF2_HMAC spends about half of each iteration in EVP bookkeeping, which would make a
// volume calibrated by qemu (nettle) take ~1.8x longer to open here than in qemu. Other hashes
// use PKCS5_PBKDF2_HMAC, or libgcrypt's PBKDF2 for a hash OpenSSL cannot fetch. Known-answer tests hold both
// paths to RFC 6070 / RFC 7914 vectors.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "vsecret/error.h"
#include "vsecret/secret_bytes.h"

namespace vsecret::volume {

// whirlpool is computed by libgcrypt (gcrypt_hash.h): OpenSSL 3 keeps it in the legacy provider.
// qemu has no whirlpool, so it is for opening cryptsetup's volumes, never for creating.
enum class HashAlgo { kSha1, kSha224, kSha256, kSha384, kSha512, kRipemd160, kWhirlpool };

// LUKS hash-spec names ("sha256"); nullopt for names vsecret cannot compute (md5 is refused, as
// cryptsetup refuses it).
std::optional<HashAlgo> HashFromName(std::string_view name);
std::string_view HashName(HashAlgo hash);
std::size_t HashDigestSize(HashAlgo hash);

// out = Hash(data).
Result<void> HashBytes(HashAlgo hash, std::span<const std::uint8_t> data, std::span<std::uint8_t> out);

// PBKDF2-HMAC-hash of password and salt, writing out.size() bytes. iterations >= 1.
Result<void> Pbkdf2(HashAlgo hash, std::span<const std::uint8_t> password, std::span<const std::uint8_t> salt,
                    std::uint32_t iterations, std::span<std::uint8_t> out);

// How many PBKDF2 iterations fit in `budget` of this thread's CPU time for an output of out_len
// bytes, measured over at least ~100 ms (with the clock's nanosecond resolution, so a busy
// machine cannot make the measurement fail the way qemu's can) and never less than 1000.
// The result is capped at UINT32_MAX.
std::uint32_t CalibratePbkdf2(HashAlgo hash, std::size_t out_len, std::chrono::milliseconds budget);

// AF split: expands key (n bytes) into stripes x n bytes of material such that AfMerge recovers
// it; all but the last stripe are random.
Result<SecretBytes> AfSplit(const SecretBytes& key, std::uint32_t stripes, HashAlgo hash);
// AF merge: the key from material (stripes x key_size bytes).
Result<SecretBytes> AfMerge(std::span<const std::uint8_t> material, std::size_t key_size,
                            std::uint32_t stripes, HashAlgo hash);

// Cryptographically secure random bytes (OpenSSL RAND_bytes).
Result<void> RandomBytes(std::span<std::uint8_t> out);

}  // namespace vsecret::volume
