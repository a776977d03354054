// Tests of the POSIX Env against the real file system, and of EnvWrapper's forwarding.
#include "base/env.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <string>

#include "test_util.h"

namespace vsecret {
namespace {

namespace fs = std::filesystem;

class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(old_); }

 private:
  mode_t old_;
};

class EnvTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  static std::string ReadText(const std::string& path) { return test::ReadFileOrEmpty(path); }
  static void WriteText(const std::string& path, const std::string& text) { test::WriteFileRaw(path, text); }
  static unsigned ModeOf(const std::string& path) {
    EXPECT_TRUE(test::FileExists(path)) << path;
    return test::FileMode(path);
  }
  static std::span<const std::uint8_t> Bytes(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
  }

  test::TempDir tmp_;
  const std::string dir_ = tmp_.path();
  Env* env_ = Env::Default();
};

TEST_F(EnvTest, DefaultIsASingleton) { EXPECT_EQ(Env::Default(), Env::Default()); }

TEST_F(EnvTest, WritableFileWritesSyncsAndCloses) {
  auto file = env_->NewWritableFile(Path("f"), 0600);
  ASSERT_TRUE(file.has_value());
  ASSERT_TRUE((*file)->Append(Bytes("hello ")).has_value());
  ASSERT_TRUE((*file)->Append(Bytes("world")).has_value());
  ASSERT_TRUE((*file)->Sync().has_value());
  ASSERT_TRUE((*file)->Close().has_value());
  EXPECT_EQ(ReadText(Path("f")), "hello world");
}

TEST_F(EnvTest, WritableFileWritesLargeBuffersCompletely) {
  std::string big(3 * 1024 * 1024 + 7, 'x');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  auto file = env_->NewWritableFile(Path("big"), 0600);
  ASSERT_TRUE(file.has_value());
  ASSERT_TRUE((*file)->Append(Bytes(big)).has_value());
  ASSERT_TRUE((*file)->Close().has_value());
  EXPECT_EQ(ReadText(Path("big")), big);
}

TEST_F(EnvTest, WritableFileModeIsForcedWhateverTheUmask) {
  {
    ScopedUmask mask(0);
    auto file = env_->NewWritableFile(Path("a"), 0600);
    ASSERT_TRUE(file.has_value());
  }
  EXPECT_EQ(ModeOf(Path("a")), 0600u);
  {
    ScopedUmask mask(0777);
    auto file = env_->NewWritableFile(Path("b"), 0600);
    ASSERT_TRUE(file.has_value());
  }
  EXPECT_EQ(ModeOf(Path("b")), 0600u);
}

TEST_F(EnvTest, WritableFileTruncatesAndResetsModeOfExistingFile) {
  WriteText(Path("f"), "old and longer content");
  ASSERT_EQ(::chmod(Path("f").c_str(), 0666), 0);
  auto file = env_->NewWritableFile(Path("f"), 0600);
  ASSERT_TRUE(file.has_value());
  ASSERT_TRUE((*file)->Append(Bytes("new")).has_value());
  ASSERT_TRUE((*file)->Close().has_value());
  EXPECT_EQ(ReadText(Path("f")), "new");
  EXPECT_EQ(ModeOf(Path("f")), 0600u);
}

TEST_F(EnvTest, WritableFileDoesNotFollowASymlink) {
  WriteText(Path("victim"), "keep");
  fs::create_symlink(Path("victim"), Path("link"));
  auto file = env_->NewWritableFile(Path("link"), 0600);
  ASSERT_FALSE(file.has_value());
  EXPECT_EQ(file.error(), (IoError{IoOp::kCreate, ELOOP}));
  EXPECT_EQ(ReadText(Path("victim")), "keep");
}

TEST_F(EnvTest, WritableFileInMissingDirectoryFailsAsCreate) {
  auto file = env_->NewWritableFile(Path("missing/f"), 0600);
  ASSERT_FALSE(file.has_value());
  EXPECT_EQ(file.error(), (IoError{IoOp::kCreate, ENOENT}));
}

TEST_F(EnvTest, ReadableFileMissingIsOpenEnoent) {
  auto file = env_->NewReadableFile(Path("nope"));
  ASSERT_FALSE(file.has_value());
  EXPECT_EQ(file.error(), (IoError{IoOp::kOpen, ENOENT}));
}

TEST_F(EnvTest, ReadAllReturnsWholeContent) {
  std::string text(20000, '\0');
  for (std::size_t i = 0; i < text.size(); ++i) text[i] = static_cast<char>(i * 7);
  WriteText(Path("f"), text);
  auto file = env_->NewReadableFile(Path("f"));
  ASSERT_TRUE(file.has_value());
  auto content = (*file)->ReadAll(1 << 20);
  ASSERT_TRUE(content.has_value());
  EXPECT_EQ(content->AsStringView(), text);
}

TEST_F(EnvTest, ReadAllOfEmptyFileIsEmpty) {
  WriteText(Path("f"), "");
  auto file = env_->NewReadableFile(Path("f"));
  ASSERT_TRUE(file.has_value());
  auto content = (*file)->ReadAll(100);
  ASSERT_TRUE(content.has_value());
  EXPECT_TRUE(content->empty());
}

TEST_F(EnvTest, ReadAllCapIsInclusive) {
  WriteText(Path("f"), std::string(100, 'z'));
  {
    auto file = env_->NewReadableFile(Path("f"));
    ASSERT_TRUE(file.has_value());
    auto content = (*file)->ReadAll(100);
    ASSERT_TRUE(content.has_value());
    EXPECT_EQ(content->size(), 100u);
  }
  {
    auto file = env_->NewReadableFile(Path("f"));
    ASSERT_TRUE(file.has_value());
    auto content = (*file)->ReadAll(99);
    ASSERT_FALSE(content.has_value());
    EXPECT_EQ(content.error(), (IoError{IoOp::kRead, EOVERFLOW}));
  }
}

TEST_F(EnvTest, ReadAllOfDirectoryIsReadEisdir) {
  fs::create_directory(Path("d"));
  auto file = env_->NewReadableFile(Path("d"));
  ASSERT_TRUE(file.has_value());
  auto content = (*file)->ReadAll(100);
  ASSERT_FALSE(content.has_value());
  EXPECT_EQ(content.error(), (IoError{IoOp::kRead, EISDIR}));
}

TEST_F(EnvTest, RenameReplacesTarget) {
  WriteText(Path("from"), "new");
  WriteText(Path("to"), "old");
  ASSERT_TRUE(env_->RenameFile(Path("from"), Path("to")).has_value());
  EXPECT_EQ(ReadText(Path("to")), "new");
  EXPECT_FALSE(fs::exists(Path("from")));
  auto again = env_->RenameFile(Path("from"), Path("to"));
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error(), (IoError{IoOp::kRename, ENOENT}));
}

TEST_F(EnvTest, RemoveFile) {
  WriteText(Path("f"), "x");
  ASSERT_TRUE(env_->RemoveFile(Path("f")).has_value());
  EXPECT_FALSE(fs::exists(Path("f")));
  auto again = env_->RemoveFile(Path("f"));
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error(), (IoError{IoOp::kUnlink, ENOENT}));
}

TEST_F(EnvTest, SyncDir) {
  EXPECT_TRUE(env_->SyncDir(dir_).has_value());
  auto missing = env_->SyncDir(Path("missing"));
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error(), (IoError{IoOp::kOpen, ENOENT}));
}

TEST_F(EnvTest, GetChildrenListsEntriesWithoutDots) {
  WriteText(Path("a.xml"), "");
  WriteText(Path(".hidden"), "");
  fs::create_directory(Path("sub"));
  auto names = env_->GetChildren(dir_);
  ASSERT_TRUE(names.has_value());
  std::sort(names->begin(), names->end());
  EXPECT_EQ(*names, (std::vector<std::string>{".hidden", "a.xml", "sub"}));
}

TEST_F(EnvTest, GetChildrenOfMissingDirIsListEnoent) {
  auto names = env_->GetChildren(Path("missing"));
  ASSERT_FALSE(names.has_value());
  EXPECT_EQ(names.error(), (IoError{IoOp::kList, ENOENT}));
}

TEST_F(EnvTest, CreateDirsMakesMissingComponentsWithMode) {
  ScopedUmask mask(022);
  const std::string deep = Path("a/b/c");
  ASSERT_TRUE(env_->CreateDirs(deep, 0700).has_value());
  EXPECT_EQ(ModeOf(Path("a")), 0700u);
  EXPECT_EQ(ModeOf(Path("a/b")), 0700u);
  EXPECT_EQ(ModeOf(deep), 0700u);
  // Idempotent.
  EXPECT_TRUE(env_->CreateDirs(deep, 0700).has_value());
}

TEST_F(EnvTest, CreateDirsLeavesExistingDirectoriesAlone) {
  ScopedUmask mask(0);
  fs::create_directory(Path("existing"));
  ASSERT_EQ(::chmod(Path("existing").c_str(), 0755), 0);
  ASSERT_TRUE(env_->CreateDirs(Path("existing/new"), 0700).has_value());
  EXPECT_EQ(ModeOf(Path("existing")), 0755u);
  EXPECT_EQ(ModeOf(Path("existing/new")), 0700u);
}

TEST_F(EnvTest, CreateDirsToleratesRedundantSlashes) {
  ASSERT_TRUE(env_->CreateDirs(dir_ + "//x//y/", 0700).has_value());
  EXPECT_TRUE(fs::is_directory(Path("x/y")));
}

TEST_F(EnvTest, CreateDirsThroughAFileIsEnotdir) {
  WriteText(Path("file"), "");
  auto made = env_->CreateDirs(Path("file/sub"), 0700);
  ASSERT_FALSE(made.has_value());
  EXPECT_EQ(made.error(), (IoError{IoOp::kMkdir, ENOTDIR}));
  auto self = env_->CreateDirs(Path("file"), 0700);
  ASSERT_FALSE(self.has_value());
  EXPECT_EQ(self.error(), (IoError{IoOp::kMkdir, ENOTDIR}));
}

TEST_F(EnvTest, LockPidFileWritesPidWithoutNewlineMode0644) {
  ScopedUmask mask(022);
  const std::string path = Path("driver.pid");
  auto lock = env_->LockPidFile(path, 12345);
  ASSERT_TRUE(lock.has_value());
  EXPECT_EQ((*lock)->path(), path);
  EXPECT_EQ(ReadText(path), "12345");
  EXPECT_EQ(ModeOf(path), 0644u);
}

TEST_F(EnvTest, LockPidFileReplacesStaleContent) {
  const std::string path = Path("driver.pid");
  WriteText(path, "999999999\n");
  auto lock = env_->LockPidFile(path, 42);
  ASSERT_TRUE(lock.has_value());
  EXPECT_EQ(ReadText(path), "42");
}

TEST_F(EnvTest, LockPidFileIsExclusiveWithinTheProcess) {
  const std::string path = Path("driver.pid");
  auto first = env_->LockPidFile(path, 1);
  ASSERT_TRUE(first.has_value());
  auto second = env_->LockPidFile(path, 2);
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error(), (IoError{IoOp::kLock, EAGAIN}));
  // The failed attempt must not have disturbed the holder's lock or content.
  EXPECT_EQ(ReadText(path), "1");
  auto third = env_->LockPidFile(path, 3);
  EXPECT_FALSE(third.has_value());
}

TEST_F(EnvTest, LockPidFileReleaseRemovesFileAndFreesLock) {
  const std::string path = Path("driver.pid");
  {
    auto lock = env_->LockPidFile(path, 7);
    ASSERT_TRUE(lock.has_value());
  }
  EXPECT_FALSE(fs::exists(path));
  auto again = env_->LockPidFile(path, 8);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(ReadText(path), "8");
}

TEST_F(EnvTest, LockPidFileReleaseLeavesAReplacedFileAlone) {
  const std::string path = Path("driver.pid");
  {
    auto lock = env_->LockPidFile(path, 7);
    ASSERT_TRUE(lock.has_value());
    ASSERT_EQ(::unlink(path.c_str()), 0);
    WriteText(path, "someone else");
  }
  EXPECT_EQ(ReadText(path), "someone else");
}

// A classic fcntl lock (what libvirt takes) in another process must conflict with ours both ways.
TEST_F(EnvTest, LockPidFileConflictsWithClassicFcntlLockInAnotherProcess) {
  const std::string path = Path("driver.pid");
  auto lock = env_->LockPidFile(path, 1);
  ASSERT_TRUE(lock.has_value());
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const int fd = ::open(path.c_str(), O_WRONLY);
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_len = 1;
    const int rc = ::fcntl(fd, F_SETLK, &fl);
    ::_exit(rc < 0 && (errno == EAGAIN || errno == EACCES) ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "a classic fcntl lock was granted while we hold the pid file";
}

TEST_F(EnvTest, LockPidFileFailsWhileAnotherProcessHoldsIt) {
  const std::string path = Path("driver.pid");
  int to_parent[2];
  int to_child[2];
  ASSERT_EQ(::pipe(to_parent), 0);
  ASSERT_EQ(::pipe(to_child), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto lock = Env::Default()->LockPidFile(path, ::getpid());
    const char ok = lock.has_value() ? 'y' : 'n';
    (void)!::write(to_parent[1], &ok, 1);
    char done;
    (void)!::read(to_child[0], &done, 1);
    ::_exit(0);
  }
  char ok = 0;
  ASSERT_EQ(::read(to_parent[0], &ok, 1), 1);
  ASSERT_EQ(ok, 'y');
  auto mine = env_->LockPidFile(path, ::getpid());
  ASSERT_FALSE(mine.has_value());
  EXPECT_EQ(mine.error(), (IoError{IoOp::kLock, EAGAIN}));
  EXPECT_EQ(ReadText(path), std::to_string(child));
  (void)!::write(to_child[1], "x", 1);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  for (int fd : {to_parent[0], to_parent[1], to_child[0], to_child[1]}) ::close(fd);
  // The child released (and removed) the file on exit of its lock object.
  auto after = env_->LockPidFile(path, ::getpid());
  EXPECT_TRUE(after.has_value());
}

// A wrapper that records which calls reached it, to check forwarding.
class CountingEnv : public EnvWrapper {
 public:
  using EnvWrapper::EnvWrapper;
  IoResult<void> RemoveFile(const std::string& path) override {
    ++removes;
    return EnvWrapper::RemoveFile(path);
  }
  int removes = 0;
};

TEST_F(EnvTest, EnvWrapperForwardsEveryCall) {
  CountingEnv env(env_);
  EXPECT_EQ(env.target(), env_);
  ASSERT_TRUE(env.CreateDirs(Path("d"), 0700).has_value());
  {
    auto file = env.NewWritableFile(Path("d/f"), 0600);
    ASSERT_TRUE(file.has_value());
    ASSERT_TRUE((*file)->Append(Bytes("data")).has_value());
    ASSERT_TRUE((*file)->Close().has_value());
  }
  ASSERT_TRUE(env.RenameFile(Path("d/f"), Path("d/g")).has_value());
  ASSERT_TRUE(env.SyncDir(Path("d")).has_value());
  auto names = env.GetChildren(Path("d"));
  ASSERT_TRUE(names.has_value());
  EXPECT_EQ(*names, std::vector<std::string>{"g"});
  auto file = env.NewReadableFile(Path("d/g"));
  ASSERT_TRUE(file.has_value());
  EXPECT_EQ((*file)->ReadAll(10)->AsStringView(), "data");
  ASSERT_TRUE(env.RemoveFile(Path("d/g")).has_value());
  EXPECT_EQ(env.removes, 1);
  auto lock = env.LockPidFile(Path("d/p.pid"), 5);
  EXPECT_TRUE(lock.has_value());
}

}  // namespace
}  // namespace vsecret
