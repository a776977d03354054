// Logging in libvirt's format and with libvirt's settings (base/log_settings.h):
//   "2026-11-22 00:24:18.044+0000: 2345: error : <where> : <message>"
// `where` is the source's name ("daemon", "rpc.server", "store", ...), which log filters match.
// Messages must never contain secret values; pass file names, UUIDs and error texts only.
//
// Until ConfigureLogging() runs (the CLI never calls it), the threshold comes from
// VSECRET_LOG_LEVEL (1 debug, 2 info, 3 warning, 4 error; default 3) and the output is stderr.
// SetLogSink() replaces every output (tests capture with it). Log() is thread-safe.
#pragma once

#include <functional>
#include <string_view>
#include <vector>

#include "base/log_settings.h"
#include "vsecret/error.h"

namespace vsecret {

void Log(LogLevel level, std::string_view where, std::string_view message);

using LogSink = std::function<void(LogLevel, std::string_view line)>;
// Replaces the sink (nullptr restores the outputs). Returns the previous one.
LogSink SetLogSink(LogSink sink);

struct LogSettings {
  LogLevel level = LogLevel::kWarning;  // for sources no filter matches
  std::vector<LogFilter> filters;
  std::vector<LogOutput> outputs;  // empty: stderr at `level`
};

// Installs settings for every later Log(): files are opened for appending (created 0600, as
// libvirt does), syslog is opened with the identifier, journald messages go through
// sd_journal_send() with PRIORITY mapped from the level (debug 7, info 6, warning 4, error 3)
// and VSECRET_SOURCE=<where>. On error ("failed to open <path>: <strerror>") nothing changes.
Result<void> ConfigureLogging(const LogSettings& settings);

// Back to the state before ConfigureLogging() (closes the files it opened).
void ResetLogging();

// The level VSECRET_LOG_LEVEL asks for (warning when unset or not 1-4).
LogLevel EnvironmentLogLevel();

// Whether fd 2 is the stream systemd connected to the journal: $JOURNAL_STREAM ("DEV:INODE")
// names fd 2's device and inode, as systemd.exec(5) says a service checks it.
bool StderrIsJournal();

}  // namespace vsecret
