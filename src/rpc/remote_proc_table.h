// Which REMOTE procedures libvirt 12.x knows and how a secret-only libvirtd 12.8 answers the ones
// vsecretd does not implement, so that every stock client sees libvirtd's exact errors:
//  * a number libvirt does not know: 39/7 "unknown procedure: N", before or after open;
//  * a known one before CONNECT_OPEN: 1/7 "internal error: hypervisor connection not open" for
//    connection-level procedures, "internal error: connection not open" for the others;
//  * a known one after open: usually 3/<domain> "this function is not supported by the
//    connection driver: <API>", as the table records.
// For the procedures that carry an ArgsCheck (those added after 9.0, and older ones whose
// arguments 12.x's public API checks before reaching the driver), the arguments are decoded
// first, as libvirtd decodes them: an undecodable payload gets 39/7 "Unable to decode message
// payload" whether or not the connection is open, and once it is open the API's own argument
// errors come before NO_SUPPORT. The other procedures' arguments are not decoded.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "vsecret/error.h"

namespace vsecret::rpc {

// Decodes a procedure's arguments (trailing bytes are ignored, as libvirtd ignores them):
// libvirtd's decode error when they are undecodable, else the error libvirt 12.x reports for
// them once the connection is open, or nullopt when the call reaches the driver.
using ArgsCheck = Result<std::optional<Error>> (*)(std::span<const std::uint8_t> payload);

enum class ProcAnswer : std::uint8_t {
  kImplemented,            // served by the dispatcher itself
  kNoSupport,              // NO_SUPPORT naming `text` (the public API), in `domain`
  kLiteral,                // exactly code/domain/text
  kCallbackNotRegistered,  // code/domain, `text` with "%d" replaced by the first int argument
  kUnmodelled,             // libvirtd's answer depends on the arguments; treated as unknown
};

struct RemoteProcInfo {
  std::int32_t proc;
  bool hypervisor;  // a connection-level procedure (the "hypervisor connection not open" family)
  ProcAnswer answer;
  std::int32_t code;
  std::int32_t domain;
  const char* text;
  ArgsCheck check = nullptr;  // null: arguments not decoded
};

// nullptr when libvirt 12.x does not know the procedure.
const RemoteProcInfo* FindRemoteProc(std::int32_t proc);

}  // namespace vsecret::rpc
