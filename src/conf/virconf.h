// libvirt's virConf: the `key = value` syntax of every libvirt configuration file, and the typed
// getters its daemons read settings with. vsecret reads secret.conf (conf/secret_conf.h),
// vsecretd.conf (daemon/daemon_config.h) and the store's own small files with it.
//
//   # comment
//   encrypt_data = 1
//   secrets_encryption_key = "/run/libvirt/secrets/secret-encryption-key"
//   tls_allowed_dn_list = [ "C=GB,O=Example,CN=*", ]
//
// Statements `name = value` are separated by newlines or ';'. Values are integers (optionally
// signed), strings in '...', "..." or """...""" (no escapes; only the triple form may span lines)
// or [ lists ] of values; `#` starts a comment, but not inside a list. The parser reproduces
// libvirt's (src/util/virconf.c, default flags) closely enough that every syntax error carries
// libvirt's message and line number, including its oddities: a file holding only blank lines is
// "expecting a name", numbers wrap silently, and the FIRST of duplicated names wins (libvirt
// appends every entry and its lookup returns the first match; checked with libvirtd 9.0).
//
// Pure: no file access. Every getter returns nullopt for an absent key, the value otherwise, or
// libvirt's error for a value of the wrong type or out of range:
//   "internal error: <filename>: expected a bool for '<name>' parameter" (and so on), code
//   INTERNAL_ERROR, domain CONF; a list holding a non-string is CONF_SYNTAX, as in libvirt.
#pragma once

#include <climits>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vsecret/error.h"

namespace vsecret {

class VirConf {
 public:
  struct Value {
    // libvirt's VIR_CONF_LLONG (a number written with a leading '-'), VIR_CONF_ULLONG (any other
    // number), VIR_CONF_STRING and VIR_CONF_LIST.
    enum class Type { kSigned, kUnsigned, kString, kList };

    Type type = Type::kUnsigned;
    // The number's value, two's complement for kSigned; arithmetic wraps like the reference's.
    std::uint64_t number = 0;
    std::string text;
    std::vector<Value> list;
  };

  // virConfGetValueStringList's compatString: whether a lone string reads as a one-item list.
  enum class StringList { kListOnly, kListOrString };

  // Parses text. `filename` only names the file in messages. Syntax errors are
  // "configuration file syntax error: <filename>:<line>: <what>" (code CONF_SYNTAX, domain CONF)
  // with <what> one of libvirt's: "expecting a name", "expecting an assignment", "expecting a
  // value", "unterminated string", "unterminated number", "expecting a separator",
  // "expecting a separator in list", "list is not closed with ]".
  static Result<VirConf> Parse(std::string_view text, std::string filename);

  const std::string& filename() const { return filename_; }
  // The first entry called name, as libvirt's virConfGetValue; nullptr when absent.
  const Value* Find(std::string_view name) const;

  // virConfGetValueBool: an unsigned number, 0 or 1. "-0" is a signed number, so not a bool.
  Result<std::optional<bool>> GetBool(std::string_view name) const;
  // virConfGetValueString.
  Result<std::optional<std::string>> GetString(std::string_view name) const;
  // virConfGetValueInt: any number ("expected a signed integer"), within int's range ("value for
  // '<name>' parameter must be in range -2147483648:2147483647"), both exactly libvirt's checks;
  // then within the key's own [min, max], reported in the same words with that range. A number
  // above INT64_MAX wraps to a negative value first, as in libvirt.
  Result<std::optional<int>> GetInt(std::string_view name, int min = INT_MIN, int max = INT_MAX) const;
  // virConfGetValueUInt: an unsigned number ("expected an unsigned integer"), within unsigned's
  // range ("... must be in range 0:4294967295"), then within [min, max] as GetInt.
  Result<std::optional<unsigned>> GetUInt(std::string_view name, unsigned min = 0,
                                          unsigned max = UINT_MAX) const;
  // virConfGetValueStringList: a list of strings ("expected a string list", or "expected a string
  // or string list" with kListOrString), or with kListOrString a string as a one-item list.
  Result<std::optional<std::vector<std::string>>> GetStringList(std::string_view name, StringList form) const;

  // From now on, appends the name of every key looked up (by Find, and so by every getter) to
  // *names; nullptr stops. The documentation checks take the keys a reader accepts from the
  // reader itself this way. Not thread-safe: set it before sharing the object.
  void RecordLookups(std::vector<std::string>* names) const { lookups_ = names; }

 private:
  template <typename Bound>
  std::unexpected<Error> OutOfRange(std::string_view name, Bound min, Bound max) const;

  std::string filename_;
  std::vector<std::pair<std::string, Value>> entries_;   // in file order, duplicates kept
  mutable std::vector<std::string>* lookups_ = nullptr;  // RecordLookups
};

}  // namespace vsecret
