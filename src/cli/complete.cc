#include "cli/complete.h"

#include <optional>
#include <set>

#include "cli/command_parser.h"
#include "cli/shell.h"
#include "cli/storage_cli.h"
#include "cli/tokenizer.h"
#include "vsecret/secret.h"
#include "vsecret/secret_bytes.h"

namespace vsecret::cli {
namespace {

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// What the words before the cursor say about the command being typed.
struct LineState {
  const CommandDef* def = nullptr;
  std::set<const OptDef*> given;
  const OptDef* awaiting_value = nullptr;  // the word before the cursor was --name of this option
  std::optional<std::string> pool;         // --pool's value, for volume names
};

const OptDef* FindOpt(const CommandDef& def, std::string_view name) {
  for (int hops = 0; hops < 2; ++hops) {
    const OptDef* found = nullptr;
    for (const OptDef& opt : def.opts) {
      if (opt.name == name) found = &opt;
    }
    if (found == nullptr || found->type != OptType::kAlias) return found;
    std::string_view target = found->help;  // "target" or "target=value"
    name = target.substr(0, target.find('='));
  }
  return nullptr;
}

// The option the next positional word fills, as the parser assigns them.
const OptDef* NextPositional(const LineState& state) {
  for (const OptDef& opt : state.def->opts) {
    if (opt.type == OptType::kBool || opt.type == OptType::kAlias || (opt.flags & kOptNamedOnly)) continue;
    if (opt.type == OptType::kArgv || !state.given.contains(&opt)) return &opt;
  }
  return nullptr;
}

void NoteValue(LineState& state, const OptDef& opt, std::string_view value) {
  state.given.insert(&opt);
  if (opt.name == "pool") state.pool = std::string(value);
}

LineState Analyse(std::span<const std::string> words) {
  LineState state;
  if (words.empty()) return state;
  state.def = FindCommand(words[0]);
  if (state.def == nullptr) return state;
  bool data_only = false;
  for (std::string_view word : words.subspan(1)) {
    if (state.awaiting_value != nullptr) {
      NoteValue(state, *state.awaiting_value, word);
      state.awaiting_value = nullptr;
      continue;
    }
    if (!data_only && word == "--") {
      data_only = true;
      continue;
    }
    if (!data_only && word.size() > 2 && StartsWith(word, "--")) {
      std::string_view name = word.substr(2);
      std::size_t eq = name.find('=');
      const OptDef* opt = FindOpt(*state.def, name.substr(0, eq));
      if (opt == nullptr) continue;
      if (opt->type == OptType::kBool) {
        state.given.insert(opt);
      } else if (eq != std::string_view::npos) {
        NoteValue(state, *opt, name.substr(eq + 1));
      } else {
        state.awaiting_value = opt;
      }
      continue;
    }
    if (const OptDef* opt = NextPositional(state)) NoteValue(state, *opt, word);
  }
  return state;
}

// Runs fn on the shell's connection (opened first when allowed); errors are dropped, a failed
// completion offers nothing.
template <typename Fn>
void WithConnection(Shell& shell, bool may_connect, Fn fn) {
  if (!shell.has_connection() && !may_connect) return;
  if (shell.EnsureConnected()) fn(shell.conn());
  shell.ResetError();
}

void AddSecrets(Shell& shell, bool may_connect, bool with_volume_usage, std::vector<std::string>& out) {
  WithConnection(shell, may_connect, [&](Connection& conn) {
    auto secrets = conn.ListAll(0);
    if (!secrets) return;
    for (const SecretRef& s : *secrets) out.push_back(s.uuid.ToString());
    if (!with_volume_usage) return;
    for (const SecretRef& s : *secrets) {
      if (s.usage_type == UsageType::kVolume) out.push_back(s.usage_id);
    }
  });
}

void AddStorage(Shell& shell, bool may_connect, const std::optional<std::string>& volumes_of,
                std::vector<std::string>& out) {
  WithConnection(shell, may_connect, [&](Connection&) {
    auto storage = OpenStorage(shell, nullptr);
    if (!storage) return;
    if (!volumes_of) {
      for (const auto& pool : storage->ListPools()) out.push_back(pool.def.name);
      return;
    }
    // --pool takes a name or a UUID, as the commands do.
    std::string name = *volumes_of;
    if (auto uuid = Uuid::Parse(name)) {
      if (auto pool = storage->LookupPoolByUuid(*uuid)) name = pool->def.name;
    }
    auto vols = storage->ListVolumes(name);
    if (!vols) return;
    for (const auto& vol : *vols) out.push_back(vol.name);
  });
}

std::vector<std::string> OptionValues(Shell& shell, const LineState& state, const OptDef& opt,
                                      bool may_connect) {
  std::vector<std::string> out;
  std::string_view cmd = state.def->name;
  std::string_view name = opt.name;
  if (name == "secret") {
    AddSecrets(shell, may_connect, cmd == "vol-create-as", out);
  } else if (name == "pool") {
    AddStorage(shell, may_connect, std::nullopt, out);
  } else if (name == "vol") {
    if (state.pool) AddStorage(shell, may_connect, state.pool, out);
  } else if (cmd == "secret-event" && name == "event") {
    out = {"lifecycle", "value-changed"};
  } else if (cmd == "help" && name == "command") {
    for (const CommandGroup& group : CommandGroups()) {
      for (const CommandDef& def : group.commands) {
        if (!(def.flags & kCmdHidden)) out.emplace_back(def.name);
      }
    }
  } else if (cmd == "vol-wipe" && name == "algorithm") {
    out = {"zero", "random"};
  } else if (cmd == "vol-create-as" && name == "format") {
    out = {"raw", "qcow2"};
  } else if (cmd == "pool-define-as" && name == "type") {
    out = {"dir"};
  }
  return out;
}

// The words may hold a value typed with --base64.
struct WipeWords {
  std::vector<std::string>& words;
  ~WipeWords() {
    for (auto& w : words) SecureWipe(w.data(), w.size());
  }
};

std::vector<std::string> Filter(std::vector<std::string> candidates, std::string_view text) {
  std::vector<std::string> out;
  for (auto& c : candidates) {
    if (StartsWith(c, text)) out.push_back(std::move(c));
  }
  return out;
}

}  // namespace

std::vector<std::string> CompleteWords(Shell& shell, std::span<const std::string> words,
                                       std::string_view text, bool may_connect) {
  std::vector<std::string> candidates;
  if (words.empty()) {
    for (const CommandGroup& group : CommandGroups()) {
      for (const CommandDef& def : group.commands) {
        if (!(def.flags & kCmdHidden)) candidates.emplace_back(def.name);
      }
    }
    return Filter(std::move(candidates), text);
  }
  LineState state = Analyse(words);
  if (state.def == nullptr) return {};
  if (state.awaiting_value != nullptr) {
    return Filter(OptionValues(shell, state, *state.awaiting_value, may_connect), text);
  }
  if (text.empty() || text[0] == '-') {
    for (const OptDef& opt : state.def->opts) {
      if (opt.type == OptType::kAlias) continue;
      if (opt.type != OptType::kArgv && state.given.contains(&opt)) continue;
      candidates.push_back("--" + std::string(opt.name));
    }
    return Filter(std::move(candidates), text);
  }
  const OptDef* next = NextPositional(state);
  if (next == nullptr) return {};
  return Filter(OptionValues(shell, state, *next, may_connect), text);
}

std::vector<std::string> CompleteLine(Shell& shell, std::string_view line, std::string_view text,
                                      bool may_connect) {
  // A scratch console: the tokenizer reports nothing when asked not to, but needs one.
  StringSink out, err;
  Console quiet(out, err);
  StringTokens tokens(line, quiet);
  std::vector<std::string> words;
  WipeWords wipe{words};
  std::string word;
  while (true) {
    Token tk = tokens.Next(&word, false);
    if (tk == Token::kWord) {
      words.push_back(word);
    } else if (tk == Token::kCmdEnd) {
      for (auto& w : words) SecureWipe(w.data(), w.size());
      words.clear();
    } else {
      break;
    }
  }
  SecureWipe(word.data(), word.size());
  return CompleteWords(shell, words, text, may_connect);
}

bool CmdComplete(Shell& shell, const ParsedCommand& cmd) {
  std::vector<std::string> words;
  WipeWords wipe{words};
  for (std::string_view w : cmd.ArgvValues("string")) words.emplace_back(w);
  std::string_view text;
  if (!words.empty()) {
    text = cmd.ArgvValues("string").back();
    SecureWipe(words.back().data(), words.back().size());
    words.pop_back();
  }
  for (const std::string& candidate : CompleteWords(shell, words, text, /*may_connect=*/true)) {
    shell.console().Print(candidate + "\n");
  }
  return true;
}

}  // namespace vsecret::cli
