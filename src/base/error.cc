#include "vsecret/error.h"

#include <array>
#include <cstdio>
#include <cstring>

namespace vsecret {

namespace {

struct MessagePrefix {
  ErrorCode code;
  std::string_view prefix;
};
// virErrorMsg()'s templates for the codes vsecret reports, without the trailing "%s".
constexpr std::array kMessagePrefixes = {
    MessagePrefix{ErrorCode::kInternalError, "internal error: "},
    MessagePrefix{ErrorCode::kNoSupport, "this function is not supported by the connection driver: "},
    MessagePrefix{ErrorCode::kNoConnect, "no connection driver available for "},
    MessagePrefix{ErrorCode::kInvalidArg, "invalid argument: "},
    MessagePrefix{ErrorCode::kXmlError, "XML error: "},
    MessagePrefix{ErrorCode::kOperationDenied, "operation forbidden: "},
    MessagePrefix{ErrorCode::kAuthFailed, "authentication failed: "},
    MessagePrefix{ErrorCode::kOperationInvalid, "Requested operation is not valid: "},
    MessagePrefix{ErrorCode::kInvalidSecret, "Invalid secret: "},
    MessagePrefix{ErrorCode::kNoSecret, "Secret not found: "},
    MessagePrefix{ErrorCode::kConfigUnsupported, "unsupported configuration: "},
    MessagePrefix{ErrorCode::kAccessDenied, "access denied: "},
    MessagePrefix{ErrorCode::kXmlInvalidSchema, "XML document failed to validate against schema: "},
};

std::unexpected<Error> Prefixed(ErrorCode code, ErrorDomain domain, const std::string& detail) {
  std::string message(LibvirtMessagePrefix(code));
  message.append(detail);
  return Fail(code, domain, std::move(message));
}

}  // namespace

std::string_view LibvirtMessagePrefix(ErrorCode code) {
  for (const MessagePrefix& p : kMessagePrefixes) {
    if (p.code == code) return p.prefix;
  }
  return {};
}

std::unexpected<Error> InternalError(ErrorDomain domain, const std::string& detail) {
  return Prefixed(ErrorCode::kInternalError, domain, detail);
}

std::unexpected<Error> XmlError(ErrorDomain domain, const std::string& detail) {
  return Prefixed(ErrorCode::kXmlError, domain, detail);
}

std::unexpected<Error> NoSecret(const std::string& detail) {
  return Prefixed(ErrorCode::kNoSecret, ErrorDomain::kSecret, detail);
}

std::unexpected<Error> InvalidSecret(const std::string& detail) {
  return Prefixed(ErrorCode::kInvalidSecret, ErrorDomain::kSecret, detail);
}

std::unexpected<Error> ConfigUnsupported(ErrorDomain domain, const std::string& detail) {
  return Prefixed(ErrorCode::kConfigUnsupported, domain, detail);
}

std::unexpected<Error> InvalidArg(ErrorDomain domain, const std::string& detail) {
  return Fail(ErrorCode::kInvalidArg, domain, detail);
}

std::unexpected<Error> OperationDenied(ErrorDomain domain, const std::string& detail) {
  return Prefixed(ErrorCode::kOperationDenied, domain, detail);
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
