// Asks the installed libvirtd what it thinks of a config file: libvirtd --config reads the file
// with libvirt's virConf and its typed getters, reports the first error and exits before doing
// anything else. The virconf and daemon config tests compare their messages with its.
#pragma once

#include <unistd.h>

#include <array>
#include <cstdio>
#include <optional>
#include <string>

#include "test_util.h"

namespace vsecret::test {

constexpr char kLibvirtd[] = "/usr/sbin/libvirtd";

inline bool HaveLibvirtd() { return ::access(kLibvirtd, X_OK) == 0; }

// libvirtd's error for `text` saved as `file`, without its "Can't load config file: " prefix and
// ": <file>" suffix; nullopt when libvirtd printed no such line. Only for texts libvirtd refuses:
// one it accepts would start a daemon (bounded by --timeout 1).
inline std::optional<std::string> LibvirtdConfigError(const std::string& file, const std::string& text) {
  WriteFileRaw(file, text);
  const std::string cmd = std::string("timeout 10 ") + kLibvirtd + " --config " + file + " --timeout 1 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return std::nullopt;
  std::string out;
  std::array<char, 4096> buf;
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  ::pclose(p);
  const std::string marker = "Can't load config file: ";
  const std::size_t at = out.find(marker);
  if (at == std::string::npos) return std::nullopt;
  std::string line = out.substr(at + marker.size());
  line = line.substr(0, line.find('\n'));
  const std::string suffix = ": " + file;
  if (!line.ends_with(suffix)) return std::nullopt;
  line.resize(line.size() - suffix.size());
  return line;
}

}  // namespace vsecret::test
