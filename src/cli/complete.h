// Completion of command lines, shared by the hidden `complete` command (what the bash
// completion scripts call, as virsh's) and the interactive shell's TAB key.
//
// What is offered follows virsh's completer:
//  * no command word yet: the command names (hidden ones excepted);
//  * after an option that takes a value (--pool ): that option's values;
//  * an empty word, or one starting with '-': the --options not given yet (argv options stay);
//  * any other word: the values of the next option a positional word would fill.
// Values are live where virsh's are: secret UUIDs (for vol-create-as --secret, volume usage
// names too), pool names, the volumes of the pool given by --pool; fixed lists for event names,
// wipe algorithms and the like. Candidates start with the word being completed; the order is
// the declaration or listing order, never sorted here.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cli/command_def.h"

namespace vsecret::cli {

class Shell;

// may_connect: open the shell's connection when a live value is needed. Otherwise live values
// come only from a connection already open (the interactive shell: TAB must never print a
// connection error into the line being edited). Errors of the connection are dropped.
std::vector<std::string> CompleteWords(Shell& shell, std::span<const std::string> words,
                                       std::string_view text, bool may_connect);

// The interactive form: line is what precedes the word being completed (split as the shell
// splits commands; only the last command of the line counts).
std::vector<std::string> CompleteLine(Shell& shell, std::string_view line, std::string_view text,
                                      bool may_connect);

// The hidden `complete` command (in the shell's own group, flagged kCmdHidden):
// `complete -- WORD... TEXT` prints the candidates for TEXT after the WORDs, one a line.
bool CmdComplete(Shell& shell, const ParsedCommand& cmd);
inline constexpr OptDef kCompleteOpts[] = {
    {"string", OptType::kArgv, kOptEmptyOk, "the words before the cursor; the last is the one to complete"},
};

}  // namespace vsecret::cli
