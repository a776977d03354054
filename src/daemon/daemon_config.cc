#include "daemon/daemon_config.h"

#include <cctype>
#include <cerrno>
#include <fstream>
#include <map>
#include <sstream>

namespace vsecret::daemon {
namespace {

struct Value {
  enum class Kind { kString, kNumber, kList } kind = Kind::kString;
  std::string str;
  long long num = 0;
  std::vector<Value> list;
};

// A recursive-descent reader for the virConf grammar subset the daemon needs.
class ConfParser {
 public:
  ConfParser(const std::string& text, const std::string& origin) : text_(text), origin_(origin) {}

  Result<std::map<std::string, Value>> Parse() {
    std::map<std::string, Value> out;
    for (;;) {
      SkipBlank(true);
      if (AtEnd()) return out;
      std::string key;
      while (!AtEnd() && (std::isalnum(Peek()) || Peek() == '_' || Peek() == '.')) key.push_back(Next());
      if (key.empty() || std::isdigit(static_cast<unsigned char>(key[0]))) return Syntax("expecting a name");
      SkipBlank(false);
      if (AtEnd() || Peek() != '=') return Syntax("expecting an assignment");
      Next();
      SkipBlank(false);
      auto value = ParseValue();
      if (!value) return std::unexpected(value.error());
      out[key] = std::move(*value);
      SkipBlank(false);
      if (!AtEnd() && (Peek() == ';' || Peek() == '\n')) {
        Next();
      } else if (!AtEnd() && Peek() != '#') {
        return Syntax("expecting a separator");
      }
    }
  }

 private:
  bool AtEnd() const { return pos_ >= text_.size(); }
  unsigned char Peek() const { return static_cast<unsigned char>(text_[pos_]); }
  char Next() {
    if (text_[pos_] == '\n') ++line_;
    return text_[pos_++];
  }
  // Skips spaces and comments; newlines too when `newlines`.
  void SkipBlank(bool newlines) {
    while (!AtEnd()) {
      char c = text_[pos_];
      if (c == '#') {
        while (!AtEnd() && text_[pos_] != '\n') ++pos_;
      } else if (c == ' ' || c == '\t' || c == '\r' || (newlines && c == '\n')) {
        Next();
      } else {
        return;
      }
    }
  }
  std::unexpected<Error> Syntax(const std::string& what) const {
    return Fail(ErrorCode::kConfSyntax, ErrorDomain::kConf,
                "configuration file syntax error: " + origin_ + ":" + std::to_string(line_) + ": " + what);
  }

  Result<Value> ParseValue() {
    if (AtEnd()) return Syntax("expecting a value");
    Value v;
    char c = static_cast<char>(Peek());
    if (c == '"' || c == '\'') {
      Next();
      v.kind = Value::Kind::kString;
      while (!AtEnd() && text_[pos_] != c) {
        if (text_[pos_] == '\n') return Syntax("unterminated string");
        v.str.push_back(Next());
      }
      if (AtEnd()) return Syntax("unterminated string");
      Next();
      return v;
    }
    if (c == '[') {
      Next();
      v.kind = Value::Kind::kList;
      SkipBlank(true);
      if (!AtEnd() && Peek() == ']') {
        Next();
        return v;
      }
      for (;;) {
        SkipBlank(true);
        auto item = ParseValue();
        if (!item) return item;
        v.list.push_back(std::move(*item));
        SkipBlank(true);
        if (AtEnd()) return Syntax("list is not closed with ]");
        char sep = Next();
        if (sep == ']') return v;
        if (sep != ',') return Syntax("expecting a separator in list");
        SkipBlank(true);
        if (!AtEnd() && Peek() == ']') {  // a trailing comma is allowed
          Next();
          return v;
        }
      }
    }
    if (c == '-' || c == '+' || std::isdigit(static_cast<unsigned char>(c))) {
      std::string digits(1, Next());
      while (!AtEnd() && std::isdigit(Peek())) digits.push_back(Next());
      if (digits == "-" || digits == "+") return Syntax("unterminated number");
      v.kind = Value::Kind::kNumber;
      try {
        v.num = std::stoll(digits);
      } catch (...) {
        return Syntax("number out of range");
      }
      return v;
    }
    return Syntax("expecting a value");
  }

  const std::string& text_;
  const std::string& origin_;
  std::size_t pos_ = 0;
  int line_ = 1;
};

std::unexpected<Error> WrongType(const std::string& key, const char* type) {
  return Fail(ErrorCode::kConfSyntax, ErrorDomain::kConf, "config key " + key + " must be " + type);
}

Result<std::string> GetString(const std::map<std::string, Value>& m, const std::string& key,
                              const std::string& fallback) {
  auto it = m.find(key);
  if (it == m.end()) return fallback;
  if (it->second.kind != Value::Kind::kString) return WrongType(key, "a string");
  return it->second.str;
}

Result<int> GetInt(const std::map<std::string, Value>& m, const std::string& key, int fallback, int min,
                   int max) {
  auto it = m.find(key);
  if (it == m.end()) return fallback;
  if (it->second.kind != Value::Kind::kNumber) return WrongType(key, "a number");
  if (it->second.num < min || it->second.num > max) {
    return Fail(
        ErrorCode::kConfSyntax, ErrorDomain::kConf,
        "config key " + key + " must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  return static_cast<int>(it->second.num);
}

Result<std::vector<std::string>> GetStringList(const std::map<std::string, Value>& m,
                                               const std::string& key) {
  std::vector<std::string> out;
  auto it = m.find(key);
  if (it == m.end()) return out;
  if (it->second.kind == Value::Kind::kString) return std::vector<std::string>{it->second.str};
  if (it->second.kind != Value::Kind::kList) return WrongType(key, "a list of strings");
  for (const Value& v : it->second.list) {
    if (v.kind != Value::Kind::kString) return WrongType(key, "a list of strings");
    out.push_back(v.str);
  }
  return out;
}

Result<mode_t> GetPerms(const std::map<std::string, Value>& m, const std::string& key, mode_t fallback) {
  auto s = GetString(m, key, "");
  if (!s) return std::unexpected(s.error());
  if (s->empty()) return fallback;
  mode_t mode = 0;
  for (char c : *s) {
    if (c < '0' || c > '7' || mode > 0777) {
      return Fail(ErrorCode::kConfSyntax, ErrorDomain::kConf, "Failed to parse mode '" + *s + "'");
    }
    mode = mode * 8 + static_cast<mode_t>(c - '0');
  }
  if (mode > 0777)
    return Fail(ErrorCode::kConfSyntax, ErrorDomain::kConf, "Failed to parse mode '" + *s + "'");
  return mode;
}

Result<bool> GetBool(const std::map<std::string, Value>& m, const std::string& key, bool fallback) {
  auto v = GetInt(m, key, fallback ? 1 : 0, 0, 1);
  if (!v) return std::unexpected(v.error());
  return *v == 1;
}

// libvirtd.conf writes ports as strings ("16514"); numbers are accepted too.
Result<int> GetPort(const std::map<std::string, Value>& m, const std::string& key, int fallback) {
  auto it = m.find(key);
  if (it == m.end()) return fallback;
  long long n = it->second.num;
  if (it->second.kind == Value::Kind::kString) {
    const std::string& s = it->second.str;
    if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string::npos) n = -1;
    else n = std::stoll(s);
  } else if (it->second.kind != Value::Kind::kNumber) {
    n = -1;
  }
  if (n < 0 || n > 65535) return WrongType(key, "a port number");
  return static_cast<int>(n);
}

Result<void> ParseNetwork(const std::map<std::string, Value>& m, DaemonConfig& c) {
  struct BoolKey {
    const char* key;
    bool* out;
  };
  for (BoolKey k : {BoolKey{"listen_tls", &c.listen_tls}, BoolKey{"listen_tcp", &c.listen_tcp},
                    BoolKey{"tcp_allow_non_loopback", &c.tcp_allow_non_loopback},
                    BoolKey{"tls_read_only", &c.tls_read_only}, BoolKey{"tcp_read_only", &c.tcp_read_only}}) {
    auto v = GetBool(m, k.key, *k.out);
    if (!v) return std::unexpected(v.error());
    *k.out = *v;
  }
  auto tls_port = GetPort(m, "tls_port", c.tls_port);
  if (!tls_port) return std::unexpected(tls_port.error());
  c.tls_port = *tls_port;
  auto tcp_port = GetPort(m, "tcp_port", c.tcp_port);
  if (!tcp_port) return std::unexpected(tcp_port.error());
  c.tcp_port = *tcp_port;
  struct StringKey {
    const char* key;
    std::string* out;
  };
  for (StringKey k : {StringKey{"listen_addr", &c.listen_addr}, StringKey{"key_file", &c.key_file},
                      StringKey{"cert_file", &c.cert_file}, StringKey{"ca_file", &c.ca_file},
                      StringKey{"crl_file", &c.crl_file}}) {
    auto v = GetString(m, k.key, *k.out);
    if (!v) return std::unexpected(v.error());
    *k.out = *v;
  }
  auto dns = GetStringList(m, "tls_allowed_dn_list");
  if (!dns) return std::unexpected(dns.error());
  c.tls_allowed_dn_list = *dns;
  auto timeout = GetInt(m, "tls_handshake_timeout", c.tls_handshake_timeout, 1, 3600);
  if (!timeout) return std::unexpected(timeout.error());
  c.tls_handshake_timeout = *timeout;
  auto auth_tcp = GetString(m, "auth_tcp", "none");
  if (!auth_tcp) return std::unexpected(auth_tcp.error());
  auto auth_tls = GetString(m, "auth_tls", "none");
  if (!auth_tls) return std::unexpected(auth_tls.error());
  for (const auto& [key, value] : {std::pair{"auth_tcp", *auth_tcp}, std::pair{"auth_tls", *auth_tls}}) {
    if (value != "none") {
      return Fail(ErrorCode::kConfigUnsupported, ErrorDomain::kConf,
                  std::string("unsupported configuration: ") + key + " = \"" + value +
                      "\": vsecretd supports only \"none\" (TLS access is decided by client certificates)");
    }
  }
  return {};
}

}  // namespace

Result<DaemonConfig> ParseDaemonConfig(const std::string& text, const std::string& origin) {
  auto parsed = ConfParser(text, origin).Parse();
  if (!parsed) return std::unexpected(parsed.error());
  const auto& m = *parsed;
  DaemonConfig c;
  if (m.contains("unix_sock_dir")) {
    auto v = GetString(m, "unix_sock_dir", "");
    if (!v) return std::unexpected(v.error());
    c.unix_sock_dir = *v;
  }
  if (m.contains("unix_sock_group")) {
    auto v = GetString(m, "unix_sock_group", "");
    if (!v) return std::unexpected(v.error());
    c.unix_sock_group = *v;
  }
  auto ro = GetPerms(m, "unix_sock_ro_perms", c.unix_sock_ro_perms);
  if (!ro) return std::unexpected(ro.error());
  c.unix_sock_ro_perms = *ro;
  auto rw = GetPerms(m, "unix_sock_rw_perms", c.unix_sock_rw_perms);
  if (!rw) return std::unexpected(rw.error());
  c.unix_sock_rw_perms = *rw;
  for (const char* key : {"auth_unix_ro", "auth_unix_rw"}) {
    auto v = GetString(m, key, "none");
    if (!v) return std::unexpected(v.error());
    if (*v != "none") {
      return Fail(ErrorCode::kConfigUnsupported, ErrorDomain::kConf,
                  std::string("unsupported configuration: ") + key + " = \"" + *v +
                      "\": vsecretd supports only \"none\" (access is decided by socket permissions and the "
                      "peer's uid)");
    }
  }
  auto users = GetStringList(m, "unix_sock_rw_allowed_users");
  if (!users) return std::unexpected(users.error());
  c.unix_sock_rw_allowed_users = *users;
  auto groups = GetStringList(m, "unix_sock_rw_allowed_groups");
  if (!groups) return std::unexpected(groups.error());
  c.unix_sock_rw_allowed_groups = *groups;
  auto max_clients = GetInt(m, "max_clients", c.max_clients, 1, 1000000);
  if (!max_clients) return std::unexpected(max_clients.error());
  c.max_clients = *max_clients;
  struct Limit {
    const char* key;
    int* field;
    int min;
    int max;
  };
  for (const Limit& l : {Limit{"max_client_requests", &c.max_client_requests, 1, 1000},
                         Limit{"max_client_output_kib", &c.max_client_output_kib, 64, 4 << 20},
                         Limit{"max_client_event_callbacks", &c.max_client_event_callbacks, 1, 1 << 20},
                         Limit{"max_pending_input_mib", &c.max_pending_input_mib, 1, 1 << 20}}) {
    auto v = GetInt(m, l.key, *l.field, l.min, l.max);
    if (!v) return std::unexpected(v.error());
    *l.field = *v;
  }
  auto interval = GetInt(m, "keepalive_interval", c.keepalive_interval, -1, 86400);
  if (!interval) return std::unexpected(interval.error());
  c.keepalive_interval = *interval;
  auto count = GetInt(m, "keepalive_count", c.keepalive_count, 0, 1000);
  if (!count) return std::unexpected(count.error());
  c.keepalive_count = *count;
  auto level = GetInt(m, "log_level", 0, 0, 4);
  if (!level) return std::unexpected(level.error());
  c.log_level = *level;
  if (auto net = ParseNetwork(m, c); !net) return std::unexpected(net.error());
  return c;
}

Result<DaemonConfig> LoadDaemonConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return SystemError(ErrorDomain::kConf, errno, "Failed to open file '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseDaemonConfig(ss.str(), path);
}

}  // namespace vsecret::daemon
