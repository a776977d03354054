#include "rpc/auth_conf.h"

#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

namespace vsecret::rpc {
namespace {

std::string Trim(const std::string& s) {
  std::size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  std::size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

std::unexpected<Error> NoCredentials(const std::string& what) {
  return Fail(ErrorCode::kAuthFailed, ErrorDomain::kRemote, "authentication failed: " + what);
}

// Reads a line from the terminal; without echo for secrets. Empty when stdin is not a TTY or
// at end of input. The line goes straight into wiped memory: read(2) byte by byte, so no stdio
// buffer and no std::string reallocation keeps a copy of a typed password.
std::optional<SecretBytes> Prompt(const std::string& question, bool secret) {
  if (!::isatty(STDIN_FILENO)) return std::nullopt;
  std::fprintf(stderr, "%s", question.c_str());
  std::fflush(stderr);
  termios old{};
  bool restore = false;
  if (secret && ::tcgetattr(STDIN_FILENO, &old) == 0) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    restore = ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
  }
  SecretBytes line;
  bool got_newline = false;
  for (;;) {
    char c = 0;
    ssize_t n = ::read(STDIN_FILENO, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (c == '\n') {
      got_newline = true;
      break;
    }
    line.Append(std::string_view(&c, 1));
    c = 0;
  }
  if (restore) {
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    std::fprintf(stderr, "\n");
  }
  if (!got_newline && line.empty()) return std::nullopt;
  return line;
}

}  // namespace

Result<AuthConfCredentials> ParseAuthConf(const std::string& text, const std::string& origin,
                                          const std::string& host) {
  std::map<std::string, std::map<std::string, std::string>> groups;
  std::string group;
  std::istringstream in(text);
  std::string raw;
  int line_no = 0;
  while (std::getline(in, raw)) {
    ++line_no;
    std::string line = Trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line[0] == '[') {
      if (line.back() != ']')
        return Fail(ErrorCode::kConfSyntax, ErrorDomain::kConf,
                    "configuration file syntax error: " + origin + ":" + std::to_string(line_no) +
                        ": unterminated group name");
      group = Trim(line.substr(1, line.size() - 2));
      groups[group];
      continue;
    }
    std::size_t eq = line.find('=');
    if (eq == std::string::npos || group.empty())
      return Fail(ErrorCode::kConfSyntax, ErrorDomain::kConf,
                  "configuration file syntax error: " + origin + ":" + std::to_string(line_no) +
                      ": expected key=value in a group");
    groups[group].emplace(Trim(line.substr(0, eq)), Trim(line.substr(eq + 1)));
  }
  AuthConfCredentials out;
  const std::map<std::string, std::string>* auth = nullptr;
  for (const std::string& name : {"auth-libvirt-" + host, std::string("auth-libvirt-default")}) {
    if (auto it = groups.find(name); it != groups.end()) {
      auth = &it->second;
      break;
    }
  }
  if (auth == nullptr) return out;
  auto cred_name = auth->find("credentials");
  if (cred_name == auth->end()) return out;
  auto creds = groups.find("credentials-" + cred_name->second);
  if (creds == groups.end()) return out;
  if (auto it = creds->second.find("authname"); it != creds->second.end()) out.authname = it->second;
  if (auto it = creds->second.find("username"); it != creds->second.end()) out.username = it->second;
  if (auto it = creds->second.find("password"); it != creds->second.end())
    out.password = SecretBytes(std::string_view(it->second));
  return out;
}

std::optional<std::string> FindAuthConf() {
  if (const char* env = std::getenv("LIBVIRT_AUTH_FILE"); env != nullptr && *env != '\0') return env;
  std::string user_file;
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg != nullptr && *xdg != '\0') {
    user_file = std::string(xdg) + "/libvirt/auth.conf";
  } else if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    user_file = std::string(home) + "/.config/libvirt/auth.conf";
  }
  if (!user_file.empty() && ::access(user_file.c_str(), R_OK) == 0) return user_file;
  if (::access("/etc/libvirt/auth.conf", R_OK) == 0) return std::string("/etc/libvirt/auth.conf");
  return std::nullopt;
}

SaslCredentials ClientSaslCredentials(const std::string& host) {
  // Read once, on first need (GSSAPI never asks).
  auto loaded = std::make_shared<std::optional<Result<AuthConfCredentials>>>();
  auto load = [loaded, host]() -> const Result<AuthConfCredentials>& {
    if (!*loaded) {
      auto path = FindAuthConf();
      if (!path) {
        loaded->emplace(AuthConfCredentials{});
      } else {
        std::ifstream f(*path, std::ios::binary);
        std::stringstream ss;
        ss << f.rdbuf();
        loaded->emplace(ParseAuthConf(ss.str(), *path, host));
      }
    }
    return **loaded;
  };
  SaslCredentials c;
  c.username = [load, host]() -> Result<std::string> {
    const auto& conf = load();
    if (!conf) return std::unexpected(conf.error());
    if (conf->authname) return *conf->authname;
    if (conf->username) return *conf->username;
    if (auto typed = Prompt("Please enter your authentication name: ", false))
      return std::string(typed->AsStringView());
    return NoCredentials("no authentication name for " + host + " in auth.conf and no terminal to ask");
  };
  c.password = [load, host]() -> Result<SecretBytes> {
    const auto& conf = load();
    if (!conf) return std::unexpected(conf.error());
    if (conf->password) return conf->password->Clone();
    if (auto typed = Prompt("Please enter your password: ", true)) return std::move(*typed);
    return NoCredentials("no password for " + host + " in auth.conf and no terminal to ask");
  };
  return c;
}

}  // namespace vsecret::rpc
