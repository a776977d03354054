// Error values shared by every vsecret component.
//
// An Error carries the numeric libvirt error code and domain plus the complete, user-facing
// message exactly as libvirt would format it (prefix such as "Secret not found: " included),
// so that it can be printed by the CLI or sent over the wire unchanged.
//
// Contract: messages never contain secret values. Components return Result<T> across their
// boundaries instead of throwing.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace vsecret {

// Numeric values are libvirt's virErrorNumber; they travel over the wire as they are.
enum class ErrorCode : int {
  kOk = 0,
  kInternalError = 1,
  kNoMemory = 2,
  kNoSupport = 3,
  kNoConnect = 5,
  kInvalidConn = 6,
  kInvalidArg = 8,
  kOperationFailed = 9,
  kXmlError = 27,
  kOperationDenied = 29,
  kOpenFailed = 30,
  kReadFailed = 31,
  kParseFailed = 32,
  kConfSyntax = 33,
  kWriteFailed = 34,
  kXmlDetail = 35,
  kSystemError = 38,
  kRpc = 39,
  kAuthFailed = 45,
  kOperationInvalid = 55,
  kInvalidSecret = 65,
  kNoSecret = 66,
  kConfigUnsupported = 67,
  kOperationTimeout = 68,
  kArgumentUnsupported = 74,
  kAuthCancelled = 79,
  kOperationUnsupported = 84,
  kAccessDenied = 88,
  kXmlInvalidSchema = 92,
};

// Numeric values are libvirt's virErrorDomain.
enum class ErrorDomain : int {
  kNone = 0,
  kXml = 5,
  kRpc = 7,
  kConf = 9,
  kRemote = 13,
  kStorage = 18,
  kSecret = 30,
  kUri = 45,
  kIdentity = 53,
  kAccess = 55,
  kCrypto = 58,
};

class Error {
 public:
  Error() = default;
  Error(ErrorCode code, ErrorDomain domain, std::string message)
      : code_(code), domain_(domain), message_(std::move(message)) {}

  ErrorCode code() const { return code_; }
  ErrorDomain domain() const { return domain_; }
  // The full libvirt-style message, e.g. "Secret not found: no secret with matching uuid '…'".
  const std::string& message() const { return message_; }

  bool operator==(const Error&) const = default;

 private:
  ErrorCode code_ = ErrorCode::kInternalError;
  ErrorDomain domain_ = ErrorDomain::kNone;
  std::string message_;
};

// std::expected<T, Error>, but [[nodiscard]]: libstdc++ 12 does not mark std::expected, so a
// dropped error would pass without a word. Deriving keeps every std::expected operation and every
// call site as it is; a deliberate ignore is written `(void)Call();  // why`.
// cmake/nodiscard_probe.cc checks at configure time that a discarded Result still warns.
template <typename T>
class [[nodiscard]] Result : public std::expected<T, Error> {
 public:
  using Base = std::expected<T, Error>;
  using Base::Base;
  using Base::operator=;
  Result() = default;
  // From the monadic operations (and_then, transform, ...), which return the base type.
  Result(const Base& other) : Base(other) {}        // NOLINT(google-explicit-constructor)
  Result(Base&& other) : Base(std::move(other)) {}  // NOLINT(google-explicit-constructor)
};

inline std::unexpected<Error> Fail(ErrorCode code, ErrorDomain domain, std::string message) {
  return std::unexpected<Error>(Error(code, domain, std::move(message)));
}

// The prefix libvirt's virErrorMsg() puts before the detail for `code` ("internal error: ",
// "Invalid secret: ", ...; the template without its "%s"), or "" for codes whose message is the
// bare detail. The one table of them: the constructors below prepend it, and the RPC layer
// splits a message back into template and detail with it (rpc/remote_messages.cc).
std::string_view LibvirtMessagePrefix(ErrorCode code);

// Constructors for the recurring libvirt message families. Each prepends the same prefix
// libvirt's virErrorMsg() gives for that code (InvalidArg excepted: its callers give libvirt's
// whole message, which does not always start with "invalid argument: ").
std::unexpected<Error> InternalError(ErrorDomain domain, const std::string& detail);
std::unexpected<Error> XmlError(ErrorDomain domain, const std::string& detail);
std::unexpected<Error> NoSecret(const std::string& detail);
std::unexpected<Error> InvalidSecret(const std::string& detail);
std::unexpected<Error> ConfigUnsupported(ErrorDomain domain, const std::string& detail);
std::unexpected<Error> InvalidArg(ErrorDomain domain, const std::string& detail);
std::unexpected<Error> OperationDenied(ErrorDomain domain, const std::string& detail);
// "<detail>: <strerror(errnum)>" with code SYSTEM_ERROR, as virReportSystemError does.
std::unexpected<Error> SystemError(ErrorDomain domain, int errnum, const std::string& detail);
// "unsupported flags (0x%x) in function %s".
std::unexpected<Error> UnsupportedFlags(ErrorDomain domain, unsigned flags, const char* function);

}  // namespace vsecret
