#include "cli/cli_app.h"

#include <fcntl.h>
#include <getopt.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "cli/command_parser.h"
#include "cli/help.h"
#include "cli/ssh_helper.h"
#include "cli/tokenizer.h"
#include "vsecret/compat.h"
#include "vsecret/secret_bytes.h"

namespace vsecret::cli {
namespace {

constexpr const char kVersion[] = "0.1.0";

// virStrToLong_i: the whole string is one number in the given base that fits an int.
bool ParseInt(const char* text, int base, int* out) {
  char* end = nullptr;
  errno = 0;
  long value = std::strtol(text, &end, base);
  if (end == text || *end != '\0' || errno != 0 || value < INT_MIN || value > INT_MAX) return false;
  *out = static_cast<int>(value);
  return true;
}

bool AllowedEscapeChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '@' && c <= '_'); }

std::string LongVersionText() {
  return std::string("vsecret command line tool ") + kVersion +
         "\n"
         "A reimplementation of libvirt's secret commands.\n\n"
         "Compiled with support for:\n"
         " Secrets: embedded driver\n"
         " Miscellaneous: Readline\n";
}

std::string Basename(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// VSECRET_COMPAT: the one setting that selects libvirt 9.0's output where 9.0 and 12.x differ
// (vsecret/compat.h). Read on every run, so an unset variable restores the default.
bool ApplyCompatSetting(Console& console) {
  const char* value = std::getenv(std::string(kCompatEnvVar).c_str());
  std::optional<LibvirtBehaviour> behaviour = ParseLibvirtBehaviour(value != nullptr ? value : "");
  if (!behaviour) {
    console.Error(std::string(kCompatEnvVar) + "='" + value +
                  "' is not supported: use 9.0, or 12 (the default)");
    return false;
  }
  SetLibvirtBehaviour(*behaviour);
  return true;
}

enum class ArgvOutcome { kContinue, kExitSuccess, kExitFailure };

// Parses the global options; *first_command is the index of the first command word.
ArgvOutcome ParseGlobalOptions(const std::vector<std::string>& args, Console& console, ShellOptions* options,
                               std::size_t* first_command) {
  std::vector<std::string> storage(args);
  // The words may include a --base64 value; wipe this copy however we leave.
  struct WipeWords {
    std::vector<std::string>& words;
    ~WipeWords() {
      for (auto& w : words) SecureWipe(w.data(), w.size());
    }
  } wipe_storage{storage};
  std::vector<char*> argv;
  for (auto& a : storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  int argc = static_cast<int>(storage.size());

  static const option kLongOptions[] = {
      {"connect", required_argument, nullptr, 'c'},
      {"debug", required_argument, nullptr, 'd'},
      {"escape", required_argument, nullptr, 'e'},
      {"help", no_argument, nullptr, 'h'},
      {"keepalive-interval", required_argument, nullptr, 'k'},
      {"keepalive-count", required_argument, nullptr, 'K'},
      {"log", required_argument, nullptr, 'l'},
      {"quiet", no_argument, nullptr, 'q'},
      {"readonly", no_argument, nullptr, 'r'},
      {"timing", no_argument, nullptr, 't'},
      {"version", optional_argument, nullptr, 'v'},
      {nullptr, 0, nullptr, 0},
  };

  // '+': stop at the first non-option so command options are left alone; ':': report a
  // missing argument as ':' and print nothing ourselves from getopt.
  optind = 0;  // glibc: full reinitialisation, so RunCli can be called more than once
  int longindex = -1;
  int c;
  while ((c = getopt_long(argc, argv.data(), "+:c:d:e:hk:K:l:qrtvV", kLongOptions, &longindex)) != -1) {
    bool is_long = longindex != -1;
    longindex = -1;
    switch (c) {
      case 'c':
        options->uri = optarg;
        break;
      case 'd': {
        int level;
        if (!ParseInt(optarg, 10, &level)) {
          console.Error(std::string("option ") + (is_long ? "--debug" : "-d") + " takes a numeric argument");
          return ArgvOutcome::kExitFailure;
        }
        if (level < 0 || level > 4) {
          console.Error("ignoring debug level " + std::to_string(level) + " out of range [0-4]");
        }
        break;
      }
      case 'e': {
        std::size_t len = std::strlen(optarg);
        if (!((len == 2 && optarg[0] == '^' && AllowedEscapeChar(optarg[1])) ||
              (len == 1 && optarg[0] != '^'))) {
          console.Error(std::string("Invalid string '") + optarg + "' for escape sequence");
          return ArgvOutcome::kExitFailure;
        }
        break;
      }
      case 'h':
        console.Print(UsageText(options->progname));
        return ArgvOutcome::kExitSuccess;
      case 'k':
      case 'K': {
        const char* name =
            c == 'k' ? (is_long ? "--keepalive-interval" : "-k") : (is_long ? "--keepalive-count" : "-K");
        int value;
        if (!ParseInt(optarg, 0, &value)) {
          console.Error(std::string("Invalid value for option ") + name);
          return ArgvOutcome::kExitFailure;
        }
        if (value < 0) {
          console.Error(std::string("option ") + name + " requires a positive integer argument");
          return ArgvOutcome::kExitFailure;
        }
        break;
      }
      case 'l': {
        // Nothing is logged, but an unusable log file is refused as virsh refuses it.
        int fd = ::open(optarg, O_WRONLY | O_APPEND | O_CREAT | O_SYNC | O_CLOEXEC, 0644);
        if (fd < 0) {
          console.Error("failed to open the log file. check the log file path");
          return ArgvOutcome::kExitFailure;
        }
        ::close(fd);
        break;
      }
      case 'q':
        options->quiet = true;
        break;
      case 'r':
        options->read_only = true;
        break;
      case 't':
        options->timing = true;
        break;
      case 'v':
        if (optarg == nullptr || std::strcmp(optarg, "long") != 0) {
          console.Print(std::string(kVersion) + "\n");
          return ArgvOutcome::kExitSuccess;
        }
        [[fallthrough]];
      case 'V':
        console.Print(LongVersionText());
        return ArgvOutcome::kExitSuccess;
      case ':': {
        const option* match = nullptr;
        for (const option* o = kLongOptions; o->name != nullptr; ++o) {
          if (o->val == optopt) match = o;
        }
        if (match != nullptr) {
          console.Error(std::string("option '-") + static_cast<char>(optopt) + "'/'--" + match->name +
                        "' requires an argument");
        } else {
          console.Error(std::string("option '-") + static_cast<char>(optopt) + "' requires an argument");
        }
        return ArgvOutcome::kExitFailure;
      }
      case '?':
        if (optopt != 0) {
          console.Error(std::string("unsupported option '-") + static_cast<char>(optopt) + "'. See --help.");
        } else {
          console.Error("unsupported option '" + storage[static_cast<std::size_t>(optind - 1)] +
                        "'. See --help.");
        }
        return ArgvOutcome::kExitFailure;
      default:
        console.Error("unknown option");
        return ArgvOutcome::kExitFailure;
    }
  }
  *first_command = static_cast<std::size_t>(optind);
  return ArgvOutcome::kContinue;
}

}  // namespace

const char* CliVersion() { return kVersion; }

int RunCli(const std::vector<std::string>& args, CliIo& io) {
  // The ssh remote end (virt-ssh-helper's role) speaks raw bytes on stdin/stdout, not the shell.
  if (IsSshHelperInvocation(args)) return RunSshHelper(args, STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO);
  Console console(*io.out, *io.err);
  ShellOptions options;
  options.progname = args.empty() ? "vsecret" : Basename(args[0]);
  if (!ApplyCompatSetting(console)) {
    console.Flush();
    return 1;
  }

  std::size_t first = 0;
  switch (ParseGlobalOptions(args, console, &options, &first)) {
    case ArgvOutcome::kExitSuccess:
      console.Flush();
      return 0;
    case ArgvOutcome::kExitFailure:
      console.Flush();
      return 1;
    case ArgvOutcome::kContinue:
      break;
  }
  console.set_quiet(options.quiet);

  // As in virsh, the command line is parsed before connecting: a syntax error costs nothing.
  bool interactive = first >= args.size();
  std::optional<std::vector<ParsedCommand>> commands;
  if (!interactive) {
    if (args.size() - first == 1) {
      if (args[first].empty()) return 1;  // virsh rejects an empty command string silently
      StringTokens tokens(args[first], console);
      commands = ParseCommands(tokens, console);
    } else {
      ArgvTokens tokens(std::span<const std::string>(args).subspan(first));
      commands = ParseCommands(tokens, console);
    }
    if (!commands) {
      console.Flush();
      return 1;
    }
  }

  Shell shell(std::move(options), io.factory, console, *io.passwords);
  if (!shell.Init()) {
    shell.Close();
    console.Flush();
    return 1;
  }
  int status = 0;
  if (interactive) {
    shell.RunInteractive(*io.line_reader);
  } else {
    status = shell.Run(*commands) ? 0 : 1;
  }
  shell.Close();
  console.Flush();
  return status;
}

}  // namespace vsecret::cli
