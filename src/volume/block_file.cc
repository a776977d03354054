#include "volume/block_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace vsecret::volume {

Result<std::unique_ptr<BlockFile>> BlockFile::Open(const std::string& path, Mode mode) {
  const int flags = O_CLOEXEC | (mode == Mode::kReadOnly ? O_RDONLY : O_RDWR | O_NOFOLLOW);
  const int fd = ::open(path.c_str(), flags);
  if (fd < 0) return SystemError(ErrorDomain::kStorage, errno, "cannot open volume '" + path + "'");
  return std::unique_ptr<BlockFile>(new BlockFile(path, fd));
}

Result<std::unique_ptr<BlockFile>> BlockFile::Create(const std::string& path, mode_t perms) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, perms);
  if (fd < 0) return SystemError(ErrorDomain::kStorage, errno, "cannot create volume '" + path + "'");
  // The umask must not widen or narrow what the caller asked for.
  if (::fchmod(fd, perms) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return SystemError(ErrorDomain::kStorage, err, "cannot set mode of volume '" + path + "'");
  }
  return std::unique_ptr<BlockFile>(new BlockFile(path, fd));
}

BlockFile::~BlockFile() { ::close(fd_); }

Result<std::size_t> BlockFile::ReadSomeAt(std::uint64_t offset, std::span<std::uint8_t> data) const {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::pread(fd_, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return SystemError(ErrorDomain::kStorage, errno, "cannot read from volume '" + path_ + "'");
    }
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return done;
}

Result<void> BlockFile::ReadAt(std::uint64_t offset, std::span<std::uint8_t> data, const char* what) const {
  Result<std::size_t> got = ReadSomeAt(offset, data);
  if (!got) return std::unexpected(got.error());
  if (*got != data.size()) {
    return Fail(ErrorCode::kInternalError, ErrorDomain::kStorage,
                std::string("internal error: cannot read ") + what + " of volume '" + path_ +
                    "': unexpected end of file");
  }
  return {};
}

Result<void> BlockFile::WriteAt(std::uint64_t offset, std::span<const std::uint8_t> data, const char* what) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n =
        ::pwrite(fd_, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return SystemError(ErrorDomain::kStorage, errno,
                         std::string("cannot write ") + what + " of volume '" + path_ + "'");
    }
    if (n == 0) {
      return SystemError(ErrorDomain::kStorage, ENOSPC,
                         std::string("cannot write ") + what + " of volume '" + path_ + "'");
    }
    done += static_cast<std::size_t>(n);
  }
  return {};
}

Result<std::uint64_t> BlockFile::Size() const {
  struct stat st;
  if (::fstat(fd_, &st) != 0)
    return SystemError(ErrorDomain::kStorage, errno, "cannot stat file '" + path_ + "'");
  return static_cast<std::uint64_t>(st.st_size);
}

Result<void> BlockFile::Resize(std::uint64_t size) {
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
    return SystemError(ErrorDomain::kStorage, errno, "Failed to truncate file '" + path_ + "'");
  }
  return {};
}

Result<void> BlockFile::Sync() {
  if (::fdatasync(fd_) != 0)
    return SystemError(ErrorDomain::kStorage, errno, "cannot sync file '" + path_ + "'");
  return {};
}

}  // namespace vsecret::volume
