// Fuzzes the virConf parser (conf/virconf.h), its typed getters, and both settings layers built on
// it: secret.conf (conf/secret_conf.h) and vsecretd.conf (daemon/daemon_config.h).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "conf/secret_conf.h"
#include "conf/virconf.h"
#include "daemon/daemon_config.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto conf = vsecret::VirConf::Parse(text, "/fuzz/x.conf");
  // The settings layers add checks, never syntax: they parse exactly what VirConf parses.
  auto secret = vsecret::ParseSecretConf(text, "/fuzz/x.conf");
  auto daemon = vsecret::daemon::ParseDaemonConfig(std::string(text), "/fuzz/x.conf");
  if (!conf) {
    FUZZ_CHECK(!secret && secret.error().message() == conf.error().message());
    FUZZ_CHECK(!daemon && daemon.error().message() == conf.error().message());
    return 0;
  }
  FUZZ_CHECK(secret.has_value() == vsecret::ReadSecretConf(*conf).has_value());
  FUZZ_CHECK(daemon.has_value() == vsecret::daemon::ReadDaemonConfig(*conf).has_value());
  // Every getter on a few names, among them keys both layers read; "a" is the name fuzz inputs
  // reach most easily.
  for (const char* name :
       {"a", "encrypt_data", "secrets_encryption_key", "max_clients", "tls_allowed_dn_list"}) {
    const vsecret::VirConf::Value* value = conf->Find(name);
    auto b = conf->GetBool(name);
    auto s = conf->GetString(name);
    auto i = conf->GetInt(name);
    auto narrow = conf->GetInt(name, -1, 10);
    auto u = conf->GetUInt(name);
    auto list = conf->GetStringList(name, vsecret::VirConf::StringList::kListOnly);
    auto compat = conf->GetStringList(name, vsecret::VirConf::StringList::kListOrString);
    if (value == nullptr) {
      FUZZ_CHECK(b && !*b && s && !*s && i && !*i && u && !*u && list && !*list && compat && !*compat);
      continue;
    }
    FUZZ_CHECK(s.has_value() == (value->type == vsecret::VirConf::Value::Type::kString));
    if (b && *b) FUZZ_CHECK(u && **u == (**b ? 1u : 0u));
    if (narrow && *narrow) FUZZ_CHECK(i && **i == **narrow && **narrow >= -1 && **narrow <= 10);
    if (list && *list) FUZZ_CHECK(compat && **compat == **list);
  }
  return 0;
}
