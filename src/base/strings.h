// Small string helpers shared by every layer.
//
// They build their result by appending, never with `"literal" + std::string(...)`: GCC 12 at -O2
// and above reports a false -Wrestrict for that pattern (GCC PR 105329), which breaks a Release
// build with warnings as errors.
#pragma once

#include <string>
#include <string_view>

namespace vsecret {

// 's' in single quotes, as libvirt's messages quote names and paths.
inline std::string Quoted(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('\'');
  out.append(s);
  out.push_back('\'');
  return out;
}

// Appends word in single quotes for a POSIX shell, each ' inside written as '\'' (the one
// escaping rule; callers decide whether a word needs quoting at all).
inline void AppendShellSingleQuoted(std::string& out, std::string_view word) {
  out.push_back('\'');
  for (char c : word) {
    if (c == '\'') {
      out.append("'\\''");
    } else {
      out.push_back(c);
    }
  }
  out.push_back('\'');
}

inline std::string ShellSingleQuoted(std::string_view word) {
  std::string out;
  AppendShellSingleQuoted(out, word);
  return out;
}

}  // namespace vsecret
