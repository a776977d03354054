// Whole-store maintenance: migration of a libvirt store to .vsenc, key rotation (including a
// process killed at random points) and export back to libvirt's formats.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include "base/base64.h"
#include "driver/secret_driver.h"
#include "store/encryption_config.h"
#include "store/secret_store.h"
#include "store/store_maintenance.h"
#include "test_util.h"

namespace vsecret {
namespace {

namespace fs = std::filesystem;
using test::FileExists;
using test::FileMode;
using test::ReadFileOrEmpty;
using test::TempDir;
using test::WriteFileRaw;

std::string KeyBytes(char fill) { return std::string(32, fill); }

Uuid UuidFor(int i) {
  char text[40];
  std::snprintf(text, sizeof text, "%08x-0000-4000-8000-%012x", i, i);
  return *Uuid::Parse(text);
}

RotationRequest Rotation(const std::string& new_key) {
  RotationRequest r;
  r.new_key_path = new_key;
  return r;
}

std::string ValueFor(int i) { return "value-" + std::to_string(i) + std::string(i % 7, '*'); }

class MaintenanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.path() + "/root";
    paths_ = StorePaths::ForRoot(root_);
    fs::create_directories(paths_.config_dir);
    WriteKeyFile("old", KeyBytes('o'));
    WriteKeyFile("new", KeyBytes('n'));
    UseKey("old");
  }

  std::string KeyPath(const std::string& name) const { return tmp_.path() + "/" + name + ".key"; }
  void WriteKeyFile(const std::string& name, const std::string& bytes) {
    WriteFileRaw(KeyPath(name), bytes);
    ::chmod(KeyPath(name).c_str(), 0600);
  }
  void UseKey(const std::string& name) {
    WriteFileRaw(root_ + "/etc/secret.conf", "secrets_encryption_key = \"" + KeyPath(name) + "\"\n");
  }
  EncryptionOptions Options() const {
    EncryptionOptions o;
    o.secret_conf_path = root_ + "/etc/secret.conf";
    o.environment = KeyEnvironment{std::nullopt, tmp_.path() + "/runtime"};
    return o;
  }
  Result<LoadedEncryption> Load() const { return LoadEncryption(Options(), paths_, Env::Default()); }

  // A store opened as vsecret-admin opens it.
  std::unique_ptr<SecretStore> OpenStore(const LoadedEncryption& loaded) {
    auto store = SecretStore::Open(paths_);
    EXPECT_TRUE(store) << store.error().message();
    if (!store) return nullptr;
    (*store)->SetValueProtection(loaded.protection());
    return std::move(*store);
  }

  // n secrets with values spread over the three formats, all under the current key.
  void Populate(int n) {
    auto loaded = Load();
    ASSERT_TRUE(loaded) << loaded.error().message();
    auto store = OpenStore(*loaded);
    ASSERT_TRUE(store);
    for (int i = 0; i < n; ++i) {
      SecretDef def;
      def.uuid = UuidFor(i);
      ASSERT_TRUE(store->WriteDefinition(def));
      const ValueFormat format = i % 3 == 0   ? ValueFormat::kBase64
                                 : i % 3 == 1 ? ValueFormat::kAes256Cbc
                                              : ValueFormat::kSealed;
      ASSERT_TRUE(store->WriteValueFile(def.uuid, SecretBytes(std::string_view(ValueFor(i))), format, true));
    }
  }

  // Opens the driver as a restarted daemon would and checks every value.
  void ExpectAllReadable(int n) {
    auto d = SecretDriver::Open(paths_, Options());
    ASSERT_TRUE(d) << d.error().message();
    ASSERT_EQ((*d)->NumOfSecrets(), n);
    for (int i = 0; i < n; ++i) {
      auto v = (*d)->GetValue(Caller{false, true}, UuidFor(i), 0);
      ASSERT_TRUE(v) << i << ": " << v.error().message();
      ASSERT_EQ(v->AsStringView(), ValueFor(i)) << i;
    }
  }

  std::map<std::string, std::size_t> Found() {
    auto loaded = Load();
    EXPECT_TRUE(loaded);
    auto store = OpenStore(*loaded);
    auto report = VerifyStore(*store, nullptr);
    EXPECT_TRUE(report);
    EXPECT_TRUE(report->failures.empty()) << report->failures.front();
    return report->found;
  }

  std::string IdOf(const std::string& name) {
    return KeyIdToHex(EncryptionKey::FromBytes(SecretBytes(ReadFileOrEmpty(KeyPath(name))), "")->id());
  }

  TempDir tmp_;
  std::string root_;
  StorePaths paths_;
};

TEST_F(MaintenanceTest, ListStoredValuesIgnoresForeignNames) {
  Populate(3);
  WriteFileRaw(paths_.config_dir + "/not-a-uuid.base64", "eA==");
  WriteFileRaw(paths_.config_dir + "/0A81F5B2-8403-7B23-C8D6-21CCC2F80D6F.base64", "eA==");
  auto store = OpenStore(*Load());
  auto uuids = ListStoredValues(*store);
  ASSERT_TRUE(uuids);
  EXPECT_EQ(uuids->size(), 3u);
}

TEST_F(MaintenanceTest, MigrateConvertsALibvirtStoreAndIsIdempotent) {
  const int n = 30;
  Populate(n);
  const std::string old_id = IdOf("old");
  EXPECT_EQ(Found(),
            (std::map<std::string, std::size_t>{{"aes256cbc", 10}, {"base64", 10}, {"vsenc " + old_id, 10}}));
  {
    auto store = OpenStore(*Load());
    std::vector<std::pair<std::size_t, std::size_t>> calls;
    auto report = ConvertValues(*store, ValueFormat::kSealed, [&](std::size_t done, std::size_t total) {
      calls.emplace_back(done, total);
    });
    ASSERT_TRUE(report);
    EXPECT_EQ(report->values, 30u);
    EXPECT_EQ(report->rewritten, 20u);
    EXPECT_EQ(report->unchanged, 10u);
    EXPECT_TRUE(report->failures.empty());
    ASSERT_FALSE(calls.empty());
    EXPECT_EQ(calls.back(), std::make_pair(std::size_t{30}, std::size_t{30}));
    auto again = ConvertValues(*store, ValueFormat::kSealed, nullptr);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->rewritten, 0u);
    EXPECT_EQ(again->unchanged, 30u);
  }
  EXPECT_EQ(Found(), (std::map<std::string, std::size_t>{{"vsenc " + old_id, 30}}));
  for (const auto& entry : fs::directory_iterator(paths_.config_dir)) {
    const std::string ext = entry.path().extension();
    EXPECT_TRUE(ext == ".xml" || ext == ".vsenc") << entry.path();
  }
  ExpectAllReadable(n);
}

TEST_F(MaintenanceTest, MigrateWithoutAKeyIsRefused) {
  Populate(3);
  fs::remove(root_ + "/etc/secret.conf");
  auto loaded = Load();
  ASSERT_TRUE(loaded);
  auto store = OpenStore(*loaded);
  auto report = ConvertValues(*store, ValueFormat::kSealed, nullptr);
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().message(), "cannot write vsenc values: no encryption key is configured");
}

TEST_F(MaintenanceTest, RotateReSealsInstallsTheKeyAndDropsTheJournal) {
  const int n = 40;
  Populate(n);
  const std::string new_bytes = ReadFileOrEmpty(KeyPath("new"));
  {
    auto loaded = Load();
    auto store = OpenStore(*loaded);
    auto report = RotateKey(*store, *loaded, Rotation(KeyPath("new")), nullptr);
    ASSERT_TRUE(report) << report.error().message();
    EXPECT_TRUE(report->completed);
    EXPECT_EQ(report->values.rewritten, 40u);
    EXPECT_EQ(report->reformatted, 40u);  // back to libvirt's .aes256cbc, under the new key only
    EXPECT_EQ(report->installed_at, KeyPath("old"));
  }
  EXPECT_EQ(ReadFileOrEmpty(KeyPath("old")), new_bytes);  // the configured file now holds the new key
  EXPECT_EQ(FileMode(KeyPath("old")), 0600u);
  EXPECT_FALSE(FileExists(RotationJournalPath(paths_)));
  EXPECT_EQ(Found(), (std::map<std::string, std::size_t>{{"aes256cbc", 40}}));
  ExpectAllReadable(n);
}

TEST_F(MaintenanceTest, RotateInAStoreOptedInToVsencStaysVsenc) {
  const int n = 9;
  Populate(n);
  ASSERT_TRUE(WriteStoreFormat(Env::Default(), paths_, ValueFormat::kSealed));
  const std::string new_id = IdOf("new");
  {
    auto loaded = Load();
    ASSERT_TRUE(loaded);
    EXPECT_EQ(loaded->store_format, ValueFormat::kSealed);
    auto store = OpenStore(*loaded);
    auto report = RotateKey(*store, *loaded, Rotation(KeyPath("new")), nullptr);
    ASSERT_TRUE(report) << report.error().message();
    EXPECT_TRUE(report->completed);
    EXPECT_EQ(report->reformatted, 0u);
  }
  EXPECT_EQ(Found(), (std::map<std::string, std::size_t>{{"vsenc " + new_id, 9}}));
  ExpectAllReadable(n);
}

TEST_F(MaintenanceTest, InterruptedRotationWritesVsencWhateverTheStoreFormat) {
  Populate(3);
  ASSERT_TRUE(WriteRotationJournal(Env::Default(), paths_,
                                   RotationJournal{KeyPath("new"), *KeyIdFromHex(IdOf("new"))}));
  auto loaded = Load();
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(loaded->store_format, ValueFormat::kAes256Cbc);
  EXPECT_EQ(loaded->write_format, ValueFormat::kSealed);
  // .aes256cbc files are all under the configured key, .vsenc ones name theirs: both read.
  ExpectAllReadable(3);
}

TEST_F(MaintenanceTest, RotateRefusals) {
  Populate(2);
  auto loaded = Load();
  auto store = OpenStore(*loaded);
  auto err = [&](const LoadedEncryption& l, RotationRequest r) {
    auto report = RotateKey(*store, l, r, nullptr);
    return report ? std::string("(rotated)") : report.error().message();
  };
  EXPECT_EQ(err(*loaded, Rotation(KeyPath("old"))),
            "the new key must be in a different file than the current key '" + KeyPath("old") + "'");
  WriteKeyFile("same", KeyBytes('o'));
  EXPECT_EQ(err(*loaded, Rotation(KeyPath("same"))), "the new key is the key already in use");
  WriteKeyFile("short", "x");
  EXPECT_EQ(err(*loaded, Rotation(KeyPath("short"))),
            "Encryption key length must be '32' '" + KeyPath("short") + "'");
  LoadedEncryption off;
  EXPECT_TRUE(err(off, Rotation(KeyPath("new"))).ends_with("so there is no key to rotate"));
  LoadedEncryption from_credential = std::move(*loaded);
  from_credential.decision.source = KeySource::kCredential;
  EXPECT_TRUE(err(from_credential, Rotation(KeyPath("new"))).ends_with("to re-seal the new key into"));
  EXPECT_FALSE(FileExists(RotationJournalPath(paths_)));
}

TEST_F(MaintenanceTest, FailedValueKeepsBothKeysUntilFixed) {
  const int n = 6;
  Populate(n);
  // A corrupt value file cannot be re-sealed: the rotation must not install the new key.
  const std::string bad = paths_.config_dir + "/" + UuidFor(2).ToString() + ".vsenc";
  std::string content = ReadFileOrEmpty(bad);
  content[30] ^= 1;
  WriteFileRaw(bad, content);
  {
    auto loaded = Load();
    auto store = OpenStore(*loaded);
    auto report = RotateKey(*store, *loaded, Rotation(KeyPath("new")), nullptr);
    ASSERT_TRUE(report) << report.error().message();
    EXPECT_FALSE(report->completed);
    ASSERT_EQ(report->values.failures.size(), 1u);
    EXPECT_TRUE(report->values.failures[0].starts_with(UuidFor(2).ToString() + ": Invalid secret:"));
  }
  EXPECT_TRUE(FileExists(RotationJournalPath(paths_)));
  EXPECT_EQ(ReadFileOrEmpty(KeyPath("old")), KeyBytes('o'));
  {
    auto d = SecretDriver::Open(paths_, Options());  // both keys loaded from the journal
    ASSERT_TRUE(d) << d.error().message();
    for (int i : {0, 1, 3, 4, 5}) EXPECT_TRUE((*d)->GetValue(Caller{false, true}, UuidFor(i), 0)) << i;
    ASSERT_TRUE((*d)->SetValue(Caller{}, UuidFor(2), SecretBytes(std::string_view(ValueFor(2))), 0));
  }
  // A different rotation is refused while this one is pending; the same one resumes.
  {
    auto loaded = Load();
    ASSERT_TRUE(loaded->rotation);
    auto store = OpenStore(*loaded);
    WriteKeyFile("third", KeyBytes('3'));
    auto other = RotateKey(*store, *loaded, Rotation(KeyPath("third")), nullptr);
    ASSERT_FALSE(other);
    EXPECT_NE(other.error().message().find("is pending; complete it first"), std::string::npos);
    auto resumed = RotateKey(*store, *loaded, Rotation(KeyPath("new")), nullptr);
    ASSERT_TRUE(resumed) << resumed.error().message();
    EXPECT_TRUE(resumed->completed);
    EXPECT_EQ(resumed->values.rewritten, 0u);  // everything was re-sealed already
  }
  EXPECT_FALSE(FileExists(RotationJournalPath(paths_)));
  ExpectAllReadable(n);
}

TEST_F(MaintenanceTest, ExportForDowngrade) {
  const int n = 9;
  Populate(n);
  {
    auto store = OpenStore(*Load());
    auto cbc = ConvertValues(*store, ValueFormat::kAes256Cbc, nullptr);
    ASSERT_TRUE(cbc);
    EXPECT_EQ(cbc->rewritten, 6u);
  }
  EXPECT_EQ(Found(), (std::map<std::string, std::size_t>{{"aes256cbc", 9}}));
  ExpectAllReadable(n);
  {
    auto store = OpenStore(*Load());
    auto plain = ConvertValues(*store, ValueFormat::kBase64, nullptr);
    ASSERT_TRUE(plain);
    EXPECT_EQ(plain->rewritten, 9u);
  }
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(ReadFileOrEmpty(paths_.config_dir + "/" + UuidFor(i).ToString() + ".base64"),
              Base64Encode(ValueFor(i)));
  }
}

// The downgrade path for real: libvirt 9.0 (installed virsh, embedded driver) reads an exported
// store, and sees no value where vsecret has sealed one.
TEST_F(MaintenanceTest, ExportedStoreLoadsInInstalledLibvirt) {
  if (::access("/usr/bin/virsh", X_OK) != 0) GTEST_SKIP() << "virsh not installed";
  const int n = 3;
  Populate(n);
  auto virsh_get = [&](int i) {
    const std::string cmd = "timeout 20 /usr/bin/virsh -q -c 'secret:///embed?root=" + root_ +
                            "' secret-get-value " + UuidFor(i).ToString() + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    std::string out;
    char buf[256];
    while (std::size_t got = std::fread(buf, 1, sizeof buf, p)) out.append(buf, got);
    ::pclose(p);
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  };
  {
    auto store = OpenStore(*Load());
    ASSERT_TRUE(ConvertValues(*store, ValueFormat::kSealed, nullptr));
  }
  EXPECT_NE(virsh_get(0).find("does not have a value"), std::string::npos) << virsh_get(0);
  {
    auto store = OpenStore(*Load());
    ASSERT_TRUE(ConvertValues(*store, ValueFormat::kBase64, nullptr));
  }
  for (int i = 0; i < n; ++i) EXPECT_EQ(virsh_get(i), Base64Encode(ValueFor(i))) << i;
}

// The admin process is killed at random moments of a rotation; after each kill a restarted
// driver must read every value, and running the rotation again must complete it.
TEST_F(MaintenanceTest, RotationKilledAtRandomPointsLosesNothing) {
  const int n = 200;
  Populate(n);
  auto rotate_in_child = [&](const std::string& new_key) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      auto loaded = Load();
      if (!loaded) ::_exit(2);
      auto store = SecretStore::Open(paths_);
      if (!store) ::_exit(3);
      (*store)->SetValueProtection(loaded->protection());
      auto report = RotateKey(**store, *loaded, Rotation(new_key), nullptr);
      ::_exit(report && report->completed ? 0 : 4);
    }
    return pid;
  };
  // How long an uninterrupted rotation of this store takes here (the fastest of two, so that a
  // cold first run does not stretch the window), to spread the kills over it.
  auto full = std::chrono::steady_clock::duration::max();
  for (const char* name : {"new", "old2"}) {
    if (std::string(name) == "old2") WriteKeyFile(name, KeyBytes('2'));
    auto started = std::chrono::steady_clock::now();
    const pid_t pid = rotate_in_child(KeyPath(name));
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    full = std::min(full, std::chrono::steady_clock::now() - started);
  }
  ExpectAllReadable(n);

  std::mt19937 rng(20261122);
  const auto span_us = std::chrono::duration_cast<std::chrono::microseconds>(full).count();
  int killed_mid_rotation = 0;
  int killed_after_install = 0;
  const char fills[] = {'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l'};
  for (char fill : fills) {
    // Each round rotates to a fresh key; a round whose rotation survives its kill is finished by
    // the rerun below just the same.
    const std::string name = std::string("k") + fill;
    WriteKeyFile(name, KeyBytes(fill));
    const pid_t pid = rotate_in_child(KeyPath(name));
    std::this_thread::sleep_for(
        std::chrono::microseconds(std::uniform_int_distribution<long>(0, span_us)(rng)));
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status)) ++killed_mid_rotation;
    ExpectAllReadable(n);
    if (::testing::Test::HasFatalFailure()) return;

    auto loaded = Load();
    ASSERT_TRUE(loaded) << loaded.error().message();
    auto store = OpenStore(*loaded);
    if (loaded->rotation || loaded->keyring->write_key().id() !=
                                EncryptionKey::FromBytes(SecretBytes(KeyBytes(fill)), "")->id()) {
      auto report = RotateKey(*store, *loaded, Rotation(KeyPath(name)), nullptr);
      ASSERT_TRUE(report) << report.error().message();
      ASSERT_TRUE(report->completed);
    }
    store.reset();
    EXPECT_FALSE(FileExists(RotationJournalPath(paths_)));
    // Killed after the key was installed, while values went back to .aes256cbc: they are
    // readable as .vsenc under the new key, and migrate finishes the job.
    if (Found().count("vsenc " + IdOf(name)) != 0) {
      ++killed_after_install;
      auto again = Load();
      ASSERT_TRUE(again);
      auto migrating = OpenStore(*again);
      auto report = ConvertValues(*migrating, again->store_format, nullptr);
      ASSERT_TRUE(report) << report.error().message();
      ASSERT_TRUE(report->failures.empty()) << report->failures.front();
    }
    ExpectAllReadable(n);
    auto found = Found();
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found.begin()->first, "aes256cbc");
  }
  std::printf(
      "[          ] rotation kill test: %d/%zu rounds killed mid-rotation, %d of them after the key was "
      "installed (full run %lld us)\n",
      killed_mid_rotation, sizeof fills, killed_after_install, static_cast<long long>(span_us));
  EXPECT_GT(killed_mid_rotation, 0);
}

// Crashes (exits without cleaning up) just before its crash_at-th file-system change.
class CrashingEnv : public EnvWrapper {
 public:
  explicit CrashingEnv(int crash_at) : EnvWrapper(Env::Default()), crash_at_(crash_at) {}
  IoResult<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path, mode_t mode) override {
    Step();
    return EnvWrapper::NewWritableFile(path, mode);
  }
  IoResult<void> RenameFile(const std::string& from, const std::string& to) override {
    Step();
    return EnvWrapper::RenameFile(from, to);
  }
  IoResult<void> RemoveFile(const std::string& path) override {
    Step();
    return EnvWrapper::RemoveFile(path);
  }
  IoResult<void> SyncDir(const std::string& dir) override {
    Step();
    return EnvWrapper::SyncDir(dir);
  }

 private:
  void Step() {
    if (++steps_ == crash_at_) ::_exit(42);
  }
  const int crash_at_;
  std::atomic<int> steps_{0};
};

// Every crash point of a rotation, in turn: the store is rebuilt, a child rotates it and dies at
// the k-th file-system change, a restarted driver must read every value, and running the
// rotation again must complete it. Ends when a child gets through without crashing.
TEST_F(MaintenanceTest, RotationCrashAtEveryFileSystemChangeLosesNothing) {
  const int n = 6;
  Populate(n);
  const std::string pristine = tmp_.path() + "/pristine";
  fs::copy(root_, pristine, fs::copy_options::recursive);
  int crash_points = 0;
  for (int k = 1; k < 1000; ++k) {
    fs::remove_all(root_);
    fs::copy(pristine, root_, fs::copy_options::recursive);
    WriteKeyFile("old", KeyBytes('o'));
    const pid_t pid = ::fork();
    if (pid == 0) {
      CrashingEnv env(k);
      auto loaded = Load();
      auto store = SecretStore::Open(paths_, &env);
      if (!loaded || !store) ::_exit(2);
      (*store)->SetValueProtection(loaded->protection());
      auto report = RotateKey(**store, *loaded, Rotation(KeyPath("new")), nullptr);
      ::_exit(report && report->completed ? 0 : 3);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status)) << status;
    const int code = WEXITSTATUS(status);
    ASSERT_TRUE(code == 0 || code == 42) << "crash point " << k << ": exit " << code;
    ExpectAllReadable(n);
    if (::testing::Test::HasFatalFailure()) {
      ADD_FAILURE() << "after a crash at file-system change " << k;
      return;
    }
    if (code == 0) break;
    ++crash_points;
    auto loaded = Load();
    ASSERT_TRUE(loaded) << k << ": " << loaded.error().message();
    // A crash after the journal's removal leaves nothing to resume: the new key is in use.
    if (loaded->rotation || ReadFileOrEmpty(KeyPath("old")) != KeyBytes('n')) {
      auto store = OpenStore(*loaded);
      auto report = RotateKey(*store, *loaded, Rotation(KeyPath("new")), nullptr);
      ASSERT_TRUE(report) << k << ": " << report.error().message();
      ASSERT_TRUE(report->completed) << k;
    }
    EXPECT_FALSE(FileExists(RotationJournalPath(paths_))) << k;
    EXPECT_EQ(ReadFileOrEmpty(KeyPath("old")), KeyBytes('n')) << k;
    ExpectAllReadable(n);
  }
  std::printf("[          ] rotation crash test: %d crash points\n", crash_points);
  // Journal, 6 values (temp file, rename), directory syncs, removals, key install, journal removal.
  EXPECT_GT(crash_points, 20);
}

}  // namespace
}  // namespace vsecret
