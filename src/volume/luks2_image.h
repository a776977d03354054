// Raw LUKS2 volumes: cryptsetup's LUKS2 metadata followed by one crypt data segment.
//
// The segment starts at its byte offset (16 MiB with cryptsetup's defaults) and is encrypted in
// units of its sector_size (512 to 4096 bytes). Each unit is one cipher run whose IV number is
// counted in 512-byte sectors from the segment start plus iv_tweak, as dm-crypt does for LUKS2
// (cryptsetup does not set iv_large_sectors for LUKS headers): the 4 KiB unit k has IV 8k.
// Units larger than 512 bytes run on OpenSSL EVP directly (AES xts/cbc with plain, plain64 or
// essiv); 512-byte units use SectorCipher and so every cipher it supports.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "base/thread_annotations.h"
#include "volume/block_file.h"
#include "volume/luks2_keyslots.h"
#include "volume/sector_cipher.h"
#include "volume/volume_image.h"
#include "vsecret/error.h"
#include "vsecret/secret_bytes.h"

namespace vsecret::volume {

// The cipher of a LUKS2 crypt segment. Not thread-safe; Clone() gives each thread its own.
class Luks2DataCipher {
 public:
  static Result<std::unique_ptr<Luks2DataCipher>> Create(const Luks2Segment& segment, const SecretBytes& key);
  ~Luks2DataCipher();
  Luks2DataCipher(const Luks2DataCipher&) = delete;
  Luks2DataCipher& operator=(const Luks2DataCipher&) = delete;
  Result<std::unique_ptr<Luks2DataCipher>> Clone() const;

  // In place over whole units; offset is the byte offset inside the segment (unit aligned).
  Result<void> Encrypt(std::uint64_t offset, std::span<std::uint8_t> data);
  Result<void> Decrypt(std::uint64_t offset, std::span<std::uint8_t> data);
  std::uint32_t unit() const { return unit_; }

 private:
  struct Evp;
  Luks2DataCipher() = default;
  Result<void> Run(bool encrypt, std::uint64_t offset, std::span<std::uint8_t> data);

  std::uint32_t unit_ = 512;
  std::uint64_t iv_tweak_ = 0;
  std::unique_ptr<SectorCipher> sector_;  // 512-byte units
  std::unique_ptr<Evp> evp_;              // larger units
};

class Luks2Image final : public VolumeImage {
 public:
  // Unlocks an existing raw LUKS2 file. Writes nothing: a wrong passphrase leaves it untouched.
  static Result<std::unique_ptr<Luks2Image>> Open(std::unique_ptr<BlockFile> file,
                                                  const SecretBytes& passphrase);
  // An image over a file already unlocked (a volume just formatted).
  static Result<std::unique_ptr<Luks2Image>> Adopt(std::unique_ptr<BlockFile> file, UnlockedLuks2 luks);
  ~Luks2Image() override;

  std::uint64_t capacity() const override { return capacity_; }
  Result<void> Read(std::uint64_t offset, std::span<std::uint8_t> out) override;
  Result<void> Write(std::uint64_t offset, std::span<const std::uint8_t> data) override;
  Result<void> WriteClobbering(std::uint64_t offset, std::span<std::uint8_t> data) override;
  // Only for segments of "dynamic" size (what cryptsetup writes for image files).
  Result<void> Resize(std::uint64_t new_capacity) override;
  Result<void> Flush() override { return file_->Sync(); }
  std::uint64_t transfer_unit() const override { return unit_; }

  const Luks2Header& header() const { return luks_.header; }
  const UnlockedLuks2& unlocked() const { return luks_; }
  BlockFile& file() { return *file_; }

 private:
  Luks2Image(std::unique_ptr<BlockFile> file, UnlockedLuks2 luks, std::unique_ptr<Luks2DataCipher> cipher,
             std::uint64_t capacity);
  Result<std::unique_ptr<Luks2DataCipher>> AcquireCipher();
  void ReleaseCipher(std::unique_ptr<Luks2DataCipher> cipher);

  std::unique_ptr<BlockFile> file_;
  UnlockedLuks2 luks_;
  std::uint64_t data_offset_;
  std::uint32_t unit_;
  std::uint64_t capacity_;
  std::unique_ptr<Luks2DataCipher> prototype_;
  Mutex mutex_;
  std::vector<std::unique_ptr<Luks2DataCipher>> idle_ GUARDED_BY(mutex_);
};

// The plaintext capacity of a raw LUKS2 file of file_size bytes: the segment's size, or for a
// dynamic segment the bytes after its offset rounded down to whole units.
std::uint64_t Luks2Capacity(const Luks2Header& header, std::uint64_t file_size);

}  // namespace vsecret::volume
