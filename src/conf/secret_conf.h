// secret.conf: libvirt's virConf syntax and the two settings of the secret driver (secret-driver spec
// §4.1, libvirt 12.1's secret.conf).
//
//   # comment
//   encrypt_data = 1
//   secrets_encryption_key = "/run/libvirt/secrets/secret-encryption-key"
//
// ConfFile is the syntax: `name = value` statements separated by newlines or ';', values that are
// integers (optionally signed), strings in '...', "..." or """...""" (no escapes; only the triple
// form may span lines) or [ lists ], and `#` comments. It reproduces libvirt's parser closely
// enough that every syntax error carries libvirt's message and line number, including its
// oddities (a file holding only blank lines is "expecting a name"; the first of duplicated
// names wins). It is pure: no file access (see store/encryption_config.h for loading).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vsecret/error.h"

namespace vsecret {

struct ConfValue {
  // libvirt's VIR_CONF_LLONG (a number written with a leading '-'), VIR_CONF_ULLONG (any other
  // number), VIR_CONF_STRING and VIR_CONF_LIST.
  enum class Type { kSigned, kUnsigned, kString, kList };

  Type type = Type::kUnsigned;
  // The number's value, two's complement for kSigned; arithmetic wraps like the reference's.
  std::uint64_t number = 0;
  std::string text;
  std::vector<ConfValue> list;
};

class ConfFile {
 public:
  // Parses text. `filename` only names the file in messages. Syntax errors are
  // "configuration file syntax error: <filename>:<line>: <what>" (code CONF_SYNTAX, domain CONF)
  // with <what> one of libvirt's: "expecting a name", "expecting an assignment", "expecting a
  // value", "unterminated string", "unterminated number", "expecting a separator",
  // "expecting a separator in list", "list is not closed with ]".
  static Result<ConfFile> Parse(std::string_view text, std::string filename);

  const std::string& filename() const { return filename_; }
  // The first entry called name, as libvirt's lookup; nullptr when absent.
  const ConfValue* Find(std::string_view name) const;

  // virConfGetValueBool: absent is nullopt; a value other than an unsigned number is
  // "internal error: <filename>: expected a bool for '<name>' parameter", a number above 1 is
  // "internal error: <filename>: value for '<name>' parameter must be 0 or 1" (domain CONF).
  Result<std::optional<bool>> GetBool(std::string_view name) const;
  // virConfGetValueString: a non-string value is
  // "internal error: <filename>: expected a string for '<name>' parameter" (domain CONF).
  Result<std::optional<std::string>> GetString(std::string_view name) const;

 private:
  std::string filename_;
  std::vector<std::pair<std::string, ConfValue>> entries_;  // in file order
};

// The settings of secret.conf; unset keys stay nullopt (spec §4.2 treats "unset" specially).
struct SecretConf {
  std::optional<bool> encrypt_data;
  std::optional<std::string> secrets_encryption_key;
};

// Parses secret.conf text: syntax errors as ConfFile::Parse, then encrypt_data is checked before
// secrets_encryption_key, as libvirt does. Unknown keys are ignored.
Result<SecretConf> ParseSecretConf(std::string_view text, const std::string& filename);

}  // namespace vsecret
