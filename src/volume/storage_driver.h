// StorageDriver: directory pools and their volumes, the way libvirt 9.0's storage driver runs
// them for the `virsh pool-* / vol-*` workflow, with native LUKS1 encryption.
//
// On-disk layout (beside the secret store of the same root):
//   <config_dir>/<pool>.xml                 persistent pool definition (0600)
//   <config_dir>/autostart/<pool>.xml       symlink: start the pool when the driver opens
//   <state_dir>/<pool>.xml                  present while the pool is active (its live XML)
//   <state_dir>/<pool>.vols/<vol>.xml       what the driver knows about each volume of an active
//                                           pool: its <encryption> element, as created or found
// Like libvirt, the volume list of an active pool is what the last start/refresh/create saw;
// destroying the pool forgets it, and refresh re-probes the directory. On refresh a LUKS volume
// keeps the secret it was created with; otherwise it gets the secret whose usage is
// `volume <path>`, if one exists (libvirt's storageBackendLoadDefaultSecrets does the same).
//
// Secrets are read only through SecretDriver::GetValueForConsumer, the trusted in-process path,
// so private secrets work as they do for libvirt's elevated storage driver. Passphrases live in
// SecretBytes and never reach a log line, an error message or argv.
//
// Thread-safety: one StorageDriver per process is used from one thread at a time; long
// operations use worker threads internally. Concurrent processes on one root are serialised by
// the secret store's instance lock, which every embedded connection holds.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conf/pool_xml.h"
#include "conf/volume_xml.h"
#include "driver/secret_driver.h"
#include "volume/luks_keyslots.h"
#include "volume/volume_image.h"
#include "volume/volume_rekey.h"
#include "vsecret/error.h"

namespace vsecret::volume {

struct StoragePaths {
  std::string config_dir;
  std::string state_dir;
  // <root>/etc/storage and <root>/run/storage: siblings of the secret store's directories.
  static StoragePaths ForSecretStore(const StorePaths& secrets);
};

// Called with cumulative bytes from any worker thread (serialised by the caller of the hook).
using ProgressFn = std::function<void(std::uint64_t done, std::uint64_t total)>;

struct StorageOptions {
  // PBKDF2 for new key slots. From the environment by default: VSECRET_LUKS_ITER_TIME (ms) and
  // VSECRET_LUKS_ITERATIONS (a fixed count, for test fixtures).
  KdfOptions kdf;
  unsigned threads = 2;  // workers for bulk encryption
  // Opened for a read-only connection: every call that changes a pool or a volume, reads a
  // volume's data or its passphrase is refused (see StorageDriver::RequireWritable).
  bool read_only = false;

  static StorageOptions FromEnvironment();
};

struct PoolStatus {
  PoolDef def;
  bool active = false;
  bool autostart = false;
  PoolSizes sizes;  // zero when inactive
};

struct VolumeRef {
  std::string pool;
  std::string name;
  std::string path;  // also the key
};

// vol-resize flags (virStorageVolResizeFlags).
inline constexpr unsigned kResizeAllocate = 1u << 0;
inline constexpr unsigned kResizeDelta = 1u << 1;
inline constexpr unsigned kResizeShrink = 1u << 2;

enum class WipeAlgorithm { kZero, kRandom, kOther };

struct ProbedFile;  // storage_internal.h

class StorageDriver {
 public:
  // secrets is borrowed and must outlive the driver. Creates the directories, then starts the
  // pools marked autostart (once per state directory, like libvirt once per boot).
  static Result<std::unique_ptr<StorageDriver>> Open(
      StoragePaths paths, SecretDriver* secrets, StorageOptions options = StorageOptions::FromEnvironment());
  ~StorageDriver();

  // The read-only rule, in one place: on a driver opened read-only, "operation forbidden: read
  // only access prevents <api>" (OPERATION_DENIED), as libvirt refuses the API on a read-only
  // connection. Every mutating call below checks it first; callers may check it earlier to
  // refuse before doing other work, as virsh's API call would.
  Result<void> RequireWritable(std::string_view api) const;

  // ---- pools (storage_pools.cc)
  Result<PoolDef> DefinePool(std::string_view xml);
  Result<void> UndefinePool(const std::string& name);
  Result<void> BuildPool(const std::string& name);
  Result<void> StartPool(const std::string& name);
  Result<void> DestroyPool(const std::string& name);
  Result<void> RefreshPool(const std::string& name);
  Result<void> SetAutostart(const std::string& name, bool autostart);
  Result<PoolStatus> LookupPoolByName(std::string_view name) const;
  Result<PoolStatus> LookupPoolByUuid(const Uuid& uuid) const;
  std::vector<PoolStatus> ListPools() const;
  std::string PoolXml(const PoolStatus& pool) const;

  // ---- volumes (storage_volumes.cc)
  Result<std::vector<VolumeStatus>> ListVolumes(const std::string& pool);
  Result<VolumeRef> LookupVolumeByName(const std::string& pool, std::string_view name);
  // By key or path across the active pools ("no storage vol with matching path '...'").
  Result<VolumeRef> LookupVolumeByPath(std::string_view key_or_path);
  Result<VolumeStatus> GetVolume(const VolumeRef& vol);
  Result<VolumeRef> CreateVolume(const std::string& pool, std::string_view xml, const ProgressFn& progress);
  Result<void> DeleteVolume(const VolumeRef& vol);
  Result<std::uint64_t> ResizeVolume(const VolumeRef& vol, std::uint64_t capacity, unsigned flags,
                                     const ProgressFn& progress);
  // Moves plaintext between a descriptor and the volume. length 0 means "to the end" (upload: to
  // end of input). The descriptor may be a pipe.
  Result<std::uint64_t> Upload(const VolumeRef& vol, int fd, std::uint64_t offset, std::uint64_t length,
                               const ProgressFn& progress);
  Result<std::uint64_t> Download(const VolumeRef& vol, int fd, std::uint64_t offset, std::uint64_t length,
                                 const ProgressFn& progress);
  Result<void> Wipe(const VolumeRef& vol, WipeAlgorithm algorithm, const ProgressFn& progress);

  // The passphrase of an encrypted volume through the trusted path (for qemu hand-over).
  Result<SecretBytes> VolumePassphrase(const VolumeRef& vol);
  // Opens the volume's plaintext (unlocking it when encrypted).
  Result<std::unique_ptr<VolumeImage>> OpenImage(const VolumeRef& vol);

  // ---- key slots of LUKS1 volumes (volume_rekey.cc; the re-key protocol is in volume_rekey.h)
  // Re-keys the volume and its secret. Finishes a pending re-key first.
  Result<RekeyResult> RekeyVolume(const VolumeRef& vol, RekeyRequest request);
  // Adds passphrase in the first free slot (or `slot`), unlocking with the secret's value.
  Result<int> AddVolumeKey(const VolumeRef& vol, const SecretBytes& passphrase, std::optional<int> slot);
  // Removes `slot`, or the slot `passphrase` opens. The last active slot is never removed; the
  // slot the secret's value opens only with force. Returns the slot removed.
  Result<int> RemoveVolumeKey(const VolumeRef& vol, std::optional<int> slot, const SecretBytes* passphrase,
                              bool force);
  // Converts a LUKS1 volume to LUKS2 (target kLuks2) or back (kLuks) in place, like cryptsetup
  // convert (volume_convert.h); the recorded <encryption format> follows.
  Result<void> ConvertVolume(const VolumeRef& vol, EncryptionFormat target);
  // Finishes or rolls back a re-key or conversion a crash interrupted (nothing to do: kNone).
  Result<RekeyRecovery> RecoverRekey(const VolumeRef& vol);
  std::string RekeyJournalPath(const VolumeRef& vol) const;

  const StorageOptions& options() const { return options_; }

 private:
  StorageDriver(StoragePaths paths, SecretDriver* secrets, StorageOptions options);
  struct Pool;
  PoolStatus StatusOf(const Pool& pool) const;
  // StartPool and RefreshPool without the read-only rule: the driver's own autostart at open
  // (which libvirt runs whoever connects) and StartPool's refresh.
  Result<void> StartPoolUnchecked(const std::string& name);
  Result<void> RefreshPoolUnchecked(const std::string& name);
  Result<Pool*> FindPool(std::string_view name) const;
  Result<Pool*> FindActivePool(std::string_view name) const;
  Result<void> LoadPools();
  void Autostart();
  Result<void> WritePoolConfig(const PoolDef& def);
  Result<void> WritePoolState(const Pool& pool);
  std::string VolumesDir(const std::string& pool) const;
  std::string MetadataPath(const std::string& pool, const std::string& vol) const;
  Result<void> WriteVolumeMetadata(const std::string& pool, const std::string& vol,
                                   const std::optional<EncryptionDef>& encryption);
  // The <encryption> the driver recorded for a volume; nullopt when it recorded none or has no
  // metadata file. A file that cannot be read or parsed is an error naming it, never "none": that
  // would let an encrypted volume pass for plaintext.
  Result<std::optional<EncryptionDef>> ReadVolumeMetadata(const std::string& pool,
                                                          const std::string& vol) const;
  Result<VolumeStatus> VolumeStatusOf(const VolumeRef& vol, const ProbedFile& probed) const;
  Result<SecretBytes> FetchPassphrase(const EncryptionDef& encryption, const std::string& path);
  // volume_convert_driver.cc: a conversion's recovery and its last steps (wipe, record, journal).
  Result<RekeyRecovery> RecoverConvert(const VolumeRef& vol, const RekeyJournal& journal);
  Result<void> FinishConvert(const VolumeRef& vol, BlockFile& file, const RekeyJournal& journal);
  struct KeyedVolume;  // volume_rekey.cc
  Result<KeyedVolume> OpenKeyed(const VolumeRef& vol);
  Result<RekeyRecovery> RecoverKeyed(KeyedVolume& keyed);
  // The start of every key-slot change (api names it in the read-only refusal): a writable
  // connection, the volume opened for its key slots, and any interrupted re-key finished first.
  Result<KeyedVolume> OpenKeyedForChange(const VolumeRef& vol, std::string_view api);

  StoragePaths paths_;
  SecretDriver* secrets_;
  StorageOptions options_;
  std::vector<std::unique_ptr<Pool>> pools_;
};

// virsh-style size for tables and vol-info: "64.00 MiB" (vshPrettyCapacity, "%.2lf %s").
std::string PrettyCapacity(std::uint64_t bytes);

}  // namespace vsecret::volume
