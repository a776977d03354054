// The commands of the shell itself (cd, echo, exit, help, pwd, quit, connect) and the table
// that ties every command group together.
#include <pwd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "base/strings.h"
#include "cli/command_def.h"
#include "cli/command_parser.h"
#include "cli/complete.h"
#include "cli/help.h"
#include "cli/shell.h"
#include "conf/xml_escape.h"

namespace vsecret::cli {
namespace {

std::string ErrnoText(int errnum) {
  char buf[256];
  return strerror_r(errnum, buf, sizeof buf);
}

// Quotes for /bin/sh only when the word contains a shell metacharacter (as virsh's echo --shell).
void AppendShellQuoted(std::string& out, std::string_view word) {
  if (word.empty()) {
    out += "''";
    return;
  }
  if (word.find_first_of("\r\t\n !\"#$&'()*;<>?[\\]^`{|}~") == std::string_view::npos) {
    out += word;
    return;
  }
  AppendShellSingleQuoted(out, word);
}

// Splits on ',' where ",," stands for a literal comma (virsh's vshStringToArray).
std::vector<std::string> SplitCommas(std::string_view text) {
  std::vector<std::string> pieces;
  std::size_t start = 0;
  while (true) {
    std::size_t comma = text.find(',', start);
    pieces.emplace_back(
        text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  std::vector<std::string> out{pieces[0]};
  bool join_next = false;
  for (std::size_t i = 1; i < pieces.size(); ++i) {
    if (join_next) {
      out.back() += "," + pieces[i];
      join_next = false;
    } else if (pieces[i].empty()) {
      join_next = true;
    } else {
      out.push_back(pieces[i]);
    }
  }
  if (join_next) out.emplace_back();
  return out;
}

bool CmdEcho(Shell& shell, const ParsedCommand& cmd) {
  bool shell_quote = cmd.Has("shell");
  bool xml = cmd.Has("xml");
  bool split = cmd.Has("split");
  Console& console = shell.console();
  if (!OptExclusive(console, cmd, "shell", "xml") || !OptExclusive(console, cmd, "shell", "split") ||
      !OptExclusive(console, cmd, "xml", "split")) {
    return false;
  }
  auto words = cmd.ArgvValues("string");
  if (words.empty()) return true;
  std::string out;
  for (std::string_view word : words) {
    if (xml) {
      AppendXmlEscaped(out, word);
    } else if (shell_quote) {
      AppendShellQuoted(out, word);
    } else if (split) {
      for (const auto& piece : SplitCommas(word)) out += piece + "\n";
    } else {
      out += word;
    }
    out += ' ';
  }
  out.pop_back();  // exactly one trailing separator goes, as virBufferTrim does
  if (cmd.Has("err")) {
    shell.console().Error(out);
  } else {
    shell.console().Print(out);
  }
  return true;
}

bool CmdQuit(Shell& shell, const ParsedCommand& /*cmd*/) {
  shell.set_interactive(false);
  return true;
}

bool CmdHelp(Shell& shell, const ParsedCommand& cmd) {
  std::optional<std::string_view> name;
  if (OptStringQuiet(cmd, "command", &name) <= 0) {
    shell.console().Print(GlobalHelpText());
    return true;
  }
  if (const CommandDef* def = FindCommand(*name)) {
    shell.console().Print(CommandHelpText(*def));
    return true;
  }
  if (const CommandGroup* group = FindGroup(*name)) {
    shell.console().Print(GroupHelpText(*group));
    return true;
  }
  shell.console().Error("command or command group '" + std::string(*name) + "' doesn't exist");
  return false;
}

std::string HomeDirectory() {
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') return home;
  if (const passwd* pw = getpwuid(getuid()); pw != nullptr && pw->pw_dir != nullptr) return pw->pw_dir;
  return "/";
}

bool CmdCd(Shell& shell, const ParsedCommand& cmd) {
  if (!shell.interactive()) {
    shell.console().Error("cd: command valid only in interactive mode");
    return false;
  }
  std::optional<std::string_view> dir_opt;
  std::string dir = OptStringQuiet(cmd, "dir", &dir_opt) > 0 ? std::string(*dir_opt) : HomeDirectory();
  if (::chdir(dir.c_str()) != 0) {
    shell.console().Error("cd: " + ErrnoText(errno) + ": " + dir);
    return false;
  }
  return true;
}

bool CmdPwd(Shell& shell, const ParsedCommand& /*cmd*/) {
  char* cwd = ::getcwd(nullptr, 0);
  if (cwd == nullptr) {
    shell.console().Error("pwd: cannot get current directory: " + ErrnoText(errno));
    return false;
  }
  shell.console().Print(std::string(cwd) + "\n");
  std::free(cwd);
  return true;
}

bool CmdConnect(Shell& shell, const ParsedCommand& cmd) {
  std::optional<std::string_view> name;
  if (!OptStringReq(shell.console(), cmd, "name", &name)) return false;
  std::optional<std::string> uri;
  if (name) uri = std::string(*name);
  return shell.Reconnect(uri, cmd.Has("readonly"), /*force=*/true);
}

constexpr OptDef kEchoOpts[] = {
    {"shell", OptType::kBool, 0, "quote each word for a POSIX shell"},
    {"xml", OptType::kBool, 0, "escape each word for use in XML"},
    {"split", OptType::kBool, 0, "print each comma-separated part on its own line (',,' is a comma)"},
    {"err", OptType::kBool, 0, "write to the error stream instead"},
    {"str", OptType::kAlias, 0, "string"},
    {"hi", OptType::kAlias, 0, "string=hello"},
    {"string", OptType::kArgv, 0, "the words to print"},
};
constexpr OptDef kHelpOpts[] = {
    {"command", OptType::kString, 0, "the command or command group to describe; all of them when absent"},
};
constexpr OptDef kCdOpts[] = {
    {"dir", OptType::kString, 0, "the new working directory (the home directory when absent)"},
};
constexpr OptDef kConnectOpts[] = {
    {"name", OptType::kString, kOptEmptyOk, "the connection URI to open"},
    {"readonly", OptType::kBool, 0, "open the new connection read-only"},
};

constexpr CommandDef kShellCommands[] = {
    {"cd", "change the working directory", "Changes the working directory of the shell.", kCdOpts, CmdCd,
     kCmdNoConnect},
    {"echo", "print its arguments (for testing)", "Prints the arguments back, optionally quoted or escaped.",
     kEchoOpts, CmdEcho, kCmdNoConnect},
    {"exit", "leave the interactive shell", "", {}, CmdQuit, kCmdNoConnect},
    {"help", "show help",
     "Shows the list of commands, the commands of one group, or the manual of one command.", kHelpOpts,
     CmdHelp, kCmdNoConnect},
    {"pwd",
     "print the working directory",
     "Prints the working directory of the shell.",
     {},
     CmdPwd,
     kCmdNoConnect},
    {"quit", "leave the interactive shell", "", {}, CmdQuit, kCmdNoConnect},
    {"connect", "open a new connection", "Closes the current connection and opens one to the given URI.",
     kConnectOpts, CmdConnect, kCmdNoConnect},
    {"complete", "internal command for autocompletion", "internal use only", kCompleteOpts, CmdComplete,
     kCmdNoConnect | kCmdHidden},
};

}  // namespace

std::span<const CommandDef> ShellCommands() { return kShellCommands; }

std::span<const CommandGroup> CommandGroups() {
  static const std::array<CommandGroup, 4> kGroups = {{
      {"Secret", "secret", SecretCommands()},
      {"Storage Pool", "pool", PoolCommands()},
      {"Storage Volume", "volume", VolumeCommands()},
      {"Vsecret itself", "vsecret", ShellCommands()},
  }};
  return kGroups;
}

const CommandDef* FindCommand(std::string_view name) {
  for (const CommandGroup& group : CommandGroups()) {
    for (const CommandDef& def : group.commands) {
      if (def.name == name) return &def;
    }
  }
  return nullptr;
}

const CommandGroup* FindGroup(std::string_view name) {
  for (const CommandGroup& group : CommandGroups()) {
    if (group.name == name || group.keyword == name) return &group;
  }
  return nullptr;
}

}  // namespace vsecret::cli
