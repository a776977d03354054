#include "volume/luks_image.h"

#include <unistd.h>

#include "volume/encrypted_io.h"

namespace vsecret::volume {
namespace {

std::uint64_t RoundUpSector(std::uint64_t n) { return (n + kSectorSize - 1) / kSectorSize * kSectorSize; }

}  // namespace

CipherPool::Lease::~Lease() {
  if (!cipher_) return;
  MutexLock lock(pool_->mutex_);
  pool_->idle_.push_back(std::move(cipher_));
}

Result<CipherPool::Lease> CipherPool::Acquire() {
  {
    MutexLock lock(mutex_);
    if (!idle_.empty()) {
      std::unique_ptr<SectorCipher> cipher = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(cipher));
    }
  }
  Result<std::unique_ptr<SectorCipher>> copy = prototype_->Clone();
  if (!copy) return std::unexpected(copy.error());
  return Lease(this, std::move(*copy));
}

std::uint64_t LuksCapacity(const LuksHeader& header, std::uint64_t file_size) {
  const std::uint64_t payload = static_cast<std::uint64_t>(header.payload_offset) * kSectorSize;
  return file_size > payload ? file_size - payload : 0;
}

LuksImage::LuksImage(std::unique_ptr<BlockFile> file, UnlockedLuks luks, std::unique_ptr<SectorCipher> cipher,
                     std::uint64_t capacity)
    : file_(std::move(file)), luks_(std::move(luks)), ciphers_(std::move(cipher)), capacity_(capacity) {}

Result<std::unique_ptr<LuksImage>> LuksImage::Create(const std::string& path, mode_t perms,
                                                     std::uint64_t capacity, const SecretBytes& passphrase,
                                                     const LuksFormatOptions& options) {
  Result<std::unique_ptr<BlockFile>> file = BlockFile::Create(path, perms);
  if (!file) return std::unexpected(file.error());
  auto fail = [&](const Error& e) -> Result<std::unique_ptr<LuksImage>> {
    ::unlink(path.c_str());
    return std::unexpected(e);
  };
  Result<UnlockedLuks> luks = FormatLuks(**file, 0, passphrase, options);
  if (!luks) return fail(luks.error());
  const std::uint64_t payload = static_cast<std::uint64_t>(luks->header.payload_offset) * kSectorSize;
  if (Result<void> r = (*file)->Resize(payload + RoundUpSector(capacity)); !r) return fail(r.error());
  if (Result<void> r = (*file)->Sync(); !r) return fail(r.error());
  Result<CipherSpec> spec =
      ParseCipherSpec(luks->header.cipher_name, luks->header.cipher_mode, luks->header.key_bytes);
  if (!spec) return fail(spec.error());
  Result<std::unique_ptr<SectorCipher>> cipher = SectorCipher::Create(*spec, luks->master_key);
  if (!cipher) return fail(cipher.error());
  return std::unique_ptr<LuksImage>(
      new LuksImage(std::move(*file), std::move(*luks), std::move(*cipher), RoundUpSector(capacity)));
}

Result<std::unique_ptr<LuksImage>> LuksImage::Open(std::unique_ptr<BlockFile> file,
                                                   const SecretBytes& passphrase) {
  Result<LuksHeader> header = ReadLuksHeader(*file, 0);
  if (!header) return std::unexpected(header.error());
  Result<UnlockedLuks> luks = UnlockLuks(*file, 0, *header, passphrase);
  if (!luks) return std::unexpected(luks.error());
  Result<CipherSpec> spec = ParseCipherSpec(header->cipher_name, header->cipher_mode, header->key_bytes);
  if (!spec) return std::unexpected(spec.error());
  Result<std::unique_ptr<SectorCipher>> cipher = SectorCipher::Create(*spec, luks->master_key);
  if (!cipher) return std::unexpected(cipher.error());
  Result<std::uint64_t> size = file->Size();
  if (!size) return std::unexpected(size.error());
  const std::uint64_t capacity = LuksCapacity(*header, *size) / kSectorSize * kSectorSize;
  return std::unique_ptr<LuksImage>(
      new LuksImage(std::move(file), std::move(*luks), std::move(*cipher), capacity));
}

Result<void> LuksImage::Read(std::uint64_t offset, std::span<std::uint8_t> out) {
  if (Result<void> r = CheckImageRange(offset, out.size(), capacity_); !r) return r;
  Result<CipherPool::Lease> cipher = ciphers_.Acquire();
  if (!cipher) return std::unexpected(cipher.error());
  return ReadEncrypted(*file_, *cipher->operator->(), payload_bytes(), 0, offset, out);
}

Result<void> LuksImage::Write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  if (Result<void> r = CheckImageRange(offset, data.size(), capacity_); !r) return r;
  Result<CipherPool::Lease> cipher = ciphers_.Acquire();
  if (!cipher) return std::unexpected(cipher.error());
  return WriteEncrypted(*file_, *cipher->operator->(), payload_bytes(), 0, offset, data);
}

Result<void> LuksImage::WriteClobbering(std::uint64_t offset, std::span<std::uint8_t> data) {
  if (offset % kSectorSize != 0 || data.size() % kSectorSize != 0) return Write(offset, data);
  if (Result<void> r = CheckImageRange(offset, data.size(), capacity_); !r) return r;
  Result<CipherPool::Lease> cipher = ciphers_.Acquire();
  if (!cipher) return std::unexpected(cipher.error());
  if (Result<void> r = (*cipher)->Encrypt(offset / kSectorSize, data); !r) return r;
  return file_->WriteAt(payload_bytes() + offset, data, "data");
}

Result<void> LuksImage::Resize(std::uint64_t new_capacity) {
  // The header never changes: only the payload grows or shrinks, as with qemu-img resize.
  const std::uint64_t rounded = RoundUpSector(new_capacity);
  if (Result<void> r = file_->Resize(payload_bytes() + rounded); !r) return r;
  capacity_ = rounded;
  return {};
}

}  // namespace vsecret::volume
