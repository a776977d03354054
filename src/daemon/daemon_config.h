// vsecretd.conf: the daemon's settings, in libvirt's virConf syntax (`key = value` lines with
// "strings", integers and [ "lists" ], `#` comments), so an admin who knows virtsecretd.conf
// finds the same keys. See packaging/vsecretd.conf for every key and its default.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "conf/virconf.h"
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
  // Logging (daemon/daemon_logging.h): 0 = the default level; filters and outputs in libvirt's
  // syntax, checked when the daemon sets logging up.
  int log_level = 0;
  std::string log_filters;
  std::string log_outputs;

  // Network listeners, opened only with --listen (as libvirtd). Plain TCP is off by default and
  // refuses non-loopback addresses unless tcp_allow_non_loopback.
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

  // Authentication per listener: "none" or "sasl" (libvirtd's keys and defaults; polkit is not
  // offered). "sasl" on TLS means certificate and SASL.
  std::string auth_unix_rw = "none";
  std::string auth_unix_ro = "none";
  std::string auth_tcp = "sasl";
  std::string auth_tls = "none";
  // fnmatch patterns for SASL user names: absent = everyone, [] = nobody (libvirtd's rule).
  std::optional<std::vector<std::string>> sasl_allowed_username_list;
  int tcp_min_ssf = 56;        // SASL security strength plain TCP must reach
  int sasl_auth_timeout = 60;  // seconds a client may take to authenticate (vsecretd's own)
};

// Parses config text with conf/virconf.h; `origin` names the file in errors. Syntax errors and
// values of the wrong type are libvirt's (see VirConf): e.g.
// "configuration file syntax error: <origin>:<line>: <what>" (CONF_SYNTAX) or
// "internal error: <origin>: expected an unsigned integer for 'max_clients' parameter"; a number
// outside a key's range is "internal error: <origin>: value for '<key>' parameter must be in
// range <min>:<max>" (int's or unsigned's range where libvirtd would refuse it too). The keys libvirtd also
// reads are read with its getter and in its order, so the first error reported is libvirtd's; as in libvirt,
// the first of duplicated keys wins. Unknown keys are accepted and ignored, as libvirt's daemons do.
Result<DaemonConfig> ParseDaemonConfig(const std::string& text, const std::string& origin);

// The settings of an already parsed file, with the same checks.
Result<DaemonConfig> ReadDaemonConfig(const VirConf& conf);

// Reads and parses a file. A missing file is an error ("Failed to open file '<path>': ...").
Result<DaemonConfig> LoadDaemonConfig(const std::string& path);

}  // namespace vsecret::daemon
