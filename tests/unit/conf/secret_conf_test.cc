// secret.conf's two settings (encrypt_data, secrets_encryption_key) on top of conf/virconf (whose syntax
// and getters virconf_test.cc covers).
#include "conf/secret_conf.h"

#include <gtest/gtest.h>

#include <string>

namespace vsecret {
namespace {

constexpr char kFile[] = "/etc/libvirt/secret.conf";

TEST(SecretConfTest, Settings) {
  auto conf = ParseSecretConf("encrypt_data = 1\nsecrets_encryption_key = \"/run/k\"\n", kFile);
  ASSERT_TRUE(conf);
  EXPECT_EQ(conf->encrypt_data, std::optional<bool>(true));
  EXPECT_EQ(conf->secrets_encryption_key, std::optional<std::string>("/run/k"));
  auto off = ParseSecretConf("encrypt_data = 0\n", kFile);
  ASSERT_TRUE(off);
  EXPECT_EQ(off->encrypt_data, std::optional<bool>(false));
  EXPECT_FALSE(off->secrets_encryption_key);
  auto unset = ParseSecretConf("# encrypt_data = 1\nunknown_key = \"ignored\"\n", kFile);
  ASSERT_TRUE(unset);
  EXPECT_FALSE(unset->encrypt_data);
  EXPECT_FALSE(unset->secrets_encryption_key);
}

TEST(SecretConfTest, SettingErrors) {
  const std::string f = kFile;
  auto err = [&](const char* text) {
    auto conf = ParseSecretConf(text, f);
    return conf ? std::string("(no error)") : conf.error().message();
  };
  EXPECT_EQ(err("encrypt_data = \"yes\""),
            "internal error: " + f + ": expected a bool for 'encrypt_data' parameter");
  EXPECT_EQ(err("encrypt_data = 2"),
            "internal error: " + f + ": value for 'encrypt_data' parameter must be 0 or 1");
  EXPECT_EQ(err("secrets_encryption_key = 5"),
            "internal error: " + f + ": expected a string for 'secrets_encryption_key' parameter");
  // encrypt_data is checked first, as in libvirt.
  EXPECT_EQ(err("secrets_encryption_key = 5\nencrypt_data = 7"),
            "internal error: " + f + ": value for 'encrypt_data' parameter must be 0 or 1");
  EXPECT_EQ(err("encrypt_data 1"), "configuration file syntax error: " + f + ":1: expecting an assignment");
}

// Duplicates follow VirConf: the first wins.
TEST(SecretConfTest, FirstOfDuplicatesWins) {
  auto conf = ParseSecretConf(
      "encrypt_data = 0\nsecrets_encryption_key = \"/run/a\"\nencrypt_data = 1\nsecrets_encryption_key = 5\n",
      kFile);
  ASSERT_TRUE(conf) << conf.error().message();
  EXPECT_EQ(conf->encrypt_data, std::optional<bool>(false));
  EXPECT_EQ(conf->secrets_encryption_key, std::optional<std::string>("/run/a"));
}

TEST(SecretConfTest, ReadSecretConfMatchesParse) {
  const std::string text = "encrypt_data = 1\nsecrets_encryption_key = \"/k\"\n";
  auto conf = VirConf::Parse(text, kFile);
  ASSERT_TRUE(conf);
  auto read = ReadSecretConf(*conf);
  auto parsed = ParseSecretConf(text, kFile);
  ASSERT_TRUE(read && parsed);
  EXPECT_EQ(read->encrypt_data, parsed->encrypt_data);
  EXPECT_EQ(read->secrets_encryption_key, parsed->secrets_encryption_key);
}

}  // namespace
}  // namespace vsecret
