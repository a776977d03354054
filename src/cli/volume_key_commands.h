// vol-rekey, vol-key-add and vol-key-remove (vsecret extensions; volume_key_commands.cc): their
// option tables and handlers, listed in the volume group by volume_commands.cc.
#pragma once

#include <span>

#include "cli/command_def.h"

namespace vsecret::cli {

std::span<const OptDef> VolRekeyOpts();
std::span<const OptDef> VolKeyAddOpts();
std::span<const OptDef> VolKeyRemoveOpts();
bool CmdVolRekey(Shell& shell, const ParsedCommand& cmd);
bool CmdVolKeyAdd(Shell& shell, const ParsedCommand& cmd);
bool CmdVolKeyRemove(Shell& shell, const ParsedCommand& cmd);

}  // namespace vsecret::cli
