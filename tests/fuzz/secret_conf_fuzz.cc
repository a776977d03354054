// Fuzzes the virConf-syntax parser behind secret.conf and the two settings read from it.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "conf/secret_conf.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto conf = vsecret::ConfFile::Parse(text, "/fuzz/secret.conf");
  if (conf) {
    (void)conf->GetBool("encrypt_data");
    (void)conf->GetString("secrets_encryption_key");
    (void)conf->Find("x");
  }
  (void)vsecret::ParseSecretConf(text, "/fuzz/secret.conf");
  return 0;
}
