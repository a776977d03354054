#include "volume/qcow2_image.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "volume/encrypted_io.h"

namespace vsecret::volume {
namespace {

constexpr std::uint8_t kMagic[4] = {'Q', 'F', 'I', 0xFB};
constexpr std::uint32_t kClusterBits = 16;
constexpr std::uint32_t kFdeExtension = 0x0537BE77;
constexpr std::uint64_t kOffsetMask = 0x00FFFFFFFFFFFE00ULL;
constexpr std::uint64_t kCopied = 1ULL << 63;
constexpr std::uint64_t kCompressed = 1ULL << 62;
constexpr std::uint64_t kZeroFlag = 1ULL;
constexpr std::size_t kV2HeaderLength = 72;
constexpr std::size_t kV3HeaderLength = 112;  // with the compression-type byte, as qemu 7.2 writes
// Incompatible feature bits vsecret can honour: only "compression type" (it never reads
// compressed clusters, so the algorithm does not matter).
constexpr std::uint64_t kKnownIncompatible = 1ULL << 3;

std::uint64_t Get64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | p[i];
  return v;
}
std::uint32_t Get32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) << 24 | static_cast<std::uint32_t>(p[1]) << 16 |
         static_cast<std::uint32_t>(p[2]) << 8 | p[3];
}
void Put64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<std::uint8_t>(v);
}
void Put32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 3; i >= 0; --i, v >>= 8) p[i] = static_cast<std::uint8_t>(v);
}

std::unexpected<Error> Unsupported(const std::string& path, const std::string& what) {
  return Fail(ErrorCode::kConfigUnsupported, ErrorDomain::kStorage,
              "unsupported configuration: qcow2 image '" + path + "': " + what);
}
std::unexpected<Error> Corrupt(const std::string& path, const std::string& what) {
  return InternalError(ErrorDomain::kStorage, "qcow2 image '" + path + "' is corrupt: " + what);
}

std::uint64_t DivRoundUp(std::uint64_t a, std::uint64_t b) { return (a + b - 1) / b; }

}  // namespace

Result<std::optional<Qcow2Info>> ProbeQcow2(const BlockFile& file) {
  std::array<std::uint8_t, 4096> buf{};
  Result<std::size_t> got = file.ReadSomeAt(0, buf);
  if (!got) return std::unexpected(got.error());
  if (*got < 4 || std::memcmp(buf.data(), kMagic, 4) != 0) return std::optional<Qcow2Info>();
  if (*got < kV2HeaderLength) return Corrupt(file.path(), "header is truncated");
  Qcow2Info info;
  info.version = Get32(&buf[4]);
  if (info.version != 2 && info.version != 3) {
    return Unsupported(file.path(), "version " + std::to_string(info.version) + " is not supported");
  }
  info.has_backing = Get64(&buf[8]) != 0;
  info.cluster_bits = Get32(&buf[20]);
  if (info.cluster_bits < 9 || info.cluster_bits > 21) return Corrupt(file.path(), "invalid cluster size");
  info.size = Get64(&buf[24]);
  info.crypt_method = Get32(&buf[32]);
  std::size_t ext = kV2HeaderLength;
  if (info.version == 3) {
    info.lazy_refcounts = (Get64(&buf[80]) & 1) != 0;
    ext = Get32(&buf[100]);
    if (ext < 104 || ext > 4096) return Corrupt(file.path(), "invalid header length");
  }
  // Header extensions: type, length, data padded to 8 bytes, until the end marker.
  while (ext + 8 <= *got) {
    const std::uint32_t type = Get32(&buf[ext]);
    const std::uint32_t len = Get32(&buf[ext + 4]);
    if (type == 0) break;
    if (ext + 8 + len > *got) return Corrupt(file.path(), "header extension is truncated");
    if (type == kFdeExtension) {
      if (len != 16) return Corrupt(file.path(), "invalid encryption header extension");
      info.luks_offset = Get64(&buf[ext + 8]);
      info.luks_length = Get64(&buf[ext + 16]);
    }
    ext += 8 + (len + 7) / 8 * 8;
  }
  return std::optional<Qcow2Info>(info);
}

Result<std::unique_ptr<Qcow2Image>> Qcow2Image::Create(const std::string& path, mode_t perms,
                                                       const Qcow2CreateOptions& options,
                                                       const SecretBytes* passphrase) {
  const std::uint64_t cs = 1ULL << kClusterBits;
  const std::uint64_t l2_entries = cs / 8;
  const std::uint64_t l1_size = DivRoundUp(options.capacity, cs * l2_entries);
  const std::uint64_t l1_clusters = std::max<std::uint64_t>(1, DivRoundUp(l1_size * 8, cs));
  if (l1_size > l2_entries) return Unsupported(path, "virtual size is too large");
  if (options.luks && passphrase == nullptr)
    return InternalError(ErrorDomain::kStorage, "missing passphrase");

  Result<std::unique_ptr<BlockFile>> file = BlockFile::Create(path, perms);
  if (!file) return std::unexpected(file.error());
  auto fail = [&](const Error& e) -> Result<std::unique_ptr<Qcow2Image>> {
    ::unlink(path.c_str());
    return std::unexpected(e);
  };
  // qemu's order: header, refcount table, refcount block, L1 table, then the LUKS header.
  const std::uint64_t refcount_table = cs, refcount_block = 2 * cs, l1 = 3 * cs;
  const std::uint64_t luks_offset = l1 + l1_clusters * cs;
  std::uint64_t luks_length = 0;
  std::uint64_t end = luks_offset;
  if (options.luks) {
    Result<UnlockedLuks> luks = FormatLuks(**file, luks_offset, *passphrase, *options.luks);
    if (!luks) return fail(luks.error());
    luks_length = static_cast<std::uint64_t>(luks->header.payload_offset) * kLuksSectorSize;
    end = luks_offset + DivRoundUp(luks_length, cs) * cs;
  }
  const std::uint64_t clusters = end / cs;
  if (clusters > cs / 2) return fail(Unsupported(path, "metadata does not fit one refcount block").error());

  std::vector<std::uint8_t> header(cs, 0);
  std::uint8_t* h = header.data();
  std::memcpy(h, kMagic, 4);
  Put32(h + 4, options.version3 ? 3 : 2);
  Put32(h + 20, kClusterBits);
  Put64(h + 24, options.capacity);
  Put32(h + 32, options.luks ? 2 : 0);
  Put32(h + 36, static_cast<std::uint32_t>(l1_size));
  Put64(h + 40, l1);
  Put64(h + 48, refcount_table);
  Put32(h + 56, 1);
  std::size_t ext = kV2HeaderLength;
  if (options.version3) {
    Put32(h + 96, 4);  // refcount_order: 16-bit refcounts
    Put32(h + 100, kV3HeaderLength);
    ext = kV3HeaderLength;
  }
  if (options.luks) {
    Put32(h + ext, kFdeExtension);
    Put32(h + ext + 4, 16);
    Put64(h + ext + 8, luks_offset);
    Put64(h + ext + 16, luks_length);
    ext += 24;
  }
  // The end-of-extensions marker is the zero type/length pair already there.
  std::vector<std::uint8_t> table(cs, 0);
  Put64(table.data(), refcount_block);
  std::vector<std::uint8_t> block(cs, 0);
  for (std::uint64_t i = 0; i < clusters; ++i) block[2 * i + 1] = 1;
  std::vector<std::uint8_t> zero_l1(l1_clusters * cs, 0);
  for (auto [offset, data] : {std::pair{l1, &zero_l1}, {refcount_block, &block}, {refcount_table, &table}}) {
    if (Result<void> r = (*file)->WriteAt(offset, *data, "qcow2 metadata"); !r) return fail(r.error());
  }
  if (Result<void> r = (*file)->Resize(end); !r) return fail(r.error());
  // The header goes last, so a half-created file is never a valid image.
  if (Result<void> r = (*file)->Sync(); !r) return fail(r.error());
  if (Result<void> r = (*file)->WriteAt(0, header, "qcow2 header"); !r) return fail(r.error());
  if (Result<void> r = (*file)->Sync(); !r) return fail(r.error());
  std::unique_ptr<BlockFile> reopened = std::move(*file);
  Result<std::unique_ptr<Qcow2Image>> image = Open(std::move(reopened), passphrase);
  if (!image) return fail(image.error());
  return image;
}

Result<std::unique_ptr<Qcow2Image>> Qcow2Image::Open(std::unique_ptr<BlockFile> file,
                                                     const SecretBytes* passphrase) {
  const std::string path = file->path();
  Result<std::optional<Qcow2Info>> info = ProbeQcow2(*file);
  if (!info) return std::unexpected(info.error());
  if (!*info) return Corrupt(path, "not a qcow2 image");
  std::unique_ptr<Qcow2Image> image(new Qcow2Image());
  image->file_ = std::move(file);
  image->info_ = **info;
  if (Result<void> r = image->LoadTables(); !r) return std::unexpected(r.error());
  if (image->info_.crypt_method == 1) return Unsupported(path, "legacy qcow encryption is not supported");
  if (image->info_.crypt_method == 2) {
    if (image->info_.luks_offset == 0 || image->info_.luks_offset % image->cluster_size_ != 0) {
      return Corrupt(path, "missing or misaligned encryption header extension");
    }
    if (passphrase == nullptr) return Unsupported(path, "the image is encrypted and no secret was given");
    Result<LuksHeader> header = ReadLuksHeader(*image->file_, image->info_.luks_offset);
    if (!header) return std::unexpected(header.error());
    Result<UnlockedLuks> luks = UnlockLuks(*image->file_, image->info_.luks_offset, *header, *passphrase);
    if (!luks) return std::unexpected(luks.error());
    Result<CipherSpec> spec = ParseCipherSpec(header->cipher_name, header->cipher_mode, header->key_bytes);
    if (!spec) return std::unexpected(spec.error());
    Result<std::unique_ptr<SectorCipher>> cipher = SectorCipher::Create(*spec, luks->master_key);
    if (!cipher) return std::unexpected(cipher.error());
    image->ciphers_ = std::make_unique<CipherPool>(std::move(*cipher));
    image->luks_ = std::move(*luks);
  } else if (image->info_.crypt_method != 0) {
    return Unsupported(path, "unknown encryption method " + std::to_string(image->info_.crypt_method));
  }
  return image;
}

Result<void> Qcow2Image::LoadTables() {
  MutexLock lock(mutex_);  // nobody else sees the image yet; the lock is for the analysis
  const std::string& path = file_->path();
  std::array<std::uint8_t, kV3HeaderLength> h{};
  if (Result<void> r =
          file_->ReadAt(0, std::span(h).first(info_.version == 3 ? 104 : kV2HeaderLength), "qcow2 header");
      !r) {
    return r;
  }
  if (info_.has_backing) return Unsupported(path, "backing files are not supported");
  if (Get32(&h[60]) != 0) return Unsupported(path, "internal snapshots are not supported");
  if (info_.version == 3) {
    const std::uint64_t incompatible = Get64(&h[72]);
    if (incompatible & 1)
      return Unsupported(path, "the image is dirty; repair it with qemu-img check -r all");
    if (incompatible & 2) return Corrupt(path, "the image is marked corrupt");
    if (incompatible & ~kKnownIncompatible) return Unsupported(path, "unsupported incompatible features");
    if (Get32(&h[96]) != 4) return Unsupported(path, "only 16-bit refcounts are supported");
  }
  cluster_size_ = 1ULL << info_.cluster_bits;
  size_ = info_.size;
  const std::uint64_t l1_size = Get32(&h[36]);
  l1_offset_ = Get64(&h[40]);
  refcount_table_offset_ = Get64(&h[48]);
  refcount_table_entries_ = static_cast<std::uint64_t>(Get32(&h[56])) * cluster_size_ / 8;
  const std::uint64_t l2_entries = cluster_size_ / 8;
  if (l1_size < DivRoundUp(size_, cluster_size_ * l2_entries) || l1_size > (1u << 24) ||
      refcount_table_entries_ > (1u << 24) || l1_offset_ % cluster_size_ ||
      refcount_table_offset_ % cluster_size_) {
    return Corrupt(path, "invalid table sizes or offsets");
  }
  l1_capacity_ = std::max<std::uint64_t>(DivRoundUp(l1_size * 8, cluster_size_), 1) * cluster_size_ / 8;
  auto load = [&](std::uint64_t offset, std::uint64_t entries,
                  std::vector<std::uint64_t>& out) -> Result<void> {
    std::vector<std::uint8_t> raw(entries * 8);
    if (Result<void> r = file_->ReadAt(offset, raw, "qcow2 table"); !r) return r;
    out.resize(entries);
    for (std::uint64_t i = 0; i < entries; ++i) out[i] = Get64(&raw[i * 8]);
    return {};
  };
  if (Result<void> r = load(l1_offset_, l1_size, l1_); !r) return r;
  if (Result<void> r = load(refcount_table_offset_, refcount_table_entries_, refcount_table_); !r) return r;
  Result<std::uint64_t> file_size = file_->Size();
  if (!file_size) return std::unexpected(file_size.error());
  end_ = DivRoundUp(*file_size, cluster_size_) * cluster_size_;
  return {};
}

Result<std::uint64_t> Qcow2Image::LookupCluster(std::uint64_t guest_offset) {
  const std::uint64_t l2_entries = cluster_size_ / 8;
  const std::uint64_t cluster = guest_offset / cluster_size_;
  std::uint64_t l2_offset;
  {
    MutexLock lock(mutex_);
    l2_offset = l1_[cluster / l2_entries] & kOffsetMask;
  }
  if (l2_offset == 0) return 0;
  std::uint8_t raw[8];
  if (Result<void> r = file_->ReadAt(l2_offset + (cluster % l2_entries) * 8, raw, "qcow2 L2 table"); !r) {
    return std::unexpected(r.error());
  }
  const std::uint64_t entry = Get64(raw);
  if (entry & kCompressed) return Unsupported(file_->path(), "compressed clusters are not supported");
  if (info_.version == 3 && (entry & kZeroFlag)) return 0;
  return entry & kOffsetMask;
}

Result<std::uint64_t> Qcow2Image::NewClusterLocked() {
  const std::uint64_t per_block = cluster_size_ / 2;
  for (;;) {
    const std::uint64_t index = end_ / cluster_size_;
    const std::uint64_t table_index = index / per_block;
    if (table_index >= refcount_table_entries_)
      return Unsupported(file_->path(), "the refcount table is full");
    if (refcount_table_[table_index] == 0) {
      // A new refcount block describes itself: it takes the cluster it covers first.
      std::vector<std::uint8_t> block(cluster_size_, 0);
      block[(index % per_block) * 2 + 1] = 1;
      if (Result<void> r = file_->WriteAt(end_, block, "qcow2 refcount block"); !r)
        return std::unexpected(r.error());
      std::uint8_t raw[8];
      Put64(raw, end_);
      if (Result<void> r =
              file_->WriteAt(refcount_table_offset_ + table_index * 8, raw, "qcow2 refcount table");
          !r) {
        return std::unexpected(r.error());
      }
      refcount_table_[table_index] = end_;
      end_ += cluster_size_;
      continue;
    }
    const std::uint64_t offset = end_;
    if (Result<void> r = SetRefcountLocked(index, 1); !r) return std::unexpected(r.error());
    end_ += cluster_size_;
    return offset;
  }
}

Result<void> Qcow2Image::SetRefcountLocked(std::uint64_t index, std::uint16_t value) {
  const std::uint64_t per_block = cluster_size_ / 2;
  const std::uint64_t block = refcount_table_[index / per_block] & kOffsetMask;
  const std::uint8_t raw[2] = {static_cast<std::uint8_t>(value >> 8), static_cast<std::uint8_t>(value)};
  return file_->WriteAt(block + (index % per_block) * 2, raw, "qcow2 refcount block");
}

Result<void> Qcow2Image::ReadCluster(std::uint64_t host, std::uint64_t in_cluster,
                                     std::span<std::uint8_t> out) {
  if (!ciphers_) return file_->ReadAt(host + in_cluster, out, "data");
  Result<CipherPool::Lease> cipher = ciphers_->Acquire();
  if (!cipher) return std::unexpected(cipher.error());
  return ReadEncrypted(*file_, *cipher->operator->(), host, host / kSectorSize, in_cluster, out);
}

Result<void> Qcow2Image::WriteCluster(std::uint64_t host, std::uint64_t in_cluster,
                                      std::span<const std::uint8_t> data) {
  if (!ciphers_) return file_->WriteAt(host + in_cluster, data, "data");
  Result<CipherPool::Lease> cipher = ciphers_->Acquire();
  if (!cipher) return std::unexpected(cipher.error());
  return WriteEncrypted(*file_, *cipher->operator->(), host, host / kSectorSize, in_cluster, data);
}

Result<void> Qcow2Image::Read(std::uint64_t offset, std::span<std::uint8_t> out) {
  if (offset > size_ || out.size() > size_ - offset) {
    return Fail(ErrorCode::kInvalidArg, ErrorDomain::kStorage,
                "invalid argument: range is beyond the volume capacity");
  }
  std::size_t done = 0;
  while (done < out.size()) {
    const std::uint64_t pos = offset + done;
    const std::uint64_t in_cluster = pos % cluster_size_;
    const std::size_t len =
        static_cast<std::size_t>(std::min<std::uint64_t>(cluster_size_ - in_cluster, out.size() - done));
    Result<std::uint64_t> host = LookupCluster(pos);
    if (!host) return std::unexpected(host.error());
    std::span<std::uint8_t> piece = out.subspan(done, len);
    if (*host == 0) {
      std::memset(piece.data(), 0, len);
    } else if (Result<void> r = ReadCluster(*host, in_cluster, piece); !r) {
      return r;
    }
    done += len;
  }
  return {};
}

Result<void> Qcow2Image::Write(std::uint64_t offset, std::span<const std::uint8_t> data) {
  if (offset > size_ || data.size() > size_ - offset) {
    return Fail(ErrorCode::kInvalidArg, ErrorDomain::kStorage,
                "invalid argument: range is beyond the volume capacity");
  }
  const std::uint64_t l2_entries = cluster_size_ / 8;
  std::vector<std::uint8_t> whole;
  std::size_t done = 0;
  while (done < data.size()) {
    const std::uint64_t pos = offset + done;
    const std::uint64_t in_cluster = pos % cluster_size_;
    const std::size_t len =
        static_cast<std::size_t>(std::min<std::uint64_t>(cluster_size_ - in_cluster, data.size() - done));
    std::span<const std::uint8_t> piece = data.subspan(done, len);
    Result<std::uint64_t> host = LookupCluster(pos);
    if (!host) return std::unexpected(host.error());
    if (*host != 0) {
      if (Result<void> r = WriteCluster(*host, in_cluster, piece); !r) return r;
      done += len;
      continue;
    }
    // A fresh cluster is written whole, zeros around the new data, before anything refers to it.
    std::uint64_t fresh;
    {
      MutexLock lock(mutex_);
      Result<std::uint64_t> allocated = NewClusterLocked();
      if (!allocated) return std::unexpected(allocated.error());
      fresh = *allocated;
    }
    whole.assign(cluster_size_, 0);
    std::memcpy(whole.data() + in_cluster, piece.data(), len);
    if (Result<void> r = WriteCluster(fresh, 0, whole); !r) return r;

    MutexLock lock(mutex_);
    const std::uint64_t cluster = pos / cluster_size_;
    std::uint64_t& l1_entry = l1_[cluster / l2_entries];
    if ((l1_entry & kOffsetMask) == 0) {
      Result<std::uint64_t> table = NewClusterLocked();
      if (!table) return std::unexpected(table.error());
      std::vector<std::uint8_t> zeros(cluster_size_, 0);
      if (Result<void> r = file_->WriteAt(*table, zeros, "qcow2 L2 table"); !r) return r;
      std::uint8_t raw[8];
      Put64(raw, *table | kCopied);
      if (Result<void> r = file_->WriteAt(l1_offset_ + (cluster / l2_entries) * 8, raw, "qcow2 L1 table"); !r)
        return r;
      l1_entry = *table | kCopied;
    }
    std::uint8_t raw[8];
    Put64(raw, fresh | kCopied);
    if (Result<void> r =
            file_->WriteAt((l1_entry & kOffsetMask) + (cluster % l2_entries) * 8, raw, "qcow2 L2 table");
        !r) {
      return r;
    }
    done += len;
  }
  return {};
}

Result<void> Qcow2Image::Resize(std::uint64_t new_capacity) {
  const std::string& path = file_->path();
  if (new_capacity < size_) return Unsupported(path, "shrinking qcow2 volumes is not supported");
  const std::uint64_t needed = DivRoundUp(new_capacity, cluster_size_ * (cluster_size_ / 8));
  if (needed > l1_capacity_) return Unsupported(path, "the new size needs a larger L1 table");
  MutexLock lock(mutex_);
  if (needed > l1_.size()) {
    std::vector<std::uint8_t> zeros((needed - l1_.size()) * 8, 0);
    if (Result<void> r = file_->WriteAt(l1_offset_ + l1_.size() * 8, zeros, "qcow2 L1 table"); !r) return r;
    l1_.resize(needed, 0);
  }
  std::uint8_t raw[12];
  Put64(raw, new_capacity);
  Put32(raw + 8, static_cast<std::uint32_t>(l1_.size()));
  // Size (24..31) then crypt_method (32..35) then l1_size (36..39): two writes.
  if (Result<void> r = file_->WriteAt(24, std::span(raw).first(8), "qcow2 header"); !r) return r;
  if (Result<void> r = file_->WriteAt(36, std::span(raw).subspan(8, 4), "qcow2 header"); !r) return r;
  size_ = new_capacity;
  info_.size = new_capacity;
  return {};
}

}  // namespace vsecret::volume
