#include "daemon/daemon_config.h"

#include <cerrno>
#include <fstream>
#include <functional>
#include <sstream>
#include <utility>

#include "conf/virconf.h"

namespace vsecret::daemon {
namespace {

// Stores a getter's value in `field` when the key is present; the field keeps its default otherwise.
template <typename T, typename Field>
Result<void> Store(Result<std::optional<T>> value, Field& field) {
  if (!value) return std::unexpected(value.error());
  if (*value) field = static_cast<Field>(std::move(**value));
  return {};
}

// libvirtd reads the socket modes as strings and parses them in base 8 when it binds.
Result<void> StorePerms(const VirConf& conf, const char* key, mode_t& field) {
  auto s = conf.GetString(key);
  if (!s) return std::unexpected(s.error());
  if (!*s || (*s)->empty()) return {};
  const std::string& text = **s;
  mode_t mode = 0;
  for (char c : text) {
    if (c < '0' || c > '7' || mode > 0777) {
      return Fail(ErrorCode::kConfSyntax, ErrorDomain::kConf, "Failed to parse mode '" + text + "'");
    }
    mode = mode * 8 + static_cast<mode_t>(c - '0');
  }
  if (mode > 0777)
    return Fail(ErrorCode::kConfSyntax, ErrorDomain::kConf, "Failed to parse mode '" + text + "'");
  field = mode;
  return {};
}

// libvirtd.conf writes ports as strings ("16514"), which is all libvirtd reads; vsecretd takes a
// bare number too.
Result<void> StorePort(const VirConf& conf, const char* key, int& field) {
  const VirConf::Value* value = conf.Find(key);
  if (value == nullptr) return {};
  long long n = -1;
  if (value->type == VirConf::Value::Type::kString) {
    const std::string& s = value->text;
    if (!s.empty() && s.size() <= 5 && s.find_first_not_of("0123456789") == std::string::npos)
      n = std::stoll(s);
  } else if (value->type == VirConf::Value::Type::kUnsigned && value->number <= 65535) {
    n = static_cast<long long>(value->number);
  }
  if (n < 0 || n > 65535) {
    return Fail(ErrorCode::kConfSyntax, ErrorDomain::kConf,
                std::string("config key ") + key + " must be a port number");
  }
  field = static_cast<int>(n);
  return {};
}

// libvirtd's auth_* keys also take "polkit", which vsecretd does not offer.
Result<void> StoreAuth(const VirConf& conf, const char* key, std::string& field) {
  auto v = conf.GetString(key);
  if (!v) return std::unexpected(v.error());
  if (!*v) return {};
  if (**v != "none" && **v != "sasl") {
    return Fail(ErrorCode::kConfigUnsupported, ErrorDomain::kConf,
                std::string("unsupported configuration: ") + key + " = \"" + **v +
                    "\": vsecretd supports only \"none\" and \"sasl\"");
  }
  field = **v;
  return {};
}

// libvirtd refuses a floor below what Kerberos' weakest cipher gives.
Result<void> StoreMinSsf(const VirConf& conf, int& field) {
  auto v = conf.GetUInt("tcp_min_ssf", 0, 1u << 30);
  if (!v) return std::unexpected(v.error());
  if (!*v) return {};
  if (**v < 56) {
    return Fail(ErrorCode::kConfigUnsupported, ErrorDomain::kConf,
                "unsupported configuration: minimum SSF levels lower than 56 are not supported");
  }
  field = static_cast<int>(**v);
  return {};
}

}  // namespace

Result<DaemonConfig> ReadDaemonConfig(const VirConf& conf) {
  DaemonConfig c;
  using List = VirConf::StringList;
  // The keys libvirtd also reads come first, in its order and with its getter for each (so the
  // first error is the one libvirtd would report); vsecretd's own keys follow.
  const std::function<Result<void>()> steps[] = {
      [&] { return Store(conf.GetBool("listen_tcp"), c.listen_tcp); },
      [&] { return Store(conf.GetBool("listen_tls"), c.listen_tls); },
      [&] { return StorePort(conf, "tls_port", c.tls_port); },
      [&] { return StorePort(conf, "tcp_port", c.tcp_port); },
      [&] { return Store(conf.GetString("listen_addr"), c.listen_addr); },
      [&] { return StoreAuth(conf, "auth_unix_rw", c.auth_unix_rw); },
      [&] { return StoreAuth(conf, "auth_unix_ro", c.auth_unix_ro); },
      [&] { return StoreAuth(conf, "auth_tcp", c.auth_tcp); },
      [&] { return StoreAuth(conf, "auth_tls", c.auth_tls); },
      [&] { return Store(conf.GetString("unix_sock_group"), c.unix_sock_group); },
      [&] { return StorePerms(conf, "unix_sock_ro_perms", c.unix_sock_ro_perms); },
      [&] { return StorePerms(conf, "unix_sock_rw_perms", c.unix_sock_rw_perms); },
      [&] { return Store(conf.GetString("unix_sock_dir"), c.unix_sock_dir); },
      [&] { return Store(conf.GetString("key_file"), c.key_file); },
      [&] { return Store(conf.GetString("cert_file"), c.cert_file); },
      [&] { return Store(conf.GetString("ca_file"), c.ca_file); },
      [&] { return Store(conf.GetString("crl_file"), c.crl_file); },
      [&] {
        return Store(conf.GetStringList("tls_allowed_dn_list", List::kListOnly), c.tls_allowed_dn_list);
      },
      [&] { return StoreMinSsf(conf, c.tcp_min_ssf); },
      [&] {
        return Store(conf.GetStringList("sasl_allowed_username_list", List::kListOnly),
                     c.sasl_allowed_username_list);
      },
      [&] { return Store(conf.GetUInt("max_clients", 1, 1000000), c.max_clients); },
      [&] { return Store(conf.GetUInt("max_client_requests", 1, 1000), c.max_client_requests); },
      [&] { return Store(conf.GetUInt("log_level", 0, 4), c.log_level); },
      [&] { return Store(conf.GetString("log_filters"), c.log_filters); },
      [&] { return Store(conf.GetString("log_outputs"), c.log_outputs); },
      [&] { return Store(conf.GetInt("keepalive_interval", -1, 86400), c.keepalive_interval); },
      [&] { return Store(conf.GetUInt("keepalive_count", 0, 1000), c.keepalive_count); },
      // vsecretd's own: a lone string stays accepted as a one-name list.
      [&] {
        return Store(conf.GetStringList("unix_sock_rw_allowed_users", List::kListOrString),
                     c.unix_sock_rw_allowed_users);
      },
      [&] {
        return Store(conf.GetStringList("unix_sock_rw_allowed_groups", List::kListOrString),
                     c.unix_sock_rw_allowed_groups);
      },
      [&] { return Store(conf.GetUInt("max_client_output_kib", 64, 4u << 20), c.max_client_output_kib); },
      [&] {
        return Store(conf.GetUInt("max_client_event_callbacks", 1, 1u << 20), c.max_client_event_callbacks);
      },
      [&] { return Store(conf.GetUInt("max_pending_input_mib", 1, 1u << 20), c.max_pending_input_mib); },
      [&] { return Store(conf.GetBool("tcp_allow_non_loopback"), c.tcp_allow_non_loopback); },
      [&] { return Store(conf.GetBool("tls_read_only"), c.tls_read_only); },
      [&] { return Store(conf.GetBool("tcp_read_only"), c.tcp_read_only); },
      [&] { return Store(conf.GetUInt("tls_handshake_timeout", 1, 3600), c.tls_handshake_timeout); },
      [&] { return Store(conf.GetUInt("sasl_auth_timeout", 1, 3600), c.sasl_auth_timeout); },
  };
  for (const auto& step : steps) {
    if (auto ok = step(); !ok) return std::unexpected(ok.error());
  }
  return c;
}

Result<DaemonConfig> ParseDaemonConfig(const std::string& text, const std::string& origin) {
  auto conf = VirConf::Parse(text, origin);
  if (!conf) return std::unexpected(conf.error());
  return ReadDaemonConfig(*conf);
}

Result<DaemonConfig> LoadDaemonConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return SystemError(ErrorDomain::kConf, errno, "Failed to open file '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseDaemonConfig(ss.str(), path);
}

}  // namespace vsecret::daemon
