// libvirt's auth.conf as the SASL client reads it: host groups, the default group, authname
// falling back to username, and syntax errors.
#include <gtest/gtest.h>

#include "rpc/auth_conf.h"

namespace vsecret::rpc {
namespace {

constexpr char kConf[] =
    "# comment\n"
    "[credentials-ops]\n"
    "authname = ops-admin\n"
    "password = s3cret=with=equals\n"
    "\n"
    "[credentials-fallback]\n"
    "username=carol\n"
    "password=carol-pw\n"
    "\n"
    "[auth-libvirt-db1.example.com]\n"
    "credentials=ops\n"
    "[auth-libvirt-default]\n"
    "credentials=fallback\n";

TEST(SaslAuthConfTest, HostGroupThenDefault) {
  auto host = ParseAuthConf(kConf, "auth.conf", "db1.example.com");
  ASSERT_TRUE(host) << host.error().message();
  EXPECT_EQ(host->authname, std::optional<std::string>("ops-admin"));
  ASSERT_TRUE(host->password);
  EXPECT_EQ(host->password->AsStringView(), "s3cret=with=equals");
  auto other = ParseAuthConf(kConf, "auth.conf", "db2.example.com");
  ASSERT_TRUE(other);
  EXPECT_FALSE(other->authname);
  EXPECT_EQ(other->username, std::optional<std::string>("carol"));
  EXPECT_EQ(other->password->AsStringView(), "carol-pw");
}

TEST(SaslAuthConfTest, NothingForTheHost) {
  auto none = ParseAuthConf("[credentials-x]\nusername=a\n[auth-libvirt-other]\ncredentials=x\n", "f", "h");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->authname || none->username || none->password);
  auto dangling = ParseAuthConf("[auth-libvirt-h]\ncredentials=missing\n", "f", "h");
  ASSERT_TRUE(dangling);
  EXPECT_FALSE(dangling->password);
}

TEST(SaslAuthConfTest, SyntaxErrors) {
  auto unterminated = ParseAuthConf("[credentials-x\n", "/etc/libvirt/auth.conf", "h");
  ASSERT_FALSE(unterminated);
  EXPECT_EQ(unterminated.error().message(),
            "configuration file syntax error: /etc/libvirt/auth.conf:1: unterminated group name");
  auto outside = ParseAuthConf("username=a\n", "f", "h");
  ASSERT_FALSE(outside);
  EXPECT_EQ(outside.error().message(), "configuration file syntax error: f:1: expected key=value in a group");
}

}  // namespace
}  // namespace vsecret::rpc
