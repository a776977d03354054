#include "cli/console.h"

#include <unistd.h>

#include <cerrno>

namespace vsecret::cli {

void FileSink::Write(std::string_view text) {
  if (!text.empty()) std::fwrite(text.data(), 1, text.size(), file_);
}

bool FileSink::WriteSecret(std::span<const std::uint8_t> bytes) {
  if (std::fflush(file_) != 0) return false;
  int fd = fileno(file_);
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

void FileSink::Flush() { std::fflush(file_); }

void Console::Print(std::string_view text) {
  MutexLock lock(mutex_);
  out_.Write(text);
}

void Console::PrintExtra(std::string_view text) {
  if (quiet_) return;
  Print(text);
}

void Console::Error(std::string_view message) { Diagnostic("error: ", message); }

void Console::Warning(std::string_view message) { Diagnostic("warning: ", message); }

void Console::Diagnostic(std::string_view prefix, std::string_view message) {
  MutexLock lock(mutex_);
  out_.Flush();
  std::string line;
  line.reserve(prefix.size() + message.size() + 1);
  line.append(prefix).append(message).push_back('\n');
  err_.Write(line);
  err_.Flush();
}

void Console::RawError(std::string_view text) {
  MutexLock lock(mutex_);
  err_.Write(text);
  err_.Flush();
}

bool Console::WriteSecret(std::span<const std::uint8_t> bytes) {
  MutexLock lock(mutex_);
  return out_.WriteSecret(bytes);
}

void Console::Flush() {
  MutexLock lock(mutex_);
  out_.Flush();
  err_.Flush();
}

}  // namespace vsecret::cli
