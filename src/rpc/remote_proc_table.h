// Which REMOTE procedures libvirt 9.0.0 knows and how a secret-only libvirtd answers the ones
// vsecretd does not implement, so that every stock client sees libvirtd's exact errors:
//  * a number libvirt does not know: 39/7 "unknown procedure: N", before or after open;
//  * a known one before CONNECT_OPEN: 1/7 "internal error: hypervisor connection not open" for
//    connection-level procedures, "internal error: connection not open" for the others;
//  * a known one after open: usually 3/<domain> "this function is not supported by the
//    connection driver: <API>", as the table records.
#pragma once

#include <cstdint>

namespace vsecret::rpc {

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
};

// nullptr when libvirt 9.0.0 does not know the procedure.
const RemoteProcInfo* FindRemoteProc(std::int32_t proc);

}  // namespace vsecret::rpc
