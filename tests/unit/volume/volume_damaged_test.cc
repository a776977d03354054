// Broken LUKS volumes (issue 13 item 1): a file that starts with the LUKS magic is a LUKS volume
// whatever else is wrong with it. Each damaged header (cryptsetup's evil_hdr cases, built here by
// patching a good header) is listed and described as an encrypted volume of capacity 0, and every
// data operation fails naming the defect, in qemu's words, without touching the file.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <functional>

#include "driver/secret_driver.h"
#include "test_util.h"
#include "volume/luks_image.h"
#include "volume/storage_driver.h"
#include "volume_test_support.h"

namespace vsecret::volume {
namespace {

using vsecret::test::ErrorOf;
using vsecret::test::ReadFileOrEmpty;
using vsecret::test::TempDir;
using vsecret::test::VolumeDriverTest;
using vsecret::test::WriteFileRaw;

constexpr char kUuid[] = "0c0c0c0c-1111-2222-3333-444444444444";

void PutBe32(std::string& b, std::size_t at, std::uint32_t v) {
  b[at] = static_cast<char>(v >> 24);
  b[at + 1] = static_cast<char>(v >> 16);
  b[at + 2] = static_cast<char>(v >> 8);
  b[at + 3] = static_cast<char>(v);
}

// Field offsets of the LUKS1 header; slot i's descriptor is at 208 + 48 i.
constexpr std::size_t Slot(std::size_t i) { return 208 + 48 * i; }

struct Defect {
  const char* name;
  std::function<void(std::string&)> apply;  // on the whole file
  const char* reason;                       // after "cannot open LUKS volume '<path>': "
};

// A 64-byte-key volume: slot i at 8 + 504 i sectors, payload at 4040.
const Defect kDefects[] = {
    {"slots_overlap", [](std::string& b) { PutBe32(b, Slot(2) + 40, 8 + 504); },
     "Keyslots 1 and 2 are overlapping in the header"},
    {"slot_into_payload", [](std::string& b) { PutBe32(b, Slot(7) + 40, 4040 - 100); },
     "Keyslot 7 is overlapping with the encrypted payload"},
    {"slot_into_header", [](std::string& b) { PutBe32(b, Slot(0) + 40, 2); },
     "Keyslot 0 is overlapping with the LUKS header"},
    {"payload_into_header", [](std::string& b) { PutBe32(b, 104, 2); },
     "LUKS payload is overlapping with the header"},
    {"stripes", [](std::string& b) { PutBe32(b, Slot(0) + 44, 3999); },
     "Keyslot 0 is corrupted (stripes 3999 != 4000)"},
    {"slot_state", [](std::string& b) { PutBe32(b, Slot(3), 0x12345678); },
     "Keyslot 3 state (active/disable) is corrupted"},
    {"slot_iterations", [](std::string& b) { PutBe32(b, Slot(0) + 4, 0); },
     "Keyslot 0 iteration count is zero"},
    {"mk_iterations", [](std::string& b) { PutBe32(b, 164, 0); }, "LUKS key iteration count is zero"},
    {"key_size", [](std::string& b) { PutBe32(b, 108, 4096); }, "LUKS header key size 4096 is not supported"},
    {"cipher_name", [](std::string& b) { std::memset(&b[8], 'a', 32); },
     "LUKS header cipher name is not NUL terminated"},
    {"cipher_mode", [](std::string& b) { std::memset(&b[40], 'x', 32); },
     "LUKS header cipher mode is not NUL terminated"},
    {"hash_spec", [](std::string& b) { std::memset(&b[72], 's', 32); },
     "LUKS header hash spec is not NUL terminated"},
    {"version2", [](std::string& b) { b[7] = 2; },
     "Volume has a damaged LUKS2 header: LUKS2 header at offset 0: invalid header size 7018142038163980288; "
     "no secondary header found"},
    {"version7", [](std::string& b) { b[7] = 7; }, "LUKS version 7 is not supported"},
    {"truncated_header", [](std::string& b) { b.resize(300); },
     "LUKS header is truncated (300 of 592 bytes)"},
    {"magic_only", [](std::string& b) { b.resize(6); }, "LUKS header is truncated (6 of 592 bytes)"},
    {"truncated_key_material", [](std::string& b) { b.resize(100 * 1024); },
     "LUKS volume is truncated: the file has 102400 bytes, its header and key slots need 2068480"},
};

class VolumeDamagedTest : public VolumeDriverTest<::testing::TestWithParam<Defect>> {
 protected:
  void SetUp() override {
    OpenDrivers();
    path_ = pool_dir_ + "/v.luks";
    // The volume's secret has a value: a broken volume is refused whatever secret it has.
    DefineVolumeSecret(kUuid, path_);
    ASSERT_TRUE(secrets_->SetValue(Caller{}, *Uuid::Parse(kUuid), SecretBytes(std::string_view("letmein")), 0)
                    .has_value());
    LuksFormatOptions luks;
    luks.kdf = options_.kdf;
    auto image = LuksImage::Create(path_, 0600, 65536, SecretBytes(std::string_view("letmein")), luks);
    ASSERT_TRUE(image.has_value()) << image.error().message();
  }

  // Damages the file, then lets the pool find it again.
  void Damage(const Defect& defect) {
    std::string bytes = ReadFileOrEmpty(path_);
    defect.apply(bytes);
    WriteFileRaw(path_, bytes);
    ASSERT_TRUE(storage_->RefreshPool("p1").has_value());
  }

  std::string Expected(const Defect& defect) const {
    return "internal error: cannot open LUKS volume '" + path_ + "': " + defect.reason;
  }

  std::string path_;
};

TEST_F(VolumeDamagedTest, HealthyVolumeOpens) {
  ASSERT_TRUE(storage_->RefreshPool("p1").has_value());
  auto vol = storage_->LookupVolumeByName("p1", "v.luks");
  ASSERT_TRUE(vol.has_value());
  auto status = storage_->GetVolume(*vol);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->capacity, 65536u);
  EXPECT_TRUE(status->encryption.has_value());
  EXPECT_TRUE(storage_->OpenImage(*vol).has_value());
}

TEST_P(VolumeDamagedTest, ListedDescribedAndRefused) {
  const Defect& defect = GetParam();
  Damage(defect);
  const std::string before = ReadFileOrEmpty(path_);
  // Listed and described: an encrypted (LUKS) volume, capacity 0.
  auto list = storage_->ListVolumes("p1");
  ASSERT_TRUE(list.has_value()) << list.error().message();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].name, "v.luks");
  auto vol = storage_->LookupVolumeByName("p1", "v.luks");
  ASSERT_TRUE(vol.has_value());
  auto status = storage_->GetVolume(*vol);
  ASSERT_TRUE(status.has_value()) << status.error().message();
  EXPECT_EQ(status->capacity, 0u);
  ASSERT_TRUE(status->encryption.has_value());
  // The version field says which LUKS it is, even when the rest of the header is unusable.
  const bool luks2 = std::string_view(defect.name) == "version2";
  EXPECT_EQ(status->encryption->format, luks2 ? EncryptionFormat::kLuks2 : EncryptionFormat::kLuks);
  EXPECT_NE(
      FormatVolumeXml(*status).find(luks2 ? "<encryption format='luks2'>" : "<encryption format='luks'>"),
      std::string::npos);

  // Every data operation names the defect, and none reads or writes the file.
  const std::string want = Expected(defect);
  const std::string out_path = dir_.path() + "/out";
  const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(out, 0);
  EXPECT_EQ(ErrorOf(storage_->Download(*vol, out, 0, 0, nullptr)), want);
  ::close(out);
  EXPECT_EQ(ReadFileOrEmpty(out_path), "");
  WriteFileRaw(dir_.path() + "/in", std::string(4096, 'p'));
  const int in = ::open((dir_.path() + "/in").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(in, 0);
  EXPECT_EQ(ErrorOf(storage_->Upload(*vol, in, 0, 0, nullptr)), want);
  ::close(in);
  EXPECT_EQ(ErrorOf(storage_->Wipe(*vol, WipeAlgorithm::kZero, nullptr)), want);
  EXPECT_EQ(ErrorOf(storage_->ResizeVolume(*vol, 1 << 20, 0, nullptr)), want);
  EXPECT_EQ(ErrorOf(storage_->OpenImage(*vol)), want);
  EXPECT_EQ(ErrorOf(storage_->VolumePassphrase(*vol)), want);
  EXPECT_EQ(ReadFileOrEmpty(path_), before);
  // Deleting it is still possible.
  EXPECT_TRUE(storage_->DeleteVolume(*vol).has_value());
}

std::string DefectName(const ::testing::TestParamInfo<Defect>& param) { return param.param.name; }

INSTANTIATE_TEST_SUITE_P(EvilHeaders, VolumeDamagedTest, ::testing::ValuesIn(kDefects), DefectName);

}  // namespace
}  // namespace vsecret::volume
