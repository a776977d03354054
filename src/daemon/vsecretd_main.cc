// vsecretd: serves one SecretDriver instance over libvirt's RPC protocol on UNIX sockets and,
// with --listen, on TLS and TCP.
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>

#include "base/log.h"
#include "daemon/daemon_config.h"
#include "daemon/daemon_logging.h"
#include "daemon/daemon_options.h"
#include "daemon/network_listeners.h"
#include "daemon/systemd.h"
#include "driver/secret_driver.h"
#include "rpc/identity.h"
#include "rpc/server.h"
#include "rpc/unix_socket.h"

namespace vsecret::daemon {
namespace {

constexpr char kWhere[] = "daemon";
constexpr char kVersion[] = "vsecretd 0.1.0 (libvirt 9.0.0 RPC protocol)";

// The running server, for the signal handlers; set while Run() may be called. The handlers
// are installed before anything else, so a stop signal that arrives while the daemon starts
// (its socket may already accept connections) is kept in g_stop_pending and honoured once the
// server exists, instead of killing the daemon by the signal's default action.
std::atomic<rpc::RpcServer*> g_server{nullptr};
std::atomic<bool> g_stop_pending{false};
static_assert(std::atomic<rpc::RpcServer*>::is_always_lock_free);
static_assert(std::atomic<bool>::is_always_lock_free);

void OnStopSignal(int) {
  g_stop_pending.store(true);
  if (rpc::RpcServer* server = g_server.load()) server->RequestStop();
}
void OnReloadSignal(int) {
  // Before the server runs there is nothing to reload: the configuration is being read now.
  if (rpc::RpcServer* server = g_server.load()) server->RequestReload();
}

void InstallSignalHandlers() {
  struct sigaction sa {};
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sa.sa_handler = OnStopSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGQUIT, &sa, nullptr);
  sa.sa_handler = OnReloadSignal;
  sigaction(SIGHUP, &sa, nullptr);
  sa.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &sa, nullptr);
}

// Who may use the read-write socket: root, the daemon's own user, and the configured users
// and groups. Names are resolved once at start-up.
class PeerPolicy {
 public:
  static Result<PeerPolicy> FromConfig(const DaemonConfig& config) {
    PeerPolicy p;
    for (const std::string& user : config.unix_sock_rw_allowed_users) {
      if (const passwd* pw = ::getpwnam(user.c_str())) {
        p.uids_.insert(pw->pw_uid);
      } else if (!user.empty() && user.find_first_not_of("0123456789") == std::string::npos) {
        p.uids_.insert(static_cast<uid_t>(std::stoul(user)));
      } else {
        return Fail(ErrorCode::kConfSyntax, ErrorDomain::kConf,
                    "unknown user '" + user + "' in unix_sock_rw_allowed_users");
      }
    }
    for (const std::string& group : config.unix_sock_rw_allowed_groups) {
      if (const struct group* gr = ::getgrnam(group.c_str())) {
        p.gids_.insert(gr->gr_gid);
      } else if (!group.empty() && group.find_first_not_of("0123456789") == std::string::npos) {
        p.gids_.insert(static_cast<gid_t>(std::stoul(group)));
      } else {
        return Fail(ErrorCode::kConfSyntax, ErrorDomain::kConf,
                    "unknown group '" + group + "' in unix_sock_rw_allowed_groups");
      }
    }
    return p;
  }

  std::optional<std::string> Check(const rpc::PeerCredentials& peer) const {
    if (peer.uid == 0 || peer.uid == ::geteuid() || uids_.contains(peer.uid)) return std::nullopt;
    if (!gids_.empty() && InAllowedGroup(peer)) return std::nullopt;
    return "uid " + std::to_string(peer.uid) + " is not allowed to use the read-write socket";
  }

 private:
  bool InAllowedGroup(const rpc::PeerCredentials& peer) const {
    if (gids_.contains(peer.gid)) return true;
    const passwd* pw = ::getpwuid(peer.uid);
    if (pw == nullptr) return false;
    int n = 64;
    std::vector<gid_t> groups(static_cast<std::size_t>(n));
    if (::getgrouplist(pw->pw_name, pw->pw_gid, groups.data(), &n) < 0) {
      groups.resize(static_cast<std::size_t>(n));
      if (::getgrouplist(pw->pw_name, pw->pw_gid, groups.data(), &n) < 0) return false;
    }
    for (int i = 0; i < n; ++i) {
      if (gids_.contains(groups[static_cast<std::size_t>(i)])) return true;
    }
    return false;
  }

  std::set<uid_t> uids_;
  std::set<gid_t> gids_;
};

int Die(const Error& error) {
  Log(LogLevel::kError, kWhere, error.message());
  return EXIT_FAILURE;
}

int Main(int argc, char** argv) {
  auto options = ParseDaemonArgs(argc, argv);
  if (!options) {
    std::fprintf(stderr, "%s: %s\n%s", argv[0], options.error().message().c_str(),
                 DaemonUsage(argv[0]).c_str());
    return EXIT_FAILURE;
  }
  if (options->help) {
    std::fputs(DaemonUsage(argv[0]).c_str(), stdout);
    return EXIT_SUCCESS;
  }
  if (options->version) {
    std::printf("%s\n", kVersion);
    return EXIT_SUCCESS;
  }
  InstallSignalHandlers();
  ProtectProcessMemory();

  DaemonConfig config;
  DaemonLayout layout = ResolveLayout(*options, nullptr);
  std::optional<std::string> config_path = options->config_path;
  if (!config_path && layout.default_config && std::filesystem::exists(*layout.default_config)) {
    config_path = layout.default_config;
  }
  if (config_path) {
    auto loaded = LoadDaemonConfig(*config_path);
    if (!loaded) return Die(loaded.error());
    config = *loaded;
    layout = ResolveLayout(*options, &config);
  }
  // Before anything else logs: a bad setting is reported on stderr, as libvirtd reports it.
  auto log_settings = DaemonLogSettings(config, options->verbose, CurrentLoggingEnvironment());
  if (!log_settings) return Die(log_settings.error());
  if (auto configured = ConfigureLogging(*log_settings); !configured) return Die(configured.error());
  auto policy = PeerPolicy::FromConfig(config);
  if (!policy) return Die(policy.error());

  auto driver = SecretDriver::Open(layout.store);
  if (!driver) return Die(driver.error());
  // Shared with every libvirt daemon of the host; a corrupt file stops start-up.
  auto token = rpc::EnsureSystemToken(layout.system_token_path);
  if (!token) return Die(token.error());

  rpc::ServerOptions server_options;
  server_options.keepalive_interval = config.keepalive_interval;
  server_options.keepalive_count = config.keepalive_count;
  server_options.max_clients = static_cast<std::size_t>(config.max_clients);
  server_options.max_client_requests = static_cast<std::size_t>(config.max_client_requests);
  server_options.max_client_output = static_cast<std::size_t>(config.max_client_output_kib) << 10;
  server_options.max_client_event_callbacks = static_cast<std::size_t>(config.max_client_event_callbacks);
  server_options.max_pending_input = static_cast<std::size_t>(config.max_pending_input_mib) << 20;
  server_options.idle_timeout = options->timeout;
  server_options.uri_path = layout.uri_path;
  server_options.rw_peer_check = [p = *policy](const rpc::PeerCredentials& peer) { return p.Check(peer); };
  server_options.tls_handshake_timeout = config.tls_handshake_timeout;
  server_options.sasl_allowed_usernames = config.sasl_allowed_username_list;
  server_options.tcp_min_ssf = static_cast<unsigned>(config.tcp_min_ssf);
  server_options.sasl_auth_timeout = config.sasl_auth_timeout;
  server_options.system_token = std::make_shared<const SecretBytes>(std::move(*token));
  auto server = rpc::RpcServer::Create(**driver, std::move(server_options));
  if (!server) return Die(server.error());

  // Socket activation hands over ready listeners; otherwise bind the layout's sockets.
  std::vector<std::string> created;
  std::vector<ActivatedSocket> activated = TakeActivatedSockets();
  if (!activated.empty()) {
    for (ActivatedSocket& s : activated) {
      std::string bound = rpc::BoundPath(s.fd);
      bool ro = s.name.find("-ro") != std::string::npos || bound.ends_with("-ro");
      if (auto added = (*server)->AddListener(rpc::UniqueFd(s.fd), ro, nullptr,
                                              (ro ? config.auth_unix_ro : config.auth_unix_rw) == "sasl");
          !added)
        return Die(added.error());
      Log(LogLevel::kInfo, kWhere,
          "listening on activated socket " + (bound.empty() ? s.name : bound) + (ro ? " (read-only)" : ""));
    }
  } else {
    gid_t group = static_cast<gid_t>(-1);
    if (config.unix_sock_group) {
      const struct group* gr = ::getgrnam(config.unix_sock_group->c_str());
      if (gr == nullptr) {
        return Die(Error(ErrorCode::kConfSyntax, ErrorDomain::kConf,
                         "Failed to look up group '" + *config.unix_sock_group + "'"));
      }
      group = gr->gr_gid;
    }
    struct Want {
      std::string path;
      mode_t mode;
      bool ro;
    };
    std::vector<Want> wanted{{layout.rw_socket, config.unix_sock_rw_perms, false}};
    if (layout.ro_socket) wanted.push_back({*layout.ro_socket, config.unix_sock_ro_perms, true});
    for (const Want& w : wanted) {
      auto fd = rpc::ListenUnix(w.path, rpc::ListenOptions{w.mode, group, 128});
      if (!fd) return Die(fd.error());
      created.push_back(w.path);
      if (auto added = (*server)->AddListener(std::move(*fd), w.ro, nullptr,
                                              (w.ro ? config.auth_unix_ro : config.auth_unix_rw) == "sasl");
          !added)
        return Die(added.error());
      Log(LogLevel::kInfo, kWhere, "listening on " + w.path + (w.ro ? " (read-only)" : ""));
    }
  }

  if (options->listen) {
    if (auto net = AddNetworkListeners(**server, config); !net) return Die(net.error());
  }

  g_server.store(server->get());
  if (g_stop_pending.load()) (*server)->RequestStop();
  NotifySystemd("READY=1\nSTATUS=serving secrets");
  Log(LogLevel::kInfo, kWhere, std::string(kVersion) + " ready, store " + layout.store.config_dir);
  rpc::RpcServer::StopReason why = (*server)->Run();
  NotifySystemd("STOPPING=1");
  Log(LogLevel::kInfo, kWhere,
      why == rpc::RpcServer::StopReason::kIdle ? "idle timeout reached, exiting" : "shutting down");
  g_server.store(nullptr);
  for (const std::string& path : created) ::unlink(path.c_str());
  server->reset();
  driver->reset();
  return EXIT_SUCCESS;
}

}  // namespace
}  // namespace vsecret::daemon

int main(int argc, char** argv) { return vsecret::daemon::Main(argc, argv); }
