// The block ciphers OpenSSL lacks, on nettle: twofish, serpent and cast5 (CAST-128), plus
// AES-192 for XTS (OpenSSL has no AES-192-XTS). Nettle is the library qemu's LUKS driver uses on
// Debian, so the two compute the same thing, twofish-192 included (libgcrypt has no 192-bit
// twofish). AES otherwise stays on OpenSSL and the AES-NI XTS code; sector_cipher.cc decides.
//
// Modes are nettle's generic ones over the block function: ECB, CBC, CTR (big-endian counter
// over the whole block, as nettle and OpenSSL count) and XTS (IEEE 1619, 128-bit blocks only).
//
// Thread-safety: a NettleCipher holds its key schedules and is not thread-safe; Clone() copies
// the schedules for another thread. Schedules live in wiping memory.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "vsecret/error.h"
#include "vsecret/secret_bytes.h"

namespace vsecret::volume {

class NettleCipher {
 public:
  enum class Mode { kEcb, kCbc, kCtr, kXts };
  struct Algorithm;  // one entry of the table in nettle_cipher.cc

  // True when `name` ("aes", "twofish", "serpent", "cast5") takes one key of key_bytes (half
  // the XTS key) and works in this mode (XTS needs a 16-byte block: not cast5).
  static bool Supports(std::string_view name, std::size_t key_bytes, Mode mode);
  // Block size of `name` (16, or 8 for cast5); 0 for an unknown name.
  static std::size_t BlockSize(std::string_view name);
  // key: the whole key (both halves for XTS, data key first). Errors never show the key.
  static Result<std::unique_ptr<NettleCipher>> Create(std::string_view name, Mode mode,
                                                      std::span<const std::uint8_t> key);
  ~NettleCipher();
  NettleCipher(const NettleCipher&) = delete;
  NettleCipher& operator=(const NettleCipher&) = delete;

  std::unique_ptr<NettleCipher> Clone() const;
  std::size_t block_size() const;

  // One data unit in place. iv has block_size() bytes: the CBC IV, the initial CTR counter or
  // the XTS tweak (encrypted with the second key); ignored in ECB. len is a multiple of the
  // block size (XTS: at least one block).
  void Run(bool encrypt, const std::uint8_t* iv, std::uint8_t* data, std::size_t len) const;

 private:
  NettleCipher(const Algorithm* algo, Mode mode);

  const Algorithm* algo_;
  Mode mode_;
  SecretBytes enc_;    // data key schedule for encryption
  SecretBytes dec_;    // for decryption (differs from enc_ only for AES)
  SecretBytes tweak_;  // XTS: the second key's encryption schedule
};

}  // namespace vsecret::volume
