#include "base/log.h"

#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <string>

namespace vsecret {
namespace {

std::mutex g_mutex;
LogSink g_sink;  // guarded by g_mutex

int Threshold() {
  static const int level = [] {
    const char* v = std::getenv("VSECRET_LOG_LEVEL");
    int n = v ? std::atoi(v) : 0;
    return (n >= 1 && n <= 4) ? n : 3;
  }();
  return level;
}

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kError: return "error";
  }
  return "error";
}

}  // namespace

void Log(LogLevel level, std::string_view where, std::string_view message) {
  if (static_cast<int>(level) < Threshold()) return;
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02d %02d:%02d:%02d.%03d+0000", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(tv.tv_usec / 1000));
  std::string line = std::string(stamp) + ": " + std::to_string(getpid()) + ": " + LevelName(level) + " : " +
                     std::string(where) + " : " + std::string(message) + "\n";
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_sink) {
    g_sink(level, line);
  } else {
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
}

LogSink SetLogSink(LogSink sink) {
  std::lock_guard<std::mutex> lock(g_mutex);
  LogSink old = std::move(g_sink);
  g_sink = std::move(sink);
  return old;
}

}  // namespace vsecret
