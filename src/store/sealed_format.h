// "<uuid>.vsenc": vsecret's authenticated value file, version 1. Binary, no text encoding.
//
//   offset size  field
//        0    4  magic 0x89 'V' 'S' 'E' (the high byte keeps it from passing for text)
//        4    1  format version, 1
//        5    1  cipher, 1 = AES-256-GCM
//        6    2  reserved, 0
//        8    8  key id of the sealing key (store/encryption_key.h)
//       16   12  nonce, fresh random bytes on every write
//       28    n  ciphertext, as long as the value
//     28+n   16  GCM tag
//
// The associated data is the 28-byte header followed by the secret's 16 raw UUID bytes, so every
// header byte is authenticated and a file copied onto another secret's name does not open.
// A file is refused when it is shorter than 44 bytes, has another magic, an unknown version,
// cipher or non-zero reserved bits, a key id no loaded key has, or does not authenticate.
//
// Random 96-bit nonces under one key stay within NIST SP 800-38D's collision bound for 2^32
// writes; rotating the key (vsecret-admin rotate) resets the count, and a store does far fewer
// writes. Version 1 values are at most SecretStore::kMaxValueFileBytes - 44 bytes.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "store/cipher.h"
#include "store/encryption_key.h"
#include "store/value_codec.h"
#include "vsecret/uuid.h"

namespace vsecret {

inline constexpr std::array<std::uint8_t, 4> kSealedMagic = {0x89, 'V', 'S', 'E'};
inline constexpr std::uint8_t kSealedVersion = 1;
inline constexpr std::uint8_t kSealedCipherAes256Gcm = 1;
inline constexpr std::size_t kSealedHeaderBytes = 28;
inline constexpr std::size_t kSealedOverheadBytes = kSealedHeaderBytes + kGcmTagBytes;

// The file content for value under key with the given nonce (exposed for known-answer tests;
// everything else must use the overload that draws a fresh nonce).
Result<SecretBytes> SealValue(const EncryptionKey& key, const Uuid& uuid, const SecretBytes& value,
                              std::span<const std::uint8_t, kGcmNonceBytes> nonce);
Result<SecretBytes> SealValue(const EncryptionKey& key, const Uuid& uuid, const SecretBytes& value);

// Opens content of secret uuid. Every error is "Invalid secret: <path>: <reason>" (code
// INVALID_SECRET), reason one of:
//   "not a vsecret value file" / "unsupported value file format version <v>" /
//   "unsupported cipher <c>" / "truncated value file" /
//   "authentication failed: the file was modified, truncated or belongs to another secret"
//   (kInvalid), and, as kKeyUnavailable,
//   "sealed with key <id>, but no encryption key is loaded" /
//   "sealed with key <id>, but the loaded key is <id> (<path of key>)" (a wrong key).
DecodeResult OpenSealedValue(const Keyring* keyring, const Uuid& uuid, const SecretBytes& content,
                             const std::string& path);

// The key id recorded in a version-1 header, without authenticating anything (for reports).
std::optional<KeyId> SealedKeyId(const SecretBytes& content);

}  // namespace vsecret
