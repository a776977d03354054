// vol-convert through StorageDriver (volume_convert.h): LUKS1 <-> LUKS2 in place, the refusals
// (which change nothing), LUKS2 in qcow2, and the recovery of an interrupted conversion.
#include "volume/volume_convert.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "driver/secret_driver.h"
#include "test_util.h"
#include "volume/luks2_header.h"
#include "volume/luks2_keyslots.h"
#include "volume/luks_keyslots.h"
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

constexpr char kUuid[] = "0e0e0e0e-1111-2222-3333-444444444444";

SecretBytes Bytes(std::string_view s) { return SecretBytes(s); }

class VolumeConvertTest : public VolumeDriverTest<> {
 protected:
  void SetUp() override {
    ::setenv("VSECRET_LUKS2_ARGON2", "1,32768,1", 1);
    OpenDrivers();
    DefineVolumeSecret(kUuid, pool_dir_ + "/v1");
    ASSERT_TRUE(secrets_->SetValue(Caller{}, *Uuid::Parse(kUuid), Bytes("the-pass"), 0).has_value());
  }
  void TearDown() override { ::unsetenv("VSECRET_LUKS2_ARGON2"); }

  VolumeRef Create(const std::string& format, const std::string& encryption) {
    auto vol = storage_->CreateVolume(
        "p1",
        "<volume><name>v1</name><capacity unit='K'>64</capacity><target><format "
        "type='" +
            format + "'/><encryption format='" + encryption + "'><secret type='passphrase' uuid='" +
            std::string(kUuid) + "'/></encryption></target></volume>",
        nullptr);
    EXPECT_TRUE(vol.has_value()) << ErrorOf(vol);
    return vol ? *vol : VolumeRef{};
  }
  std::vector<std::uint8_t> Data() {
    std::vector<std::uint8_t> data(65536);
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 7 + i / 512);
    return data;
  }
  void WriteData(const VolumeRef& vol) {
    auto image = storage_->OpenImage(vol);
    ASSERT_TRUE(image.has_value()) << ErrorOf(image);
    ASSERT_TRUE((*image)->Write(0, Data()).has_value());
    ASSERT_TRUE((*image)->Flush().has_value());
  }
  std::vector<std::uint8_t> ReadData(const VolumeRef& vol) {
    auto image = storage_->OpenImage(vol);
    EXPECT_TRUE(image.has_value()) << ErrorOf(image);
    if (!image) return {};
    std::vector<std::uint8_t> out(65536);
    EXPECT_TRUE((*image)->Read(0, out).has_value());
    return out;
  }
  EncryptionFormat RecordedFormat(const VolumeRef& vol) {
    auto status = storage_->GetVolume(vol);
    EXPECT_TRUE(status.has_value()) << ErrorOf(status);
    return status && status->encryption ? status->encryption->format : EncryptionFormat::kDefault;
  }
  // The bytes that lie before the payload of a 64 KiB volume, and its payload.
  std::string FileBytes(const VolumeRef& vol) { return ReadFileOrEmpty(vol.path); }
};

TEST_F(VolumeConvertTest, Luks1ToLuks2AndBackKeepsPayloadAndPassphrase) {
  const VolumeRef vol = Create("raw", "luks");
  WriteData(vol);
  const std::string before = FileBytes(vol);
  auto file = BlockFile::Open(vol.path, BlockFile::Mode::kReadOnly);
  const LuksHeader h1 = *ReadLuksHeader(**file, 0);
  const std::uint64_t payload = std::uint64_t{h1.payload_offset} * 512;

  auto r = storage_->ConvertVolume(vol, EncryptionFormat::kLuks2);
  ASSERT_TRUE(r.has_value()) << ErrorOf(r);
  EXPECT_FALSE(FileExists(storage_->RekeyJournalPath(vol)));
  const std::string as_luks2 = FileBytes(vol);
  ASSERT_EQ(as_luks2.size(), before.size());
  // The payload is neither moved nor re-encrypted.
  EXPECT_EQ(as_luks2.substr(payload), before.substr(payload));
  file = BlockFile::Open(vol.path, BlockFile::Mode::kReadOnly);
  auto h2 = ReadLuks2Header(**file);
  ASSERT_TRUE(h2.has_value()) << ErrorOf(h2);
  EXPECT_TRUE(h2->primary_valid && h2->secondary_valid);
  EXPECT_EQ(h2->uuid, h1.uuid);
  EXPECT_EQ(h2->segment.offset, payload);
  ASSERT_EQ(h2->keyslots.size(), 1u);
  EXPECT_EQ(h2->keyslots[0].id, 0);
  EXPECT_EQ(h2->keyslots[0].kdf.type, "pbkdf2");
  // Slot 0's material moved where cryptsetup's conversion puts it, after the two 16 KiB copies.
  EXPECT_EQ(h2->keyslots[0].area_offset, 32768u);
  auto unlocked = UnlockLuks2(**file, *h2, Bytes("the-pass"));
  ASSERT_TRUE(unlocked.has_value()) << ErrorOf(unlocked);
  EXPECT_EQ(RecordedFormat(vol), EncryptionFormat::kLuks2);
  EXPECT_EQ(ReadData(vol), Data());

  r = storage_->ConvertVolume(vol, EncryptionFormat::kLuks);
  ASSERT_TRUE(r.has_value()) << ErrorOf(r);
  EXPECT_FALSE(FileExists(storage_->RekeyJournalPath(vol)));
  EXPECT_EQ(FileBytes(vol).substr(payload), before.substr(payload));
  file = BlockFile::Open(vol.path, BlockFile::Mode::kReadOnly);
  auto back = ReadLuksHeader(**file, 0);
  ASSERT_TRUE(back.has_value()) << ErrorOf(back);
  EXPECT_EQ(back->payload_offset, h1.payload_offset);
  EXPECT_EQ(back->mk_digest, h1.mk_digest);
  EXPECT_TRUE(UnlockLuks(**file, 0, *back, Bytes("the-pass")).has_value());
  EXPECT_EQ(RecordedFormat(vol), EncryptionFormat::kLuks);
  EXPECT_EQ(ReadData(vol), Data());
}

TEST_F(VolumeConvertTest, EveryPassphraseSurvivesBothWays) {
  const VolumeRef vol = Create("raw", "luks");
  WriteData(vol);
  // Slot 1 live: cryptsetup's place for slot 0 is taken, so slot 0 moves into slot 2's area.
  ASSERT_TRUE(storage_->AddVolumeKey(vol, Bytes("second-pass"), 1).has_value());
  ASSERT_TRUE(storage_->ConvertVolume(vol, EncryptionFormat::kLuks2).has_value());
  auto file = BlockFile::Open(vol.path, BlockFile::Mode::kReadOnly);
  auto h2 = ReadLuks2Header(**file);
  ASSERT_TRUE(h2.has_value()) << ErrorOf(h2);
  ASSERT_EQ(h2->keyslots.size(), 2u);
  for (const char* pass : {"the-pass", "second-pass"}) {
    auto u = UnlockLuks2(**file, *h2, Bytes(pass));
    EXPECT_TRUE(u.has_value()) << pass << ": " << ErrorOf(u);
  }
  EXPECT_EQ(ReadData(vol), Data());
  ASSERT_TRUE(storage_->ConvertVolume(vol, EncryptionFormat::kLuks).has_value());
  file = BlockFile::Open(vol.path, BlockFile::Mode::kReadOnly);
  auto h1 = ReadLuksHeader(**file, 0);
  ASSERT_TRUE(h1.has_value()) << ErrorOf(h1);
  for (int slot : {0, 1}) {
    auto u = UnlockLuks(**file, 0, *h1, Bytes(slot == 0 ? "the-pass" : "second-pass"));
    ASSERT_TRUE(u.has_value()) << ErrorOf(u);
    EXPECT_EQ(u->slot, slot);
  }
  EXPECT_EQ(ReadData(vol), Data());
}

TEST_F(VolumeConvertTest, SameFormatAndPlainVolumesAreRefusedUnchanged) {
  const VolumeRef vol = Create("raw", "luks");
  const std::string before = FileBytes(vol);
  auto r = storage_->ConvertVolume(vol, EncryptionFormat::kLuks);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kOperationInvalid);
  EXPECT_EQ(r.error().message(),
            "Requested operation is not valid: storage volume '" + vol.path + "' is in LUKS1 format already");
  EXPECT_EQ(FileBytes(vol), before);
  EXPECT_FALSE(FileExists(storage_->RekeyJournalPath(vol)));

  auto plain = storage_->CreateVolume(
      "p1", "<volume><name>plain</name><capacity unit='K'>64</capacity></volume>", nullptr);
  ASSERT_TRUE(plain.has_value()) << ErrorOf(plain);
  const std::string plain_before = FileBytes(*plain);
  r = storage_->ConvertVolume(*plain, EncryptionFormat::kLuks2);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message(),
            "Requested operation is not valid: storage volume '" + plain->path + "' is not a LUKS volume");
  EXPECT_EQ(FileBytes(*plain), plain_before);
}

TEST_F(VolumeConvertTest, Argon2KeyslotIsNotConvertedToLuks1) {
  const VolumeRef vol = Create("raw", "luks2");
  const std::string before = FileBytes(vol);
  auto r = storage_->ConvertVolume(vol, EncryptionFormat::kLuks);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kOperationInvalid);
  EXPECT_NE(r.error().message().find("cannot convert '" + vol.path +
                                     "' to LUKS1: keyslot 0 uses argon2id; LUKS1 keyslots are pbkdf2 only"),
            std::string::npos)
      << r.error().message();
  EXPECT_EQ(FileBytes(vol), before);
  EXPECT_EQ(RecordedFormat(vol), EncryptionFormat::kLuks2);
}

TEST_F(VolumeConvertTest, AllEightLuks1SlotsLeaveNoRoomForLuks2) {
  const VolumeRef vol = Create("raw", "luks");
  for (int i = 1; i < 8; ++i) {
    auto added = storage_->AddVolumeKey(vol, Bytes("extra-" + std::to_string(i)), std::nullopt);
    ASSERT_TRUE(added.has_value()) << ErrorOf(added);
  }
  const std::string before = FileBytes(vol);
  auto r = storage_->ConvertVolume(vol, EncryptionFormat::kLuks2);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("keyslot 0 lies where the LUKS2 headers go and no free keyslot area"),
            std::string::npos)
      << r.error().message();
  EXPECT_EQ(FileBytes(vol), before);
}

TEST_F(VolumeConvertTest, Luks2IsRefusedInsideQcow2) {
  auto created = storage_->CreateVolume(
      "p1",
      "<volume><name>q2</name><capacity unit='K'>64</capacity><target><format type='qcow2'/><encryption "
      "format='luks2'><secret type='passphrase' uuid='" +
          std::string(kUuid) + "'/></encryption></target></volume>",
      nullptr);
  ASSERT_FALSE(created.has_value());
  EXPECT_EQ(created.error().code(), ErrorCode::kConfigUnsupported);
  EXPECT_EQ(created.error().message(),
            "unsupported configuration: LUKS2 encryption is not supported inside qcow2 volumes: qemu's qcow2 "
            "encryption is LUKS1 only (use format='luks')");
  EXPECT_FALSE(FileExists(pool_dir_ + "/q2"));

  const VolumeRef vol = Create("qcow2", "luks");
  const std::string before = FileBytes(vol);
  auto r = storage_->ConvertVolume(vol, EncryptionFormat::kLuks2);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kConfigUnsupported);
  EXPECT_EQ(r.error().message(),
            "unsupported configuration: LUKS2 encryption is not supported inside qcow2 volumes: qemu's qcow2 "
            "encryption is LUKS1 only ('" +
                vol.path + "')");
  EXPECT_EQ(FileBytes(vol), before);
}

TEST_F(VolumeConvertTest, UncommittedConversionIsRolledBackOnOpen) {
  const VolumeRef vol = Create("raw", "luks");
  WriteData(vol);
  auto file = BlockFile::Open(vol.path, BlockFile::Mode::kReadOnly);
  const LuksHeader h1 = *ReadLuksHeader(**file, 0);
  RekeyJournal j;
  j.operation = RekeyJournal::Operation::kConvert;
  j.target = LuksVersion::kLuks2;
  j.luks_uuid = h1.uuid;
  WriteFileRaw(storage_->RekeyJournalPath(vol), FormatRekeyJournal(j));
  auto recovered = storage_->RecoverRekey(vol);
  ASSERT_TRUE(recovered.has_value()) << ErrorOf(recovered);
  EXPECT_EQ(*recovered, RekeyRecovery::kRolledBack);
  EXPECT_FALSE(FileExists(storage_->RekeyJournalPath(vol)));
  EXPECT_EQ(ReadData(vol), Data());
  EXPECT_EQ(RecordedFormat(vol), EncryptionFormat::kLuks);
}

TEST_F(VolumeConvertTest, CommittedConversionToLuks1IsCompletedOnOpen) {
  // A LUKS1 header in place with the journal still there: the header was written, the rest not.
  const VolumeRef vol = Create("raw", "luks");
  WriteData(vol);
  auto file = BlockFile::Open(vol.path, BlockFile::Mode::kReadOnly);
  RekeyJournal j;
  j.operation = RekeyJournal::Operation::kConvert;
  j.target = LuksVersion::kLuks1;
  j.luks_uuid = ReadLuksHeader(**file, 0)->uuid;
  WriteFileRaw(storage_->RekeyJournalPath(vol), FormatRekeyJournal(j));
  EXPECT_EQ(ReadData(vol), Data());
  EXPECT_FALSE(FileExists(storage_->RekeyJournalPath(vol)));
  EXPECT_EQ(RecordedFormat(vol), EncryptionFormat::kLuks);
}

TEST(VolumeConvertJournal, ConversionJournalRoundTripsAndIsStrict) {
  RekeyJournal j;
  j.operation = RekeyJournal::Operation::kConvert;
  j.target = LuksVersion::kLuks2;
  j.luks_uuid = "a7b5b2c4-0000-4000-8000-000000000001";
  const std::string text = FormatRekeyJournal(j);
  EXPECT_EQ(text, "vsecret-rekey 1\noperation=convert\ntarget=luks2\nluks-uuid=" + j.luks_uuid + "\n");
  auto parsed = ParseRekeyJournal(text, "/j");
  ASSERT_TRUE(parsed.has_value()) << ErrorOf(parsed);
  EXPECT_EQ(*parsed, j);
  auto bad = ParseRekeyJournal("vsecret-rekey 1\noperation=convert\ntarget=luks3\nluks-uuid=x\n", "/j");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().message(), "internal error: cannot parse re-key journal '/j': bad target");
  bad = ParseRekeyJournal("vsecret-rekey 1\noperation=convert\nluks-uuid=x\n", "/j");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().message(), "internal error: cannot parse re-key journal '/j': missing field");
}

TEST(VolumeConvertPlan, QemuLayoutMovesOnlyTheSlotUnderTheHeaders) {
  LuksHeader h;
  h.cipher_name = "aes";
  h.cipher_mode = "xts-plain64";
  h.hash_spec = "sha256";
  h.key_bytes = 64;
  h.mk_digest_iterations = 1000;
  h.uuid = "a7b5b2c4-0000-4000-8000-000000000001";
  h.payload_offset = LayOutKeySlots(h);
  ASSERT_EQ(h.payload_offset, 4040u);
  h.slots[0].active = true;
  h.slots[0].iterations = 1000;
  h.slots[3].active = true;
  h.slots[3].iterations = 1000;
  auto plan = PlanLuks1ToLuks2(h, "/v");
  ASSERT_TRUE(plan.has_value()) << ErrorOf(plan);
  // Slot 0 goes to cryptsetup's place (32 KiB), which overlaps its material and slot 1's free
  // area: through slot 2's area, the first free one clear of it.
  ASSERT_EQ(plan->moves.size(), 1u);
  EXPECT_EQ(plan->moves[0].slot, 0);
  EXPECT_EQ(plan->moves[0].from, 4096u);
  EXPECT_EQ(plan->moves[0].to, std::uint64_t{h.slots[2].key_offset} * 512);
  ASSERT_EQ(plan->final_moves.size(), 1u);
  EXPECT_EQ(plan->final_moves[0].from, std::uint64_t{h.slots[2].key_offset} * 512);
  EXPECT_EQ(plan->final_moves[0].to, 32768u);
  EXPECT_EQ(plan->staged.slots[0].key_offset, h.slots[2].key_offset);
  EXPECT_EQ(plan->staged.slots[2].key_offset, h.slots[0].key_offset);
  EXPECT_EQ(plan->staged.slots[3].key_offset, h.slots[3].key_offset);
  EXPECT_NE(plan->json.find("\"offset\":\"32768\""), std::string::npos);

  // With slot 1 live, cryptsetup's place is taken: slot 0 moves into slot 2's area for good.
  h.slots[1].active = true;
  h.slots[1].iterations = 1000;
  plan = PlanLuks1ToLuks2(h, "/v");
  ASSERT_TRUE(plan.has_value()) << ErrorOf(plan);
  ASSERT_EQ(plan->moves.size(), 1u);
  EXPECT_EQ(plan->moves[0].to, std::uint64_t{h.slots[2].key_offset} * 512);
  EXPECT_TRUE(plan->final_moves.empty());
  h.slots[1].active = false;

  h.payload_offset = 64;  // no room for the LUKS2 headers and an area
  auto none = PlanLuks1ToLuks2(h, "/v");
  ASSERT_FALSE(none.has_value());
  EXPECT_NE(none.error().message().find("cannot convert '/v' to LUKS2: the payload starts at 32768 bytes"),
            std::string::npos)
      << none.error().message();
}

TEST(VolumeConvertPlan, Luks2FeaturesLuks1LacksAreRefusedByName) {
  Luks2Header h;
  h.hdr_size = 16384;
  h.uuid = "a7b5b2c4-0000-4000-8000-000000000001";
  h.keyslots_size = 16u << 20;
  h.segment.offset = 16u << 20;
  h.segment.encryption = "aes-xts-plain64";
  Luks2Keyslot k;
  k.id = 0;
  k.key_size = 64;
  k.area_offset = 32768;
  k.area_size = 258048;
  k.area_encryption = "aes-xts-plain64";
  k.area_key_size = 64;
  k.kdf.type = "pbkdf2";
  k.kdf.iterations = 1000;
  k.kdf.salt.assign(32, 1);
  h.keyslots.push_back(k);
  Luks2Digest d;
  d.keyslots = {0};
  d.segments = {0};
  d.iterations = 1000;
  d.salt.assign(32, 2);
  d.digest.assign(32, 3);
  h.digests.push_back(d);
  auto ok = PlanLuks2ToLuks1(h, "/v");
  ASSERT_TRUE(ok.has_value()) << ErrorOf(ok);
  EXPECT_EQ(ok->header.slots[0].key_offset, 64u);  // in place
  EXPECT_TRUE(ok->moves.empty());
  EXPECT_EQ(ok->header.payload_offset, 32768u);
  EXPECT_EQ(ok->header.cipher_mode, "xts-plain64");

  auto refused = [&](Luks2Header changed) {
    auto r = PlanLuks2ToLuks1(changed, "/v");
    return r ? std::string("(accepted)") : r.error().message();
  };
  const std::string prefix = "Requested operation is not valid: cannot convert '/v' to LUKS1: ";
  Luks2Header x = h;
  x.segment.sector_size = 4096;
  EXPECT_EQ(refused(x), prefix + "its sector size is 4096 bytes; LUKS1 has 512-byte sectors");
  x = h;
  x.tokens = 1;
  EXPECT_EQ(refused(x), prefix + "it has 1 token(s); LUKS1 has none");
  x = h;
  x.keyslots[0].id = 9;
  x.digests[0].keyslots = {9};
  EXPECT_EQ(refused(x), prefix + "keyslot 9 has an id beyond LUKS1's 0-7");
  x = h;
  x.digests[0].keyslots = {};
  EXPECT_EQ(refused(x), prefix + "keyslot 0 is not bound to the data segment's key");
  x = h;
  x.keyslots[0].kdf.hash = HashAlgo::kSha512;
  EXPECT_EQ(refused(x),
            prefix + "keyslot 0 uses another hash than the volume key digest; LUKS1 uses one hash for both");
  x = h;
  x.segment.size = 1u << 20;
  EXPECT_EQ(refused(x),
            prefix + "its data segment has a fixed size; a LUKS1 payload runs to the end of the file");
}

}  // namespace
}  // namespace vsecret::volume
