#include "daemon/network_listeners.h"

#include "base/log.h"
#include "rpc/tcp_socket.h"
#include "rpc/tls_stream.h"

namespace vsecret::daemon {
namespace {

constexpr char kWhere[] = "daemon";

std::string Or(const std::string& value, const std::string& fallback) {
  return value.empty() ? fallback : value;
}

Result<void> Bind(rpc::RpcServer& server, const rpc::TcpListenOptions& options, bool read_only,
                  const std::shared_ptr<rpc::TlsContext>& tls, bool sasl) {
  auto fds = rpc::ListenTcp(options);
  if (!fds) return std::unexpected(fds.error());
  for (rpc::UniqueFd& fd : *fds) {
    int port = rpc::BoundPort(fd.get());
    if (auto added = server.AddListener(std::move(fd), read_only, tls, sasl); !added) return added;
    Log(LogLevel::kInfo, kWhere,
        std::string("listening for ") + (tls ? "TLS" : "plain TCP") + " on " +
            (options.address.empty() ? "*" : options.address) + ":" + std::to_string(port) +
            (sasl ? ", SASL authentication" : "") + (read_only ? " (read-only)" : ""));
  }
  return {};
}

}  // namespace

Result<void> AddNetworkListeners(rpc::RpcServer& server, const DaemonConfig& config) {
  if (config.listen_tls) {
    rpc::TlsFiles defaults = rpc::DefaultServerFiles();
    rpc::TlsServerConfig tls;
    tls.files = rpc::TlsFiles{Or(config.ca_file, defaults.ca_file), Or(config.cert_file, defaults.cert_file),
                              Or(config.key_file, defaults.key_file), Or(config.crl_file, defaults.crl_file)};
    tls.allowed_dn_patterns = config.tls_allowed_dn_list;
    auto ctx = rpc::TlsContext::CreateServer(tls);
    if (!ctx) return std::unexpected(ctx.error());
    rpc::TcpListenOptions options;
    options.address = config.listen_addr;
    options.port = config.tls_port;
    if (auto ok = Bind(server, options, config.tls_read_only, *ctx, config.auth_tls == "sasl"); !ok)
      return ok;
  }
  if (config.listen_tcp) {
    rpc::TcpListenOptions options;
    // Plain TCP without an address defaults to loopback rather than every interface.
    options.address =
        config.listen_addr.empty() && !config.tcp_allow_non_loopback ? "127.0.0.1" : config.listen_addr;
    options.port = config.tcp_port;
    options.allow_non_loopback = config.tcp_allow_non_loopback;
    const bool sasl = config.auth_tcp == "sasl";
    if (!sasl) {
      Log(LogLevel::kWarning, kWhere,
          "plain TCP listener enabled with auth_tcp = \"none\": connections are neither encrypted nor "
          "authenticated");
    }
    if (auto ok = Bind(server, options, config.tcp_read_only, nullptr, sasl); !ok) return ok;
  }
  return {};
}

}  // namespace vsecret::daemon
