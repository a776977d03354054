#include "volume/encrypted_io.h"

#include <cstring>
#include <vector>

namespace vsecret::volume {
namespace {

std::vector<std::uint8_t>& ScratchBuffer(std::size_t size) {
  thread_local std::vector<std::uint8_t> buffer;
  if (buffer.size() < size) buffer.resize(size);
  return buffer;
}

}  // namespace

Result<void> ReadEncrypted(const BlockFile& file, SectorCipher& cipher, std::uint64_t region_offset,
                           std::uint64_t region_sector, std::uint64_t offset, std::span<std::uint8_t> out) {
  if (out.empty()) return {};
  const std::uint64_t start = offset / kSectorSize * kSectorSize;
  const std::uint64_t end = (offset + out.size() + kSectorSize - 1) / kSectorSize * kSectorSize;
  const bool aligned = start == offset && end == offset + out.size();
  std::span<std::uint8_t> work =
      aligned ? out : std::span<std::uint8_t>(ScratchBuffer(end - start).data(), end - start);
  if (Result<void> r = file.ReadAt(region_offset + start, work, "data"); !r) return r;
  if (Result<void> r = cipher.Decrypt(region_sector + start / kSectorSize, work); !r) return r;
  if (!aligned) std::memcpy(out.data(), work.data() + (offset - start), out.size());
  return {};
}

Result<void> WriteEncrypted(BlockFile& file, SectorCipher& cipher, std::uint64_t region_offset,
                            std::uint64_t region_sector, std::uint64_t offset,
                            std::span<const std::uint8_t> data) {
  if (data.empty()) return {};
  const std::uint64_t start = offset / kSectorSize * kSectorSize;
  const std::uint64_t end = (offset + data.size() + kSectorSize - 1) / kSectorSize * kSectorSize;
  std::span<std::uint8_t> work(ScratchBuffer(end - start).data(), end - start);
  // Edge sectors keep the plaintext around the written range.
  if (start != offset) {
    if (Result<void> r =
            ReadEncrypted(file, cipher, region_offset, region_sector, start, work.first(kSectorSize));
        !r) {
      return r;
    }
  }
  const std::uint64_t tail = end - kSectorSize;
  if (end != offset + data.size() && (tail != start || start == offset)) {
    if (Result<void> r = ReadEncrypted(file, cipher, region_offset, region_sector, tail,
                                       work.subspan(tail - start, kSectorSize));
        !r) {
      return r;
    }
  }
  std::memcpy(work.data() + (offset - start), data.data(), data.size());
  if (Result<void> r = cipher.Encrypt(region_sector + start / kSectorSize, work); !r) return r;
  return file.WriteAt(region_offset + start, work, "data");
}

}  // namespace vsecret::volume
