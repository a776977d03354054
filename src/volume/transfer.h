// Bulk plaintext transfers between a descriptor and a VolumeImage, on several threads.
//
// The range is cut into chunks aligned to the image's transfer unit, so no two workers ever
// touch the same sector or cluster. Each worker reads (or generates) its chunk, encrypts or
// decrypts it through the image and writes it out, so reading, AES and writing all run on every
// core. Regular files are accessed with pread/pwrite at computed offsets; pipes and terminals are
// read in order under a lock, and written in order (workers wait for their turn), so streams work
// too. The first error stops all workers and is returned; what was written before it stays.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "volume/volume_image.h"
#include "vsecret/error.h"

namespace vsecret::volume {

struct TransferOptions {
  unsigned threads = 2;
  std::uint64_t chunk = 1u << 20;  // small enough to stay in cache between read, AES and write
  // Cumulative bytes, called under the engine's lock (never concurrently).
  std::function<void(std::uint64_t done, std::uint64_t total)> progress;
};

// Writes what fd yields from its current position into image at offset: length bytes, or up to
// end of input when length is nullopt. Input beyond the image's capacity is an error. Returns the
// byte count written.
Result<std::uint64_t> CopyToImage(int fd, VolumeImage& image, std::uint64_t offset,
                                  std::optional<std::uint64_t> length, const TransferOptions& options);
// Writes image [offset, offset + length) to fd from its current position.
Result<std::uint64_t> CopyFromImage(VolumeImage& image, std::uint64_t offset, std::uint64_t length, int fd,
                                    const TransferOptions& options);
// Overwrites image [offset, offset + length) with zeros or random bytes (plaintext).
Result<void> FillImage(VolumeImage& image, std::uint64_t offset, std::uint64_t length, bool random,
                       const TransferOptions& options);

}  // namespace vsecret::volume
