// The TLS and plain-TCP listeners of vsecretd (libvirtd's --listen with listen_tls/listen_tcp).
#pragma once

#include "daemon/daemon_config.h"
#include "rpc/server.h"

namespace vsecret::daemon {

// Binds the listeners config enables and hands them to server. Certificate paths left empty in
// config fall back to libvirtd's defaults under /etc/pki. Fails, binding nothing further, on
// the first unreadable certificate or key, an unusable address, or a plain-TCP listener on a
// non-loopback address without tcp_allow_non_loopback. Call during start-up.
Result<void> AddNetworkListeners(rpc::RpcServer& server, const DaemonConfig& config);

}  // namespace vsecret::daemon
