// The master key that protects value files at rest, and the keyring the store decrypts with.
//
// An EncryptionKey is exactly 32 raw bytes (libvirt's VIR_SECRETS_ENCRYPTION_KEY_LEN), held in a
// wiping SecretBytes and never printed. Its KeyId is public: the first 8 bytes of
// HMAC-SHA256(key, "vsecret key id v1"). It is stored in every authenticated value file so that
// a file sealed under another key is reported as such instead of as corruption, and so that a
// keyring holding the old and the new key during a rotation picks the right one without trial
// decryption. Eight bytes of a keyed hash reveal nothing useful about the key.
//
// Thread-safety: immutable after construction; share freely (the store holds a shared_ptr).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "vsecret/error.h"
#include "vsecret/secret_bytes.h"

namespace vsecret {

using KeyId = std::array<std::uint8_t, 8>;

// Lowercase hex, 16 characters.
std::string KeyIdToHex(const KeyId& id);
// Inverse of KeyIdToHex (either case); nullopt for anything else.
std::optional<KeyId> KeyIdFromHex(std::string_view hex);

class EncryptionKey {
 public:
  static constexpr std::size_t kSize = 32;

  // Takes exactly kSize bytes; `origin` (usually the key file's path) names the key in messages.
  static Result<EncryptionKey> FromBytes(SecretBytes bytes, std::string origin);
  // 32 fresh bytes from the OS CSPRNG.
  static Result<EncryptionKey> Generate(std::string origin);

  EncryptionKey(EncryptionKey&&) noexcept = default;
  EncryptionKey& operator=(EncryptionKey&&) noexcept = default;

  // Deliberate access to the raw key, for ciphers and for writing a key file.
  const SecretBytes& bytes() const { return bytes_; }
  const KeyId& id() const { return id_; }
  const std::string& origin() const { return origin_; }

  EncryptionKey Clone() const { return EncryptionKey(bytes_.Clone(), id_, origin_); }

 private:
  EncryptionKey(SecretBytes bytes, KeyId id, std::string origin)
      : bytes_(std::move(bytes)), id_(id), origin_(std::move(origin)) {}

  SecretBytes bytes_;
  KeyId id_{};
  std::string origin_;
};

// Reads a raw key file as libvirt 12.1 does, plus a permission check libvirt lacks. Messages:
//   missing or unopenable: "Failed to open file '<path>': <strerror>" (SYSTEM_ERROR)
//   more than 32 bytes:    "Failed to read file '<path>': Value too large for defined data type"
//   other read failure:    "Failed to read file '<path>': <strerror>"
//   fewer than 32 bytes:   "Encryption key length must be '32' '<path>'" (INVALID_SECRET; libvirt
//                          uses a newer code, VIR_ERR_INVALID_ENCR_KEY_SECRET)
//   readable or writable by other users:
//     "Encryption key file '<path>' must not be accessible by other users (mode 0644)"
// The content is read through env; the mode is checked with stat(2), which Env does not offer.
Result<EncryptionKey> ReadKeyFile(Env* env, const std::string& path);

// The keys a store can decrypt with, and the one it encrypts new values with.
class Keyring {
 public:
  // keys must not be empty; write_index selects the encrypting key. Keys with the same id are
  // kept once (the first).
  Keyring(std::vector<EncryptionKey> keys, std::size_t write_index);

  const EncryptionKey& write_key() const { return keys_[write_index_]; }
  // The key with this id, or nullptr.
  const EncryptionKey* Find(const KeyId& id) const;
  // Every key, in the order formats without a key id (libvirt's .aes256cbc) try them.
  const std::vector<EncryptionKey>& keys() const { return keys_; }

 private:
  std::vector<EncryptionKey> keys_;
  std::size_t write_index_ = 0;
};

}  // namespace vsecret
