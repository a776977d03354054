// The store and the driver with encryption at rest: which file is written,
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
using test::FileExists;
using test::FileMode;
using test::ReadFileOrEmpty;
using test::TempDir;
using test::WriteFileRaw;

constexpr char kU1[] = "0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f";
constexpr char kU2[] = "6dac920f-4046-4dd6-8a47-a35db53cc035";
constexpr char kU3[] = "3f3c7a9e-2b1d-4e5f-9a8b-7c6d5e4f3a2b";

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

TEST_F(EncryptedStoreTest, SetValueWritesLibvirtsAes256CbcFileAndRemovesOthers) {
  OpenDriver();
  Define(kU1);
  WriteFileRaw(File(kU1, ".base64"), "b2xk");
  WriteFileRaw(File(kU1, ".vsenc"), "stale");
  Set(kU1, "new value");
  EXPECT_TRUE(FileExists(File(kU1, ".aes256cbc")));
  EXPECT_EQ(FileMode(File(kU1, ".aes256cbc")), 0600u);
  EXPECT_FALSE(FileExists(File(kU1, ".base64")));
  EXPECT_FALSE(FileExists(File(kU1, ".vsenc")));
  // base64 of a 16-byte IV and one 16-byte block (9 bytes padded), as libvirt 12.x writes.
  EXPECT_EQ(ReadFileOrEmpty(File(kU1, ".aes256cbc")).size(), 44u);
  EXPECT_EQ(Get(kU1), "new value");
  OpenDriver();
  EXPECT_EQ(Get(kU1), "new value");
}

TEST_F(EncryptedStoreTest, StoreOptedInToVsencWritesSealedFiles) {
  WriteFileRaw(paths_.config_dir + "/vsecret-store.conf", "value_format = \"vsenc\"\n");
  OpenDriver();
  Define(kU1);
  WriteFileRaw(File(kU1, ".aes256cbc"), "oKGio6SlpqeoqaqrrK2urwiBWyD2LXJijfbHA64vSrg=");
  Set(kU1, "new value");
  EXPECT_TRUE(FileExists(File(kU1, ".vsenc")));
  EXPECT_FALSE(FileExists(File(kU1, ".aes256cbc")));
  EXPECT_EQ(ReadFileOrEmpty(File(kU1, ".vsenc")).size(), 9u + 44u);
  EXPECT_EQ(Get(kU1), "new value");
  // Going back to libvirt's format is the same file saying so (or its absence).
  WriteFileRaw(paths_.config_dir + "/vsecret-store.conf", "value_format = \"aes256cbc\"\n");
  OpenDriver();
  EXPECT_EQ(Get(kU1), "new value");
  Set(kU1, "again");
  EXPECT_TRUE(FileExists(File(kU1, ".aes256cbc")));
  EXPECT_FALSE(FileExists(File(kU1, ".vsenc")));
}

TEST_F(EncryptedStoreTest, BadStoreFormatFileStopsTheDriver) {
  const std::string conf = paths_.config_dir + "/vsecret-store.conf";
  WriteFileRaw(conf, "value_format = \"base64\"\n");
  auto d = SecretDriver::Open(paths_, Options());
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().message(),
            "internal error: " + conf + ": value_format must be \"aes256cbc\" or \"vsenc\", not 'base64'");
  WriteFileRaw(conf, "value_format = 1\n");
  d = SecretDriver::Open(paths_, Options());
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().message(),
            "internal error: " + conf + ": expected a string for 'value_format' parameter");
  WriteFileRaw(conf, "value_format = \"vsenc\n");
  d = SecretDriver::Open(paths_, Options());
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().message(), "configuration file syntax error: " + conf + ":1: unterminated string");
}

TEST_F(EncryptedStoreTest, WithoutAKeyNothingIsWrittenInTheClearIntoAnEncryptedStore) {
  OpenDriver();
  Define(kU1);
  Define(kU2);
  Set(kU1, "encrypted");
  const std::string before = ReadFileOrEmpty(File(kU1, ".aes256cbc"));
  ASSERT_FALSE(before.empty());
  const std::string expected = "Requested operation is not valid: the secrets in '" + paths_.config_dir +
                               "' are encrypted but no encryption key is loaded; refusing to store the "
                               "value of secret '";
  for (const char* conf : {"encrypt_data = 0\n", ""}) {
    Conf(conf);
    OpenDriver();
    // The secret's own value, and another secret's first value: both refused, nothing changed.
    for (const char* uuid : {kU1, kU2}) {
      auto r = driver_->SetValue(rw_, *Uuid::Parse(uuid), SecretBytes(std::string_view("clear")), 0);
      ASSERT_FALSE(r) << uuid;
      EXPECT_EQ(r.error().message(), expected + uuid + "' in the clear");
      EXPECT_EQ(r.error().code(), ErrorCode::kOperationInvalid);
      EXPECT_FALSE(FileExists(File(uuid, ".base64")));
    }
    EXPECT_EQ(ReadFileOrEmpty(File(kU1, ".aes256cbc")), before);
    // An ephemeral secret made persistent with a value would write it too.
    Define(kU3, "ephemeral='yes'");
    Set(kU3, "in memory");
    auto r =
        driver_->DefineXml(rw_, std::string("<secret ephemeral='no'><uuid>") + kU3 + "</uuid></secret>", 0);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message(), expected + kU3 + "' in the clear");
    EXPECT_FALSE(FileExists(File(kU3, ".xml")));
    EXPECT_FALSE(FileExists(File(kU3, ".base64")));
    ASSERT_TRUE(driver_->Undefine(rw_, *Uuid::Parse(kU3)));
  }
  // An encrypted file appearing after the driver listed the store is noticed too.
  fs::remove(File(kU1, ".aes256cbc"));
  OpenDriver();
  Set(kU2, "clear is fine now");
  EXPECT_EQ(ReadFileOrEmpty(File(kU2, ".base64")), Base64Encode("clear is fine now"));
  WriteFileRaw(File(kU1, ".aes256cbc"), before);
  auto r = driver_->SetValue(rw_, *Uuid::Parse(kU1), SecretBytes(std::string_view("clear")), 0);
  ASSERT_FALSE(r);
  EXPECT_FALSE(FileExists(File(kU1, ".base64")));
  // With the key back, values are encrypted again.
  UseKey("a");
  OpenDriver();
  EXPECT_EQ(Get(kU1), "encrypted");
  Set(kU2, "encrypted again");
  EXPECT_FALSE(FileExists(File(kU2, ".base64")));
  EXPECT_TRUE(FileExists(File(kU2, ".aes256cbc")));
}

TEST_F(EncryptedStoreTest, LibvirtsSecretConfIsReadWhenTheStoreHasNone) {
  const std::string libvirt_conf = tmp_.path() + "/libvirt/secret.conf";
  fs::create_directories(tmp_.path() + "/libvirt");
  fs::remove(root_ + "/etc/secret.conf");
  WriteFileRaw(libvirt_conf, "secrets_encryption_key = \"" + KeyPath("b") + "\"\n");
  EncryptionOptions o = Options();
  o.libvirt_secret_conf_path = libvirt_conf;
  auto loaded = LoadEncryption(o, paths_, Env::Default());
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(loaded->conf_path, libvirt_conf);
  EXPECT_TRUE(loaded->decision.enabled);
  EXPECT_EQ(loaded->decision.key_path, KeyPath("b"));
  // The store's own file, when it exists, takes libvirt's place as a whole.
  Conf("encrypt_data = 0\n");
  loaded = LoadEncryption(o, paths_, Env::Default());
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->conf_path, root_ + "/etc/secret.conf");
  EXPECT_FALSE(loaded->decision.enabled);
  // A file stat() cannot reach (here through a regular file; for a daemon running as nobody,
  // behind /root) is skipped as libvirt's virFileExists() skips it, not an error.
  fs::remove(root_ + "/etc/secret.conf");
  EncryptionOptions unreachable = o;
  unreachable.libvirt_secret_conf_path = KeyPath("a") + "/secret.conf";
  loaded = LoadEncryption(unreachable, paths_, Env::Default());
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(loaded->conf_path, "");
  EXPECT_FALSE(loaded->decision.enabled);
  // A broken libvirt file is an error, as it is for libvirt.
  WriteFileRaw(libvirt_conf, "encrypt_data = 2\n");
  loaded = LoadEncryption(o, paths_, Env::Default());
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().message(),
            "internal error: " + libvirt_conf + ": value for 'encrypt_data' parameter must be 0 or 1");
}

TEST_F(EncryptedStoreTest, Aes256CbcIsDecryptedWithTheConfiguredKeyOnly) {
  // The spec's vector is under key "a"; a keyring whose first key is "b" must not find it by
  // trying "a" as well (CBC cannot tell a wrong key from a right one reliably).
  auto store = SecretStore::Open(paths_);
  ASSERT_TRUE(store);
  const Uuid u = *Uuid::Parse(kU1);
  WriteFileRaw(File(kU1, ".aes256cbc"), "oKGio6SlpqeoqaqrrK2urwiBWyD2LXJijfbHA64vSrg=");
  auto key = [&](const std::string& name) {
    auto k = ReadKeyFile(Env::Default(), KeyPath(name));
    EXPECT_TRUE(k);
    return std::move(*k);
  };
  std::vector<EncryptionKey> ba;
  ba.push_back(key("b"));
  ba.push_back(key("a"));
  (*store)->SetValueProtection(ValueProtection{true, std::make_shared<const Keyring>(std::move(ba), 1)});
  auto v = (*store)->ReadValue(u);
  EXPECT_FALSE(v && *v && (*v)->AsStringView() == "hello");
  std::vector<EncryptionKey> ab;
  ab.push_back(key("a"));
  ab.push_back(key("b"));
  (*store)->SetValueProtection(ValueProtection{true, std::make_shared<const Keyring>(std::move(ab), 1)});
  v = (*store)->ReadValue(u);
  ASSERT_TRUE(v && *v);
  EXPECT_EQ((*v)->AsStringView(), "hello");
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
  // Nothing is converted by reading.
  EXPECT_TRUE(FileExists(File(kU1, ".aes256cbc")));
  EXPECT_TRUE(FileExists(File(kU2, ".base64")));
  Set(kU2, "legacy");
  EXPECT_FALSE(FileExists(File(kU2, ".base64")));
  EXPECT_TRUE(FileExists(File(kU2, ".aes256cbc")));
}

TEST_F(EncryptedStoreTest, WrongKeyIsReportedNeverGarbage) {
  // .vsenc names its key; libvirt's .aes256cbc cannot (see Aes256CbcIsDecryptedWithTheConfiguredKeyOnly).
  WriteFileRaw(paths_.config_dir + "/vsecret-store.conf", "value_format = \"vsenc\"\n");
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
  EXPECT_EQ(Read(), "c");  // the write format first
  ValueProtection sealing = store_->value_protection();
  sealing.encrypted_format = ValueFormat::kSealed;
  store_->SetValueProtection(sealing);
  EXPECT_EQ(Read(), "s");
  store_->SetValueProtection(ValueProtection{true, store_->value_protection().keyring});
  fs::remove(store_->ValuePath(uuid_, ValueFormat::kAes256Cbc));
  EXPECT_EQ(Read(), "s");  // then the authenticated file
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
  WriteFileRaw(paths_.config_dir + "/vsecret-store.conf", "value_format = \"vsenc\"\n");
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
  EXPECT_TRUE(FileExists(File(kU1, ".aes256cbc")));
}

}  // namespace
}  // namespace vsecret
