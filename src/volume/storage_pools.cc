// Pool half of StorageDriver: definitions, state, build/start/destroy/refresh, autostart.
#include <dirent.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "base/env.h"
#include "base/log.h"
#include "store/atomic_file.h"
#include "volume/storage_driver.h"
#include "volume/storage_internal.h"

namespace vsecret::volume {
namespace {

constexpr auto kNoStoragePool = static_cast<ErrorCode>(49);  // VIR_ERR_NO_STORAGE_POOL
constexpr char kAutostartedMarker[] = "/autostarted";
constexpr char kLogWhere[] = "storage_pools";

std::unexpected<Error> OperationInvalid(const std::string& detail) {
  return Fail(ErrorCode::kOperationInvalid, ErrorDomain::kStorage,
              "Requested operation is not valid: " + detail);
}

std::unexpected<Error> OperationFailed(const std::string& detail) {
  return Fail(ErrorCode::kOperationFailed, ErrorDomain::kStorage, "operation failed: " + detail);
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

Result<void> WriteFile(const std::string& path, const std::string& content) {
  return RewriteFileAtomically(Env::Default(), path,
                               {reinterpret_cast<const std::uint8_t*>(content.data()), content.size()}, 0600);
}

constexpr std::size_t kMaxPoolConfigBytes = 1u << 20;

}  // namespace

Result<std::optional<std::string>> ReadSmallFile(const std::string& path, std::size_t max_bytes) {
  auto file = Env::Default()->NewReadableFile(path);
  if (!file) {
    if (file.error().errnum == ENOENT) return std::optional<std::string>();
    return SystemError(ErrorDomain::kStorage, file.error().errnum, "Failed to open file '" + path + "'");
  }
  auto content = (*file)->ReadAll(max_bytes);
  if (!content) {
    return SystemError(ErrorDomain::kStorage, content.error().errnum, "Failed to read file '" + path + "'");
  }
  return std::optional<std::string>(std::string(content->AsStringView()));
}

StoragePaths StoragePaths::ForSecretStore(const StorePaths& secrets) {
  return StoragePaths{DirectoryOf(secrets.config_dir) + "/storage",
                      DirectoryOf(secrets.state_dir) + "/storage"};
}

StorageOptions StorageOptions::FromEnvironment() {
  StorageOptions o;
  auto number = [](const char* name) -> std::optional<unsigned long> {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') return std::nullopt;
    char* end = nullptr;
    errno = 0;
    const unsigned long n = std::strtoul(v, &end, 10);
    if (*end != '\0' || errno != 0 || n == 0 || n > UINT32_MAX) return std::nullopt;
    return n;
  };
  if (auto ms = number("VSECRET_LUKS_ITER_TIME")) o.kdf.iter_time = std::chrono::milliseconds(*ms);
  if (auto n = number("VSECRET_LUKS_ITERATIONS")) {
    o.kdf.slot_iterations = static_cast<std::uint32_t>(*n);
    o.kdf.mk_iterations = static_cast<std::uint32_t>(*n);
  }
  if (auto t = number("VSECRET_THREADS")) o.threads = static_cast<unsigned>(std::min<unsigned long>(*t, 64));
  return o;
}

std::string PrettyCapacity(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  long double limit = 1024;
  while (unit + 1 < std::size(kUnits) && static_cast<long double>(bytes) >= limit) {
    ++unit;
    limit *= 1024;
  }
  for (std::size_t i = 0; i < unit; ++i) value /= 1024.0;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2lf %s", value, kUnits[unit]);
  return buf;
}

StorageDriver::StorageDriver(StoragePaths paths, SecretDriver* secrets, StorageOptions options)
    : paths_(std::move(paths)), secrets_(secrets), options_(std::move(options)) {}

StorageDriver::~StorageDriver() = default;

Result<std::unique_ptr<StorageDriver>> StorageDriver::Open(StoragePaths paths, SecretDriver* secrets,
                                                           StorageOptions options) {
  for (const std::string& dir : {paths.config_dir, paths.config_dir + "/autostart", paths.state_dir}) {
    if (auto made = Env::Default()->CreateDirs(dir, 0700); !made) {
      return SystemError(ErrorDomain::kStorage, made.error().errnum, "cannot create directory '" + dir + "'");
    }
  }
  std::unique_ptr<StorageDriver> driver(new StorageDriver(std::move(paths), secrets, std::move(options)));
  if (Result<void> r = driver->LoadPools(); !r) return std::unexpected(r.error());
  driver->Autostart();
  return driver;
}

Result<void> StorageDriver::LoadPools() {
  auto names = Env::Default()->GetChildren(paths_.config_dir);
  if (!names) {
    return SystemError(ErrorDomain::kStorage, names.error().errnum,
                       "cannot open directory '" + paths_.config_dir + "'");
  }
  std::sort(names->begin(), names->end());
  for (const std::string& file : *names) {
    if (file.size() <= 4 || file.substr(file.size() - 4) != ".xml") continue;
    // A definition that cannot be read or parsed is reported and skipped, as libvirt does at
    // start-up; the other pools still load.
    const std::string path = paths_.config_dir + "/" + file;
    Result<std::optional<std::string>> xml = ReadSmallFile(path, kMaxPoolConfigBytes);
    if (!xml) {
      Log(LogLevel::kError, kLogWhere, xml.error().message());
      continue;
    }
    if (!*xml) continue;  // removed since the directory was listed
    Result<PoolDef> def = ParsePoolXml(**xml);
    if (!def) {
      Log(LogLevel::kError, kLogWhere,
          "cannot load storage pool config '" + path + "': " + def.error().message());
      continue;
    }
    if (def->name + ".xml" != file) {
      Log(LogLevel::kError, kLogWhere,
          "XML error: Storage pool config filename '" + path + "' does not match pool name '" + def->name +
              "'");
      continue;
    }
    auto pool = std::make_unique<Pool>();
    pool->def = std::move(*def);
    pool->active = Exists(paths_.state_dir + "/" + file);
    pool->autostart = Exists(paths_.config_dir + "/autostart/" + file);
    pools_.push_back(std::move(pool));
  }
  return {};
}

void StorageDriver::Autostart() {
  const std::string marker = paths_.state_dir + kAutostartedMarker;
  if (Exists(marker)) return;
  for (const auto& pool : pools_) {
    if (pool->autostart && !pool->active)
      (void)StartPoolUnchecked(pool->def.name);  // failures leave it inactive
  }
  (void)WriteFile(marker, "");
}

Result<StorageDriver::Pool*> StorageDriver::FindPool(std::string_view name) const {
  for (const auto& pool : pools_) {
    if (pool->def.name == name) return pool.get();
  }
  return Fail(kNoStoragePool, ErrorDomain::kStorage,
              "Storage pool not found: no storage pool with matching name '" + std::string(name) + "'");
}

Result<StorageDriver::Pool*> StorageDriver::FindActivePool(std::string_view name) const {
  Result<Pool*> pool = FindPool(name);
  if (!pool) return pool;
  if (!(*pool)->active) return OperationInvalid("storage pool '" + std::string(name) + "' is not active");
  return pool;
}

Result<PoolStatus> StorageDriver::LookupPoolByName(std::string_view name) const {
  Result<Pool*> pool = FindPool(name);
  if (!pool) return std::unexpected(pool.error());
  return StatusOf(**pool);
}

Result<PoolStatus> StorageDriver::LookupPoolByUuid(const Uuid& uuid) const {
  for (const auto& pool : pools_) {
    if (pool->def.uuid == uuid) return StatusOf(*pool);
  }
  return Fail(kNoStoragePool, ErrorDomain::kStorage,
              "Storage pool not found: no storage pool with matching uuid '" + uuid.ToString() + "'");
}

std::vector<PoolStatus> StorageDriver::ListPools() const {
  std::vector<PoolStatus> out;
  for (const auto& pool : pools_) out.push_back(StatusOf(*pool));
  return out;
}

std::string StorageDriver::PoolXml(const PoolStatus& status) const {
  PoolDef def = status.def;
  if (status.active) {
    // An active pool shows its directory as it is (libvirt refreshes the target permissions).
    struct stat st;
    if (::stat(def.target_path.c_str(), &st) == 0) {
      def.perms.mode = st.st_mode & 07777;
      def.perms.owner = st.st_uid;
      def.perms.group = st.st_gid;
    }
  }
  return FormatPoolXml(def, status.sizes);
}

Result<void> StorageDriver::WritePoolConfig(const PoolDef& def) {
  const std::string content =
      "<!--\nWARNING: THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO BE\n"
      "OVERWRITTEN AND LOST. Changes to this xml configuration should be made using:\n"
      "  vsecret pool-define " +
      def.name + "\nor other application using the vsecret API.\n-->\n\n" + FormatPoolXml(def, PoolSizes{});
  return WriteFile(paths_.config_dir + "/" + def.name + ".xml", content);
}

Result<void> StorageDriver::WritePoolState(const Pool& pool) {
  return WriteFile(paths_.state_dir + "/" + pool.def.name + ".xml", PoolXml(StatusOf(pool)));
}

Result<void> StorageDriver::RequireWritable(std::string_view api) const {
  if (!options_.read_only) return {};
  return Fail(ErrorCode::kOperationDenied, ErrorDomain::kNone,
              "operation forbidden: read only access prevents " + std::string(api));
}

Result<PoolDef> StorageDriver::DefinePool(std::string_view xml) {
  if (auto writable = RequireWritable("virStoragePoolDefineXML"); !writable)
    return std::unexpected(writable.error());
  Result<PoolDef> def = ParsePoolXml(xml);
  if (!def) return def;
  if (def->type != kPoolTypeDir) {
    return InternalError(ErrorDomain::kStorage, "missing backend for pool type " + std::to_string(def->type) +
                                                    " (" + std::string(PoolTypeName(def->type)) + ")");
  }
  Pool* existing = nullptr;
  for (const auto& pool : pools_) {
    if (pool->def.uuid == def->uuid) {
      if (pool->def.name != def->name) {
        return OperationFailed("pool '" + pool->def.name + "' is already defined with uuid " +
                               def->uuid.ToString());
      }
      existing = pool.get();
    } else if (pool->def.name == def->name) {
      return OperationFailed("pool '" + def->name + "' already exists with uuid " +
                             pool->def.uuid.ToString());
    }
  }
  for (const auto& pool : pools_) {
    if (pool.get() != existing && pool->def.target_path == def->target_path) {
      return OperationFailed("Storage source conflict with pool: '" + pool->def.name + "'");
    }
  }
  if (Result<void> r = WritePoolConfig(*def); !r) return std::unexpected(r.error());
  if (existing != nullptr) {
    existing->def = *def;
  } else {
    auto pool = std::make_unique<Pool>();
    pool->def = *def;
    pools_.push_back(std::move(pool));
  }
  return def;
}

Result<void> StorageDriver::UndefinePool(const std::string& name) {
  if (auto writable = RequireWritable("virStoragePoolUndefine"); !writable)
    return std::unexpected(writable.error());
  Result<Pool*> pool = FindPool(name);
  if (!pool) return std::unexpected(pool.error());
  if ((*pool)->active) return OperationInvalid("storage pool '" + name + "' is still active");
  ::unlink((paths_.config_dir + "/autostart/" + name + ".xml").c_str());
  if (::unlink((paths_.config_dir + "/" + name + ".xml").c_str()) != 0 && errno != ENOENT) {
    return SystemError(ErrorDomain::kStorage, errno,
                       "cannot remove config file '" + paths_.config_dir + "/" + name + ".xml'");
  }
  std::erase_if(pools_, [&](const auto& p) { return p.get() == *pool; });
  return {};
}

Result<void> StorageDriver::BuildPool(const std::string& name) {
  if (auto writable = RequireWritable("virStoragePoolBuild"); !writable)
    return std::unexpected(writable.error());
  Result<Pool*> pool = FindPool(name);
  if (!pool) return std::unexpected(pool.error());
  if ((*pool)->active) return OperationInvalid("storage pool '" + name + "' is already active");
  const PoolDef& def = (*pool)->def;
  // libvirt's default mode for a pool directory it builds.
  const mode_t mode = def.perms.mode.value_or(0711);
  const std::string& dir = def.target_path;
  if (auto made = Env::Default()->CreateDirs(dir, 0755); !made) {
    return SystemError(ErrorDomain::kStorage, made.error().errnum, "cannot create path '" + dir + "'");
  }
  if (::chmod(dir.c_str(), mode) != 0) {
    return SystemError(ErrorDomain::kStorage, errno,
                       "cannot set mode of '" + dir + "' to " + std::to_string(mode));
  }
  if ((def.perms.owner || def.perms.group) &&
      ::chown(dir.c_str(), def.perms.owner.value_or(static_cast<uid_t>(-1)),
              def.perms.group.value_or(static_cast<gid_t>(-1))) != 0) {
    return SystemError(ErrorDomain::kStorage, errno, "cannot chown '" + dir + "'");
  }
  return {};
}

Result<void> StorageDriver::StartPool(const std::string& name) {
  if (auto writable = RequireWritable("virStoragePoolCreate"); !writable)
    return std::unexpected(writable.error());
  return StartPoolUnchecked(name);
}

Result<void> StorageDriver::StartPoolUnchecked(const std::string& name) {
  Result<Pool*> pool = FindPool(name);
  if (!pool) return std::unexpected(pool.error());
  if ((*pool)->active) return OperationInvalid("storage pool '" + name + "' is already active");
  DIR* dir = ::opendir((*pool)->def.target_path.c_str());
  if (dir == nullptr) {
    return SystemError(ErrorDomain::kStorage, errno,
                       "cannot open directory '" + (*pool)->def.target_path + "'");
  }
  ::closedir(dir);
  (*pool)->active = true;
  if (Result<void> r = WritePoolState(**pool); !r) {
    (*pool)->active = false;
    return r;
  }
  if (Result<void> r = RefreshPoolUnchecked(name); !r) {
    (void)DestroyPool(name);
    return r;
  }
  return {};
}

Result<void> StorageDriver::DestroyPool(const std::string& name) {
  if (auto writable = RequireWritable("virStoragePoolDestroy"); !writable)
    return std::unexpected(writable.error());
  Result<Pool*> pool = FindActivePool(name);
  if (!pool) return std::unexpected(pool.error());
  // The volume list is runtime state: forgetting it is what libvirt does on destroy.
  RemoveTree(VolumesDir(name));
  if (::unlink((paths_.state_dir + "/" + name + ".xml").c_str()) != 0 && errno != ENOENT) {
    return SystemError(ErrorDomain::kStorage, errno, "cannot remove state file for pool '" + name + "'");
  }
  (*pool)->active = false;
  return {};
}

Result<void> StorageDriver::RefreshPool(const std::string& name) {
  if (auto writable = RequireWritable("virStoragePoolRefresh"); !writable)
    return std::unexpected(writable.error());
  return RefreshPoolUnchecked(name);
}

Result<void> StorageDriver::RefreshPoolUnchecked(const std::string& name) {
  Result<Pool*> pool = FindActivePool(name);
  if (!pool) return std::unexpected(pool.error());
  const std::string& target = (*pool)->def.target_path;
  Result<std::vector<std::string>> files = ListPoolFiles(target);
  if (!files) return std::unexpected(files.error());
  const std::string vols = VolumesDir(name);
  if (auto made = Env::Default()->CreateDirs(vols, 0700); !made) {
    return SystemError(ErrorDomain::kStorage, made.error().errnum, "cannot create directory '" + vols + "'");
  }
  // Forget volumes whose files are gone.
  if (auto known = Env::Default()->GetChildren(vols)) {
    for (const std::string& entry : *known) {
      if (entry.size() > 4 &&
          std::find(files->begin(), files->end(), entry.substr(0, entry.size() - 4)) == files->end()) {
        ::unlink((vols + "/" + entry).c_str());
      }
    }
  }
  for (const std::string& file : *files) {
    const std::string path = target + "/" + file;
    Result<ProbedFile> probed = ProbeFile(path);
    if (!probed) continue;  // unreadable entries are skipped, as libvirt skips them
    // Refresh rebuilds this runtime record from the file, as libvirt rebuilds its volume list, so
    // a broken record is reported and replaced rather than failing the refresh (which would also
    // keep the pool from starting). What it knew about the volume's secret is lost with it.
    Result<std::optional<EncryptionDef>> recorded = ReadVolumeMetadata(name, file);
    if (!recorded) {
      Log(LogLevel::kError, kLogWhere,
          recorded.error().message() + "; rebuilding it from storage volume '" + path + "'");
    }
    std::optional<EncryptionDef> enc = recorded ? std::move(*recorded) : std::nullopt;
    if (probed->encrypted) {
      // A file converted outside (cryptsetup convert) keeps its secret; its format follows the header.
      if (enc && !probed->qcow2 &&
          (enc->format == EncryptionFormat::kLuks || enc->format == EncryptionFormat::kLuks2))
        enc->format =
            probed->luks == LuksVersion::kLuks2 ? EncryptionFormat::kLuks2 : EncryptionFormat::kLuks;
      if (!enc || enc->secrets.empty()) {
        EncryptionDef found;
        found.format =
            probed->luks == LuksVersion::kLuks2 ? EncryptionFormat::kLuks2 : EncryptionFormat::kLuks;
        if (Result<SecretRef> secret = secrets_->LookupByUsage(static_cast<int>(UsageType::kVolume), path)) {
          found.secrets.push_back(EncryptionSecret{secret->uuid, std::nullopt});
        }
        if (enc && enc->cipher) found.cipher = enc->cipher, found.ivgen = enc->ivgen;
        enc = std::move(found);
      }
    } else {
      enc.reset();
    }
    if (Result<void> r = WriteVolumeMetadata(name, file, enc); !r) return r;
  }
  return WritePoolState(**pool);
}

Result<void> StorageDriver::SetAutostart(const std::string& name, bool autostart) {
  if (auto writable = RequireWritable("virStoragePoolSetAutostart"); !writable)
    return std::unexpected(writable.error());
  Result<Pool*> pool = FindPool(name);
  if (!pool) return std::unexpected(pool.error());
  const std::string link = paths_.config_dir + "/autostart/" + name + ".xml";
  if (autostart) {
    if (!Exists(link) && ::symlink((paths_.config_dir + "/" + name + ".xml").c_str(), link.c_str()) != 0) {
      return SystemError(ErrorDomain::kStorage, errno, "Failed to create symlink '" + link + "'");
    }
  } else if (::unlink(link.c_str()) != 0 && errno != ENOENT) {
    return SystemError(ErrorDomain::kStorage, errno, "Failed to delete symlink '" + link + "'");
  }
  (*pool)->autostart = autostart;
  return {};
}

PoolStatus StorageDriver::StatusOf(const Pool& pool) const {
  PoolStatus status;
  status.def = pool.def;
  status.active = pool.active;
  status.autostart = pool.autostart;
  struct statvfs vfs;
  if (pool.active && ::statvfs(pool.def.target_path.c_str(), &vfs) == 0) {
    const std::uint64_t unit = vfs.f_frsize;
    status.sizes.capacity = unit * vfs.f_blocks;
    status.sizes.available = unit * vfs.f_bavail;
    status.sizes.allocation = unit * (vfs.f_blocks - vfs.f_bfree);
  }
  return status;
}

}  // namespace vsecret::volume
