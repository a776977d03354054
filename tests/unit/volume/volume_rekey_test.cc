// Re-keying (StorageDriver::RekeyVolume), extra passphrases (AddVolumeKey, RemoveVolumeKey), the
// re-key journal and the recovery of every state an interrupted re-key can leave.
#include "volume/volume_rekey.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <vector>

#include "driver/secret_driver.h"
#include "test_util.h"
#include "volume/luks_image.h"
#include "volume/qcow2_image.h"
#include "volume/storage_driver.h"
#include "volume_test_support.h"

namespace vsecret::volume {
namespace {

using vsecret::test::ErrorOf;
using vsecret::test::FileExists;
using vsecret::test::TempDir;
using vsecret::test::VolumeDriverTest;
using vsecret::test::WriteFileRaw;

constexpr char kUuid[] = "0b0b0b0b-1111-2222-3333-444444444444";

SecretBytes Bytes(std::string_view s) { return SecretBytes(s); }

class VolumeRekeyTest : public VolumeDriverTest<> {
 protected:
  void SetUp() override {
    OpenDrivers();
    DefineVolumeSecret(kUuid, pool_dir_ + "/v1");
    SetSecret("old-pass");
  }

  void SetSecret(std::string_view value) {
    ASSERT_TRUE(secrets_->SetValue(Caller{}, *Uuid::Parse(kUuid), Bytes(value), 0).has_value());
  }
  std::string SecretValue() {
    auto v = secrets_->GetValueForConsumer(*Uuid::Parse(kUuid), UsageType::kVolume);
    return v ? std::string(v->AsStringView()) : "(error)";
  }

  VolumeRef Create(const std::string& format = "raw") {
    auto vol =
        storage_->CreateVolume("p1",
                               "<volume><name>v1</name><capacity unit='K'>64</capacity><target><format "
                               "type='" +
                                   format + "'/><encryption format='luks'><secret type='passphrase' uuid='" +
                                   kUuid + "'/></encryption></target></volume>",
                               nullptr);
    EXPECT_TRUE(vol.has_value()) << ErrorOf(vol);
    return *vol;
  }

  // Base of the LUKS header in the volume file (0 for raw, the FDE cluster for qcow2).
  std::uint64_t Base(const VolumeRef& vol) {
    auto file = BlockFile::Open(vol.path, BlockFile::Mode::kReadOnly);
    auto info = ProbeQcow2(**file);
    return (info && *info) ? (*info)->luks_offset : 0;
  }
  LuksHeader Header(const VolumeRef& vol) {
    auto file = BlockFile::Open(vol.path, BlockFile::Mode::kReadOnly);
    auto h = ReadLuksHeader(**file, Base(vol));
    EXPECT_TRUE(h.has_value()) << ErrorOf(h);
    return h ? *h : LuksHeader{};
  }
  // The slot passphrase opens, -1 when none.
  int Opens(const VolumeRef& vol, std::string_view passphrase) {
    auto file = BlockFile::Open(vol.path, BlockFile::Mode::kReadOnly);
    auto u = UnlockLuks(**file, Base(vol), Header(vol), Bytes(passphrase));
    return u ? u->slot : -1;
  }
  int ActiveCount(const VolumeRef& vol) {
    int n = 0;
    for (const auto& s : Header(vol).slots) n += s.active;
    return n;
  }
  // Adds passphrase in slot (unlocking with `with`) directly in the file, as an interrupted
  // re-key leaves it.
  void AddSlotDirect(const VolumeRef& vol, std::string_view with, std::string_view passphrase, int slot) {
    auto file = BlockFile::Open(vol.path, BlockFile::Mode::kReadWrite);
    auto u = UnlockLuks(**file, Base(vol), Header(vol), Bytes(with));
    ASSERT_TRUE(u.has_value());
    ASSERT_TRUE(AddKeySlot(**file, Base(vol), *u, Bytes(passphrase), slot, options_.kdf).has_value());
  }
  void WriteJournal(const VolumeRef& vol, int old_slot, int new_slot, bool set_secret = true) {
    RekeyJournal j;
    j.secret = *Uuid::Parse(kUuid);
    j.old_slot = old_slot;
    j.new_slot = new_slot;
    j.set_secret = set_secret;
    j.luks_uuid = Header(vol).uuid;
    WriteFileRaw(storage_->RekeyJournalPath(vol), FormatRekeyJournal(j));
  }
  std::vector<std::uint8_t> SlotMaterial(const VolumeRef& vol, int slot) {
    const LuksHeader h = Header(vol);
    std::vector<std::uint8_t> out(static_cast<std::size_t>(h.key_bytes) * kLuksStripes);
    auto file = BlockFile::Open(vol.path, BlockFile::Mode::kReadOnly);
    EXPECT_TRUE(
        (*file)
            ->ReadAt(Base(vol) + static_cast<std::uint64_t>(h.slots[slot].key_offset) * kLuksSectorSize, out,
                     "material")
            .has_value());
    return out;
  }
  // The volume's plaintext opens through the driver (with the secret's value) and holds data.
  void ExpectData(const VolumeRef& vol, const std::string& data) {
    auto image = storage_->OpenImage(vol);
    ASSERT_TRUE(image.has_value()) << ErrorOf(image);
    std::string got(data.size(), '\0');
    ASSERT_TRUE((*image)->Read(0, {reinterpret_cast<std::uint8_t*>(got.data()), got.size()}).has_value());
    EXPECT_EQ(got, data);
  }
  void PutData(const VolumeRef& vol, const std::string& data) {
    auto image = storage_->OpenImage(vol);
    ASSERT_TRUE(image.has_value()) << ErrorOf(image);
    ASSERT_TRUE(
        (*image)->Write(0, {reinterpret_cast<const std::uint8_t*>(data.data()), data.size()}).has_value());
    ASSERT_TRUE((*image)->Flush().has_value());
  }
};

RekeyRequest NewValue(std::string_view v) {
  RekeyRequest r;
  r.new_value = Bytes(v);
  return r;
}

TEST(RekeyJournalTest, RoundTripsAndRefusesDamage) {
  RekeyJournal j;
  j.secret = *Uuid::Parse(kUuid);
  j.old_slot = 0;
  j.new_slot = 3;
  j.set_secret = false;
  j.luks_uuid = "c0ffee00-1111-2222-3333-444444444444";
  const std::string text = FormatRekeyJournal(j);
  EXPECT_EQ(text.find("pass"), std::string::npos);
  auto back = ParseRekeyJournal(text, "/j");
  ASSERT_TRUE(back.has_value()) << ErrorOf(back);
  EXPECT_EQ(*back, j);
  EXPECT_EQ(ErrorOf(ParseRekeyJournal("", "/j")),
            "internal error: cannot parse re-key journal '/j': empty file");
  EXPECT_EQ(ErrorOf(ParseRekeyJournal(text.substr(0, text.size() - 1), "/j")),
            "internal error: cannot parse re-key journal '/j': truncated line");
  std::string bad_slot = text;
  bad_slot.replace(bad_slot.find("new-slot=3"), 10, "new-slot=32");
  EXPECT_EQ(ErrorOf(ParseRekeyJournal(bad_slot, "/j")),
            "internal error: cannot parse re-key journal '/j': bad new-slot");
  std::string same = text;
  same.replace(same.find("new-slot=3"), 10, "new-slot=0");
  EXPECT_EQ(ErrorOf(ParseRekeyJournal(same, "/j")),
            "internal error: cannot parse re-key journal '/j': old-slot and new-slot are the same");
  EXPECT_EQ(ErrorOf(ParseRekeyJournal("vsecret-rekey 1\nsecret=" + std::string(kUuid) + "\n", "/j")),
            "internal error: cannot parse re-key journal '/j': missing field");
  EXPECT_EQ(ErrorOf(ParseRekeyJournal("something else\n", "/j")),
            "internal error: cannot parse re-key journal '/j': not a re-key journal");
}

TEST_F(VolumeRekeyTest, RekeyMovesVolumeAndSecretToTheNewValue) {
  const VolumeRef vol = Create();
  PutData(vol, "hello, guest");
  auto done = storage_->RekeyVolume(vol, NewValue("new-pass"));
  ASSERT_TRUE(done.has_value()) << ErrorOf(done);
  EXPECT_EQ(done->old_slot, 0);
  EXPECT_EQ(done->new_slot, 1);
  EXPECT_EQ(SecretValue(), "new-pass");
  EXPECT_EQ(Opens(vol, "new-pass"), 1);
  EXPECT_EQ(Opens(vol, "old-pass"), -1);
  EXPECT_EQ(ActiveCount(vol), 1);
  EXPECT_FALSE(FileExists(storage_->RekeyJournalPath(vol)));
  ExpectData(vol, "hello, guest");
  // Again, from the new slot back into slot 0.
  auto again = storage_->RekeyVolume(vol, NewValue("third"));
  ASSERT_TRUE(again.has_value()) << ErrorOf(again);
  EXPECT_EQ(again->new_slot, 0);
  EXPECT_EQ(Opens(vol, "third"), 0);
  ExpectData(vol, "hello, guest");
}

TEST_F(VolumeRekeyTest, RekeyQcow2) {
  const VolumeRef vol = Create("qcow2");
  PutData(vol, "qcow2 data");
  auto done = storage_->RekeyVolume(vol, NewValue("new-pass"));
  ASSERT_TRUE(done.has_value()) << ErrorOf(done);
  EXPECT_EQ(Opens(vol, "new-pass"), 1);
  EXPECT_EQ(Opens(vol, "old-pass"), -1);
  ExpectData(vol, "qcow2 data");
}

TEST_F(VolumeRekeyTest, RekeyRefusesBadRequestsAndChangesNothing) {
  const VolumeRef vol = Create();
  EXPECT_EQ(ErrorOf(storage_->RekeyVolume(vol, NewValue("old-pass"))),
            "Requested operation is not valid: the new value is the secret's current value");
  EXPECT_EQ(
      ErrorOf(storage_->RekeyVolume(vol, NewValue(std::string_view("a\0b", 3)))),
      "Invalid secret: the new value is not valid UTF-8 or contains a NUL byte, so qemu could not use it as "
      "a LUKS passphrase");
  EXPECT_EQ(ErrorOf(storage_->RekeyVolume(vol, RekeyRequest{})), "invalid argument: no new value given");
  SetSecret("changed-behind");
  EXPECT_EQ(
      ErrorOf(storage_->RekeyVolume(vol, NewValue("new-pass"))),
      "operation failed: the secret's value does not open volume '" + vol.path +
          "' (changed by secret-set-value? give the passphrase that still opens it with --old-value-file)");
  EXPECT_EQ(SecretValue(), "changed-behind");
  EXPECT_EQ(Opens(vol, "old-pass"), 0);
  EXPECT_EQ(ActiveCount(vol), 1);
  EXPECT_FALSE(FileExists(storage_->RekeyJournalPath(vol)));
  // A plain volume has no key slots.
  auto plain = storage_->CreateVolume(
      "p1", "<volume><name>plain</name><capacity unit='K'>64</capacity></volume>", nullptr);
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(ErrorOf(storage_->RekeyVolume(*plain, NewValue("x"))),
            "Requested operation is not valid: storage volume '" + plain->path + "' is not encrypted");
}

TEST_F(VolumeRekeyTest, NoFreeSlotIsRefused) {
  const VolumeRef vol = Create();
  for (int i = 1; i < 8; ++i) {
    ASSERT_TRUE(storage_->AddVolumeKey(vol, Bytes("extra" + std::to_string(i)), std::nullopt).has_value());
  }
  EXPECT_EQ(
      ErrorOf(storage_->RekeyVolume(vol, NewValue("new-pass"))),
      "Requested operation is not valid: no free keyslot for the new value (remove one with vol-key-remove)");
  EXPECT_EQ(SecretValue(), "old-pass");
  EXPECT_FALSE(FileExists(storage_->RekeyJournalPath(vol)));
}

TEST_F(VolumeRekeyTest, OldValueAdoptsTheSecretsCurrentValue) {
  const VolumeRef vol = Create();
  PutData(vol, "adopted");
  SetSecret("set-by-user");  // secret-set-value ran: the guest could not start now
  RekeyRequest r;
  r.old_value = Bytes("wrong");
  EXPECT_EQ(ErrorOf(storage_->RekeyVolume(vol, std::move(r))),
            "operation failed: the old value given does not open volume '" + vol.path + "'");
  r = RekeyRequest{};
  r.old_value = Bytes("old-pass");
  r.new_value = Bytes("x");
  EXPECT_EQ(ErrorOf(storage_->RekeyVolume(vol, std::move(r))),
            "invalid argument: with an old value the new one is the secret's current value");
  r = RekeyRequest{};
  r.old_value = Bytes("old-pass");
  auto done = storage_->RekeyVolume(vol, std::move(r));
  ASSERT_TRUE(done.has_value()) << ErrorOf(done);
  EXPECT_EQ(SecretValue(), "set-by-user");
  EXPECT_EQ(Opens(vol, "set-by-user"), 1);
  EXPECT_EQ(Opens(vol, "old-pass"), -1);
  ExpectData(vol, "adopted");
  r = RekeyRequest{};
  r.old_value = Bytes("old-pass");
  EXPECT_EQ(ErrorOf(storage_->RekeyVolume(vol, std::move(r))),
            "operation failed: the old value given does not open volume '" + vol.path + "'");
}

TEST_F(VolumeRekeyTest, RecoveryRollsBackANewSlotNeverEnabled) {
  const VolumeRef vol = Create();
  const auto before = SlotMaterial(vol, 1);
  // Material of slot 1 written, header not yet: simulate by adding then disabling in the header only.
  AddSlotDirect(vol, "old-pass", "new-pass", 1);
  const auto written = SlotMaterial(vol, 1);
  {
    auto file = BlockFile::Open(vol.path, BlockFile::Mode::kReadWrite);
    LuksHeader h = Header(vol);
    h.slots[1].active = false;
    const auto bytes = SerializeLuksHeader(h);
    ASSERT_TRUE((*file)->WriteAt(0, bytes, "header").has_value());
  }
  WriteJournal(vol, 0, 1);
  auto r = storage_->RecoverRekey(vol);
  ASSERT_TRUE(r.has_value()) << ErrorOf(r);
  EXPECT_EQ(*r, RekeyRecovery::kRolledBack);
  EXPECT_NE(SlotMaterial(vol, 1), written);  // wiped
  EXPECT_NE(SlotMaterial(vol, 1), before);
  EXPECT_FALSE(FileExists(storage_->RekeyJournalPath(vol)));
  EXPECT_EQ(Opens(vol, "old-pass"), 0);
  EXPECT_EQ(ActiveCount(vol), 1);
  EXPECT_EQ(*storage_->RecoverRekey(vol), RekeyRecovery::kNone);
}

TEST_F(VolumeRekeyTest, RecoveryRollsBackBeforeTheSecretChanged) {
  const VolumeRef vol = Create();
  AddSlotDirect(vol, "old-pass", "new-pass", 1);
  WriteJournal(vol, 0, 1);
  auto r = storage_->RecoverRekey(vol);
  ASSERT_TRUE(r.has_value()) << ErrorOf(r);
  EXPECT_EQ(*r, RekeyRecovery::kRolledBack);
  EXPECT_EQ(Opens(vol, "old-pass"), 0);
  EXPECT_EQ(Opens(vol, "new-pass"), -1);
  EXPECT_EQ(SecretValue(), "old-pass");
  EXPECT_FALSE(FileExists(storage_->RekeyJournalPath(vol)));
}

TEST_F(VolumeRekeyTest, RecoveryCompletesAfterTheSecretChanged) {
  const VolumeRef vol = Create();
  PutData(vol, "kept");
  AddSlotDirect(vol, "old-pass", "new-pass", 1);
  WriteJournal(vol, 0, 1);
  SetSecret("new-pass");
  // Any opening of the volume finishes the re-key first.
  ExpectData(vol, "kept");
  EXPECT_FALSE(FileExists(storage_->RekeyJournalPath(vol)));
  EXPECT_EQ(Opens(vol, "old-pass"), -1);
  EXPECT_EQ(Opens(vol, "new-pass"), 1);
}

TEST_F(VolumeRekeyTest, RecoveryWipesAnOldSlotWhoseRemovalWasCut) {
  const VolumeRef vol = Create();
  AddSlotDirect(vol, "old-pass", "new-pass", 1);
  const auto old_material = SlotMaterial(vol, 0);
  {
    // Slot 0 disabled in the header, its material still there.
    auto file = BlockFile::Open(vol.path, BlockFile::Mode::kReadWrite);
    LuksHeader h = Header(vol);
    h.slots[0].active = false;
    ASSERT_TRUE((*file)->WriteAt(0, SerializeLuksHeader(h), "header").has_value());
  }
  WriteJournal(vol, 0, 1);
  SetSecret("new-pass");
  auto r = storage_->RecoverRekey(vol);
  ASSERT_TRUE(r.has_value()) << ErrorOf(r);
  EXPECT_EQ(*r, RekeyRecovery::kCompleted);
  EXPECT_NE(SlotMaterial(vol, 0), old_material);
  EXPECT_EQ(Opens(vol, "new-pass"), 1);
}

TEST_F(VolumeRekeyTest, RecoveryRefusesWhenTheSecretOpensNeitherSlot) {
  const VolumeRef vol = Create();
  AddSlotDirect(vol, "old-pass", "new-pass", 1);
  WriteJournal(vol, 0, 1);
  SetSecret("someone-else");
  EXPECT_EQ(ErrorOf(storage_->RecoverRekey(vol)),
            "operation failed: cannot finish the interrupted re-key of '" + vol.path + "' recorded in '" +
                storage_->RekeyJournalPath(vol) + "': the secret's value opens neither keyslot 0 nor 1");
  EXPECT_TRUE(FileExists(storage_->RekeyJournalPath(vol)));
  EXPECT_EQ(ActiveCount(vol), 2);
  // Setting the secret back to a value that opens a slot lets the next command finish.
  SetSecret("new-pass");
  EXPECT_EQ(*storage_->RecoverRekey(vol), RekeyRecovery::kCompleted);
  EXPECT_EQ(ActiveCount(vol), 1);
}

TEST_F(VolumeRekeyTest, JournalOfAnotherHeaderIsDiscarded) {
  const VolumeRef vol = Create();
  AddSlotDirect(vol, "old-pass", "new-pass", 1);
  RekeyJournal j;
  j.secret = *Uuid::Parse(kUuid);
  j.old_slot = 0;
  j.new_slot = 1;
  j.luks_uuid = "00000000-0000-0000-0000-000000000000";
  WriteFileRaw(storage_->RekeyJournalPath(vol), FormatRekeyJournal(j));
  EXPECT_EQ(*storage_->RecoverRekey(vol), RekeyRecovery::kNone);
  EXPECT_FALSE(FileExists(storage_->RekeyJournalPath(vol)));
  EXPECT_EQ(ActiveCount(vol), 2);
}

TEST_F(VolumeRekeyTest, BrokenJournalIsAnErrorNamingIt) {
  const VolumeRef vol = Create();
  WriteFileRaw(storage_->RekeyJournalPath(vol), "garbage\n");
  EXPECT_EQ(ErrorOf(storage_->RekeyVolume(vol, NewValue("new-pass"))),
            "internal error: cannot parse re-key journal '" + storage_->RekeyJournalPath(vol) +
                "': not a re-key journal");
  EXPECT_EQ(SecretValue(), "old-pass");
}

TEST_F(VolumeRekeyTest, JournalSurvivesRefreshAndGoesWithTheVolume) {
  const VolumeRef vol = Create();
  AddSlotDirect(vol, "old-pass", "new-pass", 1);
  WriteJournal(vol, 0, 1);
  ASSERT_TRUE(storage_->RefreshPool("p1").has_value());
  EXPECT_TRUE(FileExists(storage_->RekeyJournalPath(vol)));
  auto list = storage_->ListVolumes("p1");
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ(list->size(), 1u);
  ASSERT_TRUE(storage_->DeleteVolume(vol).has_value());
  EXPECT_FALSE(FileExists(storage_->RekeyJournalPath(vol)));
}

TEST_F(VolumeRekeyTest, KeyAddAndRemove) {
  const VolumeRef vol = Create();
  auto added = storage_->AddVolumeKey(vol, Bytes("extra"), std::nullopt);
  ASSERT_TRUE(added.has_value()) << ErrorOf(added);
  EXPECT_EQ(*added, 1);
  EXPECT_EQ(Opens(vol, "extra"), 1);
  EXPECT_EQ(Opens(vol, "old-pass"), 0);
  EXPECT_EQ(ErrorOf(storage_->AddVolumeKey(vol, Bytes("extra"), std::nullopt)),
            "Requested operation is not valid: the passphrase opens keyslot 1 of '" + vol.path + "' already");
  EXPECT_EQ(ErrorOf(storage_->AddVolumeKey(vol, Bytes("third"), 1)),
            "Requested operation is not valid: keyslot 1 is already active");
  auto in5 = storage_->AddVolumeKey(vol, Bytes("third"), 5);
  ASSERT_TRUE(in5.has_value()) << ErrorOf(in5);
  EXPECT_EQ(*in5, 5);
  // The secret's slot is protected; others go by number or by passphrase.
  EXPECT_EQ(ErrorOf(storage_->RemoveVolumeKey(vol, 0, nullptr, false)),
            "Requested operation is not valid: keyslot 0 holds the value of secret " + std::string(kUuid) +
                ": removing it would lock the volume's users out (use --force)");
  const SecretBytes extra = Bytes("extra");
  auto by_value = storage_->RemoveVolumeKey(vol, std::nullopt, &extra, false);
  ASSERT_TRUE(by_value.has_value()) << ErrorOf(by_value);
  EXPECT_EQ(*by_value, 1);
  EXPECT_EQ(Opens(vol, "extra"), -1);
  EXPECT_EQ(ErrorOf(storage_->RemoveVolumeKey(vol, std::nullopt, &extra, false)),
            "operation failed: the passphrase opens no keyslot of '" + vol.path + "'");
  EXPECT_EQ(ErrorOf(storage_->RemoveVolumeKey(vol, 1, nullptr, false)),
            "Requested operation is not valid: keyslot 1 is not active");
  EXPECT_EQ(ErrorOf(storage_->RemoveVolumeKey(vol, 9, nullptr, false)),
            "Requested operation is not valid: keyslot 9 does not exist (0-7)");
  // --force removes the secret's slot while another remains, never the last one.
  ASSERT_TRUE(storage_->RemoveVolumeKey(vol, 0, nullptr, true).has_value());
  EXPECT_EQ(Opens(vol, "third"), 5);
  EXPECT_EQ(Opens(vol, "old-pass"), -1);
  EXPECT_EQ(ErrorOf(storage_->RemoveVolumeKey(vol, 5, nullptr, true)),
            "Requested operation is not valid: keyslot 5 is the last active keyslot of '" + vol.path +
                "': removing it would make the volume unreadable");
  // key-add needs the secret's value to open the volume.
  EXPECT_EQ(ErrorOf(storage_->AddVolumeKey(vol, Bytes("fourth"), std::nullopt)),
            "operation failed: the secret's value does not open volume '" + vol.path +
                "' (re-key it with vol-rekey)");
}

TEST_F(VolumeRekeyTest, ReadOnlyDriverRefuses) {
  const VolumeRef vol = Create();
  StorageOptions ro = options_;
  ro.read_only = true;
  auto d = StorageDriver::Open(StoragePaths::ForSecretStore(secrets_->paths()), secrets_.get(), ro);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(ErrorOf((*d)->RekeyVolume(vol, NewValue("x"))),
            "operation forbidden: read only access prevents virStorageVolRekey");
  EXPECT_EQ(ErrorOf((*d)->AddVolumeKey(vol, Bytes("x"), std::nullopt)),
            "operation forbidden: read only access prevents virStorageVolKeyAdd");
  EXPECT_EQ(ErrorOf((*d)->RemoveVolumeKey(vol, 0, nullptr, true)),
            "operation forbidden: read only access prevents virStorageVolKeyRemove");
}

}  // namespace
}  // namespace vsecret::volume
