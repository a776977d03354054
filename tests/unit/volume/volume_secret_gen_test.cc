// Secrets generated at volume creation (issue 13 item 3): a defined secret without a value gets
// a random passphrase, <encryption format='luks'/> without <secret> gets a new private volume
// secret, and creation is atomic both ways (checked with a failing pool target and a value store
// that cannot write).
#include "volume/volume_secret_gen.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "base/env.h"
#include "driver/secret_driver.h"
#include "test_util.h"
#include "volume/luks_image.h"
#include "volume/qcow2_image.h"
#include "volume/storage_driver.h"
#include "volume_test_support.h"

namespace vsecret::volume {
namespace {

using vsecret::test::FileExists;
using vsecret::test::TempDir;
using vsecret::test::VolumeDriverTest;

constexpr char kUuid[] = "0d0d0d0d-1111-2222-3333-444444444444";

bool IsLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// Lets everything through until armed; then creating a secret value file fails (a full disk for
// values only: definitions, pool and volume files are still written).
class ValueWriteFailsEnv : public EnvWrapper {
 public:
  ValueWriteFailsEnv() : EnvWrapper(Env::Default()) {}
  bool armed = false;
  IoResult<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path, mode_t mode) override {
    if (armed && path.find(".base64") != std::string::npos)
      return std::unexpected(IoError{IoOp::kCreate, ENOSPC});
    return EnvWrapper::NewWritableFile(path, mode);
  }
};

class VolumeSecretGenTest : public VolumeDriverTest<> {
 protected:
  void SetUp() override { OpenDrivers(&env_); }

  // A defined volume secret, without a value unless one is given.
  void DefineSecret(const char* value = nullptr) {
    ASSERT_TRUE(secrets_
                    ->DefineXml(Caller{},
                                std::string("<secret ephemeral='no' private='yes'><uuid>") + kUuid +
                                    "</uuid><usage type='volume'><volume>" + pool_dir_ +
                                    "/other</volume></usage></secret>",
                                0)
                    .has_value());
    if (value != nullptr) {
      ASSERT_TRUE(secrets_->SetValue(Caller{}, *Uuid::Parse(kUuid), SecretBytes(std::string_view(value)), 0));
    }
  }

  // A 64 KiB volume request with the given <encryption> element.
  static std::string Xml(const std::string& name, const std::string& encryption,
                         const std::string& format = "raw") {
    return "<volume><name>" + name + "</name><capacity unit='K'>64</capacity><target><format type='" +
           format + "'/>" + encryption + "</target></volume>";
  }
  // <encryption> naming kUuid, with extra elements (a <cipher>) inside.
  static std::string Named(const std::string& extra = "") {
    return std::string("<encryption format='luks'><secret type='passphrase' uuid='") + kUuid + "'/>" + extra +
           "</encryption>";
  }

  Result<SecretBytes> Value(const Uuid& uuid) {
    return secrets_->GetValueForConsumer(uuid, UsageType::kVolume);
  }

  // The volume opens with the secret's value, through the library (not the driver's own path).
  void ExpectOpensWith(const std::string& path, const SecretBytes& value, bool qcow2 = false) {
    auto file = BlockFile::Open(path, BlockFile::Mode::kReadOnly);
    ASSERT_TRUE(file.has_value());
    if (qcow2) {
      auto image = Qcow2Image::Open(std::move(*file), &value);
      EXPECT_TRUE(image.has_value()) << image.error().message();
    } else {
      auto image = LuksImage::Open(std::move(*file), value);
      EXPECT_TRUE(image.has_value()) << image.error().message();
    }
  }

  std::size_t SecretCount() {
    auto all = secrets_->ListAll(0);
    return all ? all->size() : 999;
  }

  ValueWriteFailsEnv env_;
};

TEST(GeneratePassphraseTest, SixtyFourHexCharactersFromTheKernel) {
  auto a = GeneratePassphrase();
  auto b = GeneratePassphrase();
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(a->size(), 64u);
  EXPECT_TRUE(IsLowerHex(a->AsStringView()));
  EXPECT_FALSE(a->EqualsConstantTime(*b));
}

TEST_F(VolumeSecretGenTest, DefinedSecretWithoutValueIsFilled) {
  DefineSecret();
  const Uuid uuid = *Uuid::Parse(kUuid);
  ASSERT_FALSE(Value(uuid).has_value());
  auto vol = storage_->CreateVolume("p1", Xml("v", Named()), nullptr);
  ASSERT_TRUE(vol.has_value()) << vol.error().message();
  auto value = Value(uuid);
  ASSERT_TRUE(value.has_value()) << value.error().message();
  EXPECT_EQ(value->size(), 64u);
  EXPECT_TRUE(IsLowerHex(value->AsStringView()));
  ExpectOpensWith(vol->path, *value);
  EXPECT_TRUE(storage_->OpenImage(*vol).has_value());
  EXPECT_EQ(SecretCount(), 1u);
}

TEST_F(VolumeSecretGenTest, SecretWithValueIsUsedAsItIs) {
  DefineSecret("letmein");
  auto vol = storage_->CreateVolume("p1", Xml("v", Named()), nullptr);
  ASSERT_TRUE(vol.has_value()) << vol.error().message();
  auto value = Value(*Uuid::Parse(kUuid));
  ASSERT_TRUE(value.has_value());
  EXPECT_EQ(value->AsStringView(), "letmein");
  ExpectOpensWith(vol->path, *value);
}

TEST_F(VolumeSecretGenTest, NoSecretElementCreatesAPrivateVolumeSecret) {
  for (const char* format : {"raw", "qcow2"}) {
    SCOPED_TRACE(format);
    const std::string name = std::string("new.") + format;
    auto vol = storage_->CreateVolume("p1", Xml(name, "<encryption format='luks'/>", format), nullptr);
    ASSERT_TRUE(vol.has_value()) << vol.error().message();
    // The volume records the new secret, found by usage = its path.
    auto status = storage_->GetVolume(*vol);
    ASSERT_TRUE(status.has_value());
    ASSERT_TRUE(status->encryption.has_value());
    ASSERT_EQ(status->encryption->secrets.size(), 1u);
    ASSERT_TRUE(status->encryption->secrets[0].uuid.has_value());
    const Uuid uuid = *status->encryption->secrets[0].uuid;
    auto ref = secrets_->LookupByUsage(static_cast<int>(UsageType::kVolume), vol->path);
    ASSERT_TRUE(ref.has_value());
    EXPECT_EQ(ref->uuid, uuid);
    auto xml = secrets_->GetXmlDesc(Caller{}, uuid, 0);
    ASSERT_TRUE(xml.has_value());
    EXPECT_NE(xml->find("ephemeral='no' private='yes'"), std::string::npos) << *xml;
    EXPECT_NE(xml->find("<description>LUKS passphrase of storage volume " + vol->path +
                        ", generated by vsecret at its creation</description>"),
              std::string::npos)
        << *xml;
    // Private: not readable by an ordinary caller, only through the trusted path.
    EXPECT_EQ(secrets_->GetValue(Caller{}, uuid, 0).error().message(), "Invalid secret: secret is private");
    auto value = Value(uuid);
    ASSERT_TRUE(value.has_value());
    EXPECT_EQ(value->size(), 64u);
    ExpectOpensWith(vol->path, *value, std::string(format) == "qcow2");
    EXPECT_TRUE(storage_->OpenImage(*vol).has_value());
    // Persistent: a new driver on the same store still has it, value included.
  }
  EXPECT_EQ(SecretCount(), 2u);
  secrets_.reset();
  auto again = SecretDriver::Open(StorePaths::ForRoot(dir_.path() + "/root"));
  ASSERT_TRUE(again.has_value());
  auto ref = (*again)->LookupByUsage(static_cast<int>(UsageType::kVolume), pool_dir_ + "/new.raw");
  ASSERT_TRUE(ref.has_value());
  EXPECT_TRUE((*again)->GetValueForConsumer(ref->uuid, UsageType::kVolume).has_value());
}

TEST_F(VolumeSecretGenTest, FailedVolumeLeavesNoValueAndNoSecret) {
  DefineSecret();
  const Uuid uuid = *Uuid::Parse(kUuid);
  // The target path is taken by a directory: the volume file cannot be created.
  ASSERT_EQ(::mkdir((pool_dir_ + "/v").c_str(), 0700), 0);
  auto filled = storage_->CreateVolume("p1", Xml("v", Named()), nullptr);
  ASSERT_FALSE(filled.has_value());
  auto value = Value(uuid);
  ASSERT_FALSE(value.has_value());
  EXPECT_EQ(value.error().message(),
            std::string("Secret not found: secret '") + kUuid + "' does not have a value");
  auto fresh = storage_->CreateVolume("p1", Xml("v", "<encryption format='luks'/>"), nullptr);
  ASSERT_FALSE(fresh.has_value());
  EXPECT_EQ(SecretCount(), 1u);
  EXPECT_FALSE(secrets_->LookupByUsage(static_cast<int>(UsageType::kVolume), pool_dir_ + "/v").has_value());
  // A request refused before any file is made (a cipher vsecret does not write) likewise.
  const std::string bad_cipher = "<cipher name='nosuch' size='256'/>";
  EXPECT_FALSE(storage_->CreateVolume("p1", Xml("w", Named(bad_cipher)), nullptr).has_value());
  EXPECT_FALSE(Value(uuid).has_value());
  EXPECT_FALSE(
      storage_
          ->CreateVolume("p1", Xml("w", "<encryption format='luks'>" + bad_cipher + "</encryption>"), nullptr)
          .has_value());
  EXPECT_EQ(SecretCount(), 1u);
  EXPECT_FALSE(FileExists(pool_dir_ + "/w"));
}

TEST_F(VolumeSecretGenTest, SecretThatCannotBeStoredLeavesNoVolume) {
  DefineSecret();
  env_.armed = true;
  auto filled = storage_->CreateVolume("p1", Xml("v", Named()), nullptr);
  ASSERT_FALSE(filled.has_value());
  EXPECT_NE(filled.error().message().find("No space left on device"), std::string::npos)
      << filled.error().message();
  EXPECT_FALSE(FileExists(pool_dir_ + "/v"));
  EXPECT_FALSE(storage_->LookupVolumeByName("p1", "v").has_value());
  EXPECT_FALSE(Value(*Uuid::Parse(kUuid)).has_value());
  auto fresh = storage_->CreateVolume("p1", Xml("n", "<encryption format='luks'/>"), nullptr);
  ASSERT_FALSE(fresh.has_value());
  EXPECT_FALSE(FileExists(pool_dir_ + "/n"));
  EXPECT_FALSE(storage_->LookupVolumeByName("p1", "n").has_value());
  EXPECT_EQ(SecretCount(), 1u);  // the secret it defined is gone again
  EXPECT_FALSE(secrets_->LookupByUsage(static_cast<int>(UsageType::kVolume), pool_dir_ + "/n").has_value());
  auto list = storage_->ListVolumes("p1");
  ASSERT_TRUE(list.has_value());
  EXPECT_TRUE(list->empty());
  // Once values can be stored again, the same requests succeed.
  env_.armed = false;
  EXPECT_TRUE(storage_->CreateVolume("p1", Xml("v", Named()), nullptr).has_value());
  EXPECT_TRUE(storage_->CreateVolume("p1", Xml("n", "<encryption format='luks'/>"), nullptr).has_value());
}

TEST_F(VolumeSecretGenTest, UsageAlreadyTakenIsRefusedBeforeAnythingIsMade) {
  ASSERT_TRUE(secrets_
                  ->DefineXml(Caller{},
                              std::string("<secret ephemeral='no' private='yes'><uuid>") + kUuid +
                                  "</uuid><usage type='volume'><volume>" + pool_dir_ +
                                  "/v</volume></usage></secret>",
                              0)
                  .has_value());
  auto vol = storage_->CreateVolume("p1", Xml("v", "<encryption format='luks'/>"), nullptr);
  ASSERT_FALSE(vol.has_value());
  EXPECT_EQ(vol.error().message(), std::string("internal error: a secret with UUID ") + kUuid +
                                       " already defined for use with " + pool_dir_ +
                                       "/v: name it in the volume's <encryption> or undefine it");
  EXPECT_FALSE(FileExists(pool_dir_ + "/v"));
  EXPECT_EQ(SecretCount(), 1u);
}

TEST_F(VolumeSecretGenTest, UnknownSecretIsStillAnError) {
  auto vol = storage_->CreateVolume("p1", Xml("v", Named()), nullptr);
  ASSERT_FALSE(vol.has_value());
  EXPECT_EQ(vol.error().message(),
            std::string("Secret not found: no secret with matching uuid '") + kUuid + "'");
  EXPECT_FALSE(FileExists(pool_dir_ + "/v"));
  EXPECT_EQ(SecretCount(), 0u);
}

}  // namespace
}  // namespace vsecret::volume
