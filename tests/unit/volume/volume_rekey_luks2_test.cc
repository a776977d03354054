// Re-keying and extra passphrases on LUKS2 volumes through StorageDriver: the journal and its
// recovery (volume_rekey.cc) over the LUKS2 keyslot editor.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "driver/secret_driver.h"
#include "test_util.h"
#include "volume/luks2_header.h"
#include "volume/luks2_keyslot_edit.h"
#include "volume/luks2_keyslots.h"
#include "volume/storage_driver.h"
#include "volume/volume_rekey.h"
#include "volume_test_support.h"

namespace vsecret::volume {
namespace {

using vsecret::test::ErrorOf;
using vsecret::test::FileExists;
using vsecret::test::ReadFileOrEmpty;
using vsecret::test::TempDir;
using vsecret::test::VolumeDriverTest;
using vsecret::test::WriteFileRaw;

constexpr char kUuid[] = "0f0f0f0f-1111-2222-3333-444444444444";

SecretBytes Bytes(std::string_view s) { return SecretBytes(s); }

class VolumeRekeyLuks2Test : public VolumeDriverTest<> {
 protected:
  void SetUp() override {
    ::setenv("VSECRET_LUKS2_ARGON2", "1,32768,1", 1);
    OpenDrivers();
    DefineVolumeSecret(kUuid, pool_dir_ + "/v1");
    ASSERT_TRUE(secrets_->SetValue(Caller{}, *Uuid::Parse(kUuid), Bytes("old-pass"), 0).has_value());
    auto vol =
        storage_->CreateVolume("p1",
                               "<volume><name>v1</name><capacity unit='K'>64</capacity><target><format "
                               "type='raw'/><encryption format='luks2'><secret type='passphrase' uuid='" +
                                   std::string(kUuid) + "'/></encryption></target></volume>",
                               nullptr);
    ASSERT_TRUE(vol.has_value()) << ErrorOf(vol);
    vol_ = *vol;
  }
  void TearDown() override { ::unsetenv("VSECRET_LUKS2_ARGON2"); }

  Luks2Header Header() {
    auto file = BlockFile::Open(vol_.path, BlockFile::Mode::kReadOnly);
    auto h = ReadLuks2Header(**file);
    EXPECT_TRUE(h.has_value()) << ErrorOf(h);
    return h ? *h : Luks2Header{};
  }
  // The keyslot passphrase opens, -1 when none.
  int Opens(std::string_view passphrase) {
    auto file = BlockFile::Open(vol_.path, BlockFile::Mode::kReadOnly);
    auto u = UnlockLuks2(**file, Header(), Bytes(passphrase));
    return u ? u->keyslot : -1;
  }
  std::string SecretValue() {
    auto v = secrets_->GetValueForConsumer(*Uuid::Parse(kUuid), UsageType::kVolume);
    return v ? std::string(v->AsStringView()) : "(error)";
  }
  void WriteJournal(int old_slot, int new_slot) {
    RekeyJournal j;
    j.secret = *Uuid::Parse(kUuid);
    j.old_slot = old_slot;
    j.new_slot = new_slot;
    j.luks_uuid = Header().uuid;
    WriteFileRaw(storage_->RekeyJournalPath(vol_), FormatRekeyJournal(j));
  }

  VolumeRef vol_;
};

TEST_F(VolumeRekeyLuks2Test, RekeyMovesVolumeAndSecretToTheNewValue) {
  RekeyRequest request;
  request.new_value = Bytes("new-pass");
  auto r = storage_->RekeyVolume(vol_, std::move(request));
  ASSERT_TRUE(r.has_value()) << ErrorOf(r);
  EXPECT_EQ(r->old_slot, 0);
  EXPECT_EQ(r->new_slot, 1);
  EXPECT_EQ(SecretValue(), "new-pass");
  EXPECT_EQ(Opens("new-pass"), 1);
  EXPECT_EQ(Opens("old-pass"), -1);
  const Luks2Header h = Header();
  ASSERT_EQ(h.keyslots.size(), 1u);
  EXPECT_EQ(h.keyslots[0].kdf.type, "argon2id");
  EXPECT_EQ(h.keyslots[0].kdf.memory, 32768u);
  EXPECT_FALSE(FileExists(storage_->RekeyJournalPath(vol_)));
  auto image = storage_->OpenImage(vol_);
  EXPECT_TRUE(image.has_value()) << ErrorOf(image);
}

TEST_F(VolumeRekeyLuks2Test, RecoveryRollsBackAndWipesANewKeyslotNeverReferenced) {
  // The new keyslot's material is on disk, the headers that would reference it are not.
  const std::string headers = ReadFileOrEmpty(vol_.path).substr(0, 2 * Header().hdr_size);
  std::uint64_t area = 0;
  {
    auto file = BlockFile::Open(vol_.path, BlockFile::Mode::kReadWrite);
    auto u = UnlockLuks2(**file, Header(), Bytes("old-pass"));
    ASSERT_TRUE(u.has_value());
    auto added = AddLuks2Keyslot(**file, *u, Bytes("new-pass"), 1, DefaultLuks2FormatOptions());
    ASSERT_TRUE(added.has_value()) << ErrorOf(added);
    area = u->header.keyslots[1].area_offset;
    ASSERT_TRUE((*file)->WriteAt(0, {reinterpret_cast<const std::uint8_t*>(headers.data()), headers.size()},
                                 "headers"));
  }
  const std::string written = ReadFileOrEmpty(vol_.path).substr(area, 4096);
  WriteJournal(0, 1);
  auto r = storage_->RecoverRekey(vol_);
  ASSERT_TRUE(r.has_value()) << ErrorOf(r);
  EXPECT_EQ(*r, RekeyRecovery::kRolledBack);
  EXPECT_NE(ReadFileOrEmpty(vol_.path).substr(area, 4096), written);
  EXPECT_FALSE(FileExists(storage_->RekeyJournalPath(vol_)));
  EXPECT_EQ(Opens("old-pass"), 0);
  EXPECT_EQ(Header().keyslots.size(), 1u);
}

TEST_F(VolumeRekeyLuks2Test, RecoveryCompletesAfterTheSecretChanged) {
  ASSERT_TRUE(storage_->AddVolumeKey(vol_, Bytes("new-pass"), 1).has_value());
  ASSERT_TRUE(secrets_->SetValue(Caller{}, *Uuid::Parse(kUuid), Bytes("new-pass"), 0).has_value());
  WriteJournal(0, 1);
  auto r = storage_->RecoverRekey(vol_);
  ASSERT_TRUE(r.has_value()) << ErrorOf(r);
  EXPECT_EQ(*r, RekeyRecovery::kCompleted);
  EXPECT_EQ(Opens("old-pass"), -1);
  EXPECT_EQ(Opens("new-pass"), 1);
}

TEST_F(VolumeRekeyLuks2Test, KeyAddAndRemoveUseLuks2Ids) {
  auto added = storage_->AddVolumeKey(vol_, Bytes("far"), 31);
  ASSERT_TRUE(added.has_value()) << ErrorOf(added);
  EXPECT_EQ(*added, 31);
  EXPECT_EQ(Opens("far"), 31);
  EXPECT_EQ(ErrorOf(storage_->AddVolumeKey(vol_, Bytes("x"), 32)),
            "Requested operation is not valid: keyslot 32 does not exist (0-31)");
  EXPECT_EQ(ErrorOf(storage_->RemoveVolumeKey(vol_, 32, nullptr, false)),
            "Requested operation is not valid: keyslot 32 does not exist (0-31)");
  EXPECT_EQ(ErrorOf(storage_->RemoveVolumeKey(vol_, 0, nullptr, false)),
            "Requested operation is not valid: keyslot 0 holds the value of secret " + std::string(kUuid) +
                ": removing it would lock the volume's users out (use --force)");
  const SecretBytes far = Bytes("far");
  auto removed = storage_->RemoveVolumeKey(vol_, std::nullopt, &far, false);
  ASSERT_TRUE(removed.has_value()) << ErrorOf(removed);
  EXPECT_EQ(*removed, 31);
  EXPECT_EQ(Opens("far"), -1);
  EXPECT_EQ(Opens("old-pass"), 0);
  EXPECT_EQ(ErrorOf(storage_->RemoveVolumeKey(vol_, 0, nullptr, true)),
            "Requested operation is not valid: keyslot 0 is the last active keyslot of '" + vol_.path +
                "': removing it would make the volume unreadable");
}

}  // namespace
}  // namespace vsecret::volume
