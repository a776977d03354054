// vsecretd's logging set-up from vsecretd.conf, in libvirtd's order of precedence (command line >
// environment > config file):
//   level    log_level, replaced by VSECRET_LOG_LEVEL when that is set, lowered to info by
//            --verbose; default warning;
//   filters  log_filters;
//   outputs  log_outputs; when none is given, "<level>:journald" if stderr is the journal stream
//            systemd connected (JOURNAL_STREAM, see base/log.h), "<level>:stderr" otherwise, as
//            libvirtd picks the journal when systemd starts it.
// Bad filters or outputs are libvirt's errors (base/log_settings.h); nothing is installed then.
#pragma once

#include "base/log.h"
#include "daemon/daemon_config.h"
#include "vsecret/error.h"

namespace vsecret::daemon {

struct LoggingEnvironment {
  const char* level = nullptr;  // VSECRET_LOG_LEVEL, or nullptr when unset
  bool stderr_is_journal = false;
};

// The process's own: getenv("VSECRET_LOG_LEVEL") and StderrIsJournal().
LoggingEnvironment CurrentLoggingEnvironment();

Result<LogSettings> DaemonLogSettings(const DaemonConfig& config, bool verbose,
                                      const LoggingEnvironment& env);

}  // namespace vsecret::daemon
