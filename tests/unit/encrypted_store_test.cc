// The store and the driver with encryption at rest: which file is written (checklist 53, 60),
// reading libvirt's .aes256cbc, which file wins when several exist, wrong keys, a scan of the
// whole store for canary values, and restart/reload with changing keys.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "base/base64.h"
#include "base/log.h"
#include "driver/secret_driver.h"
#include "store/encryption_config.h"
#include "store/secret_store.h"
#include "test_util.h"

namespace vsecret {
namespace {

namespace fs = std::filesystem;
using testing::FileExists;
using testing::FileMode;
using testing::ReadFileOrEmpty;
using testing::TempDir;
using testing::WriteFileRaw;

constexpr char kU1[] = "0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f";
constexpr char kU2[] = "6dac920f-4046-4dd6-8a47-a35db53cc035";

std::string KeyBytes(int first) {
  std::string k;
  for (int i = 0; i < 32; ++i) k.push_back(static_cast<char>(first + i));
  return k;
}

void SetMtime(const std::string& path, long seconds) {
  struct timespec times[2] = {{seconds, 0}, {seconds, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
}

class EncryptedStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.path() + "/root";
    paths_ = StorePaths::ForRoot(root_);
    fs::create_directories(paths_.config_dir);
    SetKey("a", KeyBytes(0));
    SetKey("b", KeyBytes(0x20));
    UseKey("a");
    previous_sink_ = SetLogSink([this](LogLevel, std::string_view line) { log_.emplace_back(line); });
  }
  void TearDown() override {
    driver_.reset();
    SetLogSink(previous_sink_);
  }

  std::string KeyPath(const std::string& name) const { return tmp_.path() + "/key-" + name; }
  void SetKey(const std::string& name, const std::string& bytes) {
    WriteFileRaw(KeyPath(name), bytes);
    ::chmod(KeyPath(name).c_str(), 0600);
  }
  void Conf(const std::string& text) { WriteFileRaw(root_ + "/etc/secret.conf", text); }
  void UseKey(const std::string& name) { Conf("secrets_encryption_key = \"" + KeyPath(name) + "\"\n"); }
  EncryptionOptions Options() const {
    EncryptionOptions o;
    o.secret_conf_path = root_ + "/etc/secret.conf";
    o.environment = KeyEnvironment{std::nullopt, tmp_.path() + "/runtime"};
    return o;
  }
  void OpenDriver() {
    driver_.reset();
    auto d = SecretDriver::Open(paths_, Options());
    ASSERT_TRUE(d) << d.error().message();
    driver_ = std::move(*d);
  }
  void Define(const char* uuid, const std::string& attrs = "") {
    auto r =
        driver_->DefineXml(rw_, std::string("<secret ") + attrs + "><uuid>" + uuid + "</uuid></secret>", 0);
    ASSERT_TRUE(r) << r.error().message();
  }
  void Set(const char* uuid, const std::string& value) {
    auto r = driver_->SetValue(rw_, *Uuid::Parse(uuid), SecretBytes(std::string_view(value)), 0);
    ASSERT_TRUE(r) << r.error().message();
  }
  std::string Get(const char* uuid) {
    // Trusted, so private secrets read too.
    auto v = driver_->GetValue(Caller{false, true}, *Uuid::Parse(uuid), 0);
    return v ? std::string(v->AsStringView()) : "error: " + v.error().message();
  }
  std::string File(const char* uuid, std::string_view ext) const {
    return paths_.config_dir + "/" + uuid + std::string(ext);
  }

  TempDir tmp_;
  std::string root_;
  StorePaths paths_;
  Caller rw_;
  std::unique_ptr<SecretDriver> driver_;
  std::vector<std::string> log_;
  LogSink previous_sink_;
};

TEST_F(EncryptedStoreTest, SetValueWritesSealedFileAndRemovesOthers) {
  OpenDriver();
  Define(kU1);
  WriteFileRaw(File(kU1, ".base64"), "b2xk");
  WriteFileRaw(File(kU1, ".aes256cbc"), "oKGio6SlpqeoqaqrrK2urwiBWyD2LXJijfbHA64vSrg=");
  Set(kU1, "new value");
  EXPECT_TRUE(FileExists(File(kU1, ".vsenc")));
  EXPECT_EQ(FileMode(File(kU1, ".vsenc")), 0600u);
  EXPECT_FALSE(FileExists(File(kU1, ".base64")));
  EXPECT_FALSE(FileExists(File(kU1, ".aes256cbc")));
  EXPECT_EQ(ReadFileOrEmpty(File(kU1, ".vsenc")).size(), 9u + 44u);
  EXPECT_EQ(Get(kU1), "new value");

  // Encryption off: the reverse (checklist 53), and the sealed file is gone.
  Conf("encrypt_data = 0\n");
  OpenDriver();
  Set(kU1, "plain again");
  EXPECT_EQ(ReadFileOrEmpty(File(kU1, ".base64")), Base64Encode("plain again"));
  EXPECT_FALSE(FileExists(File(kU1, ".vsenc")));
}

TEST_F(EncryptedStoreTest, LibvirtAes256CbcFilesAreReadAndKeptUntilRewritten) {
  OpenDriver();
  Define(kU1);
  Define(kU2);
  driver_.reset();
  // The spec's vector: key 00..1f is key "a".
  WriteFileRaw(File(kU1, ".aes256cbc"), "oKGio6SlpqeoqaqrrK2urwiBWyD2LXJijfbHA64vSrg=");
  WriteFileRaw(File(kU2, ".base64"), Base64Encode("legacy"));
  OpenDriver();
  EXPECT_EQ(Get(kU1), "hello");
  EXPECT_EQ(Get(kU2), "legacy");
  // Nothing is converted by reading (checklist 60).
  EXPECT_TRUE(FileExists(File(kU1, ".aes256cbc")));
  EXPECT_TRUE(FileExists(File(kU2, ".base64")));
  Set(kU2, "legacy");
  EXPECT_FALSE(FileExists(File(kU2, ".base64")));
  EXPECT_TRUE(FileExists(File(kU2, ".vsenc")));
}

TEST_F(EncryptedStoreTest, WrongKeyIsReportedNeverGarbage) {
  OpenDriver();
  Define(kU1);
  Set(kU1, "sealed under a");
  UseKey("b");
  OpenDriver();
  const std::string got = Get(kU1);
  EXPECT_EQ(got, "error: Invalid secret: " + File(kU1, ".vsenc") +
                     ": sealed with key c0c155d36a479368, but the loaded key is a73be771ca48d638 ('" +
                     KeyPath("b") + "')");
  // With encryption off there is no key at all; the secret is listed, its value is an error.
  Conf("encrypt_data = 0\n");
  OpenDriver();
  EXPECT_EQ(driver_->NumOfSecrets(), 1);
  EXPECT_EQ(Get(kU1), "error: Invalid secret: " + File(kU1, ".vsenc") +
                          ": sealed with key c0c155d36a479368, but no encryption key is loaded");
  // Back to the right key: nothing was lost.
  UseKey("a");
  OpenDriver();
  EXPECT_EQ(Get(kU1), "sealed under a");
}

class PrecedenceTest : public EncryptedStoreTest {
 protected:
  void SetUp() override {
    EncryptedStoreTest::SetUp();
    auto loaded = LoadEncryption(Options(), paths_, Env::Default());
    ASSERT_TRUE(loaded);
    auto store = SecretStore::Open(paths_);
    ASSERT_TRUE(store);
    store_ = std::move(*store);
    store_->SetValueProtection(loaded->protection());
    uuid_ = *Uuid::Parse(kU1);
  }
  void TearDown() override {
    store_.reset();
    EncryptedStoreTest::TearDown();
  }
  // Writes `value` in `format` without removing the other formats, with the given mtime.
  void Put(ValueFormat format, const std::string& value, long mtime) {
    ASSERT_TRUE(store_->WriteValueFile(uuid_, SecretBytes(std::string_view(value)), format, false));
    SetMtime(store_->ValuePath(uuid_, format), mtime);
  }
  std::string Read() {
    auto v = store_->ReadValue(uuid_);
    if (!v) return "error: " + v.error().message();
    return *v ? std::string((*v)->AsStringView()) : "(none)";
  }
  std::unique_ptr<SecretStore> store_;
  Uuid uuid_;
};

TEST_F(PrecedenceTest, NewestFileWins) {
  Put(ValueFormat::kBase64, "old base64", 1000);
  Put(ValueFormat::kSealed, "new sealed", 2000);
  EXPECT_EQ(Read(), "new sealed");
  SetMtime(store_->ValuePath(uuid_, ValueFormat::kBase64), 3000);
  EXPECT_EQ(Read(), "old base64");  // libvirt would pick base64 in both cases
  Put(ValueFormat::kAes256Cbc, "newest cbc", 4000);
  EXPECT_EQ(Read(), "newest cbc");
  auto stored = store_->ReadStoredValue(uuid_);
  ASSERT_TRUE(stored && *stored);
  EXPECT_EQ((*stored)->format, ValueFormat::kAes256Cbc);
  EXPECT_EQ((*stored)->file_count, 3u);
}

TEST_F(PrecedenceTest, EqualTimesPreferTheWriteFormatThenTheAuthenticatedFile) {
  Put(ValueFormat::kBase64, "b", 5000);
  Put(ValueFormat::kAes256Cbc, "c", 5000);
  EXPECT_EQ(Read(), "c");
  Put(ValueFormat::kSealed, "s", 5000);
  EXPECT_EQ(Read(), "s");
  // Encryption off (keys still loaded, as after a reload to encrypt_data = 0 with the old
  // protection's keyring): a tie goes to the .base64 such a store writes.
  store_->SetValueProtection(ValueProtection{false, store_->value_protection().keyring});
  EXPECT_EQ(Read(), "b");
}

TEST_F(PrecedenceTest, InvalidNewerFileFallsBackToTheNextOne) {
  Put(ValueFormat::kBase64, "older but intact", 1000);
  Put(ValueFormat::kSealed, "newer", 2000);
  std::string sealed = ReadFileOrEmpty(store_->ValuePath(uuid_, ValueFormat::kSealed));
  sealed.back() ^= 1;
  WriteFileRaw(store_->ValuePath(uuid_, ValueFormat::kSealed), sealed);
  SetMtime(store_->ValuePath(uuid_, ValueFormat::kSealed), 2000);
  log_.clear();
  EXPECT_EQ(Read(), "older but intact");
  ASSERT_EQ(log_.size(), 1u);
  EXPECT_NE(log_[0].find("using the older value file '" + store_->ValuePath(uuid_, ValueFormat::kBase64)),
            std::string::npos)
      << log_[0];
  EXPECT_NE(log_[0].find("authentication failed"), std::string::npos) << log_[0];
  // Alone, the tampered file is an error.
  fs::remove(store_->ValuePath(uuid_, ValueFormat::kBase64));
  EXPECT_EQ(Read(),
            "error: Invalid secret: " + store_->ValuePath(uuid_, ValueFormat::kSealed) +
                ": authentication failed: the file was modified, truncated or belongs to another secret");
}

TEST_F(PrecedenceTest, KeyProblemInTheNewestFileIsNotMaskedByAnOlderOne) {
  Put(ValueFormat::kBase64, "stale", 1000);
  Put(ValueFormat::kSealed, "current", 2000);
  // Reopen with key b only: the newest file is intact but sealed with a.
  UseKey("b");
  auto loaded = LoadEncryption(Options(), paths_, Env::Default());
  ASSERT_TRUE(loaded);
  store_->SetValueProtection(loaded->protection());
  EXPECT_TRUE(Read().starts_with("error: Invalid secret: " + store_->ValuePath(uuid_, ValueFormat::kSealed) +
                                 ": sealed with key c0c155d36a479368"))
      << Read();
}

TEST_F(PrecedenceTest, ValueMovedFromAnotherSecretIsRefused) {
  Put(ValueFormat::kSealed, "belongs to u1", 1000);
  const Uuid u2 = *Uuid::Parse(kU2);
  fs::copy_file(store_->ValuePath(uuid_, ValueFormat::kSealed), store_->ValuePath(u2, ValueFormat::kSealed));
  auto v = store_->ReadValue(u2);
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message().find("belongs to another secret"), std::string::npos);
}

// Every file under the root, and every base64 rendering of the canary a file could hold.
void ExpectCanaryNowhere(const std::string& root, const std::string& canary) {
  std::vector<std::string> needles = {canary};
  for (int shift = 0; shift < 3; ++shift) {
    // The canary's bytes encode to the same inner characters whatever precedes them, up to the
    // alignment; strip the characters that mix in neighbouring bytes.
    const std::string encoded = Base64Encode(std::string(shift, 'x') + canary);
    needles.push_back(encoded.substr(4, encoded.size() - 8));
  }
  int files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    ++files;
    const std::string content = ReadFileOrEmpty(entry.path().string());
    for (const std::string& needle : needles) {
      EXPECT_EQ(content.find(needle), std::string::npos) << entry.path() << " holds " << needle;
    }
  }
  EXPECT_GT(files, 3);
}

TEST_F(EncryptedStoreTest, CanaryValuesNeverReachTheDisk) {
  const std::string canary = "CANARY-7d1c4f0e-b5a2-47c9-9e43-5f2a8c61d0b3";
  const std::string binary = std::string("\x00\xff\x10", 3) + canary;
  OpenDriver();
  Define(kU1, "private='yes'");
  Set(kU1, canary);
  Define(kU2, "ephemeral='yes'");
  Set(kU2, binary);
  Define(kU2, "ephemeral='no'");  // ephemeral -> persistent writes the value
  Set(kU1, canary + "-2");
  driver_->Reload();
  EXPECT_EQ(Get(kU1), canary + "-2");
  OpenDriver();  // restart
  EXPECT_EQ(Get(kU2), binary);
  // The whole root: config and state dirs, secret.conf, leftovers of any kind.
  ExpectCanaryNowhere(root_, canary);
  // Nor in any log line.
  for (const std::string& line : log_) EXPECT_EQ(line.find("CANARY"), std::string::npos) << line;
}

TEST_F(EncryptedStoreTest, RestartAndReloadFollowTheKey) {
  OpenDriver();
  Define(kU1);
  Set(kU1, "v1");
  // Restart with the same key: readable.
  OpenDriver();
  EXPECT_EQ(Get(kU1), "v1");

  // Reload after switching secret.conf to key b: the file sealed with a is now unreadable, and
  // new values are sealed with b.
  UseKey("b");
  driver_->Reload();
  EXPECT_TRUE(Get(kU1).starts_with("error: Invalid secret:")) << Get(kU1);
  Define(kU2);
  Set(kU2, "v2");
  UseKey("a");
  driver_->Reload();
  EXPECT_EQ(Get(kU1), "v1");
  EXPECT_TRUE(Get(kU2).starts_with("error: Invalid secret:"));

  // A reload whose key cannot be read keeps the previous key (and says why).
  fs::remove(KeyPath("a"));
  log_.clear();
  driver_->Reload();
  EXPECT_EQ(Get(kU1), "v1");
  ASSERT_FALSE(log_.empty());
  EXPECT_NE(log_[0].find("keeping the previous ones: Failed to open file '" + KeyPath("a")),
            std::string::npos)
      << log_[0];
  Set(kU1, "v1b");
  EXPECT_TRUE(FileExists(File(kU1, ".vsenc")));
  EXPECT_FALSE(FileExists(File(kU1, ".base64")));
  // ...but a restart does not come up without it.
  driver_.reset();
  auto d = SecretDriver::Open(paths_, Options());
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().message(), "Failed to open file '" + KeyPath("a") + "': No such file or directory");
}

TEST_F(EncryptedStoreTest, EmbeddedConnectionHonoursTheRootsSecretConf) {
  // secret:///embed?root=DIR goes through SecretDriver::Open(StorePaths::ForRoot(DIR)).
  auto d = SecretDriver::Open(paths_);
  ASSERT_TRUE(d) << d.error().message();
  ASSERT_TRUE((*d)->DefineXml(rw_, std::string("<secret><uuid>") + kU1 + "</uuid></secret>", 0));
  ASSERT_TRUE((*d)->SetValue(rw_, *Uuid::Parse(kU1), SecretBytes(std::string_view("embedded")), 0));
  EXPECT_TRUE(FileExists(File(kU1, ".vsenc")));
}

}  // namespace
}  // namespace vsecret
