#include "base/uri.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace vsecret {
namespace {

TEST(ConnectionUri, Embed) {
  auto u = ParseConnectionUri("secret:///embed?root=/tmp/a%20b&x=1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->scheme, "secret");
  EXPECT_EQ(u->transport, "");
  EXPECT_EQ(u->host, "");
  EXPECT_EQ(u->path, "/embed");
  EXPECT_EQ(u->Param("root"), "/tmp/a b");
  EXPECT_EQ(u->Param("x"), "1");
  EXPECT_FALSE(u->Param("y"));
  EXPECT_TRUE(u->IsLocal());
  EXPECT_EQ(u->EffectiveTransport(), "embed");
}

TEST(ConnectionUri, FirstParamWins) {
  auto u = ParseConnectionUri("secret:///embed?root=/a&root=/b");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->Param("root"), "/a");
}

TEST(ConnectionUri, LocalInstances) {
  for (const char* text : {"secret:///system", "secret:///session"}) {
    auto u = ParseConnectionUri(text);
    ASSERT_TRUE(u) << text;
    EXPECT_TRUE(u->IsLocal());
    EXPECT_EQ(u->EffectiveTransport(), "unix");
  }
  auto s = ParseConnectionUri("secret+unix:///system?socket=/run/x.sock");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->transport, "unix");
  EXPECT_EQ(s->Param("socket"), "/run/x.sock");
}

TEST(ConnectionUri, RemoteForms) {
  auto tls = ParseConnectionUri("secret://host.example/system");
  ASSERT_TRUE(tls);
  EXPECT_EQ(tls->host, "host.example");
  EXPECT_EQ(tls->EffectiveTransport(), "tls");
  EXPECT_FALSE(tls->IsLocal());

  auto ssh = ParseConnectionUri("secret+ssh://root@10.0.0.1:2222/system?keyfile=/k");
  ASSERT_TRUE(ssh);
  EXPECT_EQ(ssh->transport, "ssh");
  EXPECT_EQ(ssh->user, "root");
  EXPECT_EQ(ssh->host, "10.0.0.1");
  EXPECT_EQ(ssh->port, 2222);
  EXPECT_EQ(ssh->Param("keyfile"), "/k");

  auto v6 = ParseConnectionUri("secret+tcp://[::1]:16509/system");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 16509);
  EXPECT_EQ(v6->EffectiveTransport(), "tcp");
}

TEST(ConnectionUri, RejectsGarbage) {
  EXPECT_FALSE(ParseConnectionUri("no-scheme-here"));
  EXPECT_FALSE(ParseConnectionUri("secret://host:99999/system"));
  EXPECT_FALSE(ParseConnectionUri("secret://host:12x/system"));
  EXPECT_FALSE(ParseConnectionUri("secret://[::1/system"));
}

TEST(ConnectionUri, DefaultPrefersEnvironment) {
  setenv("VSECRET_DEFAULT_URI", "secret:///embed?root=/v", 1);
  setenv("LIBVIRT_DEFAULT_URI", "secret:///embed?root=/l", 1);
  EXPECT_EQ(DefaultConnectionUri(), "secret:///embed?root=/v");
  unsetenv("VSECRET_DEFAULT_URI");
  EXPECT_EQ(DefaultConnectionUri(), "secret:///embed?root=/l");
  unsetenv("LIBVIRT_DEFAULT_URI");
  setenv("XDG_STATE_HOME", "/st ate", 1);
  EXPECT_EQ(DefaultConnectionUri(), "secret:///embed?root=/st%20ate/vsecret");
  unsetenv("XDG_STATE_HOME");
  setenv("HOME", "/home/u", 1);
  EXPECT_EQ(DefaultConnectionUri(), "secret:///embed?root=/home/u/.local/state/vsecret");
  auto parsed = ParseConnectionUri("secret:///embed?root=/st%20ate/vsecret");
  EXPECT_EQ(parsed->Param("root"), "/st ate/vsecret");
}

}  // namespace
}  // namespace vsecret
