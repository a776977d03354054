// LUKS2 keyslot add and removal in place: both metadata copies rewritten with seqid + 1 and valid
// checksums, the JSON of what vsecret does not model kept, the new keyslot bound to the volume
// key digest, removed keyslots' areas wiped, and cryptsetup accepting the result (when it is
// installed).
#include "volume/luks2_keyslot_edit.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "test_util.h"
#include "volume/luks2_format.h"
#include "volume/luks2_header.h"
#include "volume/luks2_keyslots.h"

namespace vsecret::volume {
namespace {

using vsecret::test::ReadFileOrEmpty;
using vsecret::test::TempDir;
using vsecret::test::WriteFileRaw;

int Sh(const std::string& cmd, std::string* out = nullptr) {
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  std::size_t n;
  std::string text;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  const int status = ::pclose(p);
  if (out) *out = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Luks2FormatOptions Small() {
  Luks2FormatOptions o = DefaultLuks2FormatOptions();
  o.argon2_time = 1;
  o.argon2_memory = 32768;
  o.argon2_cpus = 1;
  return o;
}

SecretBytes Pass(std::string_view s) { return SecretBytes(s); }

class Luks2KeyslotEditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.path() + "/v.img";
    Result<std::unique_ptr<BlockFile>> f = BlockFile::Create(path_, 0600);
    ASSERT_TRUE(f) << f.error().message();
    file_ = std::move(*f);
    ASSERT_TRUE(file_->Resize((16u << 20) + (1u << 20)));
    Result<UnlockedLuks2> luks = FormatLuks2(*file_, Pass("old"), Small());
    ASSERT_TRUE(luks) << luks.error().message();
    luks_ = std::move(*luks);
  }
  bool Opens(std::string_view pass, int* slot = nullptr) {
    Result<Luks2Header> h = ReadLuks2Header(*file_);
    EXPECT_TRUE(h) << h.error().message();
    if (!h) return false;
    Result<UnlockedLuks2> u = UnlockLuks2(*file_, *h, Pass(pass));
    if (!u) return false;
    EXPECT_EQ(u->volume_key.AsStringView(), luks_.volume_key.AsStringView());
    if (slot) *slot = u->keyslot;
    return true;
  }
  bool HaveCryptsetup() { return Sh("command -v cryptsetup") == 0; }
  int CryptsetupOpens(const std::string& pass) {
    WriteFileRaw(dir_.path() + "/key", pass);
    return Sh("cryptsetup open --test-passphrase --key-file " + dir_.path() + "/key " + path_);
  }

  TempDir dir_;
  std::string path_;
  std::unique_ptr<BlockFile> file_;
  UnlockedLuks2 luks_;
};

TEST_F(Luks2KeyslotEditTest, AddWritesBothCopiesWithNextSeqid) {
  const std::uint64_t seqid = luks_.header.seqid;
  Result<int> added = AddLuks2Keyslot(*file_, luks_, Pass("new"), std::nullopt, Small());
  ASSERT_TRUE(added) << added.error().message();
  EXPECT_EQ(*added, 1);
  Result<Luks2Header> h = ReadLuks2Header(*file_);
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_TRUE(h->primary_valid);
  EXPECT_TRUE(h->secondary_valid);
  EXPECT_EQ(h->seqid, seqid + 1);
  EXPECT_EQ(*h, luks_.header);
  ASSERT_EQ(h->keyslots.size(), 2u);
  const Luks2Keyslot& k = h->keyslots[1];
  EXPECT_EQ(k.id, 1);
  EXPECT_EQ(k.kdf.type, "argon2id");
  EXPECT_EQ(k.kdf.memory, 32768u);
  EXPECT_GE(k.area_offset, h->keyslots[0].area_offset + h->keyslots[0].area_size);
  ASSERT_EQ(h->digests.size(), 1u);
  EXPECT_EQ(h->digests[0].keyslots, (std::vector<int>{0, 1}));
  int slot = -1;
  EXPECT_TRUE(Opens("new", &slot));
  EXPECT_EQ(slot, 1);
  EXPECT_TRUE(Opens("old", &slot));
  EXPECT_EQ(slot, 0);
  EXPECT_FALSE(Opens("other"));
  if (HaveCryptsetup()) {
    EXPECT_EQ(CryptsetupOpens("new"), 0);
    EXPECT_EQ(CryptsetupOpens("old"), 0);
    EXPECT_NE(CryptsetupOpens("other"), 0);
  }
}

TEST_F(Luks2KeyslotEditTest, AddAtChosenIdAndRefusesTakenOrInvalidIds) {
  Result<int> added = AddLuks2Keyslot(*file_, luks_, Pass("five"), 5, Small());
  ASSERT_TRUE(added) << added.error().message();
  EXPECT_EQ(*added, 5);
  Result<int> taken = AddLuks2Keyslot(*file_, luks_, Pass("again"), 5, Small());
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().message(), "Requested operation is not valid: keyslot 5 is already active");
  Result<int> bad = AddLuks2Keyslot(*file_, luks_, Pass("again"), 32, Small());
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "Requested operation is not valid: keyslot 32 does not exist (0-31)");
  int slot = -1;
  EXPECT_TRUE(Opens("five", &slot));
  EXPECT_EQ(slot, 5);
}

TEST_F(Luks2KeyslotEditTest, RemoveDropsKeyslotAndDigestReferenceAndWipesArea) {
  ASSERT_TRUE(AddLuks2Keyslot(*file_, luks_, Pass("new"), std::nullopt, Small()));
  const Luks2Keyslot old = luks_.header.keyslots[0];
  const std::string before = ReadFileOrEmpty(path_).substr(old.area_offset, old.area_size);
  const std::uint64_t seqid = luks_.header.seqid;
  Luks2Header header = luks_.header;
  ASSERT_TRUE(RemoveLuks2Keyslot(*file_, header, 0));
  Result<Luks2Header> h = ReadLuks2Header(*file_);
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_EQ(*h, header);
  EXPECT_EQ(h->seqid, seqid + 1);
  EXPECT_TRUE(h->primary_valid && h->secondary_valid);
  ASSERT_EQ(h->keyslots.size(), 1u);
  EXPECT_EQ(h->keyslots[0].id, 1);
  EXPECT_EQ(h->digests[0].keyslots, (std::vector<int>{1}));
  const std::string after = ReadFileOrEmpty(path_).substr(old.area_offset, old.area_size);
  EXPECT_NE(before, after);
  EXPECT_FALSE(Opens("old"));
  EXPECT_TRUE(Opens("new"));
  Result<void> last = RemoveLuks2Keyslot(*file_, header, 1);
  ASSERT_FALSE(last);
  EXPECT_EQ(last.error().message(),
            "Requested operation is not valid: cannot remove the last active keyslot");
  Result<void> gone = RemoveLuks2Keyslot(*file_, header, 0);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().message(), "Requested operation is not valid: keyslot 0 is not active");
  // The freed area is where the next keyslot goes.
  UnlockedLuks2 now{header, luks_.volume_key.Clone(), 1};
  Result<int> again = AddLuks2Keyslot(*file_, now, Pass("third"), std::nullopt, Small());
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, 0);
  EXPECT_EQ(now.header.keyslots[0].area_offset, old.area_offset);
  if (HaveCryptsetup()) {
    EXPECT_EQ(CryptsetupOpens("third"), 0);
    EXPECT_NE(CryptsetupOpens("old"), 0);
    std::string out;
    ASSERT_EQ(Sh("cryptsetup luksDump " + path_, &out), 0) << out;
    EXPECT_NE(out.find("  0: luks2"), std::string::npos) << out;
    EXPECT_NE(out.find("  1: luks2"), std::string::npos) << out;
  }
}

TEST_F(Luks2KeyslotEditTest, KeepsJsonItDoesNotModelAndFollowsPbkdf2Keyslots) {
  if (!HaveCryptsetup()) GTEST_SKIP() << "cryptsetup is not installed";
  file_.reset();
  std::string out;
  ASSERT_EQ(Sh("rm -f " + path_ + " && truncate -s 17M " + path_ +
                   " && printf pass | cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 "
                   "--pbkdf-force-iterations 1000 --label mylabel --key-file - " +
                   path_ + " && cryptsetup config --priority prefer --key-slot 0 " + path_,
               &out),
            0)
      << out;
  Result<std::unique_ptr<BlockFile>> f = BlockFile::Open(path_, BlockFile::Mode::kReadWrite);
  ASSERT_TRUE(f);
  file_ = std::move(*f);
  Result<Luks2Header> h = ReadLuks2Header(*file_);
  ASSERT_TRUE(h) << h.error().message();
  Result<UnlockedLuks2> u = UnlockLuks2(*file_, *h, Pass("pass"));
  ASSERT_TRUE(u) << u.error().message();
  Result<int> added = AddLuks2Keyslot(*file_, *u, Pass("second"), std::nullopt, Small());
  ASSERT_TRUE(added) << added.error().message();
  EXPECT_EQ(u->header.keyslots[1].kdf.type, "pbkdf2");
  EXPECT_EQ(u->header.keyslots[1].kdf.iterations, 1000u);
  EXPECT_EQ(u->header.label, "mylabel");
  EXPECT_EQ(u->header.keyslots[0].priority, std::optional<int>(2));
  EXPECT_EQ(CryptsetupOpens("second"), 0);
  ASSERT_EQ(Sh("cryptsetup luksDump " + path_, &out), 0) << out;
  EXPECT_NE(out.find("mylabel"), std::string::npos) << out;
  EXPECT_NE(out.find("Priority:   prefer"), std::string::npos) << out;
}

TEST_F(Luks2KeyslotEditTest, WipeFreeAreasLeavesKeyslotsAlone) {
  const Luks2Keyslot k = luks_.header.keyslots[0];
  const std::uint64_t free_at = k.area_offset + k.area_size;
  ASSERT_EQ(FindLuks2Area(luks_.header, 4096), std::optional<std::uint64_t>(free_at));
  const std::vector<std::uint8_t> zeros(4096, 0);
  ASSERT_TRUE(file_->WriteAt(free_at, zeros, "test"));
  ASSERT_TRUE(WipeLuks2FreeAreas(*file_, luks_.header));
  const std::string file = ReadFileOrEmpty(path_);
  EXPECT_NE(file.substr(free_at, 4096), std::string(4096, '\0'));
  EXPECT_TRUE(Opens("old"));
  EXPECT_EQ(FindLuks2Area(luks_.header, (16u << 20) - free_at + 1), std::nullopt);
}

}  // namespace
}  // namespace vsecret::volume
