// Sector encryption with dm-crypt's conventions (512-byte sectors in LUKS1).
//
// A volume is a run of 512-byte sectors, each encrypted on its own with an IV derived from its
// sector number, one cipher block long (16 bytes, 8 for cast5):
//   plain64  IV = le64(n), zero-padded to the block size
//   plain    IV = le32(n mod 2^32), zero-padded (equal to plain64 below 2 TiB, wraps above)
//   essiv:H  IV = E_{H(master key)}(le64(n) || 0...), with the data cipher's family keyed by a
//            key as long as H's digest (so aes-128-cbc-essiv:sha256 derives its IVs with
//            AES-256, dm-crypt's and qemu's rule); the digest must be a key size of the family
// ECB uses no IV (the ivgen a header names is ignored, as qemu and dm-crypt ignore it).
// The sector number is the caller's: 0 at the LUKS payload start for raw volumes, the host file
// offset / 512 inside qcow2.
//
// Supported, as qemu's LUKS driver: aes, twofish and serpent with 128/192/256-bit keys and
// cast5 with 128, in xts (not cast5: XTS needs 128-bit blocks), cbc, ecb and ctr, with plain,
// plain64 or essiv. AES runs on OpenSSL EVP (AES-NI) and the AES-NI XTS code; what OpenSSL lacks
// (twofish, serpent, cast5, AES-192-XTS) runs on nettle (nettle_cipher.h), qemu's own library.
//
// Thread-safety: a SectorCipher keeps cipher contexts and is not thread-safe; Clone() gives each
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

enum class ChainMode { kXts, kCbc, kCtr, kEcb };
// kNone only for ECB headers written without an IV part ("ecb", as cryptsetup writes it).
enum class IvGenerator { kPlain, kPlain64, kEssiv, kNone };

// What a LUKS header's cipher name, mode string and key size describe.
struct CipherSpec {
  std::string cipher_name = "aes";
  ChainMode mode = ChainMode::kXts;
  IvGenerator ivgen = IvGenerator::kPlain64;
  std::optional<HashAlgo> ivgen_hash;  // essiv only
  std::uint32_t key_bytes = 64;        // the master key: both halves for xts

  // "xts-plain64", "cbc-essiv:sha256", "ecb-plain64" or "ecb" (never ":hash" for plain/plain64:
  // cryptsetup rejects it).
  std::string ModeString() const;
  bool operator==(const CipherSpec&) const = default;
};

// Parses the header's fields and checks that vsecret can run the combination. Errors name the
// unsupported part with qemu's words ("Algorithm 'blowfish' with key size 32 bytes not
// supported", "Unsupported cipher mode 'lrw'", "Unsupported IV generator 'benbi'", "No AES
// cipher with key size 20 available", "Cipher cast5-128 not supported with essiv").
Result<CipherSpec> ParseCipherSpec(std::string_view cipher_name, std::string_view mode_string,
                                   std::uint32_t key_bytes);

// The <cipher name size mode/> and <ivgen name hash/> of a volume to create, as libvirt hands
// them to qemu-img (cipher-alg=<name>-<size>, cipher-mode, ivgen-alg, ivgen-hash-alg), with
// qemu's defaults for what is absent (xts, plain64; essiv hashes with sha256). Refused, with a
// reason: what qemu refuses, and 192-bit keys outside xts (4000 stripes of a 24-byte key are not
// whole sectors: qemu aborts on them).
struct VolumeCipherRequest {
  std::string name;
  unsigned size_bits = 0;
  std::optional<std::string> mode;
  std::optional<std::string> ivgen;
  std::optional<std::string> ivgen_hash;
};
Result<CipherSpec> CipherSpecForVolume(const VolumeCipherRequest& request);

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
