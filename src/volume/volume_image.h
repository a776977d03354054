// VolumeImage: the plaintext contents of a volume, whatever its on-disk format (raw, raw LUKS1,
// qcow2, qcow2 with LUKS). Upload, download, wipe and resize are written against this interface.
//
// Offsets and lengths are in plaintext (guest) bytes and may have any alignment; encrypted
// formats do read-modify-write on partial sectors.
//
// Thread-safety: Read and Write may run concurrently from several threads as long as the ranges
// do not share a 512-byte sector (qcow2: a cluster). Resize and Flush must not overlap them.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "volume/block_file.h"
#include "vsecret/error.h"

namespace vsecret::volume {

class VolumeImage {
 public:
  virtual ~VolumeImage() = default;

  // Plaintext size in bytes.
  virtual std::uint64_t capacity() const = 0;
  // Reading past capacity is an error; unwritten areas read as the format defines (raw LUKS:
  // decrypted zeros, i.e. noise, as qemu; qcow2: zeros).
  virtual Result<void> Read(std::uint64_t offset, std::span<std::uint8_t> out) = 0;
  virtual Result<void> Write(std::uint64_t offset, std::span<const std::uint8_t> data) = 0;
  // Write that may overwrite `data` (with ciphertext), sparing encrypted formats a copy of every
  // chunk in bulk transfers. The default copies.
  virtual Result<void> WriteClobbering(std::uint64_t offset, std::span<std::uint8_t> data) {
    return Write(offset, data);
  }
  // Grows or shrinks the plaintext size; existing data below the new size is preserved.
  virtual Result<void> Resize(std::uint64_t new_capacity) = 0;
  // Makes written data durable (fdatasync).
  virtual Result<void> Flush() = 0;
  // The preferred unit for bulk transfers (a multiple of 512; the qcow2 cluster size).
  virtual std::uint64_t transfer_unit() const { return 512; }
};

// An unencrypted raw file: capacity is the file size.
Result<std::unique_ptr<VolumeImage>> OpenRawImage(std::unique_ptr<BlockFile> file);

// The range check of every image's Read and Write: offset+len within the plaintext capacity.
inline Result<void> CheckImageRange(std::uint64_t offset, std::size_t len, std::uint64_t capacity) {
  if (offset > capacity || len > capacity - offset) {
    return Fail(ErrorCode::kInvalidArg, ErrorDomain::kStorage,
                "invalid argument: range " + std::to_string(offset) + "+" + std::to_string(len) +
                    " is beyond the volume capacity " + std::to_string(capacity));
  }
  return {};
}

}  // namespace vsecret::volume
