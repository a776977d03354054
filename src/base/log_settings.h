// Logging settings as libvirtd reads them from log_level, log_filters and log_outputs
// (and libvirt's LIBVIRT_LOG_FILTERS / LIBVIRT_LOG_OUTPUTS), parsed into values base/log.h
// installs. Syntax and error messages are libvirt 9.0's:
//
//   filters  "LEVEL:MATCH ..."         e.g. "1:rpc 3:driver"; a source whose name contains MATCH
//                                      (a glob, compared as *MATCH*) logs from LEVEL up; the first
//                                      filter that matches decides; a leading '+' (libvirt's old
//                                      stack-trace flag) is accepted and ignored.
//   outputs  "LEVEL:DEST[:NAME] ..."   stderr, journald, file:PATH, syslog:IDENT; an output takes
//                                      the messages of LEVEL and above that passed the filters
//                                      (or, for sources no filter matches, the default level).
//
// LEVEL is 1 debug, 2 info, 3 warning, 4 error. Items are separated by white space.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "vsecret/error.h"

namespace vsecret {

enum class LogLevel : int { kDebug = 1, kInfo = 2, kWarning = 3, kError = 4 };

struct LogFilter {
  LogLevel level = LogLevel::kDebug;
  std::string match;  // as given, without the '+' flag
  bool operator==(const LogFilter&) const = default;
};

enum class LogDestination { kStderr, kFile, kSyslog, kJournald };

struct LogOutput {
  LogLevel level = LogLevel::kDebug;
  LogDestination destination = LogDestination::kStderr;
  std::string name;  // the file's path or the syslog identifier; empty otherwise
  bool operator==(const LogOutput&) const = default;
};

// Errors are INVALID_ARG with libvirt's text, e.g. "invalid argument: Invalid priority 'x' for
// filter 'x:rpc'" or "invalid argument: Invalid log destination 'foo' for log output '1:foo'".
// Empty or blank text is an empty list.
Result<std::vector<LogFilter>> ParseLogFilters(std::string_view text);
Result<std::vector<LogOutput>> ParseLogOutputs(std::string_view text);

// "1:stderr 2:file:/var/log/x.log": the outputs in the syntax they were parsed from.
std::string FormatLogOutputs(const std::vector<LogOutput>& outputs);

// Whether the source's name matches the filter (fnmatch of *MATCH* against the name).
bool LogFilterMatches(const LogFilter& filter, std::string_view source);

}  // namespace vsecret
