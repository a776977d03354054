#include "client/embedded_connection.h"

#include <gtest/gtest.h>

#include "test_util.h"
#include "vsecret/connection.h"

namespace vsecret {
namespace {

using test::TempDir;

TEST(OpenConnection, EmbedUriErrors) {
  auto missing = OpenConnection("secret:///embed", false);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message(), "invalid argument: Missing URI parameter 'root'");
  auto rel = OpenConnection("secret:///embed?root=rel", false);
  ASSERT_FALSE(rel);
  EXPECT_EQ(rel.error().message(), "unsupported configuration: root path must be absolute");
  auto other = OpenConnection("qemu:///system", false);
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().message(), "no connection driver available for qemu:///system");
  EXPECT_EQ(other.error().code(), ErrorCode::kNoConnect);
}

TEST(OpenConnection, SameRootSharesDriverOtherRootRefused) {
  TempDir a, b;
  auto c1 = OpenConnection("secret:///embed?root=" + a.path(), false);
  ASSERT_TRUE(c1) << c1.error().message();
  auto c2 = OpenConnection("secret:///embed?root=" + a.path(), true);
  ASSERT_TRUE(c2) << c2.error().message();
  EXPECT_TRUE((*c2)->IsReadOnly());
  ASSERT_TRUE((*c1)->DefineXml("<secret><uuid>0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f</uuid></secret>", 0));
  EXPECT_EQ(*(*c2)->NumOfSecrets(), 1);
  auto c3 = OpenConnection("secret:///embed?root=" + b.path(), false);
  ASSERT_FALSE(c3);
  EXPECT_EQ(c3.error().message(), "internal error: Cannot open embedded driver at path '" + b.path() +
                                      "', already open with path '" + a.path() + "'");
  c1->reset();
  c2->reset();
  // Once the first root is closed, another may be opened.
  auto c4 = OpenConnection("secret:///embed?root=" + b.path(), false);
  EXPECT_TRUE(c4) << c4.error().message();
}

TEST(OpenConnection, DefaultUsesPerUserStateDir) {
  TempDir state;
  unsetenv("VSECRET_DEFAULT_URI");
  unsetenv("LIBVIRT_DEFAULT_URI");
  setenv("XDG_STATE_HOME", state.path().c_str(), 1);
  auto c = OpenConnection("", false);
  unsetenv("XDG_STATE_HOME");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ((*c)->Uri(), "secret:///embed?root=" + state.path() + "/vsecret");
  ASSERT_TRUE((*c)->DefineXml("<secret/>", 0));
  EXPECT_TRUE(test::FileExists(state.path() + "/vsecret/etc/secrets"));
}

TEST(EmbeddedConnection, EventsAreDeliveredAndDeregisteredOnClose) {
  TempDir root;
  auto c = OpenConnection("secret:///embed?root=" + root.path(), false);
  ASSERT_TRUE(c);
  int lifecycle = 0, value = 0;
  auto id =
      (*c)->RegisterEvent(SecretEventId::kLifecycle, std::nullopt, [&](const SecretEvent&) { ++lifecycle; });
  ASSERT_TRUE(id);
  auto u = Uuid::Parse("0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f");
  ASSERT_TRUE((*c)->RegisterEvent(SecretEventId::kValueChanged, u, [&](const SecretEvent&) { ++value; }));
  ASSERT_TRUE((*c)->DefineXml("<secret><uuid>0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f</uuid></secret>", 0));
  ASSERT_TRUE((*c)->SetValue(*u, SecretBytes("v"), 0));
  EXPECT_EQ(lifecycle, 1);
  EXPECT_EQ(value, 1);
  ASSERT_TRUE((*c)->DeregisterEvent(*id));
  EXPECT_FALSE((*c)->DeregisterEvent(*id));
  ASSERT_TRUE((*c)->Undefine(*u));
  EXPECT_EQ(lifecycle, 1);
}

}  // namespace
}  // namespace vsecret
