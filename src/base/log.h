// Minimal logging in libvirt's stderr format:
//   "2026-11-22 00:24:18.044+0000: 2345: error : <where> : <message>"
// Messages must never contain secret values; pass file names, UUIDs and error texts only.
//
// The threshold comes from VSECRET_LOG_LEVEL (1 debug, 2 info, 3 warning, 4 error; default 3),
// and the output is stderr unless SetLogSink() installs another sink (tests capture with it).
#pragma once

#include <functional>
#include <string_view>

namespace vsecret {

enum class LogLevel : int { kDebug = 1, kInfo = 2, kWarning = 3, kError = 4 };

void Log(LogLevel level, std::string_view where, std::string_view message);

using LogSink = std::function<void(LogLevel, std::string_view line)>;
// Replaces the sink (nullptr restores stderr). Returns the previous one.
LogSink SetLogSink(LogSink sink);

}  // namespace vsecret
