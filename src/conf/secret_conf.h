// secret.conf: the two settings of the secret driver (libvirt 12.1's secret.conf), read with the virConf
// getters libvirt uses for them.
//
//   encrypt_data = 1
//   secrets_encryption_key = "/run/libvirt/secrets/secret-encryption-key"
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "conf/virconf.h"
#include "vsecret/error.h"

namespace vsecret {

// The settings of secret.conf; unset keys stay nullopt (an unset encrypt_data means "encrypt
// when a key path is known", unlike an explicit 0 or 1).
struct SecretConf {
  std::optional<bool> encrypt_data;
  std::optional<std::string> secrets_encryption_key;
};

// Parses secret.conf text: syntax errors as VirConf::Parse, then encrypt_data (a bool) is checked
// before secrets_encryption_key (a string), as libvirt does. Unknown keys are ignored.
Result<SecretConf> ParseSecretConf(std::string_view text, const std::string& filename);

// The settings of an already parsed file, with the same checks.
Result<SecretConf> ReadSecretConf(const VirConf& conf);

}  // namespace vsecret
