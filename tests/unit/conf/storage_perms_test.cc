// <permissions> of pool and volume targets: one parser and one formatter serve both, as in libvirt.
#include "conf/storage_perms.h"

#include <gtest/gtest.h>

#include <string>

#include "conf/pool_xml.h"
#include "conf/volume_xml.h"

namespace vsecret {
namespace {

std::string PoolXml(const std::string& perms) {
  return "<pool type='dir'><name>p</name><target><path>/tmp/p</path><permissions>" + perms +
         "</permissions></target></pool>";
}

std::string VolumeXml(const std::string& perms) {
  return "<volume><name>v</name><capacity>1</capacity><target><permissions>" + perms +
         "</permissions></target></volume>";
}

struct PermsCase {
  const char* perms;
  std::optional<mode_t> mode;
  std::optional<uid_t> owner;
  std::optional<gid_t> group;
  const char* error;  // nullptr: accepted
};

class StoragePermsTest : public ::testing::TestWithParam<PermsCase> {};

// The same <permissions> gives the same verdict in a pool and in a volume.
TEST_P(StoragePermsTest, PoolAndVolumeAgree) {
  const PermsCase& c = GetParam();
  Result<PoolDef> pool = ParsePoolXml(PoolXml(c.perms));
  Result<VolumeDef> vol = ParseVolumeXml(VolumeXml(c.perms));
  if (c.error != nullptr) {
    ASSERT_FALSE(pool.has_value()) << c.perms;
    ASSERT_FALSE(vol.has_value()) << c.perms;
    EXPECT_EQ(pool.error().message(), std::string("XML error: ") + c.error);
    EXPECT_EQ(vol.error().message(), std::string("XML error: ") + c.error);
    return;
  }
  ASSERT_TRUE(pool.has_value()) << pool.error().message();
  ASSERT_TRUE(vol.has_value()) << vol.error().message();
  const StoragePerms want{c.mode, c.owner, c.group};
  EXPECT_EQ(pool->perms, want);
  EXPECT_EQ(vol->perms, want);
}

constexpr PermsCase kCases[] = {
    {"<mode>0711</mode><owner>107</owner><group>108</group>", 0711, 107, 108, nullptr},
    {"<mode>755</mode>", 0755, std::nullopt, std::nullopt, nullptr},
    // XPath number(): white space around the number is fine; -1 means "unset".
    {"<owner> 107 </owner><group>\n108\n</group>", std::nullopt, 107, 108, nullptr},
    {"<owner>-1</owner><group>-1</group>", std::nullopt, std::nullopt, std::nullopt, nullptr},
    {"<mode>1755</mode>", std::nullopt, std::nullopt, std::nullopt, "malformed octal mode"},
    {"<mode>08</mode>", std::nullopt, std::nullopt, std::nullopt, "malformed octal mode"},
    {"<owner>-2</owner>", std::nullopt, std::nullopt, std::nullopt, "malformed owner element"},
    {"<owner>4294967296</owner>", std::nullopt, std::nullopt, std::nullopt, "malformed owner element"},
    {"<group>abc</group>", std::nullopt, std::nullopt, std::nullopt, "malformed group element"},
};

INSTANTIATE_TEST_SUITE_P(Both, StoragePermsTest, ::testing::ValuesIn(kCases));

TEST(StoragePermsFormatTest, WritesOnlyTheSetFieldsAtTheIndent) {
  std::string out;
  AppendStoragePermsXml(out, StoragePerms{}, 4);
  EXPECT_EQ(out, "");
  AppendStoragePermsXml(out, StoragePerms{0700, std::nullopt, 5}, 4);
  EXPECT_EQ(out, "    <permissions>\n      <mode>0700</mode>\n      <group>5</group>\n    </permissions>\n");
}

}  // namespace
}  // namespace vsecret
