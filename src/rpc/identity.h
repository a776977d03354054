// Identity delegation (CONNECT_SET_IDENTITY, procedure 419) and the host's system token.
//
// libvirt's QEMU and storage drivers open secret:///system for each encrypted disk or volume
// and delegate the identity of the client they act for, elevated with the host's system token.
// A connection whose current identity carries that token may read private values; nothing
// else (uid, user name) counts. The token file is shared by every libvirt daemon of the host.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vsecret/error.h"
#include "vsecret/secret_bytes.h"

namespace vsecret::rpc {

// remote_typed_param: a field name and a value discriminated by type.
enum class TypedParamType : std::int32_t {
  kInt = 1,
  kUInt = 2,
  kLLong = 3,
  kULLong = 4,
  kDouble = 5,
  kBoolean = 6,
  kString = 7,
};

struct TypedParam {
  std::string field;
  TypedParamType type = TypedParamType::kInt;
  std::int64_t i = 0;   // kInt, kLLong, kBoolean
  std::uint64_t u = 0;  // kUInt, kULLong
  double d = 0;         // kDouble
  SecretBytes s;        // kString (a wiping buffer: system.token travels here)

  TypedParam() = default;
  TypedParam(TypedParam&&) noexcept = default;
  TypedParam& operator=(TypedParam&&) noexcept = default;
};

// The identity a connection acts as after CONNECT_SET_IDENTITY. Only whether it carried the
// host token is kept; the other fields are validated (as libvirt does) and dropped.
struct DelegatedIdentity {
  bool has_system_token = false;
  SecretBytes system_token;
};

// Checks params as libvirt's virIdentitySetParameters does (virTypedParamsValidate): unknown
// field "argument unsupported: parameter 'F' not supported" (74); wrong type "invalid argument:
// invalid type 'T' for parameter 'F', expected 'E'" (8); a repeated field "invalid argument:
// parameter 'F' occurs multiple times" (8). Errors never quote a value.
Result<DelegatedIdentity> ValidateIdentityParams(const std::vector<TypedParam>& params);

// "int", "uint", "llong", "ullong", "double", "boolean", "string" (libvirt's type names).
const char* TypedParamTypeName(TypedParamType type);

// The system token file (libvirt's virIdentityEnsureSystemToken rules): the parent directory is
// created 0700 if missing; the file is opened O_RDWR|O_APPEND|O_CREAT (0600), a blocking write
// lock is taken on its first byte, and an empty file gets 32 lower-case hex characters from 16
// random bytes (no newline); otherwise exactly 32 hex characters are read. Anything else is
// "internal error: System token in PATH was corrupt". The token is never logged.
Result<SecretBytes> EnsureSystemToken(const std::string& path);

// Constant-time comparison of a delegated token with the host token.
bool SystemTokenMatches(const SecretBytes& host, const SecretBytes& delegated);

}  // namespace vsecret::rpc
