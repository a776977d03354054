// vsecretd.conf: the daemon's settings, in libvirt's virConf syntax (`key = value` lines with
// "strings", integers and [ "lists" ], `#` comments), so an admin who knows virtsecretd.conf
// finds the same keys. See packaging/vsecretd.conf for every key and its default.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "vsecret/error.h"

namespace vsecret::daemon {

struct DaemonConfig {
  std::optional<std::string> unix_sock_dir;  // overrides the mode's socket directory
  std::optional<std::string> unix_sock_group;
  mode_t unix_sock_ro_perms = 0777;
  mode_t unix_sock_rw_perms = 0700;
  // Peers admitted on the read-write socket besides root and the daemon's own user.
  std::vector<std::string> unix_sock_rw_allowed_users;
  std::vector<std::string> unix_sock_rw_allowed_groups;
  int max_clients = 5000;
  int keepalive_interval = 5;
  int keepalive_count = 5;
  // Per-client resource limits (see rpc/server.h).
  int max_client_requests = 5;
  int max_client_output_kib = 16384;
  int max_client_event_callbacks = 256;
  int max_pending_input_mib = 128;
  int log_level = 0;  // 0 = leave VSECRET_LOG_LEVEL / the default alone

  // Network listeners, opened only with --listen (as libvirtd). TCP has no authentication, so
  // it is off by default and refuses non-loopback addresses unless tcp_allow_non_loopback.
  bool listen_tls = true;
  bool listen_tcp = false;
  int tls_port = 16514;
  int tcp_port = 16509;
  std::string listen_addr;  // "" = every address
  bool tcp_allow_non_loopback = false;
  // Per-listener access: a read-only listener gives every client a read-only connection.
  bool tls_read_only = false;
  bool tcp_read_only = false;
  // "" = libvirtd's default location (/etc/pki/...).
  std::string key_file;
  std::string cert_file;
  std::string ca_file;
  std::string crl_file;
  std::vector<std::string> tls_allowed_dn_list;  // fnmatch patterns; empty admits any CA-signed cert
  int tls_handshake_timeout = 10;                // seconds
};

// Parses config text; `origin` names the file in errors:
// "configuration file syntax error: <origin>:<line>: <what>" (CONF_SYNTAX, domain CONF) and
// "config key <key> must be <type>" for a well-formed value of the wrong type.
// Unknown keys are accepted and ignored, as libvirt's daemons do.
Result<DaemonConfig> ParseDaemonConfig(const std::string& text, const std::string& origin);

// Reads and parses a file. A missing file is an error ("Failed to open file '<path>': ...").
Result<DaemonConfig> LoadDaemonConfig(const std::string& path);

}  // namespace vsecret::daemon
