#include "cli/input_files.h"

#include "base/env.h"
#include "base/strings.h"

namespace vsecret::cli {

Result<SecretBytes> ReadInputFile(const std::string& path, std::size_t max_bytes) {
  auto file = Env::Default()->NewReadableFile(path);
  if (!file)
    return SystemError(ErrorDomain::kNone, file.error().errnum, "Failed to open file " + Quoted(path));
  auto content = (*file)->ReadAll(max_bytes);
  if (!content) {
    return SystemError(ErrorDomain::kNone, content.error().errnum, "Failed to read file " + Quoted(path));
  }
  return std::move(*content);
}

Result<std::string> ReadXmlFile(const std::string& path) {
  auto content = ReadInputFile(path, kMaxXmlFile);
  if (!content) return std::unexpected(content.error());
  return std::string(UpToNul(content->AsStringView()));
}

}  // namespace vsecret::cli
