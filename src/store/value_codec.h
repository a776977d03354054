// ValueCodec: how a secret value is turned into the content of its value file and back.
//
// The format of a value file is identified only by its extension (secret-driver spec §3.2, §3.3):
// "<uuid>.base64" is plain base64, "<uuid>.aes256cbc" is base64 of IV || AES-256-CBC ciphertext.
// The store writes new values with exactly one codec and removes the files of every other
// extension afterwards, so the set of known extensions lives here too.
//
// Contract: codecs never put value bytes into an Error message; file contents and values are
// handled in wiping SecretBytes buffers only.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <string_view>

#include "vsecret/error.h"
#include "vsecret/secret_bytes.h"

namespace vsecret {

class ValueCodec {
 public:
  virtual ~ValueCodec() = default;

  // File-name suffix including the dot, e.g. ".base64".
  virtual std::string_view extension() const = 0;
  // The file content for value.
  virtual Result<SecretBytes> Encode(const SecretBytes& value) const = 0;
  // The value held by file content; path is used in error messages only.
  virtual Result<SecretBytes> Decode(const SecretBytes& content, const std::string& path) const = 0;
};

inline constexpr std::string_view kBase64Extension = ".base64";
inline constexpr std::string_view kAes256CbcExtension = ".aes256cbc";

// Every value-file extension written by libvirt or vsecret, in the reference's load order.
inline constexpr std::array<std::string_view, 2> kValueFileExtensions = {kAes256CbcExtension,
                                                                         kBase64Extension};

// "<uuid>.base64": standard alphabet with padding, one line, no newline; decoding skips every
// byte outside the alphabet (glib semantics), so it never fails.
std::unique_ptr<ValueCodec> MakeBase64ValueCodec();

}  // namespace vsecret
