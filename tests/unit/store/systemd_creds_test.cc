// The systemd integration for real: packaging/vsecret-init-encryption.service's command creates
// the credential with systemd-creds (host-key mode, with a private host key so that the machine's
// /var/lib/systemd is not touched), systemd-creds decrypts it into a credentials directory as
// LoadCredentialEncrypted= would, and the driver and vsecretd pick the key up from
// $CREDENTIALS_DIRECTORY. Skipped where systemd-creds is not installed (scripts/install-deps.sh
// installs it).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "driver/secret_driver.h"
#include "store/aes256cbc_format.h"
#include "store/encryption_config.h"
#include "store/encryption_key.h"
#include "store/store_maintenance.h"
#include "test_util.h"
#include "vsecret/connection.h"

namespace vsecret {
namespace {

namespace fs = std::filesystem;
using test::FileExists;
using test::ReadFileOrEmpty;
using test::TempDir;
using test::WriteFileRaw;

constexpr char kU1[] = "0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f";

// The value held by a libvirt-format value file, decrypted with exactly these 32 key bytes.
std::string OpenedWith(const std::string& key_bytes, const std::string& path) {
  auto key = EncryptionKey::FromBytes(SecretBytes(key_bytes), "test key");
  if (!key) return "error: " + key.error().message();
  std::vector<EncryptionKey> keys;
  keys.push_back(std::move(*key));
  const Keyring keyring(std::move(keys), 0);
  auto value = DecodeAes256CbcValue(&keyring, SecretBytes(ReadFileOrEmpty(path)), path);
  return value ? std::string(value->AsStringView()) : "error: " + value.error().error.message();
}

std::string FindOnPath(const std::string& name) {
  for (const char* dir : {"/usr/bin", "/bin", "/usr/local/bin"}) {
    std::string path = std::string(dir) + "/" + name;
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

// Runs a shell command with extra environment, returning its exit status (-1 if it did not exit).
int Sh(const std::string& command, const std::string& env = "") {
  const int status = std::system((env + " /bin/sh -c '" + command + "'").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string SourceDir() {
  // VSECRET_TEST_DATA_DIR is <source>/tests/data.
  return fs::path(VSECRET_TEST_DATA_DIR).parent_path().parent_path().string();
}

std::string BuiltBinary(const std::string& name) {
  // The test binary is <build>/tests/vsecret_unit_tests; executables are in <build>/bin.
  const fs::path self = fs::read_symlink("/proc/self/exe");
  return (self.parent_path().parent_path() / "bin" / name).string();
}

class SystemdCredsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    creds_bin_ = FindOnPath("systemd-creds");
    if (creds_bin_.empty())
      GTEST_SKIP() << "systemd-creds not installed (scripts/install-deps.sh installs systemd)";
    host_env_ = "SYSTEMD_CREDENTIAL_SECRET=" + tmp_.path() + "/host.secret";
    credential_ = tmp_.path() + "/var/lib/libvirt/secrets/secrets-encryption-key";
    creds_dir_ = tmp_.path() + "/credentials";
    fs::create_directories(creds_dir_);
  }

  // The unit's ExecStart, pointed at the temporary tree instead of /var/lib/libvirt.
  std::string InitCommand() const {
    std::ifstream unit(SourceDir() + "/packaging/vsecret-init-encryption.service");
    std::string line;
    while (std::getline(unit, line)) {
      if (!line.starts_with("ExecStart=/bin/sh -c '")) continue;
      std::string command = line.substr(std::string("ExecStart=/bin/sh -c '").size());
      command.pop_back();  // the closing quote
      const std::string from = "/var/lib/libvirt";
      const std::string to = tmp_.path() + from;
      // The replacement contains what it replaces, so the search resumes after it.
      for (std::size_t at = command.find(from); at != std::string::npos;
           at = command.find(from, at + to.size())) {
        command.replace(at, from.size(), to);
      }
      return command;
    }
    return "";
  }

  // What LoadCredentialEncrypted= does before the service starts.
  void DecryptIntoCredentialsDirectory() {
    ASSERT_EQ(Sh("umask 0277 && " + creds_bin_ + " decrypt --name=secrets-encryption-key " + credential_ +
                     " " + creds_dir_ + "/secrets-encryption-key",
                 host_env_),
              0);
  }

  EncryptionOptions Options(const std::string& root) const {
    EncryptionOptions o;
    o.secret_conf_path = root + "/etc/secret.conf";
    o.environment = KeyEnvironment{creds_dir_, tmp_.path() + "/runtime"};
    return o;
  }

  TempDir tmp_;
  std::string creds_bin_;
  std::string host_env_;
  std::string credential_;
  std::string creds_dir_;
};

TEST_F(SystemdCredsTest, InitServiceCreatesASealedKeyThatTheDriverUses) {
  const std::string command = InitCommand();
  ASSERT_FALSE(command.empty());
  ASSERT_EQ(Sh(command, host_env_), 0);
  ASSERT_TRUE(FileExists(credential_));
  EXPECT_FALSE(FileExists(credential_ + ".new"));
  EXPECT_EQ(test::FileMode(credential_) & 077, 0u);
  // Sealed: the file is systemd-creds' format, not the 32 raw bytes.
  EXPECT_NE(ReadFileOrEmpty(credential_).size(), 32u);

  DecryptIntoCredentialsDirectory();
  const std::string key_bytes = ReadFileOrEmpty(creds_dir_ + "/secrets-encryption-key");
  ASSERT_EQ(key_bytes.size(), 32u);

  // No secret.conf: the credential alone turns encryption on (an unset encrypt_data follows the key).
  const std::string root = tmp_.path() + "/root";
  const StorePaths paths = StorePaths::ForRoot(root);
  {
    auto driver = SecretDriver::Open(paths, Options(root));
    ASSERT_TRUE(driver) << driver.error().message();
    ASSERT_TRUE((*driver)->DefineXml(Caller{}, std::string("<secret><uuid>") + kU1 + "</uuid></secret>", 0));
    ASSERT_TRUE(
        (*driver)->SetValue(Caller{}, *Uuid::Parse(kU1), SecretBytes(std::string_view("under creds")), 0));
  }
  // libvirt 12.x's format, under the credential's key.
  EXPECT_EQ(OpenedWith(key_bytes, paths.config_dir + "/" + kU1 + ".aes256cbc"), "under creds");
  {
    auto driver = SecretDriver::Open(paths, Options(root));
    ASSERT_TRUE(driver);
    auto v = (*driver)->GetValue(Caller{}, *Uuid::Parse(kU1), 0);
    ASSERT_TRUE(v) << v.error().message();
    EXPECT_EQ(v->AsStringView(), "under creds");
  }

  // The service's condition: a second run is skipped by systemd, so the command is never
  // repeated; if it were, it would replace the key. Prove the credential is bound to the name.
  EXPECT_NE(
      Sh(creds_bin_ + " decrypt --name=other-name " + credential_ + " " + tmp_.path() + "/x", host_env_), 0);
}

TEST_F(SystemdCredsTest, RotationReSealsIntoANewCredential) {
  ASSERT_EQ(Sh(InitCommand(), host_env_), 0);
  DecryptIntoCredentialsDirectory();
  const std::string root = tmp_.path() + "/root";
  const StorePaths paths = StorePaths::ForRoot(root);
  {
    auto driver = SecretDriver::Open(paths, Options(root));
    ASSERT_TRUE(driver);
    ASSERT_TRUE((*driver)->DefineXml(Caller{}, std::string("<secret><uuid>") + kU1 + "</uuid></secret>", 0));
    ASSERT_TRUE(
        (*driver)->SetValue(Caller{}, *Uuid::Parse(kU1), SecretBytes(std::string_view("rotated")), 0));
  }
  WriteFileRaw(tmp_.path() + "/new.key", std::string(32, 'N'));
  ::chmod((tmp_.path() + "/new.key").c_str(), 0600);
  {
    auto loaded = LoadEncryption(Options(root), paths, Env::Default());
    ASSERT_TRUE(loaded);
    EXPECT_EQ(loaded->decision.source, KeySource::kCredential);
    auto store = SecretStore::Open(paths);
    ASSERT_TRUE(store);
    (*store)->SetValueProtection(loaded->protection());
    RotationRequest request;
    request.new_key_path = tmp_.path() + "/new.key";
    request.credential_path = credential_;
    ::setenv("SYSTEMD_CREDENTIAL_SECRET", (tmp_.path() + "/host.secret").c_str(), 1);
    auto report = RotateKey(**store, *loaded, request, nullptr);
    ::unsetenv("SYSTEMD_CREDENTIAL_SECRET");
    ASSERT_TRUE(report) << report.error().message();
    EXPECT_TRUE(report->completed);
    EXPECT_EQ(report->installed_at, credential_);
  }
  // systemd would hand the service the re-sealed credential at its next start.
  fs::remove(creds_dir_ + "/secrets-encryption-key");
  DecryptIntoCredentialsDirectory();
  EXPECT_EQ(ReadFileOrEmpty(creds_dir_ + "/secrets-encryption-key"), std::string(32, 'N'));
  auto driver = SecretDriver::Open(paths, Options(root));
  ASSERT_TRUE(driver) << driver.error().message();
  auto v = (*driver)->GetValue(Caller{}, *Uuid::Parse(kU1), 0);
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(v->AsStringView(), "rotated");
}

// vsecretd itself, started the way the unit starts it: CREDENTIALS_DIRECTORY set, no secret.conf.
class VsecretdCredsTest : public SystemdCredsTest {
 protected:
  void SetUp() override {
    SystemdCredsTest::SetUp();
    if (IsSkipped()) return;
    daemon_ = BuiltBinary("vsecretd");
    if (::access(daemon_.c_str(), X_OK) != 0) GTEST_SKIP() << "vsecretd not built at " << daemon_;
    root_ = tmp_.path() + "/root";
  }
  void TearDown() override { Stop(); }

  // Starts vsecretd --root; returns once its socket exists or it has exited.
  void Start() {
    const std::string log = tmp_.path() + "/vsecretd.log";
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setenv("CREDENTIALS_DIRECTORY", creds_dir_.c_str(), 1);
      if (::freopen(log.c_str(), "w", stderr) == nullptr) ::_exit(126);
      ::execl(daemon_.c_str(), daemon_.c_str(), "--root", root_.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 200; ++i) {
      if (FileExists(root_ + "/run/virtsecretd-sock")) return;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
  }
  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  std::string Log() const { return ReadFileOrEmpty(tmp_.path() + "/vsecretd.log"); }

  std::string daemon_;
  std::string root_;
  pid_t pid_ = -1;
  int exit_status_ = 0;
};

TEST_F(VsecretdCredsTest, DaemonSealsValuesWithTheCredential) {
  ASSERT_EQ(Sh(InitCommand(), host_env_), 0);
  DecryptIntoCredentialsDirectory();
  const std::string key_bytes = ReadFileOrEmpty(creds_dir_ + "/secrets-encryption-key");
  Start();
  ASSERT_GT(pid_, 0) << "vsecretd exited with " << exit_status_ << ":\n" << Log();
  {
    auto conn = OpenConnection("secret:///system?socket=" + root_ + "/run/virtsecretd-sock", false);
    ASSERT_TRUE(conn) << conn.error().message();
    ASSERT_TRUE((*conn)->DefineXml(std::string("<secret><uuid>") + kU1 + "</uuid></secret>", 0));
    auto set = (*conn)->SetValue(*Uuid::Parse(kU1), SecretBytes(std::string_view("via vsecretd")), 0);
    ASSERT_TRUE(set) << set.error().message();
  }
  Stop();
  EXPECT_EQ(OpenedWith(key_bytes, root_ + "/etc/secrets/" + kU1 + ".aes256cbc"), "via vsecretd");
  EXPECT_FALSE(FileExists(root_ + "/etc/secrets/" + kU1 + ".base64"));
  EXPECT_EQ(ReadFileOrEmpty(root_ + "/etc/secrets/" + kU1 + ".aes256cbc").find("via vsecretd"),
            std::string::npos);
}

TEST_F(VsecretdCredsTest, DaemonRefusesToStartWithABadCredential) {
  ASSERT_EQ(Sh(InitCommand(), host_env_), 0);
  DecryptIntoCredentialsDirectory();
  const std::string key = creds_dir_ + "/secrets-encryption-key";
  ::chmod(key.c_str(), 0644);
  Start();
  EXPECT_EQ(pid_, -1) << "vsecretd started with a world-readable key";
  EXPECT_NE(exit_status_, 0);
  EXPECT_NE(Log().find("Encryption key file '" + key + "' must not be accessible by other users (mode 0644)"),
            std::string::npos)
      << Log();
  EXPECT_FALSE(FileExists(root_ + "/etc/secrets"));  // nothing was created, let alone written in the clear

  ::chmod(key.c_str(), 0600);
  WriteFileRaw(key, std::string(16, 'x'));
  Start();
  EXPECT_EQ(pid_, -1);
  EXPECT_NE(Log().find("Encryption key length must be '32' '" + key + "'"), std::string::npos) << Log();
}

}  // namespace
}  // namespace vsecret
