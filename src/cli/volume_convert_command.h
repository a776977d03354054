// vol-convert (vsecret extension; volume_convert_command.cc): LUKS1 <-> LUKS2 in place, like
// cryptsetup convert; its option table and handler, listed in the volume group by
// volume_commands.cc.
#pragma once

#include <span>

#include "cli/command_def.h"

namespace vsecret::cli {

std::span<const OptDef> VolConvertOpts();
bool CmdVolConvert(Shell& shell, const ParsedCommand& cmd);

}  // namespace vsecret::cli
