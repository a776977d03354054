// ValueCodec: how a secret value is turned into the content of its value file and back.
//
// The format of a value file is identified by its extension:
//   "<uuid>.base64"     plain base64 (libvirt, every version)
//   "<uuid>.aes256cbc"  base64 of IV || AES-256-CBC ciphertext, no authentication (libvirt 12.1+)
//   "<uuid>.vsenc"      vsecret's authenticated format, AES-256-GCM (store/sealed_format.h)
// The store writes a value with exactly one codec and removes the files of every other format
// afterwards; when several are found anyway (a crash between those two steps), the newest valid
// one wins (see SecretStore::ReadValue).
//
// Contract: codecs never put value bytes into an Error message; file contents and values are
// handled in wiping SecretBytes buffers only. Codecs are immutable and safe for concurrent use.
#pragma once

#include <array>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "store/encryption_key.h"
#include "vsecret/error.h"
#include "vsecret/secret_bytes.h"
#include "vsecret/uuid.h"

namespace vsecret {

enum class ValueFormat { kSealed, kAes256Cbc, kBase64 };

inline constexpr std::string_view kSealedExtension = ".vsenc";
inline constexpr std::string_view kAes256CbcExtension = ".aes256cbc";
inline constexpr std::string_view kBase64Extension = ".base64";

// Every value-file extension written by libvirt or vsecret, authenticated first (the order in
// which SecretStore::ReadValue breaks ties between files of equal age, after the write format).
inline constexpr std::array<std::string_view, 3> kValueFileExtensions = {
    kSealedExtension, kAes256CbcExtension, kBase64Extension};

// Sets of formats, as bit masks.
constexpr unsigned FormatBit(ValueFormat format) { return 1u << static_cast<unsigned>(format); }
inline constexpr unsigned kAllFormats =
    FormatBit(ValueFormat::kSealed) | FormatBit(ValueFormat::kAes256Cbc) | FormatBit(ValueFormat::kBase64);

std::string_view ExtensionOf(ValueFormat format);
// "vsenc", "aes256cbc", "base64" (the extension without its dot), for messages and the admin tool.
std::string_view FormatName(ValueFormat format);
std::optional<ValueFormat> FormatFromName(std::string_view name);

// Why a value file could not be decoded. kKeyUnavailable means the file may well be intact but
// no loaded key opens it (encryption off, no key, or a key id the keyring does not hold); the
// store reports it instead of falling back to an older file. kInvalid is everything else
// (tampered, truncated, moved, unknown version, bad padding).
struct DecodeError {
  enum class Kind { kInvalid, kKeyUnavailable };
  Kind kind = Kind::kInvalid;
  Error error;
};
using DecodeResult = std::expected<SecretBytes, DecodeError>;

class ValueCodec {
 public:
  virtual ~ValueCodec() = default;

  virtual ValueFormat format() const = 0;
  // File-name suffix including the dot, e.g. ".base64".
  std::string_view extension() const { return ExtensionOf(format()); }
  // The file content for the value of secret uuid.
  virtual Result<SecretBytes> Encode(const Uuid& uuid, const SecretBytes& value) const = 0;
  // The value held by file content; path is used in error messages only.
  virtual DecodeResult Decode(const Uuid& uuid, const SecretBytes& content,
                              const std::string& path) const = 0;
};

// "<uuid>.base64": standard alphabet with padding, one line, no newline; decoding skips every
// byte outside the alphabet (glib semantics), so it never fails.
std::unique_ptr<ValueCodec> MakeBase64ValueCodec();
// "<uuid>.aes256cbc" with the keyring's write key; decoding uses the keyring's first key (the
// configured one) only: the format has no key id, and a wrong key passes CBC's padding check
// about once in 256 tries, so trying several keys would sometimes return garbage. (A rotation
// therefore moves values through .vsenc; see store/store_maintenance.h.) A null keyring decodes
// nothing and encodes nothing.
std::unique_ptr<ValueCodec> MakeAes256CbcValueCodec(std::shared_ptr<const Keyring> keyring);
// "<uuid>.vsenc" with the keyring's write key; decoding picks the key by the file's key id.
std::unique_ptr<ValueCodec> MakeSealedValueCodec(std::shared_ptr<const Keyring> keyring);

// What the store writes and which keys it reads with. `encrypt` without a keyring is invalid.
struct ValueProtection {
  bool encrypt = false;                    // write encrypted_format (true) or .base64 (false)
  std::shared_ptr<const Keyring> keyring;  // null: encrypted files cannot be read
  // The encrypted format written: libvirt 12.x's .aes256cbc unless the store opted in to .vsenc
  // (store/encryption_config.h), or a key rotation is in progress.
  ValueFormat encrypted_format = ValueFormat::kAes256Cbc;
};

}  // namespace vsecret
