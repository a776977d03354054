// Driver-level fault tests: a failing disk (full, or refusing new files) during define,
// set-value and the ephemeral/persistent flips must leave both memory and disk as they were.
#include <gtest/gtest.h>

#include "driver/secret_driver.h"
#include "test_util.h"

namespace vsecret {
namespace {

using test::FileExists;
using test::ReadFileOrEmpty;
using test::TempDir;

constexpr char kU1[] = "0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f";

// Lets every call through until armed; then every new file creation fails with `errnum`.
class FullDiskEnv : public EnvWrapper {
 public:
  FullDiskEnv() : EnvWrapper(Env::Default()) {}
  int errnum = 0;
  IoResult<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path, mode_t mode) override {
    if (errnum != 0) return std::unexpected(IoError{IoOp::kCreate, errnum});
    return EnvWrapper::NewWritableFile(path, mode);
  }
};

class DriverFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = SecretDriver::Open(StorePaths::ForRoot(dir_.path()), &env_);
    ASSERT_TRUE(d);
    driver_ = std::move(*d);
  }
  std::string Path(const char* ext) const { return dir_.path() + "/etc/secrets/" + kU1 + ext; }
  Uuid U() const { return *Uuid::Parse(kU1); }
  std::string Get() {
    auto v = driver_->GetValue(rw_, U(), 0);
    return v ? std::string(v->AsStringView()) : v.error().message();
  }
  Result<SecretRef> Define(const std::string& attrs, const std::string& desc = "") {
    return driver_->DefineXml(rw_, "<secret " + attrs + "><uuid>" + kU1 + "</uuid>" + desc + "</secret>", 0);
  }

  TempDir dir_;
  FullDiskEnv env_;
  Caller rw_;
  std::unique_ptr<SecretDriver> driver_;
};

TEST_F(DriverFaultTest, NewSecretOnFullDiskIsNotRegistered) {
  env_.errnum = ENOSPC;
  auto r = Define("");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "Failed to create file '" + Path(".xml.new") + "': No space left on device");
  EXPECT_EQ(driver_->NumOfSecrets(), 0);
  EXPECT_FALSE(FileExists(Path(".xml")));
  EXPECT_FALSE(FileExists(Path(".xml.new")));
}

TEST_F(DriverFaultTest, RedefineOnFullDiskKeepsOldDefinition) {
  ASSERT_TRUE(Define("", "<description>old</description>"));
  std::string before = ReadFileOrEmpty(Path(".xml"));
  env_.errnum = ENOSPC;
  ASSERT_FALSE(Define("", "<description>new</description>"));
  EXPECT_EQ(ReadFileOrEmpty(Path(".xml")), before);
  EXPECT_NE(driver_->GetXmlDesc(rw_, U(), 0)->find("old"), std::string::npos);
}

TEST_F(DriverFaultTest, SetValueOnFullDiskKeepsOldValue) {
  ASSERT_TRUE(Define(""));
  ASSERT_TRUE(driver_->SetValue(rw_, U(), SecretBytes("old"), 0));
  env_.errnum = ENOSPC;
  auto r = driver_->SetValue(rw_, U(), SecretBytes("new"), 0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "Failed to create file '" + Path(".base64.new") + "': No space left on device");
  EXPECT_EQ(Get(), "old");
  EXPECT_EQ(ReadFileOrEmpty(Path(".base64")), "b2xk");
}

TEST_F(DriverFaultTest, EphemeralToPersistentFailureStaysEphemeralWithValue) {
  ASSERT_TRUE(Define("ephemeral='yes'"));
  ASSERT_TRUE(driver_->SetValue(rw_, U(), SecretBytes("mem"), 0));
  env_.errnum = EACCES;
  auto r = Define("ephemeral='no'");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "Failed to create file '" + Path(".base64.new") + "': Permission denied");
  EXPECT_EQ(driver_->ListAll(kListEphemeral)->size(), 1u);
  EXPECT_EQ(Get(), "mem");
  EXPECT_FALSE(FileExists(Path(".xml")));
  EXPECT_FALSE(FileExists(Path(".base64")));
}

// Lets the value file through and fails only the definition: the value written for the flip
// must be removed again.
class FailXmlEnv : public EnvWrapper {
 public:
  FailXmlEnv() : EnvWrapper(Env::Default()) {}
  bool armed = false;
  IoResult<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path, mode_t mode) override {
    if (armed && path.ends_with(".xml.new")) return std::unexpected(IoError{IoOp::kCreate, ENOSPC});
    return EnvWrapper::NewWritableFile(path, mode);
  }
};

TEST(DriverFault, FlipToPersistentRemovesValueFileWhenXmlFails) {
  TempDir dir;
  FailXmlEnv env;
  auto d = SecretDriver::Open(StorePaths::ForRoot(dir.path()), &env);
  ASSERT_TRUE(d);
  Caller rw;
  std::string xml_eph = std::string("<secret ephemeral='yes'><uuid>") + kU1 + "</uuid></secret>";
  std::string xml_per = std::string("<secret ephemeral='no'><uuid>") + kU1 + "</uuid></secret>";
  ASSERT_TRUE((*d)->DefineXml(rw, xml_eph, 0));
  ASSERT_TRUE((*d)->SetValue(rw, *Uuid::Parse(kU1), SecretBytes("mem"), 0));
  env.armed = true;
  ASSERT_FALSE((*d)->DefineXml(rw, xml_per, 0));
  EXPECT_FALSE(FileExists(dir.path() + "/etc/secrets/" + kU1 + ".base64"));
  EXPECT_EQ((*d)->ListAll(kListEphemeral)->size(), 1u);
}

}  // namespace
}  // namespace vsecret
