#include "conf/secret_conf.h"

#include <utility>

namespace vsecret {

Result<SecretConf> ReadSecretConf(const VirConf& conf) {
  SecretConf out;
  auto encrypt = conf.GetBool("encrypt_data");
  if (!encrypt) return std::unexpected(encrypt.error());
  out.encrypt_data = *encrypt;
  auto key = conf.GetString("secrets_encryption_key");
  if (!key) return std::unexpected(key.error());
  out.secrets_encryption_key = std::move(*key);
  return out;
}

Result<SecretConf> ParseSecretConf(std::string_view text, const std::string& filename) {
  auto conf = VirConf::Parse(text, filename);
  if (!conf) return std::unexpected(conf.error());
  return ReadSecretConf(*conf);
}

}  // namespace vsecret
