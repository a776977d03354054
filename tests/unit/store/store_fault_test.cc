// Fault tests of the store: injected I/O failures, a read-only directory, corrupt files, and
// SIGKILL in the middle of rewrites. In every case the previous file content must survive
// intact and no "<name>.new" may be left behind by a failed (not killed) write.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/env.h"
#include "base/log.h"
#include "conf/secret_xml.h"
#include "store/encryption_key.h"
#include "store/secret_store.h"
#include "test_util.h"

namespace vsecret {
namespace {

namespace fs = std::filesystem;
using test::FileExists;
using test::ReadFileOrEmpty;
using test::WriteFileRaw;

constexpr char kUuidText[] = "6a3b2e1f-0c4d-4e5f-8a9b-0c1d2e3f4a5b";

Uuid TestUuid() { return *Uuid::Parse(kUuidText); }

SecretDef TestDef(const std::string& description) {
  SecretDef def;
  def.uuid = TestUuid();
  def.description = description;
  def.usage_type = UsageType::kVolume;
  def.usage_id = "/var/lib/images/disk.img";
  return def;
}

// Wraps a real file and fails one step of it.
class FaultyWritableFile : public WritableFile {
 public:
  struct Faults {
    int append_errno = 0;  // fail Append with this errno after writing half of the data
    int sync_errno = 0;
    int close_errno = 0;
  };
  FaultyWritableFile(std::unique_ptr<WritableFile> target, Faults faults)
      : target_(std::move(target)), faults_(faults) {}

  IoResult<void> Append(std::span<const std::uint8_t> data) override {
    if (faults_.append_errno != 0) {
      // A partial write first, so the temp file really holds a torn copy.
      (void)target_->Append(data.first(data.size() / 2));
      return IoFail(IoOp::kWrite, faults_.append_errno);
    }
    return target_->Append(data);
  }
  IoResult<void> Sync() override {
    if (faults_.sync_errno != 0) return IoFail(IoOp::kSync, faults_.sync_errno);
    return target_->Sync();
  }
  IoResult<void> Close() override {
    auto closed = target_->Close();
    if (faults_.close_errno != 0) return IoFail(IoOp::kClose, faults_.close_errno);
    return closed;
  }

 private:
  std::unique_ptr<WritableFile> target_;
  Faults faults_;
};

// An Env that fails chosen operations; everything else reaches the real file system.
class FaultEnv : public EnvWrapper {
 public:
  FaultEnv() : EnvWrapper(Env::Default()) {}

  IoResult<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path, mode_t mode) override {
    ++creates;
    if (create_errno != 0) return IoFail(IoOp::kCreate, create_errno);
    auto file = EnvWrapper::NewWritableFile(path, mode);
    if (!file) return file;
    FaultyWritableFile::Faults faults = file_faults;
    // fail_append_on_create: only the Nth file created (1-based) gets the append fault.
    if (fail_append_on_create != 0 && creates == fail_append_on_create) faults.append_errno = ENOSPC;
    return std::make_unique<FaultyWritableFile>(std::move(*file), faults);
  }
  IoResult<std::unique_ptr<ReadableFile>> NewReadableFile(const std::string& path) override {
    if (open_errno != 0) return IoFail(IoOp::kOpen, open_errno);
    return EnvWrapper::NewReadableFile(path);
  }
  IoResult<void> RenameFile(const std::string& from, const std::string& to) override {
    if (rename_errno != 0) return IoFail(IoOp::kRename, rename_errno);
    return EnvWrapper::RenameFile(from, to);
  }
  IoResult<void> RemoveFile(const std::string& path) override {
    if (remove_errno != 0 && path.find(".new") == std::string::npos)
      return IoFail(IoOp::kUnlink, remove_errno);
    return EnvWrapper::RemoveFile(path);
  }
  IoResult<void> SyncDir(const std::string& dir) override {
    ++dir_syncs;
    if (syncdir_errno != 0) return IoFail(IoOp::kSync, syncdir_errno);
    return EnvWrapper::SyncDir(dir);
  }
  IoResult<void> CreateDirs(const std::string& dir, mode_t mode) override {
    if (mkdir_errno != 0) return IoFail(IoOp::kMkdir, mkdir_errno);
    return EnvWrapper::CreateDirs(dir, mode);
  }
  IoResult<std::unique_ptr<PidFileLock>> LockPidFile(const std::string& path, pid_t pid) override {
    if (lock_error) return std::unexpected(*lock_error);
    return EnvWrapper::LockPidFile(path, pid);
  }

  int create_errno = 0;
  FaultyWritableFile::Faults file_faults;
  int fail_append_on_create = 0;
  int open_errno = 0;
  int rename_errno = 0;
  int remove_errno = 0;
  int syncdir_errno = 0;
  int mkdir_errno = 0;
  std::optional<IoError> lock_error;
  int creates = 0;
  int dir_syncs = 0;
};

class StoreFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    paths_ = StorePaths::ForRoot(tmp_.path());
    auto store = SecretStore::Open(paths_, &env_);
    ASSERT_TRUE(store.has_value()) << store.error().message();
    store_ = std::move(*store);
    ASSERT_TRUE(store_->WriteDefinition(TestDef("old")).has_value());
    ASSERT_TRUE(store_->WriteValue(TestUuid(), SecretBytes(std::string_view("old value"))).has_value());
    old_xml_ = ReadFileOrEmpty(store_->DefinitionPath(TestUuid()));
    old_value_file_ = ReadFileOrEmpty(store_->ValuePath(TestUuid()));
    env_.creates = 0;
  }

  // Attempts both rewrites and checks each failed with `message_for(tmp)`, leaving the old files.
  void ExpectBothWritesFailCleanly(
      const std::function<std::string(const std::string&, const std::string&)>& msg) {
    const std::string xml = store_->DefinitionPath(TestUuid());
    const std::string value = store_->ValuePath(TestUuid());
    auto def_written = store_->WriteDefinition(TestDef("new"));
    ASSERT_FALSE(def_written.has_value());
    EXPECT_EQ(def_written.error().message(), msg(xml + ".new", xml));
    EXPECT_EQ(def_written.error().code(), ErrorCode::kSystemError);
    auto value_written = store_->WriteValue(TestUuid(), SecretBytes(std::string_view("new value")));
    ASSERT_FALSE(value_written.has_value());
    EXPECT_EQ(value_written.error().message(), msg(value + ".new", value));
    ExpectOldContentAndNoTemp();
  }

  void ExpectOldContentAndNoTemp() {
    EXPECT_EQ(ReadFileOrEmpty(store_->DefinitionPath(TestUuid())), old_xml_);
    EXPECT_EQ(ReadFileOrEmpty(store_->ValuePath(TestUuid())), old_value_file_);
    for (const auto& entry : fs::directory_iterator(paths_.config_dir)) {
      EXPECT_NE(entry.path().extension(), ".new") << entry.path();
    }
  }

  test::TempDir tmp_;
  FaultEnv env_;
  StorePaths paths_;
  std::unique_ptr<SecretStore> store_;
  std::string old_xml_;
  std::string old_value_file_;
};

TEST_F(StoreFaultTest, CreateFailureEacces) {
  env_.create_errno = EACCES;
  ExpectBothWritesFailCleanly([](const std::string& tmp, const std::string&) {
    return "Failed to create file '" + tmp + "': Permission denied";
  });
}

TEST_F(StoreFaultTest, PartialWriteThenEnospc) {
  env_.file_faults.append_errno = ENOSPC;
  ExpectBothWritesFailCleanly([](const std::string& tmp, const std::string&) {
    return "cannot write data to file '" + tmp + "': No space left on device";
  });
}

TEST_F(StoreFaultTest, EnospcOnTheNthWriteOnly) {
  // Three writes: the second one hits a full disk, the others go through.
  env_.fail_append_on_create = 2;
  ASSERT_TRUE(store_->WriteDefinition(TestDef("first")).has_value());
  const std::string after_first = ReadFileOrEmpty(store_->DefinitionPath(TestUuid()));
  EXPECT_EQ(after_first, FormatSecretXml(TestDef("first")));
  auto second = store_->WriteValue(TestUuid(), SecretBytes(std::string_view("second")));
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(ReadFileOrEmpty(store_->ValuePath(TestUuid())), old_value_file_);
  EXPECT_FALSE(FileExists(store_->ValuePath(TestUuid()) + ".new"));
  ASSERT_TRUE(store_->WriteValue(TestUuid(), SecretBytes(std::string_view("open sesame"))).has_value());
  EXPECT_EQ(ReadFileOrEmpty(store_->ValuePath(TestUuid())), "b3BlbiBzZXNhbWU=");
}

TEST_F(StoreFaultTest, SyncFailure) {
  env_.file_faults.sync_errno = EIO;
  ExpectBothWritesFailCleanly([](const std::string& tmp, const std::string&) {
    return "cannot sync file '" + tmp + "': Input/output error";
  });
}

TEST_F(StoreFaultTest, CloseFailure) {
  env_.file_faults.close_errno = EIO;
  ExpectBothWritesFailCleanly([](const std::string& tmp, const std::string&) {
    return "cannot save file '" + tmp + "': Input/output error";
  });
}

TEST_F(StoreFaultTest, RenameFailure) {
  env_.rename_errno = EXDEV;
  ExpectBothWritesFailCleanly([](const std::string& tmp, const std::string& target) {
    return "cannot rename file '" + tmp + "' as '" + target + "': Invalid cross-device link";
  });
}

TEST_F(StoreFaultTest, NewSecretWithFailedCreateLeavesNothing) {
  env_.create_errno = EACCES;
  SecretDef fresh = TestDef("fresh");
  fresh.uuid = *Uuid::Parse("99999999-8888-7777-6666-555555555555");
  ASSERT_FALSE(store_->WriteDefinition(fresh).has_value());
  EXPECT_FALSE(FileExists(store_->DefinitionPath(fresh.uuid)));
  EXPECT_FALSE(FileExists(store_->DefinitionPath(fresh.uuid) + ".new"));
}

TEST_F(StoreFaultTest, DirectorySyncFailureIsLoggedNotReturned) {
  env_.syncdir_errno = EIO;
  std::vector<std::string> lines;
  LogSink previous = SetLogSink([&](LogLevel, std::string_view line) { lines.emplace_back(line); });
  auto written = store_->WriteValue(TestUuid(), SecretBytes(std::string_view("open sesame")));
  SetLogSink(previous);
  ASSERT_TRUE(written.has_value()) << written.error().message();
  EXPECT_EQ(ReadFileOrEmpty(store_->ValuePath(TestUuid())), "b3BlbiBzZXNhbWU=");
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines[0].find("cannot sync directory '" + paths_.config_dir + "': Input/output error"),
            std::string::npos)
      << lines[0];
  EXPECT_EQ(lines[0].find("b3BlbiBzZXNhbWU="), std::string::npos);
}

TEST_F(StoreFaultTest, EveryWriteSyncsTheDirectory) {
  env_.dir_syncs = 0;
  ASSERT_TRUE(store_->WriteDefinition(TestDef("x")).has_value());
  EXPECT_EQ(env_.dir_syncs, 1);
  ASSERT_TRUE(store_->WriteValue(TestUuid(), SecretBytes(std::string_view("x"))).has_value());
  EXPECT_EQ(env_.dir_syncs, 2);
}

TEST_F(StoreFaultTest, FailedRemovalOfOtherFormatDoesNotFailTheWrite) {
  std::vector<EncryptionKey> keys;
  keys.push_back(std::move(*EncryptionKey::FromBytes(SecretBytes(std::string(32, 'k')), "test key")));
  store_->SetValueProtection(ValueProtection{true, std::make_shared<const Keyring>(std::move(keys), 0)});
  const std::string stale = paths_.config_dir + "/" + kUuidText + ".base64";
  WriteFileRaw(stale, "c3RhbGU=");
  env_.remove_errno = EACCES;
  ASSERT_TRUE(store_->WriteValue(TestUuid(), SecretBytes(std::string_view("new"))).has_value());
  EXPECT_TRUE(FileExists(stale));
  EXPECT_EQ(store_->ValuePath(TestUuid()), paths_.config_dir + "/" + kUuidText + ".aes256cbc");
  auto value = store_->ReadValue(TestUuid());  // a tie in age goes to the write format
  ASSERT_TRUE(value && *value);
  EXPECT_EQ((*value)->AsStringView(), "new");
}

TEST_F(StoreFaultTest, DeleteDefinitionFailure) {
  env_.remove_errno = EACCES;
  auto deleted = store_->DeleteDefinition(TestUuid());
  ASSERT_FALSE(deleted.has_value());
  EXPECT_EQ(deleted.error().message(),
            "cannot unlink '" + store_->DefinitionPath(TestUuid()) + "': Permission denied");
  EXPECT_EQ(ReadFileOrEmpty(store_->DefinitionPath(TestUuid())), old_xml_);
  store_->DeleteValues(TestUuid());  // errors ignored
  EXPECT_TRUE(FileExists(store_->ValuePath(TestUuid())));
}

TEST_F(StoreFaultTest, ReadValueOpenFailure) {
  env_.open_errno = EACCES;
  auto value = store_->ReadValue(TestUuid());
  ASSERT_FALSE(value.has_value());
  EXPECT_EQ(value.error().message(),
            "cannot open '" + store_->ValuePath(TestUuid()) + "': Permission denied");
  auto def = store_->ReadDefinition(std::string(kUuidText) + ".xml");
  ASSERT_FALSE(def.has_value());
  EXPECT_EQ(def.error().message(),
            "XML error: failed to parse xml document '" + store_->DefinitionPath(TestUuid()) + "'");
}

TEST_F(StoreFaultTest, OpenFailures) {
  store_.reset();
  env_.mkdir_errno = EACCES;
  auto store = SecretStore::Open(paths_, &env_);
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().message(),
            "cannot create config directory '" + paths_.config_dir + "': Permission denied");
  env_.mkdir_errno = 0;

  const std::string pid = paths_.state_dir + "/driver.pid";
  const std::pair<IoError, std::string> cases[] = {
      {{IoOp::kOpen, EACCES}, "Failed to open pid file '" + pid + "': Permission denied"},
      {{IoOp::kStat, EIO}, "Unable to check status of pid file '" + pid + "': Input/output error"},
      {{IoOp::kLock, EAGAIN}, "Failed to acquire pid file '" + pid + "': Resource temporarily unavailable"},
      {{IoOp::kTruncate, EIO}, "Failed to truncate pid file '" + pid + "': Input/output error"},
      {{IoOp::kWrite, ENOSPC}, "Failed to write to pid file '" + pid + "': No space left on device"},
  };
  for (const auto& [err, message] : cases) {
    env_.lock_error = err;
    store = SecretStore::Open(paths_, &env_);
    ASSERT_FALSE(store.has_value());
    EXPECT_EQ(store.error().message(), message);
    EXPECT_EQ(store.error().code(), ErrorCode::kSystemError);
  }
}

TEST_F(StoreFaultTest, ReadOnlyDirectoryWithRealPermissions) {
  // Permission bits do not stop root, so as root the scenario runs in a child that first hands
  // the tree to "nobody" and drops to that user.
  const bool as_root = ::geteuid() == 0;
  if (as_root) {
    constexpr uid_t kNobody = 65534;
    ASSERT_EQ(::chown(tmp_.path().c_str(), kNobody, kNobody), 0);
    for (const auto& entry : std::filesystem::recursive_directory_iterator(tmp_.path())) {
      ASSERT_EQ(::lchown(entry.path().c_str(), kNobody, kNobody), 0) << entry.path();
    }
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      if (::setgid(kNobody) != 0 || ::setuid(kNobody) != 0) _exit(3);
      if (::chmod(paths_.config_dir.c_str(), 0500) != 0) _exit(4);
      ExpectBothWritesFailCleanly([](const std::string& tmp, const std::string&) {
        return "Failed to create file '" + tmp + "': Permission denied";
      });
      _exit(::testing::Test::HasFailure() ? 1 : 0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
    ASSERT_EQ(::chmod(paths_.config_dir.c_str(), 0700), 0);
    ExpectOldContentAndNoTemp();
    return;
  }
  ASSERT_EQ(::chmod(paths_.config_dir.c_str(), 0500), 0);
  ExpectBothWritesFailCleanly([](const std::string& tmp, const std::string&) {
    return "Failed to create file '" + tmp + "': Permission denied";
  });
  ASSERT_EQ(::chmod(paths_.config_dir.c_str(), 0700), 0);
}

// Corrupt files on disk: each is an error (or leniently decoded), never a crash or a wrong secret.
TEST_F(StoreFaultTest, CorruptDefinitionFiles) {
  const std::string name = std::string(kUuidText) + ".xml";
  const std::string path = store_->DefinitionPath(TestUuid());
  const std::string corrupt[] = {
      "",
      "<secret",
      "<secret ephemeral='no'><uuid>" + std::string(kUuidText) + "</uuid>",  // truncated
      "<volume/>",
      std::string("\x00\x01\x02\xff\xfe", 5),
      "<secret ephemeral='maybe'><uuid>" + std::string(kUuidText) + "</uuid></secret>",
      "<secret><uuid>not-a-uuid</uuid></secret>",
      old_xml_.substr(0, old_xml_.size() / 2),
  };
  for (const std::string& content : corrupt) {
    WriteFileRaw(path, content);
    auto def = store_->ReadDefinition(name);
    EXPECT_FALSE(def.has_value()) << "accepted: " << content;
  }
}

TEST_F(StoreFaultTest, CorruptValueFileDecodesLeniently) {
  const std::string path = store_->ValuePath(TestUuid());
  WriteFileRaw(path, std::string("\xff\x00 b3Bl!!biBz\r\nZXNhbWU=\n\n", 24));
  auto value = store_->ReadValue(TestUuid());
  ASSERT_TRUE(value.has_value()) << value.error().message();
  ASSERT_TRUE(value->has_value());
  EXPECT_EQ((*value)->AsStringView(), "open sesame");
}

// SIGKILL a writer at random moments: whatever is on disk afterwards must be one of the two
// complete versions, and leftovers of the interrupted write must not be listed.
TEST(StoreFaultKillTest, KillDuringRewriteLeavesOldOrNewComplete) {
  test::TempDir tmp;
  const StorePaths paths = StorePaths::ForRoot(tmp.path());
  // Large enough that a write takes a while and a kill can land inside it.
  const SecretDef def_a = TestDef(std::string(4096, 'a'));
  const SecretDef def_b = TestDef(std::string(6000, 'b'));
  const std::string value_a(48 * 1024, 'A');
  const std::string value_b(64 * 1024, 'B');
  {
    auto store = SecretStore::Open(paths);
    ASSERT_TRUE(store.has_value()) << store.error().message();
    ASSERT_TRUE((*store)->WriteDefinition(def_a).has_value());
    ASSERT_TRUE((*store)->WriteValue(def_a.uuid, SecretBytes(std::string_view(value_a))).has_value());
  }

  std::mt19937 rng(20261122);
  std::uniform_int_distribution<int> delay_us(0, 30000);
  constexpr int kRounds = 50;
  int saw_b = 0;
  int saw_temp = 0;
  for (int round = 0; round < kRounds; ++round) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      auto store = SecretStore::Open(paths);
      if (!store) ::_exit(3);
      for (unsigned i = 0;; ++i) {
        const bool b = i % 2 == 0;
        (void)(*store)->WriteDefinition(b ? def_b : def_a);
        (void)(*store)->WriteValue(def_a.uuid, SecretBytes(std::string_view(b ? value_b : value_a)));
      }
    }
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
    ASSERT_EQ(::kill(child, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "writer exited on its own, status " << status;

    auto store = SecretStore::Open(paths);
    ASSERT_TRUE(store.has_value()) << "round " << round << ": " << store.error().message();
    auto names = (*store)->ListDefinitionFiles();
    ASSERT_TRUE(names.has_value());
    ASSERT_EQ(*names, std::vector<std::string>{std::string(kUuidText) + ".xml"}) << "round " << round;
    auto def = (*store)->ReadDefinition((*names)[0]);
    ASSERT_TRUE(def.has_value()) << "round " << round << ": " << def.error().message();
    ASSERT_TRUE(*def == def_a || *def == def_b) << "round " << round << ": torn definition";
    auto value = (*store)->ReadValue(def_a.uuid);
    ASSERT_TRUE(value.has_value()) << "round " << round << ": " << value.error().message();
    ASSERT_TRUE(value->has_value()) << "round " << round;
    const std::string_view got = (*value)->AsStringView();
    ASSERT_TRUE(got == value_a || got == value_b)
        << "round " << round << ": torn value of size " << got.size();
    saw_b += *def == def_b ? 1 : 0;
    for (const auto& entry : fs::directory_iterator(paths.config_dir)) {
      saw_temp += entry.path().extension() == ".new" ? 1 : 0;
    }
  }
  // Informational: how often the kill landed after a switch, and inside a write.
  std::printf("[          ] kill test: %d/%d rounds ended on version B, %d temp files seen\n", saw_b, kRounds,
              saw_temp);
}

}  // namespace
}  // namespace vsecret
