// BlockFile: positional I/O on a volume file, with libvirt-style error messages.
//
// Volume code reads and writes at arbitrary offsets (headers, key material, payload sectors), so
// it needs pread/pwrite rather than the streaming files of base/env.h. Every failure names the
// file and the step ("cannot read header of volume '<path>': ..."), and short reads at end of
// file are reported as such instead of returning partial data.
//
// Thread-safety: ReadAt/WriteAt may be called concurrently from several threads on one BlockFile
// (they use pread/pwrite, which do not share a file position); Resize/Sync may not race with them.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "vsecret/error.h"

namespace vsecret::volume {

class BlockFile {
 public:
  enum class Mode { kReadOnly, kReadWrite };

  // Opens an existing file (close-on-exec, not following a final symlink for writes).
  static Result<std::unique_ptr<BlockFile>> Open(const std::string& path, Mode mode);
  // Creates a new file with exactly `perms` (O_EXCL: an existing file is an error, EEXIST).
  static Result<std::unique_ptr<BlockFile>> Create(const std::string& path, mode_t perms);
  ~BlockFile();
  BlockFile(const BlockFile&) = delete;
  BlockFile& operator=(const BlockFile&) = delete;

  const std::string& path() const { return path_; }
  int fd() const { return fd_; }

  // Reads exactly data.size() bytes at offset; reaching end of file first is an error (EIO, with
  // "unexpected end of file" in the message). what names the read in the message.
  Result<void> ReadAt(std::uint64_t offset, std::span<std::uint8_t> data, const char* what) const;
  // Reads up to data.size() bytes; returns how many were available before end of file.
  Result<std::size_t> ReadSomeAt(std::uint64_t offset, std::span<std::uint8_t> data) const;
  Result<void> WriteAt(std::uint64_t offset, std::span<const std::uint8_t> data, const char* what);
  Result<std::uint64_t> Size() const;
  // ftruncate: grows sparsely or shrinks.
  Result<void> Resize(std::uint64_t size);
  Result<void> Sync();

 private:
  BlockFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}

  std::string path_;
  int fd_;
};

}  // namespace vsecret::volume
