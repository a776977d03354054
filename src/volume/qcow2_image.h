// qcow2 images, plain or with embedded LUKS encryption.
//
// vsecret creates empty images in qemu's layout (header cluster, refcount table, one refcount
// block, L1 table, then the LUKS header clusters pointed to by header extension 0x0537BE77 with
// crypt_method 2), and reads and writes data in images that use the features such images have:
// 16-bit refcounts, no backing file, no snapshots, no compressed clusters, no external data file,
// no extended L2 entries. Anything else (and any unknown incompatible feature bit, or the dirty
// bit) is refused rather than misread; qemu-img remains the tool for those.
//
// Encrypted data clusters use IV sector numbers of host file offset / 512, as qemu does.
// Newly allocated clusters are written whole (the unwritten part as encrypted zeros), so
// unallocated and partially written areas read back as zeros, as in qemu.
//
// Crash safety: a cluster's refcount is written before the L2 entry that references it, so an
// interrupted write can leak a cluster (which `qemu-img check -r leaks` reclaims) but never leaves
// an entry pointing at unaccounted space.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/thread_annotations.h"
#include "volume/block_file.h"
#include "volume/luks_image.h"
#include "volume/luks_keyslots.h"
#include "volume/volume_image.h"
#include "vsecret/error.h"
#include "vsecret/secret_bytes.h"

namespace vsecret::volume {

// What probing a qcow2 header tells without opening it.
struct Qcow2Info {
  std::uint32_t version = 3;
  std::uint32_t cluster_bits = 16;
  std::uint64_t size = 0;          // virtual size
  std::uint32_t crypt_method = 0;  // 0 none, 1 legacy AES, 2 LUKS
  std::uint64_t luks_offset = 0;   // FDE extension, when crypt_method == 2
  std::uint64_t luks_length = 0;
  bool has_backing = false;
  bool lazy_refcounts = false;
};

// Recognises the qcow2 magic in the first bytes of a file (nullopt: not qcow2) and parses what
// it can; structural problems are errors.
Result<std::optional<Qcow2Info>> ProbeQcow2(const BlockFile& file);

struct Qcow2CreateOptions {
  std::uint64_t capacity = 0;
  // compat 0.10 (version 2) is what libvirt 9.0 asks qemu-img for when the volume XML has no
  // <compat>; "1.1" gives version 3.
  bool version3 = false;
  // Set to encrypt with LUKS; the passphrase is then required.
  std::optional<LuksFormatOptions> luks;
};

class Qcow2Image final : public VolumeImage {
 public:
  // Creates path (which must not exist) as an empty image; removed again on failure.
  static Result<std::unique_ptr<Qcow2Image>> Create(const std::string& path, mode_t perms,
                                                    const Qcow2CreateOptions& options,
                                                    const SecretBytes* passphrase);
  // Opens an image for data access; encrypted images need the passphrase (nullptr otherwise).
  // Opening writes nothing.
  static Result<std::unique_ptr<Qcow2Image>> Open(std::unique_ptr<BlockFile> file,
                                                  const SecretBytes* passphrase);

  std::uint64_t capacity() const override { return size_; }
  Result<void> Read(std::uint64_t offset, std::span<std::uint8_t> out) override;
  Result<void> Write(std::uint64_t offset, std::span<const std::uint8_t> data) override;
  // Growing only (up to what the L1 table's clusters can map); shrinking is refused.
  Result<void> Resize(std::uint64_t new_capacity) override;
  Result<void> Flush() override { return file_->Sync(); }
  std::uint64_t transfer_unit() const override { return cluster_size_; }

  const Qcow2Info& info() const { return info_; }
  // The embedded LUKS header (nullopt when not encrypted).
  const std::optional<UnlockedLuks>& luks() const { return luks_; }

 private:
  Qcow2Image() = default;
  Result<void> LoadTables() EXCLUDES(mutex_);
  // Host offset of the cluster holding guest offset, 0 when unallocated (or reading zeros).
  Result<std::uint64_t> LookupCluster(std::uint64_t guest_offset);
  // Allocates the guest cluster (zero-filled) when needed; returns its host offset.
  Result<std::uint64_t> AllocateClusterLocked(std::uint64_t guest_offset, bool* fresh) REQUIRES(mutex_);
  Result<std::uint64_t> NewClusterLocked() REQUIRES(mutex_);
  Result<void> SetRefcountLocked(std::uint64_t host_cluster_index, std::uint16_t value) REQUIRES(mutex_);
  Result<void> ReadCluster(std::uint64_t host, std::uint64_t in_cluster, std::span<std::uint8_t> out);
  Result<void> WriteCluster(std::uint64_t host, std::uint64_t in_cluster, std::span<const std::uint8_t> data);

  std::unique_ptr<BlockFile> file_;
  Qcow2Info info_;
  std::uint64_t cluster_size_ = 0;
  std::uint64_t size_ = 0;
  std::uint64_t l1_offset_ = 0;
  std::uint64_t l1_capacity_ = 0;  // entries the L1 table's clusters can hold
  std::uint64_t refcount_table_offset_ = 0;
  std::uint64_t refcount_table_entries_ = 0;
  std::optional<UnlockedLuks> luks_;
  std::unique_ptr<CipherPool> ciphers_;

  Mutex mutex_;                                       // serialises metadata changes
  std::vector<std::uint64_t> l1_ GUARDED_BY(mutex_);  // host byte order, flags included
  std::vector<std::uint64_t> refcount_table_ GUARDED_BY(mutex_);
  std::uint64_t end_ GUARDED_BY(mutex_) = 0;  // next free host offset
};

}  // namespace vsecret::volume
