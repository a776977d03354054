// Secret XML: parse and format with libvirt 9.0's exact rules and messages.
#pragma once

#include <string>
#include <string_view>

#include "vsecret/error.h"
#include "vsecret/secret.h"

namespace vsecret {

// Parses a secret definition. flags may contain kDefineValidate (RelaxNG validation against
// schemas/secret.rng). source_name names the document in libxml2 syntax errors:
// "(definition_of_secret)" for API input, the file path when loading from disk.
// A missing or empty <uuid> yields a fresh random v4 UUID.
Result<SecretDef> ParseSecretXml(std::string_view xml, unsigned flags,
                                 std::string_view source_name = "(definition_of_secret)");

// Canonical form, byte-identical to libvirt's virSecretDefFormat, ending in one '\n'.
std::string FormatSecretXml(const SecretDef& def);

}  // namespace vsecret
