#include "base/log_settings.h"

#include <fnmatch.h>

namespace vsecret {
namespace {

std::vector<std::string_view> SplitBlank(std::string_view text) {
  std::vector<std::string_view> items;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n')) ++i;
    std::size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t' && text[i] != '\n') ++i;
    if (i > start) items.push_back(text.substr(start, i - start));
  }
  return items;
}

bool ParseLevel(std::string_view text, LogLevel& level) {
  if (text.size() != 1 || text[0] < '1' || text[0] > '4') return false;
  level = static_cast<LogLevel>(text[0] - '0');
  return true;
}

std::unexpected<Error> Invalid(const std::string& detail) {
  return InvalidArg(ErrorDomain::kNone, "invalid argument: " + detail);
}

const char* DestinationName(LogDestination d) {
  switch (d) {
    case LogDestination::kStderr:
      return "stderr";
    case LogDestination::kFile:
      return "file";
    case LogDestination::kSyslog:
      return "syslog";
    case LogDestination::kJournald:
      return "journald";
  }
  return "stderr";
}

}  // namespace

Result<std::vector<LogFilter>> ParseLogFilters(std::string_view text) {
  std::vector<LogFilter> filters;
  for (std::string_view item : SplitBlank(text)) {
    const std::string quoted(item);
    std::size_t colon = item.find(':');
    if (colon == std::string_view::npos) return Invalid("Malformed format for filter '" + quoted + "'");
    LogFilter f;
    if (!ParseLevel(item.substr(0, colon), f.level)) {
      return Invalid("Invalid priority '" + std::string(item.substr(0, colon)) + "' for filter '" + quoted +
                     "'");
    }
    std::string_view match = item.substr(colon + 1);
    if (!match.empty() && match[0] == '+') match.remove_prefix(1);
    if (match.empty()) {
      return Invalid("Invalid match string '" + std::string(item.substr(colon + 1)) + "'");
    }
    f.match = std::string(match);
    filters.push_back(std::move(f));
  }
  return filters;
}

Result<std::vector<LogOutput>> ParseLogOutputs(std::string_view text) {
  std::vector<LogOutput> outputs;
  for (std::string_view item : SplitBlank(text)) {
    const std::string quoted(item);
    std::vector<std::string_view> parts;
    for (std::size_t start = 0;;) {
      std::size_t colon = item.find(':', start);
      parts.push_back(
          item.substr(start, colon == std::string_view::npos ? std::string_view::npos : colon - start));
      if (colon == std::string_view::npos) break;
      start = colon + 1;
    }
    if (parts.size() < 2) return Invalid("Malformed format for log output '" + quoted + "'");
    LogOutput o;
    if (!ParseLevel(parts[0], o.level)) {
      return Invalid("Invalid log priority '" + std::string(parts[0]) + "' for log output '" + quoted + "'");
    }
    std::size_t want = 2;
    if (parts[1] == "stderr") {
      o.destination = LogDestination::kStderr;
    } else if (parts[1] == "journald") {
      o.destination = LogDestination::kJournald;
    } else if (parts[1] == "file") {
      o.destination = LogDestination::kFile;
      want = 3;
    } else if (parts[1] == "syslog") {
      o.destination = LogDestination::kSyslog;
      want = 3;
    } else {
      return Invalid("Invalid log destination '" + std::string(parts[1]) + "' for log output '" + quoted +
                     "'");
    }
    // A file needs a path (libvirt would try to open the working directory).
    if (parts.size() != want || (o.destination == LogDestination::kFile && parts[2].empty())) {
      return Invalid("Log output '" + quoted +
                     "' does not meet the format requirements for destination type '" +
                     std::string(parts[1]) + "'");
    }
    if (want == 3) o.name = std::string(parts[2]);
    outputs.push_back(std::move(o));
  }
  return outputs;
}

std::string FormatLogOutputs(const std::vector<LogOutput>& outputs) {
  std::string out;
  for (const LogOutput& o : outputs) {
    if (!out.empty()) out += ' ';
    out += std::to_string(static_cast<int>(o.level)) + ":" + DestinationName(o.destination);
    if (o.destination == LogDestination::kFile || o.destination == LogDestination::kSyslog)
      out += ":" + o.name;
  }
  return out;
}

bool LogFilterMatches(const LogFilter& filter, std::string_view source) {
  const std::string pattern = "*" + filter.match + "*";
  const std::string name(source);
  return ::fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
}

}  // namespace vsecret
