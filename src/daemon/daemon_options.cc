#include "daemon/daemon_options.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <string_view>

#include "rpc/socket_paths.h"

namespace vsecret::daemon {
namespace {

std::unexpected<Error> Usage(const std::string& what) {
  return Fail(ErrorCode::kInvalidArg, ErrorDomain::kNone, what);
}

std::string ConfigHome() {
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg != nullptr && *xdg != '\0') return xdg;
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0') {
    const passwd* pw = ::getpwuid(::geteuid());
    home = pw != nullptr ? pw->pw_dir : "/";
  }
  return std::string(home) + "/.config";
}

}  // namespace

Result<DaemonOptions> ParseDaemonArgs(int argc, char** argv) {
  DaemonOptions o;
  o.mode = ::geteuid() == 0 ? DaemonMode::kSystem : DaemonMode::kSession;
  int modes = 0;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string value;
    bool has_inline = false;
    if (arg.starts_with("--") && arg.find('=') != std::string_view::npos) {
      value = std::string(arg.substr(arg.find('=') + 1));
      arg = arg.substr(0, arg.find('='));
      has_inline = true;
    }
    auto take_value = [&](std::string* out) -> bool {
      if (has_inline) {
        *out = value;
        return true;
      }
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    if (arg == "--system") {
      o.mode = DaemonMode::kSystem;
      ++modes;
    } else if (arg == "--session") {
      o.mode = DaemonMode::kSession;
      ++modes;
    } else if (arg == "--root") {
      if (!take_value(&o.root)) return Usage("option '--root' requires a directory");
      if (o.root.empty() || o.root[0] != '/')
        return Usage("--root needs an absolute path, got '" + o.root + "'");
      while (o.root.size() > 1 && o.root.back() == '/') o.root.pop_back();
      o.mode = DaemonMode::kRoot;
      ++modes;
    } else if (arg == "--config" || arg == "-f") {
      std::string path;
      if (!take_value(&path)) return Usage("option '--config' requires a file name");
      o.config_path = path;
    } else if (arg == "--timeout" || arg == "-t") {
      std::string secs;
      if (!take_value(&secs)) return Usage("option '--timeout' requires a number of seconds");
      char* end = nullptr;
      long n = std::strtol(secs.c_str(), &end, 10);
      if (secs.empty() || *end != '\0' || n < 0 || n > 86400 * 365) return Usage("Invalid value for timeout");
      o.timeout = static_cast<int>(n);
    } else if (arg == "--listen" || arg == "-l") {
      o.listen = true;
    } else if (arg == "--verbose" || arg == "-v") {
      o.verbose = true;
    } else if (arg == "--help" || arg == "-h") {
      o.help = true;
    } else if (arg == "--version" || arg == "-V") {
      o.version = true;
    } else {
      return Usage("unknown option '" + std::string(argv[i]) + "'");
    }
  }
  if (modes > 1) return Usage("--system, --session and --root are mutually exclusive");
  return o;
}

std::string DaemonUsage(const std::string& argv0) {
  return "Usage:\n  " + argv0 +
         " [options]\n\n"
         "Options:\n"
         "  --system               the privileged instance: /etc/libvirt/secrets,\n"
         "                         sockets /run/libvirt/virtsecretd-sock and -sock-ro\n"
         "  --session              the per-user instance: $XDG_CONFIG_HOME/libvirt/secrets,\n"
         "                         socket $XDG_RUNTIME_DIR/libvirt/virtsecretd-sock\n"
         "  --root DIR             a self-contained instance: store DIR/etc/secrets,\n"
         "                         sockets DIR/run/virtsecretd-sock and -sock-ro\n"
         "  -f | --config FILE     configuration file (see vsecretd.conf)\n"
         "  -t | --timeout SECS    exit after SECS idle seconds (never while ephemeral\n"
         "                         secrets are held)\n"
         "  -l | --listen          listen for TLS (and, if enabled, TCP) connections as\n"
         "                         listen_tls / listen_tcp in the configuration say\n"
         "  -v | --verbose         log informational messages\n"
         "  -h | --help            display this help\n"
         "  -V | --version         display the version\n\n"
         "Runs in the foreground and logs to stderr. SIGHUP reloads the secrets from disk;\n"
         "SIGTERM and SIGINT stop the daemon. Under systemd it accepts socket activation and\n"
         "reports readiness through $NOTIFY_SOCKET.\n";
}

DaemonLayout ResolveLayout(const DaemonOptions& options, const DaemonConfig* config) {
  DaemonLayout l;
  switch (options.mode) {
    case DaemonMode::kSystem:
      l.store = StorePaths{"/etc/libvirt/secrets", "/run/libvirt/secrets"};
      l.socket_dir = rpc::SystemSocketDir();
      l.uri_path = "/system";
      l.default_config = "/etc/libvirt/vsecretd.conf";
      l.system_token_path = "/run/libvirt/common/system.token";
      break;
    case DaemonMode::kSession: {
      std::string runtime = rpc::SessionRuntimeDir();
      l.store = StorePaths{ConfigHome() + "/libvirt/secrets", runtime + "/secrets/run"};
      l.socket_dir = runtime;
      l.uri_path = "/session";
      l.default_config = ConfigHome() + "/libvirt/vsecretd.conf";
      l.system_token_path = runtime + "/common/system.token";
      break;
    }
    case DaemonMode::kRoot:
      l.store = StorePaths::ForRoot(options.root);
      l.socket_dir = options.root + "/run";
      l.uri_path = "/system";
      l.system_token_path = options.root + "/run/common/system.token";
      break;
  }
  if (config != nullptr && config->unix_sock_dir) l.socket_dir = *config->unix_sock_dir;
  l.rw_socket = l.socket_dir + "/" + rpc::kSocketName;
  if (options.mode != DaemonMode::kSession) l.ro_socket = l.socket_dir + "/" + rpc::kSocketNameRo;
  return l;
}

}  // namespace vsecret::daemon
