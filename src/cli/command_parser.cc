#include "cli/command_parser.h"

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "cli/console.h"
#include "vsecret/secret_bytes.h"

namespace vsecret::cli {
namespace {

constexpr OptDef kHelpOpt{"help", OptType::kBool, 0, "print help for this function"};

bool IsAsciiAlnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Which options take positional words (need_arg) and which must be present (required).
void OptionMasks(const CommandDef& cmd, std::uint64_t* need_arg, std::uint64_t* required) {
  *need_arg = 0;
  *required = 0;
  for (std::size_t i = 0; i < cmd.opts.size(); ++i) {
    const OptDef& opt = cmd.opts[i];
    if (opt.type == OptType::kBool || opt.type == OptType::kAlias) continue;
    if (!(opt.flags & kOptNamedOnly)) *need_arg |= std::uint64_t{1} << i;
    if (opt.flags & kOptRequired) *required |= std::uint64_t{1} << i;
  }
}

// Resolves --name (following aliases). optstr carries an "=value" given with the name, and an
// alias of the "target=value" form supplies one. Prints the error unless the command is `help`,
// which ignores unknown options.
const OptDef* FindOption(Console& console, const CommandDef& cmd, std::string name, std::uint64_t* seen,
                         std::size_t* index, std::optional<std::string>* optstr) {
  if (name == kHelpOpt.name) return &kHelpOpt;
  for (std::size_t i = 0; i < cmd.opts.size(); ++i) {
    const OptDef& opt = cmd.opts[i];
    if (opt.name != name) continue;
    if (opt.type == OptType::kAlias) {
      std::string_view target = opt.help;
      std::size_t eq = target.find('=');
      if (eq != std::string_view::npos) {
        if (optstr->has_value()) {
          console.Error("invalid '=' after option --" + std::string(opt.name));
          return nullptr;
        }
        *optstr = std::string(target.substr(eq + 1));
        target = target.substr(0, eq);
      }
      name = std::string(target);
      continue;  // the target is always declared after its alias
    }
    if ((*seen & (std::uint64_t{1} << i)) && opt.type != OptType::kArgv) {
      console.Error("option --" + name + " already seen");
      return nullptr;
    }
    *seen |= std::uint64_t{1} << i;
    *index = i;
    return &opt;
  }
  if (cmd.name != "help")
    console.Error("command '" + std::string(cmd.name) + "' doesn't support option --" + name);
  return nullptr;
}

// The option a positional word fills: the first one still waiting for a value.
const OptDef* NextPositional(const CommandDef& cmd, std::uint64_t* need_arg, std::uint64_t* seen) {
  if (*need_arg == 0) return nullptr;
  std::size_t i = static_cast<std::size_t>(__builtin_ctzll(*need_arg));
  const OptDef& opt = cmd.opts[i];
  if (opt.type != OptType::kArgv) *need_arg &= ~(std::uint64_t{1} << i);
  *seen |= std::uint64_t{1} << i;
  return &opt;
}

bool CheckRequired(Console& console, const CommandDef& cmd, std::uint64_t required, std::uint64_t seen) {
  required &= ~seen;
  if (required == 0) return true;
  for (std::size_t i = 0; i < cmd.opts.size(); ++i) {
    if (!(required & (std::uint64_t{1} << i))) continue;
    const OptDef& opt = cmd.opts[i];
    std::string name(opt.name);
    bool positional = opt.type == OptType::kData || opt.type == OptType::kArgv;
    console.Error("command '" + std::string(cmd.name) + "' requires " +
                  (positional ? "<" + name + ">" : "--" + name) + " option");
  }
  return false;
}

}  // namespace

const OptDef& HelpOption() { return kHelpOpt; }

ParsedCommand::~ParsedCommand() {
  for (auto& opt : opts_) SecureWipe(opt.data.data(), opt.data.size());
}

const ParsedOpt* ParsedCommand::Find(std::string_view name) const {
  for (const auto& opt : opts_) {
    if (opt.def->name == name) return &opt;
  }
  return nullptr;
}

std::vector<std::string_view> ParsedCommand::ArgvValues(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const auto& opt : opts_) {
    if (opt.def->name == name) out.push_back(opt.data);
  }
  return out;
}

std::optional<std::vector<ParsedCommand>> ParseCommands(TokenSource& tokens, Console& console) {
  std::vector<ParsedCommand> commands;
  std::string word;
  while (true) {
    const CommandDef* cmd = nullptr;
    std::vector<ParsedOpt> opts;
    bool data_only = false;
    std::uint64_t need_arg = 0, required = 0, seen = 0;
    Token tk;

    while (true) {
      tk = tokens.Next(&word, true);
      if (tk == Token::kError) return std::nullopt;
      if (tk != Token::kWord) break;

      const OptDef* opt = nullptr;
      std::string data;
      if (cmd == nullptr) {
        if (!word.empty() && word[0] == '#') {
          // A comment where the command name should be swallows the rest of this command.
          do {
            tk = tokens.Next(&word, false);
          } while (tk == Token::kWord);
          break;
        }
        cmd = FindCommand(word);
        if (cmd == nullptr) {
          console.Error("unknown command: '" + word + "'");
          return std::nullopt;
        }
        OptionMasks(*cmd, &need_arg, &required);
        continue;
      }
      bool positional = data_only;
      if (!data_only && word.size() > 2 && word[0] == '-' && word[1] == '-' && IsAsciiAlnum(word[2])) {
        std::string name = word.substr(2);
        std::optional<std::string> optstr;
        if (auto eq = name.find('='); eq != std::string::npos) {
          optstr = name.substr(eq + 1);
          name.resize(eq);
        }
        std::size_t index = 0;
        opt = FindOption(console, *cmd, name, &seen, &index, &optstr);
        if (opt == nullptr) {
          if (cmd->name == "help") continue;
          return std::nullopt;
        }
        if (opt->type != OptType::kBool) {
          if (optstr) {
            data = std::move(*optstr);
          } else {
            tk = tokens.Next(&data, true);
            if (tk == Token::kError) return std::nullopt;
            if (tk != Token::kWord) {
              console.Error("expected syntax: --" + std::string(opt->name) + " <" +
                            (opt->type == OptType::kInt ? "number" : "string") + ">");
              return std::nullopt;
            }
          }
          if (opt->type != OptType::kArgv) need_arg &= ~(std::uint64_t{1} << index);
        } else if (optstr) {
          console.Error("invalid '=' after option --" + std::string(opt->name));
          return std::nullopt;
        }
      } else if (!data_only && word == "--") {
        data_only = true;
        continue;
      } else {
        positional = true;
      }
      if (positional) {
        opt = NextPositional(*cmd, &need_arg, &seen);
        if (opt == nullptr && cmd->name != "help") {
          console.Error("unexpected data '" + word + "'");
          return std::nullopt;
        }
        data = word;
      }
      if (opt != nullptr) opts.push_back(ParsedOpt{opt, std::move(data)});
    }
    SecureWipe(word.data(), word.size());

    if (cmd != nullptr) {
      for (const auto& o : opts) {
        if (o.def != &kHelpOpt) continue;
        const CommandDef* help = FindCommand("help");
        std::vector<ParsedOpt> help_opts;
        help_opts.push_back(ParsedOpt{&help->opts[0], std::string(cmd->name)});
        for (auto& old : opts) SecureWipe(old.data.data(), old.data.size());
        opts = std::move(help_opts);
        cmd = help;
        required = 0;
        seen = 0;
        break;
      }
      if (!CheckRequired(console, *cmd, required, seen)) return std::nullopt;
      commands.emplace_back(cmd, std::move(opts));
    }
    if (tk == Token::kEnd) break;
  }
  return commands;
}

bool OptStringReq(Console& console, const ParsedCommand& cmd, std::string_view name,
                  std::optional<std::string_view>* value) {
  *value = std::nullopt;
  const ParsedOpt* opt = cmd.Find(name);
  if (opt == nullptr) return true;
  if (opt->data.empty() && !(opt->def->flags & kOptEmptyOk)) {
    console.Error("Failed to get option '" + std::string(name) + "': Option argument is empty");
    return false;
  }
  *value = opt->data;
  return true;
}

int OptStringQuiet(const ParsedCommand& cmd, std::string_view name, std::optional<std::string_view>* value) {
  const ParsedOpt* opt = cmd.Find(name);
  if (opt == nullptr) return 0;
  if (opt->data.empty() && !(opt->def->flags & kOptEmptyOk)) return -1;
  *value = opt->data;
  return 1;
}

bool OptExclusive(Console& console, const ParsedCommand& cmd, std::string_view a, std::string_view b) {
  if (cmd.Has(a) && cmd.Has(b)) {
    console.Error("Options --" + std::string(a) + " and --" + std::string(b) + " are mutually exclusive");
    return false;
  }
  return true;
}

int OptTimeoutMs(Console& console, const ParsedCommand& cmd, int* timeout_ms) {
  const ParsedOpt* opt = cmd.Find("timeout");
  if (opt == nullptr) return 0;
  // virStrToLong_uip: decimal, optional leading blanks and '+', no '-' anywhere in the number,
  // the whole string consumed, and the value must fit an unsigned int.
  const char* s = opt->data.c_str();
  char* end = nullptr;
  errno = 0;
  unsigned long value = std::strtoul(s, &end, 10);
  bool bad = end == s || *end != '\0' || errno != 0 ||
             std::memchr(s, '-', static_cast<std::size_t>(end - s)) || value > UINT_MAX;
  if (bad) {
    console.Error("Numeric value '" + opt->data + "' for <timeout> option is malformed or out of range");
    return -1;
  }
  if (value == 0 || value > INT_MAX / 1000) {
    console.Error("Numeric value '" + std::to_string(value) +
                  "' for <timeout> option is malformed or out of range");
    return -1;
  }
  *timeout_ms = static_cast<int>(value) * 1000;
  return 1;
}

}  // namespace vsecret::cli
