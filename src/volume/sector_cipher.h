// Sector encryption with dm-crypt's conventions, on OpenSSL EVP (AES-NI when the CPU has it)
// (volume-encryption spec §2.5).
//
// A volume is a run of 512-byte sectors, each encrypted on its own with an IV derived from its
// sector number:
//   plain64  IV = le64(n), zero-padded to the cipher's IV size
//   plain    IV = le32(n mod 2^32), zero-padded (equal to plain64 below 2 TiB, wraps above)
//   essiv:H  IV = E_{H(master key)}(le64(n) || 0...), with an AES key as long as H's digest
//            (so aes-128-cbc-essiv:sha256 derives its IVs with AES-256, dm-crypt's quirk)
// The sector number is the caller's: 0 at the LUKS payload start for raw volumes, the host file
// offset / 512 inside qcow2.
//
// Supported: aes-128/256 xts, aes-128/192/256 cbc and ctr (ctr only for opening what cryptsetup
// made), with plain, plain64 or essiv:sha256. OpenSSL has no AES-192-XTS, serpent or twofish;
// those headers are recognised and refused with a clear message.
//
// Thread-safety: a SectorCipher keeps OpenSSL contexts and is not thread-safe; Clone() gives each
// worker thread its own (the key schedule is copied, not recomputed from the key by the caller).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "volume/luks_crypto.h"
#include "vsecret/error.h"
#include "vsecret/secret_bytes.h"

namespace vsecret::volume {

inline constexpr std::size_t kSectorSize = 512;

enum class ChainMode { kXts, kCbc, kCtr };
enum class IvGenerator { kPlain, kPlain64, kEssiv };

// What a LUKS header's cipher name, mode string and key size describe.
struct CipherSpec {
  std::string cipher_name = "aes";
  ChainMode mode = ChainMode::kXts;
  IvGenerator ivgen = IvGenerator::kPlain64;
  std::optional<HashAlgo> ivgen_hash;  // essiv only
  std::uint32_t key_bytes = 64;        // the master key: both halves for xts

  // "xts-plain64", "cbc-essiv:sha256" (never ":hash" for plain/plain64: cryptsetup rejects it).
  std::string ModeString() const;
  bool operator==(const CipherSpec&) const = default;
};

// Parses the header's fields and checks that vsecret can run the combination. Errors name the
// unsupported part ("Algorithm 'serpent' with key size 32 bytes not supported", "Unsupported
// cipher mode 'ecb'", "Unsupported IV generator 'benbi'", "ESSIV hash 'sha1' does not give an
// AES key size").
Result<CipherSpec> ParseCipherSpec(std::string_view cipher_name, std::string_view mode_string,
                                   std::uint32_t key_bytes);

class SectorCipher {
 public:
  // key.size() must equal spec.key_bytes.
  static Result<std::unique_ptr<SectorCipher>> Create(const CipherSpec& spec, const SecretBytes& key);
  ~SectorCipher();
  SectorCipher(const SectorCipher&) = delete;
  SectorCipher& operator=(const SectorCipher&) = delete;

  // An independent copy for another thread.
  Result<std::unique_ptr<SectorCipher>> Clone() const;

  // In place; data.size() must be a multiple of 512. Sector first_sector + i covers bytes
  // [512 i, 512 (i + 1)).
  Result<void> Encrypt(std::uint64_t first_sector, std::span<std::uint8_t> data);
  Result<void> Decrypt(std::uint64_t first_sector, std::span<std::uint8_t> data);

  const CipherSpec& spec() const { return spec_; }

 private:
  struct Contexts;
  SectorCipher(CipherSpec spec, std::unique_ptr<Contexts> ctx);
  Result<void> Run(bool encrypt, std::uint64_t first_sector, std::span<std::uint8_t> data);

  CipherSpec spec_;
  std::unique_ptr<Contexts> ctx_;
};

}  // namespace vsecret::volume
