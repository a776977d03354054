// Turning words into commands (virsh's vshCommandParse) and reading their options back.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/command_def.h"
#include "cli/tokenizer.h"

namespace vsecret::cli {

class Console;

struct ParsedOpt {
  const OptDef* def = nullptr;
  std::string data;  // empty for kBool
};

// One parsed command. Option values may carry a secret typed on the command line (a base64
// value), so they are wiped when the command is destroyed.
class ParsedCommand {
 public:
  ParsedCommand(const CommandDef* def, std::vector<ParsedOpt> opts) : def_(def), opts_(std::move(opts)) {}
  ~ParsedCommand();
  ParsedCommand(ParsedCommand&&) = default;
  ParsedCommand& operator=(ParsedCommand&&) = default;
  ParsedCommand(const ParsedCommand&) = delete;
  ParsedCommand& operator=(const ParsedCommand&) = delete;

  const CommandDef& def() const { return *def_; }
  // vshCommandOptBool: whether the option was given at all (any type).
  bool Has(std::string_view name) const { return Find(name) != nullptr; }
  // The first occurrence of the option, or nullptr.
  const ParsedOpt* Find(std::string_view name) const;
  // Every value of a kArgv option, in order.
  std::vector<std::string_view> ArgvValues(std::string_view name) const;

 private:
  const CommandDef* def_;
  std::vector<ParsedOpt> opts_;
};

// Parses every command in tokens. A syntax error is printed on the console and yields nullopt
// (nothing is run then, as in virsh). A --help anywhere turns the command into `help <name>`.
std::optional<std::vector<ParsedCommand>> ParseCommands(TokenSource& tokens, Console& console);

// The implicit --help every command accepts.
const OptDef& HelpOption();

// vshCommandOptStringReq. Absent: *value = nullopt, returns true. Present but empty (and not
// kOptEmptyOk): prints "Failed to get option '<name>': Option argument is empty", returns false.
bool OptStringReq(Console& console, const ParsedCommand& cmd, std::string_view name,
                  std::optional<std::string_view>* value);
// vshCommandOptStringQuiet: 1 present (value set), 0 absent, -1 present but empty. Silent.
int OptStringQuiet(const ParsedCommand& cmd, std::string_view name, std::optional<std::string_view>* value);
// VSH_EXCLUSIVE_OPTIONS: false (with "Options --a and --b are mutually exclusive" printed) when
// both options were given.
bool OptExclusive(Console& console, const ParsedCommand& cmd, std::string_view a, std::string_view b);
// vshCommandOptTimeoutToMs: --timeout N seconds, 1..INT_MAX/1000, as milliseconds.
// 1 set, 0 absent, -1 malformed (message printed).
int OptTimeoutMs(Console& console, const ParsedCommand& cmd, int* timeout_ms);

}  // namespace vsecret::cli
