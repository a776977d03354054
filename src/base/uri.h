// Parsing of vsecret / libvirt connection URIs:
//   secret:///embed?root=/abs/dir        in-process driver on a private root
//   secret:///system, secret:///session  local daemon instances
//   secret+unix:///system?socket=PATH    explicit UNIX socket
//   secret://[user@]host[:port]/system   remote (TLS by default), secret+tls/+tcp/+ssh/+libssh/+ext
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vsecret/error.h"

namespace vsecret {

struct ConnectionUri {
  std::string scheme;     // "secret"
  std::string transport;  // "" or the part after '+': unix, tls, tcp, ssh, libssh, libssh2, ext
  std::string user;
  std::string host;                                         // without brackets for IPv6 literals
  int port = 0;                                             // 0 = default
  std::string path;                                         // "/system", "/session", "/embed", ...
  std::vector<std::pair<std::string, std::string>> params;  // percent-decoded, in order

  // The first value of a query parameter, as libvirt's virURIGetParam returns it.
  std::optional<std::string> Param(std::string_view name) const;
  // True when no host is named and the transport is local (none or unix).
  bool IsLocal() const;
  // The effective transport for connecting: "embed" for /embed, "unix" for local instances,
  // otherwise the named transport or "tls" when only a host is given.
  std::string EffectiveTransport() const;
};

// Accepts any RFC 3986-shaped URI; scheme-specific validation happens when opening.
Result<ConnectionUri> ParseConnectionUri(std::string_view text);

// The URI used when none is given: VSECRET_DEFAULT_URI, then LIBVIRT_DEFAULT_URI, then the
// per-user embedded store secret:///embed?root=$XDG_STATE_HOME/vsecret
// ($XDG_STATE_HOME defaults to ~/.local/state).
std::string DefaultConnectionUri();

}  // namespace vsecret
