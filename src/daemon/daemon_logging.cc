#include "daemon/daemon_logging.h"

#include <cstdlib>
#include <string>

namespace vsecret::daemon {

LoggingEnvironment CurrentLoggingEnvironment() {
  LoggingEnvironment env;
  env.level = std::getenv("VSECRET_LOG_LEVEL");
  env.stderr_is_journal = StderrIsJournal();
  return env;
}

Result<LogSettings> DaemonLogSettings(const DaemonConfig& config, bool verbose,
                                      const LoggingEnvironment& env) {
  LogSettings s;
  if (config.log_level > 0) s.level = static_cast<LogLevel>(config.log_level);
  // As libvirtd's LIBVIRT_DEBUG: a valid value wins over the file, anything else is ignored.
  if (env.level != nullptr) {
    const std::string v = env.level;
    if (v.size() == 1 && v[0] >= '1' && v[0] <= '4') s.level = static_cast<LogLevel>(v[0] - '0');
  }
  if (verbose && static_cast<int>(s.level) > static_cast<int>(LogLevel::kInfo)) s.level = LogLevel::kInfo;
  auto filters = ParseLogFilters(config.log_filters);
  if (!filters) return std::unexpected(filters.error());
  s.filters = std::move(*filters);
  auto outputs = ParseLogOutputs(config.log_outputs);
  if (!outputs) return std::unexpected(outputs.error());
  s.outputs = std::move(*outputs);
  if (s.outputs.empty()) {
    s.outputs.push_back(
        LogOutput{s.level, env.stderr_is_journal ? LogDestination::kJournald : LogDestination::kStderr, ""});
  }
  return s;
}

}  // namespace vsecret::daemon
