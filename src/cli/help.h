// Help output in virsh's layout: per-command NAME / SYNOPSIS / DESCRIPTION / OPTIONS pages,
// group listings, the global listing and the -h usage text.
#pragma once

#include <string>
#include <string_view>

#include "cli/command_def.h"

namespace vsecret::cli {

// The page `help <command>` prints (ends with a blank line).
std::string CommandHelpText(const CommandDef& def);
// " <Group> (help keyword '<kw>'):" followed by one line per command.
std::string GroupHelpText(const CommandGroup& group);
// "Grouped commands:" and every group, each followed by a blank line.
std::string GlobalHelpText();
// The text of `vsecret -h`.
std::string UsageText(std::string_view progname);

}  // namespace vsecret::cli
