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
  int log_level = 0;  // 0 = leave VSECRET_LOG_LEVEL / the default alone
};

// Parses config text; `origin` names the file in errors:
// "configuration file syntax error: <origin>:<line>: <what>" (CONF_SYNTAX, domain CONF) and
// "config key <key> must be <type>" for a well-formed value of the wrong type.
// Unknown keys are accepted and ignored, as libvirt's daemons do.
Result<DaemonConfig> ParseDaemonConfig(const std::string& text, const std::string& origin);

// Reads and parses a file. A missing file is an error ("Failed to open file '<path>': ...").
Result<DaemonConfig> LoadDaemonConfig(const std::string& path);

}  // namespace vsecret::daemon
