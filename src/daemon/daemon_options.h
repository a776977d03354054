// vsecretd's command line and the instance layout it selects.
//
//   vsecretd [--system | --session | --root DIR] [--config FILE] [--timeout SECS] [--verbose]
//
// With neither --system nor --session nor --root, root runs the system instance and other users
// the session instance, as virtsecretd does. libvirtd's short options -f, -t, -v, -h and -V are
// accepted too, so `vsecretd --timeout=120` is what libvirt's client auto-start runs.
#pragma once

#include <optional>
#include <string>

#include "daemon/daemon_config.h"
#include "store/secret_store.h"
#include "vsecret/error.h"

namespace vsecret::daemon {

enum class DaemonMode { kSystem, kSession, kRoot };

struct DaemonOptions {
  DaemonMode mode = DaemonMode::kSystem;
  std::string root;  // for kRoot: absolute
  std::optional<std::string> config_path;
  int timeout = 0;  // idle seconds before exiting, 0 = never
  bool verbose = false;
  bool listen = false;  // --listen: open the TLS/TCP listeners vsecretd.conf enables
  bool help = false;
  bool version = false;
};

// Errors are usage errors, worded for stderr ("unknown option '--x'").
Result<DaemonOptions> ParseDaemonArgs(int argc, char** argv);
std::string DaemonUsage(const std::string& argv0);

// Where one instance keeps its store and its sockets.
struct DaemonLayout {
  StorePaths store;
  std::string socket_dir;
  std::string rw_socket;
  std::optional<std::string> ro_socket;       // the session instance has none
  std::string uri_path;                       // "/system" or "/session"
  std::optional<std::string> default_config;  // read when present and no --config is given
  // The system token shared with libvirt's daemons (rpc/identity.h): /run/libvirt/common for
  // the system instance, the session runtime dir's common/ for the session one, DIR/run/common
  // for --root DIR.
  std::string system_token_path;
};

// The layout for options, with config's unix_sock_dir applied when given.
DaemonLayout ResolveLayout(const DaemonOptions& options, const DaemonConfig* config);

}  // namespace vsecret::daemon
