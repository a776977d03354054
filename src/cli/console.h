// Console: where the CLI writes, with virsh's output conventions.
//
// virsh prints command output to stdout (buffered), and every error as "error: <text>\n" on
// stderr after flushing stdout, so that `2>&1` interleaves in the order things happened.
// "Extra" output (informational lines, the blank line after each command) is suppressed in
// quiet mode. The sinks are abstract so that tests capture both streams in memory.
//
// Thread-safety: all Console methods may be called from any thread (secret-event prints from
// the connection's callback thread); writes are serialised by an internal mutex.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>

#include "base/thread_annotations.h"

namespace vsecret::cli {

class OutputSink {
 public:
  virtual ~OutputSink() = default;
  virtual void Write(std::string_view text) = 0;
  // Writes secret material (a secret value or its base64 form). Implementations must not keep
  // a copy of it after returning. Returns false when the bytes could not all be written.
  virtual bool WriteSecret(std::span<const std::uint8_t> bytes) = 0;
  virtual void Flush() = 0;
};

// A stdio stream (stdout, stderr). Not owned.
class FileSink final : public OutputSink {
 public:
  explicit FileSink(std::FILE* file) : file_(file) {}
  void Write(std::string_view text) override;
  // Bypasses the stdio buffer (flushing it first) so no copy of the secret stays behind in it.
  bool WriteSecret(std::span<const std::uint8_t> bytes) override;
  void Flush() override;
  std::FILE* file() const { return file_; }

 private:
  std::FILE* file_;
};

// Collects everything in a string; for tests.
class StringSink final : public OutputSink {
 public:
  void Write(std::string_view text) override { text_.append(text); }
  bool WriteSecret(std::span<const std::uint8_t> bytes) override {
    text_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return true;
  }
  void Flush() override {}
  const std::string& text() const { return text_; }
  void Clear() { text_.clear(); }

 private:
  std::string text_;
};

class Console {
 public:
  // Both sinks are borrowed and must outlive the Console.
  Console(OutputSink& out, OutputSink& err) : out_(out), err_(err) {}

  bool quiet() const { return quiet_; }
  void set_quiet(bool quiet) { quiet_ = quiet; }

  // vshPrint: always printed.
  void Print(std::string_view text);
  // vshPrintExtra: printed unless quiet.
  void PrintExtra(std::string_view text);
  // vshError: "error: <message>\n" on the error stream, stdout flushed first.
  void Error(std::string_view message);
  // vshWarn: "warning: <message>\n", likewise (libvirt 12.x's warnings).
  void Warning(std::string_view message);
  // Text for the error stream exactly as given (libxml2's own diagnostics).
  void RawError(std::string_view text);
  bool WriteSecret(std::span<const std::uint8_t> bytes);
  void Flush();

 private:
  void Diagnostic(std::string_view prefix, std::string_view message);

  OutputSink& out_;
  OutputSink& err_;
  bool quiet_ = false;
  Mutex mutex_;  // serialises writes to both sinks
};

}  // namespace vsecret::cli
