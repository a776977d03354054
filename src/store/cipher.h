// The few OpenSSL primitives the value formats need, behind checked, allocation-safe wrappers.
//
// Every plaintext and key is passed and returned in SecretBytes. Failures that can only come
// from OpenSSL itself (allocation, an unavailable cipher) are Errors; authentication and
// padding failures are "no result" (nullopt), because what they mean depends on the format.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "vsecret/error.h"
#include "vsecret/secret_bytes.h"

namespace vsecret {

inline constexpr std::size_t kAes256KeyBytes = 32;
inline constexpr std::size_t kAesBlockBytes = 16;  // also the CBC IV length
inline constexpr std::size_t kGcmNonceBytes = 12;
inline constexpr std::size_t kGcmTagBytes = 16;

// Fills out from the OS CSPRNG (OpenSSL's RAND_bytes).
Result<void> FillRandom(std::span<std::uint8_t> out);

// AES-256-CBC with PKCS#7 padding (1..16 bytes, always present). Returns the ciphertext only.
Result<SecretBytes> Aes256CbcEncrypt(const SecretBytes& key, std::span<const std::uint8_t, kAesBlockBytes> iv,
                                     std::span<const std::uint8_t> plaintext);
// nullopt when the ciphertext is not a positive multiple of the block size or the padding is
// not valid PKCS#7 (every pad byte is checked).
Result<std::optional<SecretBytes>> Aes256CbcDecrypt(const SecretBytes& key,
                                                    std::span<const std::uint8_t, kAesBlockBytes> iv,
                                                    std::span<const std::uint8_t> ciphertext);

// AES-256-GCM with a 96-bit nonce and a 128-bit tag. Returns ciphertext || tag.
Result<SecretBytes> Aes256GcmSeal(const SecretBytes& key, std::span<const std::uint8_t, kGcmNonceBytes> nonce,
                                  std::span<const std::uint8_t> aad, std::span<const std::uint8_t> plaintext);
// Takes ciphertext || tag; nullopt when it is shorter than a tag or does not authenticate.
Result<std::optional<SecretBytes>> Aes256GcmOpen(const SecretBytes& key,
                                                 std::span<const std::uint8_t, kGcmNonceBytes> nonce,
                                                 std::span<const std::uint8_t> aad,
                                                 std::span<const std::uint8_t> sealed);

// HMAC-SHA256(key, message).
Result<std::array<std::uint8_t, 32>> HmacSha256(const SecretBytes& key,
                                                std::span<const std::uint8_t> message);

}  // namespace vsecret
