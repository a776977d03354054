// Env: the file-system operations vsecret performs, behind one interface (LevelDB style).
//
// Everything that touches the disk on behalf of the store goes through an Env, so tests can
// substitute an implementation that fails chosen operations (a full disk on the Nth write, a
// refused rename, EACCES on create) without mocking the OS. Env::Default() is the real POSIX
// implementation; EnvWrapper forwards every call to another Env and is the base for such
// fault-injecting decorators.
//
// Errors are reported as an IoError: which step failed and the errno it failed with. Turning
// that into a user-facing, libvirt-style message is the caller's job, because the wording depends
// on what the caller was doing (see SecretStore).
//
// Thread-safety: Env::Default() is safe for concurrent use. WritableFile, ReadableFile and
// PidFileLock objects are not internally synchronised.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "vsecret/secret_bytes.h"

namespace vsecret {

// The step of an operation that failed. Multi-step operations (the pid-file lock, reading a file)
// report the exact step so callers can choose the matching message.
enum class IoOp {
  kOpen,
  kCreate,
  kStat,
  kRead,
  kWrite,
  kSync,
  kClose,
  kRename,
  kUnlink,
  kMkdir,
  kList,
  kLock,
  kTruncate,
};

struct IoError {
  IoOp op = IoOp::kOpen;
  int errnum = 0;

  bool operator==(const IoError&) const = default;
};

template <typename T>
using IoResult = std::expected<T, IoError>;

inline std::unexpected<IoError> IoFail(IoOp op, int errnum) {
  return std::unexpected<IoError>(IoError{op, errnum});
}

// A file open for writing. The destructor closes the descriptor if Close() was not called,
// ignoring errors (the caller is on a failure path then).
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Writes all of data, retrying short writes and EINTR. A write that makes no progress is ENOSPC.
  virtual IoResult<void> Append(std::span<const std::uint8_t> data) = 0;
  virtual IoResult<void> Sync() = 0;  // fsync
  // Closes the descriptor; after this only destruction is valid, whatever the outcome.
  virtual IoResult<void> Close() = 0;
};

// A file open for reading.
class ReadableFile {
 public:
  virtual ~ReadableFile() = default;
  // Reads from the current position to end of file into a wiping buffer (contents may be secret).
  // More than max_bytes bytes of content is {kRead, EOVERFLOW}. Reading a directory fails with
  // {kRead, EISDIR}, as read(2) does.
  virtual IoResult<SecretBytes> ReadAll(std::size_t max_bytes) = 0;
};

// An exclusive, non-blocking lock on a pid file, held until destruction. Destruction removes
// the file first and then releases the lock, so a process that opened the old file before the
// unlink sees, once it gets the lock, that the path no longer names what it locked, and retries.
class PidFileLock {
 public:
  virtual ~PidFileLock() = default;
  virtual const std::string& path() const = 0;
};

// One directory entry with the type readdir reported (kUnknown when the filesystem does not say).
struct DirEntry {
  enum class Type { kUnknown, kRegular, kDirectory, kOther };
  std::string name;
  Type type = Type::kUnknown;
};

class Env {
 public:
  virtual ~Env() = default;

  // The real POSIX implementation; never null, never destroyed.
  static Env* Default();

  // Opens path for writing (O_WRONLY|O_CREAT|O_TRUNC, close-on-exec, not following a symlink in
  // the last component) and forces the permission bits to exactly `mode` with fchmod, whatever
  // the umask or the previous mode of an existing file. Every failure, fchmod's included, is
  // reported as kCreate.
  virtual IoResult<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path, mode_t mode) = 0;
  // Opens path read-only. A missing file is {kOpen, ENOENT}.
  virtual IoResult<std::unique_ptr<ReadableFile>> NewReadableFile(const std::string& path) = 0;

  virtual IoResult<void> RenameFile(const std::string& from, const std::string& to) = 0;
  virtual IoResult<void> RemoveFile(const std::string& path) = 0;
  // fsync of a directory, making renames and unlinks in it durable.
  virtual IoResult<void> SyncDir(const std::string& dir) = 0;

  // Entry names of dir except "." and "..", in readdir order. A missing dir is {kList, ENOENT}.
  virtual IoResult<std::vector<std::string>> GetChildren(const std::string& dir) = 0;
  // Like GetChildren, with each entry's type as readdir reports it, at no extra system call.
  // The default implementation reports every type as kUnknown.
  virtual IoResult<std::vector<DirEntry>> ListDir(const std::string& dir);
  // Creates dir and any missing parents, each with `mode` (subject to the umask, as mkdir(2)).
  // Existing directories are left alone, modes included. A component that exists but is not a
  // directory is {kMkdir, ENOTDIR}.
  virtual IoResult<void> CreateDirs(const std::string& dir, mode_t mode) = 0;

  // Opens or creates path (mode 0644 when created), takes an exclusive non-blocking lock on it
  // and replaces its content with the decimal pid, no newline. When another holder has the
  // lock this is {kLock, EAGAIN}. The lock is an open-file-description lock, so it conflicts with
  // classic fcntl locks (libvirt's) and also with a second lock taken inside the same process.
  virtual IoResult<std::unique_ptr<PidFileLock>> LockPidFile(const std::string& path, pid_t pid) = 0;
};

// Forwards every call to a target Env. Subclass it and override the calls to interfere with.
class EnvWrapper : public Env {
 public:
  explicit EnvWrapper(Env* target) : target_(target) {}

  Env* target() const { return target_; }

  IoResult<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path, mode_t mode) override {
    return target_->NewWritableFile(path, mode);
  }
  IoResult<std::unique_ptr<ReadableFile>> NewReadableFile(const std::string& path) override {
    return target_->NewReadableFile(path);
  }
  IoResult<std::vector<DirEntry>> ListDir(const std::string& dir) override { return target_->ListDir(dir); }
  IoResult<void> RenameFile(const std::string& from, const std::string& to) override {
    return target_->RenameFile(from, to);
  }
  IoResult<void> RemoveFile(const std::string& path) override { return target_->RemoveFile(path); }
  IoResult<void> SyncDir(const std::string& dir) override { return target_->SyncDir(dir); }
  IoResult<std::vector<std::string>> GetChildren(const std::string& dir) override {
    return target_->GetChildren(dir);
  }
  IoResult<void> CreateDirs(const std::string& dir, mode_t mode) override {
    return target_->CreateDirs(dir, mode);
  }
  IoResult<std::unique_ptr<PidFileLock>> LockPidFile(const std::string& path, pid_t pid) override {
    return target_->LockPidFile(path, pid);
  }

 private:
  Env* target_;  // not owned
};

}  // namespace vsecret
