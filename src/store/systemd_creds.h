// Sealing a key with systemd-creds, for installing a rotated key where a
// `LoadCredentialEncrypted=secrets-encryption-key:<file>` unit setting will find it.
#pragma once

#include <string>
#include <vector>

#include "base/env.h"
#include "vsecret/error.h"
#include "vsecret/secret_bytes.h"

namespace vsecret {

// Runs `systemd-creds encrypt --name=<name> [extra_args...] - <out_path>.new` with data on its
// standard input (never on the command line), then renames the result over out_path and fsyncs
// the directory, so out_path always holds a complete credential. The child runs with umask 0077.
// $VSECRET_SYSTEMD_CREDS names another binary (tests). Errors name the command and its exit
// status; systemd-creds' own diagnostics go to stderr.
Result<void> SealWithSystemdCreds(Env* env, const SecretBytes& data, const std::string& name,
                                  const std::string& out_path,
                                  const std::vector<std::string>& extra_args = {});

}  // namespace vsecret
