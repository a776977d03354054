#include "base/log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <syslog.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

#include "base/thread_annotations.h"

namespace vsecret {
namespace {

struct OpenOutput {
  LogOutput spec;
  int fd = -1;  // stderr or the file
};

Mutex g_mutex;
LogSink g_sink GUARDED_BY(g_mutex);
bool g_configured GUARDED_BY(g_mutex) = false;
LogSettings g_settings GUARDED_BY(g_mutex);
std::vector<OpenOutput> g_outputs GUARDED_BY(g_mutex);
std::string g_syslog_ident GUARDED_BY(g_mutex);  // openlog() keeps the pointer

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "error";
}

int SyslogPriority(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return LOG_DEBUG;
    case LogLevel::kInfo:
      return LOG_INFO;
    case LogLevel::kWarning:
      return LOG_WARNING;
    case LogLevel::kError:
      return LOG_ERR;
  }
  return LOG_ERR;
}

void WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // a log line that cannot be written is dropped, as libvirt drops it
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

void CloseOutputs(std::vector<OpenOutput>& outputs) {
  for (OpenOutput& o : outputs) {
    if (o.spec.destination == LogDestination::kFile && o.fd >= 0) ::close(o.fd);
  }
  outputs.clear();
}

void Emit(const OpenOutput& out, LogLevel level, std::string_view where, std::string_view message,
          const std::string& line) {
  switch (out.spec.destination) {
    case LogDestination::kStderr:
    case LogDestination::kFile:
      WriteAll(out.fd, line);
      return;
    case LogDestination::kSyslog: {
      std::string text = std::string(where) + " : " + std::string(message);
      ::syslog(SyslogPriority(level), "%s", text.c_str());
      return;
    }
    case LogDestination::kJournald: {
      std::string text(message);
      std::string source(where);
      // Delivery is best effort: without a journal the message is lost, as with libvirt.
      (void)sd_journal_send("MESSAGE=%s", text.c_str(), "PRIORITY=%i", SyslogPriority(level),
                            "SYSLOG_IDENTIFIER=%s", program_invocation_short_name, "VSECRET_SOURCE=%s",
                            source.c_str(), nullptr);
      return;
    }
  }
}

}  // namespace

LogLevel EnvironmentLogLevel() {
  static const LogLevel level = [] {
    const char* v = std::getenv("VSECRET_LOG_LEVEL");
    int n = v ? std::atoi(v) : 0;
    return (n >= 1 && n <= 4) ? static_cast<LogLevel>(n) : LogLevel::kWarning;
  }();
  return level;
}

bool StderrIsJournal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) return false;
  unsigned long long dev = 0, ino = 0;
  char tail = 0;
  if (std::sscanf(stream, "%llu:%llu%c", &dev, &ino, &tail) != 2) return false;
  struct stat st;
  if (::fstat(STDERR_FILENO, &st) != 0) return false;
  return static_cast<unsigned long long>(st.st_dev) == dev &&
         static_cast<unsigned long long>(st.st_ino) == ino;
}

void Log(LogLevel level, std::string_view where, std::string_view message) {
  MutexLock lock(g_mutex);
  LogLevel threshold = g_configured ? g_settings.level : EnvironmentLogLevel();
  if (g_configured) {
    for (const LogFilter& f : g_settings.filters) {
      if (LogFilterMatches(f, where)) {
        threshold = f.level;
        break;
      }
    }
  }
  if (static_cast<int>(level) < static_cast<int>(threshold)) return;
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02d %02d:%02d:%02d.%03d+0000", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(tv.tv_usec / 1000));
  std::string line = std::string(stamp) + ": " + std::to_string(getpid()) + ": " + LevelName(level) + " : " +
                     std::string(where) + " : " + std::string(message) + "\n";
  if (g_sink) {
    g_sink(level, line);
    return;
  }
  if (!g_configured) {
    WriteAll(STDERR_FILENO, line);
    return;
  }
  for (const OpenOutput& out : g_outputs) {
    if (static_cast<int>(level) >= static_cast<int>(out.spec.level)) Emit(out, level, where, message, line);
  }
}

LogSink SetLogSink(LogSink sink) {
  MutexLock lock(g_mutex);
  LogSink old = std::move(g_sink);
  g_sink = std::move(sink);
  return old;
}

Result<void> ConfigureLogging(const LogSettings& settings) {
  std::vector<OpenOutput> opened;
  std::vector<LogOutput> wanted = settings.outputs;
  if (wanted.empty()) wanted.push_back(LogOutput{settings.level, LogDestination::kStderr, ""});
  std::string syslog_ident;
  bool to_syslog = false;
  for (const LogOutput& spec : wanted) {
    OpenOutput out{spec, STDERR_FILENO};
    if (spec.destination == LogDestination::kFile) {
      out.fd = ::open(spec.name.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, S_IRUSR | S_IWUSR);
      if (out.fd < 0) {
        int err = errno;
        CloseOutputs(opened);
        return SystemError(ErrorDomain::kNone, err, "failed to open " + spec.name);
      }
    } else if (spec.destination == LogDestination::kSyslog) {
      syslog_ident = spec.name;  // one identifier per process; the last syslog output's wins
      to_syslog = true;
    }
    opened.push_back(std::move(out));
  }
  MutexLock lock(g_mutex);
  CloseOutputs(g_outputs);
  g_outputs = std::move(opened);
  g_settings = settings;
  g_configured = true;
  if (to_syslog) {
    g_syslog_ident = syslog_ident;
    ::openlog(g_syslog_ident.c_str(), LOG_PID, LOG_DAEMON);
  }
  return {};
}

void ResetLogging() {
  MutexLock lock(g_mutex);
  CloseOutputs(g_outputs);
  g_settings = LogSettings{};
  g_configured = false;
}

}  // namespace vsecret
