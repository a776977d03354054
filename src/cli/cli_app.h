// RunCli: everything `vsecret` does, from the argument vector to the exit status, with its I/O
// injected so that tests run it in-process. main() only wires the real terminal to it.
//
// Global options are virsh's (getopt_long, options stop at the first non-option word):
//   -c/--connect URI, -d/--debug N, -e/--escape C, -h/--help, -k/--keepalive-interval N,
//   -K/--keepalive-count N, -l/--log FILE, -q/--quiet, -r/--readonly, -t/--timing,
//   -v, -V, --version[=short|long].
// What follows is one command string (a single word, split with the shell rules of
// tokenizer.h) or a command and its arguments as separate words; nothing means the
// interactive shell. Exit status: 0 on success, 1 on any failure (the last command decides);
// the interactive shell always exits with 0, as virsh's does.
#pragma once

#include <string>
#include <vector>

#include "cli/console.h"
#include "cli/shell.h"

namespace vsecret::cli {

struct CliIo {
  OutputSink* out = nullptr;
  OutputSink* err = nullptr;
  PasswordReader* passwords = nullptr;
  LineReader* line_reader = nullptr;  // used only when no command is given
  ConnectionFactory factory;
};

// args[0] is the program name (its basename names the shell in the banner and usage).
int RunCli(const std::vector<std::string>& args, CliIo& io);

// "0.1.0": what -v prints.
const char* CliVersion();

}  // namespace vsecret::cli
