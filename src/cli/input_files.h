// Files named on the command line, read as virsh reads them (virFileReadAll with its messages):
// the one place the secret, pool and volume commands read their input files.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "vsecret/error.h"
#include "vsecret/secret_bytes.h"

namespace vsecret::cli {

inline constexpr std::size_t kMaxXmlFile = 10 * 1024 * 1024;  // virsh's VSH_MAX_XML_FILE

// The whole file, at most max_bytes: "Failed to open file '<path>': <strerror>" or "Failed to
// read file '<path>': <strerror>" (SYSTEM_ERROR) on failure. The content lands in a wiping
// buffer because it may be a secret value.
Result<SecretBytes> ReadInputFile(const std::string& path, std::size_t max_bytes);

// virsh hands file contents to C-string APIs, so an embedded NUL ends the text.
inline std::string_view UpToNul(std::string_view text) { return text.substr(0, text.find('\0')); }

// An XML document file: at most kMaxXmlFile bytes, the text up to the first NUL.
Result<std::string> ReadXmlFile(const std::string& path);

}  // namespace vsecret::cli
