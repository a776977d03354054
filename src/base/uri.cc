#include "base/uri.h"

#include <pwd.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>

namespace vsecret {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%' && i + 2 < in.size() && HexDigit(in[i + 1]) >= 0 && HexDigit(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexDigit(in[i + 1]) << 4 | HexDigit(in[i + 2])));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::unexpected<Error> BadUri(std::string_view text) {
  return Fail(ErrorCode::kInternalError, ErrorDomain::kUri,
              "internal error: Unable to parse URI " + std::string(text));
}

}  // namespace

std::optional<std::string> ConnectionUri::Param(std::string_view name) const {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return std::nullopt;
}

bool ConnectionUri::IsLocal() const { return host.empty() && (transport.empty() || transport == "unix"); }

std::string ConnectionUri::EffectiveTransport() const {
  if (!transport.empty()) return transport;
  if (host.empty()) return path == "/embed" ? "embed" : "unix";
  return "tls";
}

Result<ConnectionUri> ParseConnectionUri(std::string_view text) {
  ConnectionUri uri;
  auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) return BadUri(text);
  std::string_view scheme = text.substr(0, colon);
  for (char c : scheme) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.'))
      return BadUri(text);
  }
  if (auto plus = scheme.find('+'); plus != std::string_view::npos) {
    uri.scheme = std::string(scheme.substr(0, plus));
    uri.transport = std::string(scheme.substr(plus + 1));
  } else {
    uri.scheme = std::string(scheme);
  }
  std::string_view rest = text.substr(colon + 1);
  // Fragment is meaningless here; drop it like libvirt does.
  if (auto hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  std::string_view query;
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  if (rest.starts_with("//")) {
    rest.remove_prefix(2);
    std::size_t slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
    if (auto at = authority.rfind('@'); at != std::string_view::npos) {
      uri.user = PercentDecode(authority.substr(0, at), false);
      authority = authority.substr(at + 1);
    }
    std::string_view port;
    if (authority.starts_with('[')) {
      auto close = authority.find(']');
      if (close == std::string_view::npos) return BadUri(text);
      uri.host = std::string(authority.substr(1, close - 1));
      std::string_view after = authority.substr(close + 1);
      if (!after.empty()) {
        if (after[0] != ':') return BadUri(text);
        port = after.substr(1);
      }
    } else if (auto pc = authority.rfind(':'); pc != std::string_view::npos) {
      uri.host = std::string(authority.substr(0, pc));
      port = authority.substr(pc + 1);
    } else {
      uri.host = std::string(authority);
    }
    if (!port.empty()) {
      int value = 0;
      for (char c : port) {
        if (c < '0' || c > '9') return BadUri(text);
        value = value * 10 + (c - '0');
        if (value > 65535) return BadUri(text);
      }
      uri.port = value;
    }
  }
  uri.path = PercentDecode(rest, false);
  while (!query.empty()) {
    std::size_t amp = query.find_first_of("&;");
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    std::size_t eq = pair.find('=');
    std::string key = PercentDecode(pair.substr(0, eq), true);
    std::string value =
        eq == std::string_view::npos ? std::string() : PercentDecode(pair.substr(eq + 1), true);
    uri.params.emplace_back(std::move(key), std::move(value));
  }
  return uri;
}

std::string DefaultConnectionUri() {
  for (const char* var : {"VSECRET_DEFAULT_URI", "LIBVIRT_DEFAULT_URI"}) {
    const char* v = std::getenv(var);
    if (v != nullptr && *v != '\0') return v;
  }
  std::string state;
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg != nullptr && xdg[0] == '/') {
    state = xdg;
  } else {
    const char* home = std::getenv("HOME");
    if (home == nullptr || *home == '\0') {
      struct passwd* pw = getpwuid(getuid());
      home = pw != nullptr ? pw->pw_dir : "/";
    }
    state = std::string(home) + "/.local/state";
  }
  std::string root = state + "/vsecret";
  // Percent-encode only what would break the query syntax.
  std::string encoded;
  for (char c : root) {
    if (c == '%' || c == '&' || c == '#' || c == '+' || c == ';' || c == ' ') {
      static constexpr char kHex[] = "0123456789ABCDEF";
      encoded += '%';
      encoded += kHex[(static_cast<unsigned char>(c) >> 4) & 0xf];
      encoded += kHex[static_cast<unsigned char>(c) & 0xf];
    } else {
      encoded += c;
    }
  }
  return "secret:///embed?root=" + encoded;
}

}  // namespace vsecret
