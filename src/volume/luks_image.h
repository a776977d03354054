// Raw LUKS1 volumes: a LUKS1 header and key material followed by the encrypted payload, exactly
// what `qemu-img create -f luks` writes, so qemu and cryptsetup open it.
//
// The payload starts at payload_offset x 512 and sector n of it is encrypted with IV n. The file
// is payload_offset x 512 + capacity rounded up to 512 bytes long, so a 64 MiB volume in the
// default cipher takes 64 MiB + 4040 x 512 bytes, as with qemu and libvirt.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/thread_annotations.h"
#include "volume/block_file.h"
#include "volume/luks_keyslots.h"
#include "volume/sector_cipher.h"
#include "volume/volume_image.h"
#include "vsecret/error.h"
#include "vsecret/secret_bytes.h"

namespace vsecret::volume {

// Sector ciphers for concurrent callers: each caller leases its own copy of one keyed cipher.
class CipherPool {
 public:
  explicit CipherPool(std::unique_ptr<SectorCipher> prototype) : prototype_(std::move(prototype)) {}

  class Lease {
   public:
    Lease(CipherPool* pool, std::unique_ptr<SectorCipher> cipher) : pool_(pool), cipher_(std::move(cipher)) {}
    ~Lease();
    Lease(Lease&&) = default;
    SectorCipher* operator->() const { return cipher_.get(); }

   private:
    CipherPool* pool_;
    std::unique_ptr<SectorCipher> cipher_;
  };
  Result<Lease> Acquire();

 private:
  std::unique_ptr<SectorCipher> prototype_;
  Mutex mutex_;
  std::vector<std::unique_ptr<SectorCipher>> idle_ GUARDED_BY(mutex_);
};

class LuksImage final : public VolumeImage {
 public:
  // Creates path (which must not exist) with perms, formats it and sizes it for capacity. On
  // failure the new file is removed again.
  static Result<std::unique_ptr<LuksImage>> Create(const std::string& path, mode_t perms,
                                                   std::uint64_t capacity, const SecretBytes& passphrase,
                                                   const LuksFormatOptions& options);
  // Unlocks an existing raw LUKS1 file. Writes nothing: a wrong passphrase leaves it untouched.
  static Result<std::unique_ptr<LuksImage>> Open(std::unique_ptr<BlockFile> file,
                                                 const SecretBytes& passphrase);

  std::uint64_t capacity() const override { return capacity_; }
  Result<void> Read(std::uint64_t offset, std::span<std::uint8_t> out) override;
  Result<void> Write(std::uint64_t offset, std::span<const std::uint8_t> data) override;
  Result<void> WriteClobbering(std::uint64_t offset, std::span<std::uint8_t> data) override;
  Result<void> Resize(std::uint64_t new_capacity) override;
  Result<void> Flush() override { return file_->Sync(); }

  const LuksHeader& header() const { return luks_.header; }
  // For key-slot management on the open volume.
  BlockFile& file() { return *file_; }
  UnlockedLuks& unlocked() { return luks_; }

 private:
  LuksImage(std::unique_ptr<BlockFile> file, UnlockedLuks luks, std::unique_ptr<SectorCipher> cipher,
            std::uint64_t capacity);
  std::uint64_t payload_bytes() const {
    return static_cast<std::uint64_t>(luks_.header.payload_offset) * kSectorSize;
  }

  std::unique_ptr<BlockFile> file_;
  UnlockedLuks luks_;
  CipherPool ciphers_;
  std::uint64_t capacity_;
};

// The plaintext capacity of a raw LUKS1 file of file_size bytes (what libvirt reports).
std::uint64_t LuksCapacity(const LuksHeader& header, std::uint64_t file_size);

}  // namespace vsecret::volume
