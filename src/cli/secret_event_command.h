// secret-event: list the event types, or wait for secret events and print them.
//
// The wait ends at the first event (unless --loop), when --timeout seconds have passed, or on
// SIGINT; the summary line "events received: N" follows, and the command succeeds only if at
// least one event arrived. Events are delivered on the connection's thread and printed there.
#pragma once

#include <span>

#include "cli/command_def.h"

namespace vsecret::cli {

std::span<const OptDef> SecretEventOpts();
bool CmdSecretEvent(Shell& shell, const ParsedCommand& cmd);

// Ends a running wait as SIGINT does; async-signal-safe. For tests and the signal handler.
void InterruptEventWait();

}  // namespace vsecret::cli
