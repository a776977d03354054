// The key decision (libvirt 12.1's, see store/encryption_config.h), key-file checks, secret.conf loading and
// the rotation journal; and that every key problem stops the driver from starting.
#include "store/encryption_config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "driver/secret_driver.h"
#include "test_util.h"

namespace vsecret {
namespace {

using test::FileExists;
using test::TempDir;
using test::WriteFileRaw;

std::string Key32(char fill = 'k') { return std::string(32, fill); }

void WriteKey(const std::string& path, const std::string& bytes, mode_t mode = 0600) {
  WriteFileRaw(path, bytes);
  ::chmod(path.c_str(), mode);
}

KeyEnvironment KeyEnv(std::optional<std::string> creds = std::nullopt) {
  return KeyEnvironment{std::move(creds), "/run/user/1000"};
}

// ---------------------------------------------------------------------------------------------
// The key decision table: secrets_encryption_key, encrypt_data and the systemd credential.

TEST(EncryptionDecisionTest, NothingSetMeansOff) {
  EncryptionDecision d = DecideEncryption(SecretConf{}, KeyEnv(), false);
  EXPECT_FALSE(d.enabled);
  EXPECT_FALSE(d.key_path);
  EXPECT_EQ(d.source, KeySource::kNone);
}

TEST(EncryptionDecisionTest, ConfiguredPathTurnsEncryptionOn) {
  EncryptionDecision d = DecideEncryption(SecretConf{std::nullopt, "/etc/k"}, KeyEnv(), false);
  EXPECT_TRUE(d.enabled);
  EXPECT_EQ(d.key_path, std::optional<std::string>("/etc/k"));
  EXPECT_EQ(d.source, KeySource::kConfigured);
}

TEST(EncryptionDecisionTest, CredentialTurnsEncryptionOnOnlyIfItExists) {
  EncryptionDecision d = DecideEncryption(SecretConf{}, KeyEnv("/run/credentials/x"), true);
  EXPECT_TRUE(d.enabled);
  EXPECT_EQ(d.key_path, std::optional<std::string>("/run/credentials/x/secrets-encryption-key"));
  EXPECT_EQ(d.source, KeySource::kCredential);
  EXPECT_FALSE(DecideEncryption(SecretConf{}, KeyEnv("/run/credentials/x"), false).enabled);
}

TEST(EncryptionDecisionTest, ConfiguredPathWinsOverCredential) {
  EncryptionDecision d = DecideEncryption(SecretConf{std::nullopt, "/etc/k"}, KeyEnv("/creds"), true);
  EXPECT_EQ(d.key_path, std::optional<std::string>("/etc/k"));
  EXPECT_EQ(d.source, KeySource::kConfigured);
}

TEST(EncryptionDecisionTest, EncryptDataZeroWins) {
  EXPECT_FALSE(DecideEncryption(SecretConf{false, "/etc/k"}, KeyEnv("/creds"), true).enabled);
  EXPECT_FALSE(DecideEncryption(SecretConf{false, std::nullopt}, KeyEnv("/creds"), true).enabled);
}

TEST(EncryptionDecisionTest, EncryptDataOneUsesTheDefaultPath) {
  EncryptionDecision d = DecideEncryption(SecretConf{true, std::nullopt}, KeyEnv(), false);
  EXPECT_TRUE(d.enabled);
  EXPECT_EQ(d.key_path, std::optional<std::string>("/run/user/1000/libvirt/secrets/encryption-key"));
  EXPECT_EQ(d.source, KeySource::kDefault);
  EXPECT_EQ(DecideEncryption(SecretConf{true, std::nullopt}, KeyEnv("/creds"), true).source,
            KeySource::kCredential);
}

TEST(EncryptionDecisionTest, ConfPathIsNextToTheConfigDir) {
  EXPECT_EQ(EncryptionOptions::ForStore(StorePaths::ForRoot("/srv/r")).secret_conf_path,
            std::optional<std::string>("/srv/r/etc/secret.conf"));
  EXPECT_EQ(EncryptionOptions::ForStore(StorePaths{"/etc/libvirt/secrets", "/run/libvirt/secrets"})
                .secret_conf_path,
            std::optional<std::string>("/etc/libvirt/secret.conf"));
  EXPECT_EQ(
      EncryptionOptions::ForStore(StorePaths{"/home/u/.config/libvirt/secrets/", "/run/x"}).secret_conf_path,
      std::optional<std::string>("/home/u/.config/libvirt/secret.conf"));
  EXPECT_FALSE(EncryptionOptions::Disabled().secret_conf_path);
}

// ---------------------------------------------------------------------------------------------
// Key files.

class KeyFileTest : public ::testing::Test {
 protected:
  std::string Path(const char* name) const { return tmp_.path() + "/" + name; }
  std::string Read(const std::string& path, Env* env = Env::Default()) {
    auto key = ReadKeyFile(env, path);
    return key ? "ok " + KeyIdToHex(key->id()) : key.error().message();
  }
  TempDir tmp_;
};

TEST_F(KeyFileTest, Exactly32BytesIsAccepted) {
  WriteKey(Path("k"), Key32());
  auto key = ReadKeyFile(Env::Default(), Path("k"));
  ASSERT_TRUE(key) << key.error().message();
  EXPECT_EQ(key->bytes().AsStringView(), Key32());
  EXPECT_EQ(key->origin(), Path("k"));
}

TEST_F(KeyFileTest, MissingShortLongAndDirectory) {
  EXPECT_EQ(Read(Path("none")), "Failed to open file '" + Path("none") + "': No such file or directory");
  WriteKey(Path("short"), std::string(31, 'k'));
  EXPECT_EQ(Read(Path("short")), "Encryption key length must be '32' '" + Path("short") + "'");
  WriteKey(Path("empty"), "");
  EXPECT_EQ(Read(Path("empty")), "Encryption key length must be '32' '" + Path("empty") + "'");
  WriteKey(Path("long"), Key32() + "\n");
  EXPECT_EQ(Read(Path("long")),
            "Failed to read file '" + Path("long") + "': Value too large for defined data type");
  std::filesystem::create_directory(Path("dir"));
  EXPECT_EQ(Read(Path("dir")), "Failed to read file '" + Path("dir") + "': Is a directory");
}

TEST_F(KeyFileTest, UnreadableIsReported) {
  // Root reads any file, so the refusal is injected.
  struct DenyEnv : EnvWrapper {
    DenyEnv() : EnvWrapper(Env::Default()) {}
    IoResult<std::unique_ptr<ReadableFile>> NewReadableFile(const std::string& path) override {
      if (path.ends_with("/k")) return IoFail(IoOp::kOpen, EACCES);
      return EnvWrapper::NewReadableFile(path);
    }
  } env;
  WriteKey(Path("k"), Key32());
  EXPECT_EQ(Read(Path("k"), &env), "Failed to open file '" + Path("k") + "': Permission denied");
}

TEST_F(KeyFileTest, AccessibleByOthersIsRefused) {
  for (mode_t mode : {0644, 0604, 0602, 0601, 0666}) {
    WriteKey(Path("k"), Key32(), mode);
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode));
    EXPECT_EQ(Read(Path("k")), "Encryption key file '" + Path("k") +
                                   "' must not be accessible by other users (mode " + octal + ")");
  }
  for (mode_t mode : {0600, 0400, 0640, 0440}) {
    WriteKey(Path("k"), Key32(), mode);
    EXPECT_TRUE(Read(Path("k")).starts_with("ok ")) << mode;
  }
}

// ---------------------------------------------------------------------------------------------
// LoadEncryption and the driver.

class LoadEncryptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    paths_ = StorePaths::ForRoot(tmp_.path());
    std::filesystem::create_directories(paths_.config_dir);
    options_.secret_conf_path = tmp_.path() + "/etc/secret.conf";
    options_.environment = KeyEnvironment{std::nullopt, tmp_.path() + "/runtime"};
  }
  void Conf(const std::string& text) { WriteFileRaw(*options_.secret_conf_path, text); }
  std::string Load() {
    auto loaded = LoadEncryption(options_, paths_, Env::Default());
    if (!loaded) return loaded.error().message();
    if (!loaded->decision.enabled) return "off";
    return "on " + KeyIdToHex(loaded->keyring->write_key().id()) + " " + *loaded->decision.key_path;
  }
  std::string DriverOpenError() {
    auto driver = SecretDriver::Open(paths_, options_);
    return driver ? "(opened)" : driver.error().message();
  }
  std::string KeyPath() const { return tmp_.path() + "/key"; }

  TempDir tmp_;
  StorePaths paths_;
  EncryptionOptions options_;
};

TEST_F(LoadEncryptionTest, MissingConfIsAllUnset) { EXPECT_EQ(Load(), "off"); }

TEST_F(LoadEncryptionTest, ConfiguredKeyIsLoaded) {
  WriteKey(KeyPath(), Key32());
  Conf("secrets_encryption_key = \"" + KeyPath() + "\"\n");
  const std::string id = KeyIdToHex(EncryptionKey::FromBytes(SecretBytes(Key32()), "")->id());
  EXPECT_EQ(Load(), "on " + id + " " + KeyPath());
}

TEST_F(LoadEncryptionTest, CredentialsDirectoryIsUsed) {
  std::filesystem::create_directory(tmp_.path() + "/creds");
  options_.environment.credentials_directory = tmp_.path() + "/creds";
  EXPECT_EQ(Load(), "off");  // set but without the credential: ignored
  WriteKey(tmp_.path() + "/creds/secrets-encryption-key", Key32('c'), 0400);
  EXPECT_TRUE(Load().starts_with("on ")) << Load();
  Conf("encrypt_data = 0\n");
  EXPECT_EQ(Load(), "off");
}

TEST_F(LoadEncryptionTest, DefaultKeyPathMustExist) {
  Conf("encrypt_data = 1\n");
  const std::string path = tmp_.path() + "/runtime/libvirt/secrets/encryption-key";
  EXPECT_EQ(Load(), "Failed to open file '" + path + "': No such file or directory");
  std::filesystem::create_directories(tmp_.path() + "/runtime/libvirt/secrets");
  WriteKey(path, Key32());
  EXPECT_TRUE(Load().starts_with("on ")) << Load();
}

TEST_F(LoadEncryptionTest, EveryKeyProblemFailsDriverStartAndWritesNothing) {
  const std::string conf_line = "secrets_encryption_key = \"" + KeyPath() + "\"\n";
  Conf(conf_line);
  struct Case {
    std::function<void()> make;
    std::string message;
  };
  const std::vector<Case> cases = {
      {[&] { std::filesystem::remove(KeyPath()); },
       "Failed to open file '" + KeyPath() + "': No such file or directory"},
      {[&] { WriteKey(KeyPath(), "short"); }, "Encryption key length must be '32' '" + KeyPath() + "'"},
      {[&] { WriteKey(KeyPath(), Key32() + "x"); },
       "Failed to read file '" + KeyPath() + "': Value too large for defined data type"},
      {[&] { WriteKey(KeyPath(), Key32(), 0644); },
       "Encryption key file '" + KeyPath() + "' must not be accessible by other users (mode 0644)"},
  };
  for (const Case& c : cases) {
    c.make();
    EXPECT_EQ(DriverOpenError(), c.message);
    // Not even the directories or the pid file: the failure comes before the store is touched.
    EXPECT_FALSE(FileExists(paths_.state_dir + "/driver.pid"));
  }
  Conf("encrypt_data = 2\n");
  EXPECT_EQ(DriverOpenError(), "internal error: " + *options_.secret_conf_path +
                                   ": value for 'encrypt_data' parameter must be 0 or 1");
  Conf("encrypt_data = 1\nsecrets_encryption_key = \"" + KeyPath());
  EXPECT_EQ(DriverOpenError(),
            "configuration file syntax error: " + *options_.secret_conf_path + ":2: unterminated string");
  std::filesystem::remove(*options_.secret_conf_path);
  std::filesystem::create_directory(*options_.secret_conf_path);
  EXPECT_EQ(DriverOpenError(), "Failed to read file '" + *options_.secret_conf_path + "': Is a directory");
}

TEST_F(LoadEncryptionTest, DefaultDriverOpenReadsTheRootsSecretConf) {
  // SecretDriver::Open(paths) (embedded connections, vsecretd --root) reads DIR/etc/secret.conf.
  Conf("secrets_encryption_key = \"" + KeyPath() + "\"\n");
  auto driver = SecretDriver::Open(paths_);
  ASSERT_FALSE(driver);
  EXPECT_EQ(driver.error().message(), "Failed to open file '" + KeyPath() + "': No such file or directory");
}

TEST_F(LoadEncryptionTest, RotationJournalAddsThePendingKey) {
  WriteKey(KeyPath(), Key32('a'));
  WriteKey(tmp_.path() + "/new", Key32('b'));
  Conf("secrets_encryption_key = \"" + KeyPath() + "\"\n");
  auto a = *EncryptionKey::FromBytes(SecretBytes(Key32('a')), "");
  auto b = *EncryptionKey::FromBytes(SecretBytes(Key32('b')), "");
  ASSERT_TRUE(WriteRotationJournal(Env::Default(), paths_, RotationJournal{tmp_.path() + "/new", b.id()}));
  EXPECT_EQ(test::FileMode(RotationJournalPath(paths_)), 0600u);
  auto loaded = LoadEncryption(options_, paths_, Env::Default());
  ASSERT_TRUE(loaded) << loaded.error().message();
  ASSERT_TRUE(loaded->rotation);
  EXPECT_EQ(loaded->keyring->keys().size(), 2u);
  EXPECT_EQ(loaded->keyring->write_key().id(), b.id());
  EXPECT_NE(loaded->keyring->Find(a.id()), nullptr);

  // A journal whose key file changed underneath it is refused rather than guessed at.
  WriteKey(tmp_.path() + "/new", Key32('c'));
  auto changed = LoadEncryption(options_, paths_, Env::Default());
  ASSERT_FALSE(changed);
  EXPECT_NE(changed.error().message().find("but the rotation journal"), std::string::npos);
  std::filesystem::remove(tmp_.path() + "/new");
  EXPECT_EQ(Load(), "Failed to open file '" + tmp_.path() + "/new': No such file or directory");

  WriteFileRaw(RotationJournalPath(paths_), "pending_key = \"/x\"\n");
  EXPECT_EQ(Load(), "internal error: rotation journal '" + RotationJournalPath(paths_) +
                        "' is invalid: no valid pending_key_id");
  ASSERT_TRUE(RemoveRotationJournal(Env::Default(), paths_));
  EXPECT_FALSE(FileExists(RotationJournalPath(paths_)));
  EXPECT_TRUE(RemoveRotationJournal(Env::Default(), paths_));  // absent is fine
  EXPECT_TRUE(Load().starts_with("on ")) << Load();
}

TEST_F(LoadEncryptionTest, KeyOverrideReplacesTheConfiguredPath) {
  Conf("secrets_encryption_key = \"/nonexistent\"\n");
  WriteKey(KeyPath(), Key32());
  options_.key_path_override = KeyPath();
  EXPECT_TRUE(Load().ends_with(" " + KeyPath())) << Load();
}

}  // namespace
}  // namespace vsecret
