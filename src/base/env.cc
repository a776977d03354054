#include "base/env.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <string>
#include <utility>

namespace vsecret {
namespace {

// Reads grow the buffer by at least this much at a time.
constexpr std::size_t kReadChunk = 8192;

int CloseKeepingErrno(int fd) {
  const int saved = errno;
  const int rc = ::close(fd);
  errno = saved;
  return rc;
}

class PosixWritableFile final : public WritableFile {
 public:
  explicit PosixWritableFile(int fd) : fd_(fd) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) CloseKeepingErrno(fd_);
  }

  IoResult<void> Append(std::span<const std::uint8_t> data) override {
    while (!data.empty()) {
      const ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return IoFail(IoOp::kWrite, errno);
      }
      // write(2) returning 0 for a non-empty buffer means the device took nothing; treat it as
      // full rather than spinning.
      if (n == 0) return IoFail(IoOp::kWrite, ENOSPC);
      data = data.subspan(static_cast<std::size_t>(n));
    }
    return {};
  }

  IoResult<void> Sync() override {
    while (::fsync(fd_) < 0) {
      if (errno != EINTR) return IoFail(IoOp::kSync, errno);
    }
    return {};
  }

  IoResult<void> Close() override {
    const int fd = std::exchange(fd_, -1);
    // On Linux the descriptor is released even when close(2) fails, so it is never retried.
    if (::close(fd) < 0) return IoFail(IoOp::kClose, errno);
    return {};
  }

 private:
  int fd_;  // -1 once closed
};

class PosixReadableFile final : public ReadableFile {
 public:
  explicit PosixReadableFile(int fd) : fd_(fd) {}
  ~PosixReadableFile() override { CloseKeepingErrno(fd_); }

  IoResult<SecretBytes> ReadAll(std::size_t max_bytes) override {
    // One byte beyond the cap is enough to know the content is too large.
    const std::size_t limit = max_bytes == SIZE_MAX ? SIZE_MAX : max_bytes + 1;
    SecretBytes buf;
    std::size_t size = 0;
    for (;;) {
      if (buf.size() == size) buf.Resize(size + std::min(kReadChunk, limit - size));
      const std::size_t want = std::min(buf.size(), limit) - size;
      const ssize_t n = ::read(fd_, buf.data() + size, want);
      if (n < 0) {
        if (errno == EINTR) continue;
        return IoFail(IoOp::kRead, errno);
      }
      if (n == 0) break;
      size += static_cast<std::size_t>(n);
      if (size > max_bytes) return IoFail(IoOp::kRead, EOVERFLOW);
    }
    buf.Resize(size);
    return buf;
  }

 private:
  int fd_;
};

class PosixPidFileLock final : public PidFileLock {
 public:
  PosixPidFileLock(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixPidFileLock() override {
    // Only remove the file if the path still names the file we hold: someone may have deleted
    // it by hand and a new instance created and locked a fresh one.
    struct stat held {};
    struct stat named {};
    if (::fstat(fd_, &held) == 0 && ::stat(path_.c_str(), &named) == 0 && held.st_dev == named.st_dev &&
        held.st_ino == named.st_ino) {
      ::unlink(path_.c_str());
    }
    CloseKeepingErrno(fd_);
  }

  const std::string& path() const override { return path_; }

 private:
  std::string path_;
  int fd_;
};

class PosixEnv final : public Env {
 public:
  IoResult<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path, mode_t mode) override {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) return IoFail(IoOp::kCreate, errno);
    // open(2) applies the umask and leaves an existing file's mode alone; the contract is the
    // exact mode.
    if (::fchmod(fd, mode) < 0) {
      const int err = errno;
      ::close(fd);
      return IoFail(IoOp::kCreate, err);
    }
    return std::make_unique<PosixWritableFile>(fd);
  }

  IoResult<std::unique_ptr<ReadableFile>> NewReadableFile(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return IoFail(IoOp::kOpen, errno);
    return std::make_unique<PosixReadableFile>(fd);
  }

  IoResult<void> RenameFile(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) < 0) return IoFail(IoOp::kRename, errno);
    return {};
  }

  IoResult<void> RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) < 0) return IoFail(IoOp::kUnlink, errno);
    return {};
  }

  IoResult<void> SyncDir(const std::string& dir) override {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return IoFail(IoOp::kOpen, errno);
    while (::fsync(fd) < 0) {
      if (errno != EINTR) {
        const int err = errno;
        ::close(fd);
        return IoFail(IoOp::kSync, err);
      }
    }
    if (::close(fd) < 0) return IoFail(IoOp::kClose, errno);
    return {};
  }

  IoResult<std::vector<std::string>> GetChildren(const std::string& dir) override {
    auto entries = ListDir(dir);
    if (!entries) return std::unexpected(entries.error());
    std::vector<std::string> names;
    names.reserve(entries->size());
    for (DirEntry& entry : *entries) names.push_back(std::move(entry.name));
    return names;
  }

  IoResult<std::vector<DirEntry>> ListDir(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return IoFail(IoOp::kList, errno);
    std::vector<DirEntry> entries;
    for (;;) {
      errno = 0;
      const dirent* entry = ::readdir(d);
      if (entry == nullptr) break;
      const std::string_view name = entry->d_name;
      if (name == "." || name == "..") continue;
      DirEntry::Type type = DirEntry::Type::kOther;
      if (entry->d_type == DT_REG) type = DirEntry::Type::kRegular;
      if (entry->d_type == DT_DIR) type = DirEntry::Type::kDirectory;
      if (entry->d_type == DT_UNKNOWN) type = DirEntry::Type::kUnknown;
      entries.push_back(DirEntry{std::string(name), type});
    }
    const int err = errno;
    ::closedir(d);
    if (err != 0) return IoFail(IoOp::kList, err);
    return entries;
  }

  IoResult<void> CreateDirs(const std::string& dir, mode_t mode) override {
    if (dir.empty()) return IoFail(IoOp::kMkdir, ENOENT);
    // Walk the prefixes ending just before each '/', then the whole path, creating what is missing.
    std::size_t pos = 0;
    for (;;) {
      const std::size_t slash = dir.find('/', pos);
      const std::string prefix = dir.substr(0, slash);
      pos = slash == std::string::npos ? dir.size() : slash + 1;
      // Skip the empty prefix of an absolute path and doubled or trailing slashes.
      if (!prefix.empty() && prefix.back() != '/') {
        if (auto made = MakeOneDir(prefix, mode); !made) return made;
      }
      if (slash == std::string::npos || pos >= dir.size()) break;
    }
    return {};
  }

  IoResult<std::unique_ptr<PidFileLock>> LockPidFile(const std::string& path, pid_t pid) override {
    int fd = -1;
    // Loop until the file we locked is still the one the path names: a previous holder unlinks
    // the file on release, and locking the orphaned inode would let two instances run.
    for (;;) {
      fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fd < 0) return IoFail(IoOp::kOpen, errno);
      struct stat locked {};
      if (::fstat(fd, &locked) < 0) return FailAndClose(fd, IoOp::kStat);
      struct flock fl {};
      fl.l_type = F_WRLCK;
      fl.l_whence = SEEK_SET;
      fl.l_start = 0;
      fl.l_len = 1;
      if (::fcntl(fd, F_OFD_SETLK, &fl) < 0) return FailAndClose(fd, IoOp::kLock);
      struct stat named {};
      if (::stat(path.c_str(), &named) == 0 && named.st_dev == locked.st_dev &&
          named.st_ino == locked.st_ino) {
        break;
      }
      ::close(fd);
    }
    if (::ftruncate(fd, 0) < 0) return FailAndClose(fd, IoOp::kTruncate);
    const std::string text = std::to_string(static_cast<long long>(pid));
    std::size_t done = 0;
    while (done < text.size()) {
      const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        if (n == 0) errno = ENOSPC;
        return FailAndClose(fd, IoOp::kWrite);
      }
      done += static_cast<std::size_t>(n);
    }
    return std::make_unique<PosixPidFileLock>(path, fd);
  }

 private:
  static std::unexpected<IoError> FailAndClose(int fd, IoOp op) {
    const int err = errno;
    ::close(fd);
    return IoFail(op, err);
  }

  static IoResult<void> MakeOneDir(const std::string& path, mode_t mode) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode)) return IoFail(IoOp::kMkdir, ENOTDIR);
      return {};
    }
    if (errno != ENOENT) return IoFail(IoOp::kMkdir, errno);
    if (::mkdir(path.c_str(), mode) == 0) return {};
    const int err = errno;
    // Someone else may have created it between the stat and the mkdir.
    if (err == EEXIST && ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return {};
    return IoFail(IoOp::kMkdir, err);
  }
};

}  // namespace

Env* Env::Default() {
  static PosixEnv env;
  return &env;
}

IoResult<std::vector<DirEntry>> Env::ListDir(const std::string& dir) {
  auto names = GetChildren(dir);
  if (!names) return std::unexpected(names.error());
  std::vector<DirEntry> entries;
  entries.reserve(names->size());
  for (std::string& name : *names) entries.push_back(DirEntry{std::move(name), DirEntry::Type::kUnknown});
  return entries;
}

}  // namespace vsecret
