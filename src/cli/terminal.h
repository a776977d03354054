// The real terminal behind the shell: password prompts and readline input.
#pragma once

#include <cstdio>
#include <optional>
#include <string>

#include "cli/shell.h"

namespace vsecret::cli {

// Reads one line like glibc's getpass(), which virsh uses: from /dev/tty when the process has
// one, otherwise from stdin (with the newline echoed to stderr); echo and terminal signals are
// off while typing; the newline is dropped. End of input yields what was typed so far, possibly
// nothing. The bytes go straight into a wiping buffer.
class TerminalPasswordReader final : public PasswordReader {
 public:
  std::optional<SecretBytes> ReadPassword() override;
};

// GNU readline, as virsh uses it: the prompt and the input line are echoed on stdout even when
// stdin is not a terminal. TAB asks the completer the shell installs (cli/complete.h): command
// names, options and live values. History is kept in memory only.
class ReadlineLineReader final : public LineReader {
 public:
  ReadlineLineReader();
  std::optional<std::string> ReadLine(const std::string& prompt) override;
  void AddHistory(const std::string& line) override;
  void SetCompleter(Completer completer) override;
};

// Reads commands from a pipe or file with buffered I/O, echoing the prompt and each line to
// stdout exactly as readline does when stdin is not a terminal. readline would read such input
// one byte (and one select) at a time, which dominates long scripts fed on stdin.
class PipedLineReader final : public LineReader {
 public:
  explicit PipedLineReader(std::FILE* in, std::FILE* out) : in_(in), out_(out) {}
  std::optional<std::string> ReadLine(const std::string& prompt) override;
  void AddHistory(const std::string&) override {}

 private:
  std::FILE* in_;
  std::FILE* out_;
};

}  // namespace vsecret::cli
