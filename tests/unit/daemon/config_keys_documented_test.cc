// Every key the configuration readers accept is documented: vsecretd.conf(5) and the sample
// packaging/vsecretd.conf for the daemon's keys, secret.conf(5) for secret.conf's. The keys come
// from the readers themselves (VirConf::RecordLookups), so a key added to the code without its
// documentation fails here.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "conf/secret_conf.h"
#include "conf/virconf.h"
#include "daemon/daemon_config.h"
#include "test_util.h"

namespace vsecret {
namespace {

// VSECRET_TEST_DATA_DIR is <source>/tests/data.
std::string SourceFile(const std::string& relative) {
  return std::string(VSECRET_TEST_DATA_DIR) + "/../../" + relative;
}

template <typename Reader>
std::set<std::string> KeysReadBy(Reader read) {
  auto conf = VirConf::Parse("", "keys.conf");
  EXPECT_TRUE(conf.has_value());
  std::vector<std::string> names;
  conf->RecordLookups(&names);
  EXPECT_TRUE(read(*conf).has_value());
  conf->RecordLookups(nullptr);
  return {names.begin(), names.end()};
}

// A key is documented when the page names it as a literal (``key``), as the pages do.
void ExpectDocumented(const std::set<std::string>& keys, const std::string& page_path) {
  std::string page = test::ReadFileOrEmpty(page_path);
  ASSERT_FALSE(page.empty()) << page_path;
  for (const std::string& key : keys) {
    EXPECT_NE(page.find("``" + key + "``"), std::string::npos)
        << key << " is not documented in " << page_path;
  }
}

TEST(ConfigKeysDocumented, RecordLookupsSeesEveryGetter) {
  auto conf = VirConf::Parse("a = 1\n", "t.conf");
  ASSERT_TRUE(conf.has_value());
  std::vector<std::string> names;
  conf->RecordLookups(&names);
  (void)conf->GetBool("a");
  (void)conf->GetString("b");
  (void)conf->GetUInt("c");
  (void)conf->GetInt("d");
  (void)conf->GetStringList("e", VirConf::StringList::kListOnly);
  (void)conf->Find("f");
  conf->RecordLookups(nullptr);
  (void)conf->Find("g");
  EXPECT_THAT(names, ::testing::ElementsAre("a", "b", "c", "d", "e", "f"));
}

TEST(ConfigKeysDocumented, EveryDaemonKeyIsInVsecretdConf5AndTheSample) {
  std::set<std::string> keys = KeysReadBy([](const VirConf& c) { return daemon::ReadDaemonConfig(c); });
  // A sanity floor: the reader has some thirty keys; an empty set would prove nothing.
  ASSERT_GE(keys.size(), 30u);
  EXPECT_TRUE(keys.contains("max_clients"));
  ExpectDocumented(keys, SourceFile("docs/man/vsecretd.conf.rst"));

  std::string sample = test::ReadFileOrEmpty(SourceFile("packaging/vsecretd.conf"));
  ASSERT_FALSE(sample.empty());
  for (const std::string& key : keys) {
    EXPECT_NE(sample.find("#" + key + " ="), std::string::npos)
        << key << " is missing from packaging/vsecretd.conf";
  }
}

TEST(ConfigKeysDocumented, SecretConfKeysAreInSecretConf5) {
  std::set<std::string> keys = KeysReadBy([](const VirConf& c) { return ReadSecretConf(c); });
  EXPECT_THAT(keys, ::testing::UnorderedElementsAre("encrypt_data", "secrets_encryption_key"));
  ExpectDocumented(keys, SourceFile("docs/man/secret.conf.rst"));
}

}  // namespace
}  // namespace vsecret
