// Base64 (standard alphabet, '=' padding, one line, no newline) as libvirt writes value files,
// and the lenient decoder libvirt uses on load: bytes outside the alphabet are skipped.
#pragma once

#include <string>
#include <string_view>

#include "vsecret/secret_bytes.h"

namespace vsecret {

std::string Base64Encode(std::string_view bytes);
// Encodes into a wiping buffer, for base64 text that is itself secret (a value file's body).
SecretBytes Base64EncodeSecret(std::string_view bytes);
// Lenient decode with glib semantics (see base64.cc).
// Never fails.
SecretBytes Base64DecodeLenient(std::string_view text);

}  // namespace vsecret
