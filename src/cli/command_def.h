// The static description of CLI commands and their options, modelled on virsh's vsh tables.
//
// The option model decides how a command line is parsed, so it mirrors virsh's exactly:
//  * kBool     --flag, never takes a value.
//  * kString   --name VALUE or --name=VALUE; also filled positionally unless kOptNamedOnly.
//  * kInt      like kString, but documented as <number>.
//  * kData     a required positional argument (<name>), also accepted as --name VALUE.
//  * kArgv     the rest of the positional arguments (must be the last option).
//  * kAlias    an undocumented synonym; `help` holds the target name, or "target=value" to
//              make a flag that stands for --target=value.
// Positional words fill, in declaration order, every non-bool option that is not
// kOptNamedOnly and has not been given by name yet.
#pragma once

#include <span>
#include <string_view>

namespace vsecret::cli {

class Shell;
class ParsedCommand;

enum class OptType { kBool, kString, kInt, kData, kArgv, kAlias };

enum OptFlag : unsigned {
  kOptRequired = 1u << 0,   // VSH_OFLAG_REQ
  kOptNamedOnly = 1u << 1,  // VSH_OFLAG_REQ_OPT: only as --name VALUE, never positionally
  kOptEmptyOk = 1u << 2,    // VSH_OFLAG_EMPTY_OK: an empty value is not an error
};

struct OptDef {
  std::string_view name;
  OptType type = OptType::kBool;
  unsigned flags = 0;
  std::string_view help;
};

// Returns true on success. Errors are printed (immediate ones) or recorded on the shell
// (connection errors, reported once the command has failed), as virsh does.
using CommandHandler = bool (*)(Shell& shell, const ParsedCommand& cmd);

enum CommandFlag : unsigned {
  kCmdNoConnect = 1u << 0,  // runs without opening the connection
  kCmdHidden = 1u << 1,     // left out of help listings and completion (VSH_CMD_FLAG_HIDDEN)
};

struct CommandDef {
  std::string_view name;
  std::string_view help;  // one line, for listings and NAME
  std::string_view desc;  // DESCRIPTION; empty means the section is omitted
  std::span<const OptDef> opts;
  CommandHandler handler = nullptr;
  unsigned flags = 0;
};

struct CommandGroup {
  std::string_view name;
  std::string_view keyword;
  std::span<const CommandDef> commands;
};

// Every command group of vsecret, in help order.
std::span<const CommandGroup> CommandGroups();
// Exact-name lookup over all groups; nullptr when unknown.
const CommandDef* FindCommand(std::string_view name);
// Lookup by group name or keyword; nullptr when unknown.
const CommandGroup* FindGroup(std::string_view name);

// Defined by the files that implement each group.
std::span<const CommandDef> SecretCommands();
std::span<const CommandDef> PoolCommands();
std::span<const CommandDef> VolumeCommands();
std::span<const CommandDef> ShellCommands();

}  // namespace vsecret::cli
