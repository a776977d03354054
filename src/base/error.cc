#include "vsecret/error.h"

#include <cstdio>
#include <cstring>

namespace vsecret {

std::unexpected<Error> InternalError(ErrorDomain domain, const std::string& detail) {
  return Fail(ErrorCode::kInternalError, domain, "internal error: " + detail);
}

std::unexpected<Error> XmlError(ErrorDomain domain, const std::string& detail) {
  return Fail(ErrorCode::kXmlError, domain, "XML error: " + detail);
}

std::unexpected<Error> NoSecret(const std::string& detail) {
  return Fail(ErrorCode::kNoSecret, ErrorDomain::kSecret, "Secret not found: " + detail);
}

std::unexpected<Error> InvalidSecret(const std::string& detail) {
  return Fail(ErrorCode::kInvalidSecret, ErrorDomain::kSecret, "Invalid secret: " + detail);
}

std::unexpected<Error> ConfigUnsupported(ErrorDomain domain, const std::string& detail) {
  return Fail(ErrorCode::kConfigUnsupported, domain, "unsupported configuration: " + detail);
}

std::unexpected<Error> InvalidArg(ErrorDomain domain, const std::string& detail) {
  return Fail(ErrorCode::kInvalidArg, domain, detail);
}

std::unexpected<Error> OperationDenied(ErrorDomain domain, const std::string& detail) {
  return Fail(ErrorCode::kOperationDenied, domain, "operation forbidden: " + detail);
}

std::unexpected<Error> SystemError(ErrorDomain domain, int errnum, const std::string& detail) {
  char buf[256];
  // GNU strerror_r returns the message pointer, which may not be buf.
  const char* text = strerror_r(errnum, buf, sizeof buf);
  return Fail(ErrorCode::kSystemError, domain, detail + ": " + text);
}

std::unexpected<Error> UnsupportedFlags(ErrorDomain domain, unsigned flags, const char* function) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "unsupported flags (0x%x) in function %s", flags, function);
  return Fail(ErrorCode::kInvalidArg, domain, buf);
}

}  // namespace vsecret
