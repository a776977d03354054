// vsecret: a virsh-compatible command-line tool for the secret driver.
#include <unistd.h>

#include <clocale>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/cli_app.h"
#include "cli/console.h"
#include "cli/terminal.h"
#include "vsecret/connection.h"
#include "vsecret/secret_bytes.h"

int main(int argc, char** argv) {
  // Before anything can hold a secret: no core dumps, not ptrace-attachable.
  vsecret::ProtectProcessMemory();
  // Table widths follow the user's locale, exactly as virsh's do.
  std::setlocale(LC_ALL, "");

  std::vector<std::string> args(argv, argv + argc);
  vsecret::cli::FileSink out(stdout);
  vsecret::cli::FileSink err(stderr);
  vsecret::cli::TerminalPasswordReader passwords;
  vsecret::cli::ReadlineLineReader tty_reader;
  vsecret::cli::PipedLineReader piped_reader(stdin, stdout);
  vsecret::cli::LineReader& line_reader =
      isatty(STDIN_FILENO) ? static_cast<vsecret::cli::LineReader&>(tty_reader) : piped_reader;

  vsecret::cli::CliIo io;
  io.out = &out;
  io.err = &err;
  io.passwords = &passwords;
  io.line_reader = &line_reader;
  io.factory = [](std::string_view uri, bool read_only) { return vsecret::OpenConnection(uri, read_only); };
  int status = vsecret::cli::RunCli(args, io);
  // The words may include a value given with --base64.
  for (auto& a : args) vsecret::SecureWipe(a.data(), a.size());
  return status;
}
