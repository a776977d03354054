// Volume half of StorageDriver: lookups, create/delete, resize, upload/download, wipe.
#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "base/env.h"
#include "base/log.h"
#include "conf/xml_util.h"
#include "store/atomic_file.h"
#include "volume/luks2_format.h"
#include "volume/luks2_image.h"
#include "volume/luks_image.h"
#include "volume/qcow2_image.h"
#include "volume/storage_internal.h"
#include "volume/transfer.h"
#include "volume/volume_secret_gen.h"

namespace vsecret::volume {
namespace {

constexpr auto kNoStorageVol = static_cast<ErrorCode>(50);     // VIR_ERR_NO_STORAGE_VOL
constexpr auto kStorageVolExist = static_cast<ErrorCode>(90);  // VIR_ERR_STORAGE_VOL_EXIST
constexpr char kMetadataRoot[] = "vsecret-volume";
constexpr std::size_t kMaxMetadataBytes = 65536;

std::unexpected<Error> NoVolume(const std::string& detail) {
  return Fail(kNoStorageVol, ErrorDomain::kStorage, "Storage volume not found: " + detail);
}

std::unexpected<Error> Unsupported(const std::string& detail) {
  return ConfigUnsupported(ErrorDomain::kStorage, detail);
}

}  // namespace

bool IsQemuPassphrase(const SecretBytes& value) {
  const std::uint8_t* p = value.data();
  const std::size_t n = value.size();
  for (std::size_t i = 0; i < n;) {
    const std::uint8_t c = p[i];
    std::size_t len;
    std::uint32_t cp;
    if (c == 0) return false;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = cp << 6 | (p[i + k] & 0x3F);
    }
    const std::uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

namespace {

// <cipher>/<ivgen> as libvirt passes them to qemu-img (cipher-alg=<name>-<size>, cipher-mode,
// hash-alg, ivgen-alg, ivgen-hash-alg), with qemu's defaults for what is absent.
Result<LuksFormatOptions> FormatOptionsFor(const EncryptionDef& enc, const KdfOptions& kdf) {
  LuksFormatOptions o;
  o.kdf = kdf;
  if (!enc.cipher) return o;
  const EncryptionCipher& c = *enc.cipher;
  if (c.hash) {
    // qemu's hash-alg choices (md5 aside, which cryptsetup refuses); whirlpool only opens.
    std::optional<HashAlgo> hash = HashFromName(*c.hash);
    if (!hash || *hash == HashAlgo::kWhirlpool) {
      return Unsupported("hash '" + *c.hash +
                         "' is not supported (sha1, sha224, sha256, sha384, sha512 or ripemd160)");
    }
    o.hash = *hash;
  }
  Result<CipherSpec> spec =
      CipherSpecForVolume({c.name, c.size, c.mode, enc.ivgen ? std::optional(enc.ivgen->name) : std::nullopt,
                           enc.ivgen ? enc.ivgen->hash : std::nullopt});
  if (!spec) return std::unexpected(spec.error());
  o.cipher = *spec;
  return o;
}

Timestamp StatTime(const timespec& ts) { return Timestamp{ts.tv_sec, ts.tv_nsec}; }

}  // namespace

std::string StorageDriver::VolumesDir(const std::string& pool) const {
  return paths_.state_dir + "/" + pool + ".vols";
}

std::string StorageDriver::MetadataPath(const std::string& pool, const std::string& vol) const {
  return VolumesDir(pool) + "/" + vol + ".xml";
}

Result<void> StorageDriver::WriteVolumeMetadata(const std::string& pool, const std::string& vol,
                                                const std::optional<EncryptionDef>& encryption) {
  std::string xml = std::string("<") + kMetadataRoot + ">\n";
  if (encryption) FormatEncryptionXml(xml, *encryption, 2);
  xml += std::string("</") + kMetadataRoot + ">\n";
  return RewriteFileAtomically(Env::Default(), MetadataPath(pool, vol),
                               {reinterpret_cast<const std::uint8_t*>(xml.data()), xml.size()}, 0600);
}

Result<std::optional<EncryptionDef>> StorageDriver::ReadVolumeMetadata(const std::string& pool,
                                                                       const std::string& vol) const {
  const std::string path = MetadataPath(pool, vol);
  Result<std::optional<std::string>> xml = ReadSmallFile(path, kMaxMetadataBytes);
  if (!xml) return std::unexpected(xml.error());
  if (!*xml) return std::optional<EncryptionDef>();
  auto broken = [&](const Error& e) {
    return InternalError(ErrorDomain::kStorage,
                         "cannot parse volume metadata '" + path + "': " + e.message());
  };
  Result<xml_util::DocPtr> doc = xml_util::ParseDocument(
      **xml, {.name = path, .is_api_input = false, .domain = ErrorDomain::kStorage}, kMetadataRoot);
  if (!doc) return broken(doc.error());
  const xmlNode* enc = xml_util::FirstChild(xmlDocGetRootElement(doc->get()), "encryption");
  if (enc == nullptr) return std::optional<EncryptionDef>();
  Result<EncryptionDef> def = ParseEncryptionNode(enc);
  if (!def) return broken(def.error());
  return std::optional<EncryptionDef>(std::move(*def));
}

Result<std::vector<VolumeStatus>> StorageDriver::ListVolumes(const std::string& pool) {
  Result<Pool*> p = FindActivePool(pool);
  if (!p) return std::unexpected(p.error());
  auto entries = Env::Default()->GetChildren(VolumesDir(pool));
  std::vector<VolumeStatus> out;
  if (!entries) {
    if (entries.error().errnum == ENOENT) return out;
    return SystemError(ErrorDomain::kStorage, entries.error().errnum,
                       "cannot open directory '" + VolumesDir(pool) + "'");
  }
  for (const std::string& entry : *entries) {
    if (entry.size() <= 4 || entry.substr(entry.size() - 4) != ".xml") continue;
    const std::string name = entry.substr(0, entry.size() - 4);
    const VolumeRef ref{pool, name, (*p)->def.target_path + "/" + name};
    // A file that can no longer be probed (removed behind the driver's back) is left out, as
    // before; a volume whose metadata is broken is an error, not a volume left out of the list.
    Result<ProbedFile> probed = ProbeFile(ref.path);
    if (!probed) continue;
    Result<VolumeStatus> status = VolumeStatusOf(ref, *probed);
    if (!status) return std::unexpected(status.error());
    out.push_back(std::move(*status));
  }
  // virsh sorts volume lists case-insensitively by name.
  std::sort(out.begin(), out.end(), [](const VolumeStatus& a, const VolumeStatus& b) {
    return strcasecmp(a.name.c_str(), b.name.c_str()) < 0;
  });
  return out;
}

Result<VolumeRef> StorageDriver::LookupVolumeByName(const std::string& pool, std::string_view name) {
  Result<Pool*> p = FindActivePool(pool);
  if (!p) return std::unexpected(p.error());
  const std::string vol(name);
  if (vol.find('/') == std::string::npos && vol != "." && vol != ".." &&
      ::access(MetadataPath(pool, vol).c_str(), F_OK) == 0) {
    return VolumeRef{pool, vol, (*p)->def.target_path + "/" + vol};
  }
  return NoVolume("no storage vol with matching name '" + vol + "'");
}

Result<VolumeRef> StorageDriver::LookupVolumeByPath(std::string_view key_or_path) {
  const std::string clean = SanitizePath(key_or_path);
  for (const auto& pool : pools_) {
    if (!pool->active) continue;
    const std::string prefix = pool->def.target_path + "/";
    if (clean.rfind(prefix, 0) != 0) continue;
    const std::string name = clean.substr(prefix.size());
    if (name.empty() || name.find('/') != std::string::npos) continue;
    if (::access(MetadataPath(pool->def.name, name).c_str(), F_OK) == 0)
      return VolumeRef{pool->def.name, name, clean};
  }
  return NoVolume("no storage vol with matching path '" + std::string(key_or_path) + "'");
}

Result<VolumeStatus> StorageDriver::GetVolume(const VolumeRef& vol) {
  Result<ProbedFile> probed = ProbeFile(vol.path);
  if (!probed) return std::unexpected(probed.error());
  return VolumeStatusOf(vol, *probed);
}

Result<VolumeStatus> StorageDriver::VolumeStatusOf(const VolumeRef& vol, const ProbedFile& probed) const {
  VolumeStatus s;
  s.name = vol.name;
  s.path = vol.path;
  s.capacity = probed.capacity;
  s.allocation = static_cast<std::uint64_t>(probed.st.st_blocks) * 512;
  s.physical = static_cast<std::uint64_t>(probed.st.st_size);
  s.format = probed.format;
  s.mode = probed.st.st_mode & 07777;
  s.owner = probed.st.st_uid;
  s.group = probed.st.st_gid;
  s.atime = StatTime(probed.st.st_atim);
  s.mtime = StatTime(probed.st.st_mtim);
  s.ctime = StatTime(probed.st.st_ctim);
  // The record is read for every volume, so that a broken one is reported whatever the file is.
  Result<std::optional<EncryptionDef>> recorded = ReadVolumeMetadata(vol.pool, vol.name);
  if (!recorded) return std::unexpected(recorded.error());
  if (probed.encrypted) s.encryption = recorded->value_or(EncryptionDef{});
  if (probed.qcow2) {
    s.cluster_size = std::uint64_t{1} << probed.qcow2->cluster_bits;
    if (probed.qcow2->version == 3) s.compat = "1.1";
    s.lazy_refcounts = probed.qcow2->lazy_refcounts;
  }
  return s;
}

Result<SecretBytes> StorageDriver::FetchPassphrase(const EncryptionDef& enc, const std::string& path) {
  if (enc.secrets.size() > 1) {
    return InvalidArg(
        ErrorDomain::kStorage,
        "invalid argument: A single <secret type='passphrase'...> element is expected in encryption "
        "description");
  }
  if (enc.secrets.empty()) return secrets_->GetValueForConsumer(UsageType::kVolume, path);
  const EncryptionSecret& s = enc.secrets.front();
  if (s.uuid) return secrets_->GetValueForConsumer(*s.uuid, UsageType::kVolume);
  return secrets_->GetValueForConsumer(UsageType::kVolume, s.usage.value_or(""));
}

Result<SecretBytes> StorageDriver::VolumePassphrase(const VolumeRef& vol) {
  if (auto writable = RequireWritable("virSecretGetValue"); !writable)
    return std::unexpected(writable.error());
  // The passphrase of a broken volume is useless to anyone and is not handed out.
  Result<ProbedFile> probed = ProbeFile(vol.path);
  if (probed && probed->broken) return std::unexpected(BrokenVolumeError(vol.path, *probed->broken));
  Result<std::optional<EncryptionDef>> enc = ReadVolumeMetadata(vol.pool, vol.name);
  if (!enc) return std::unexpected(enc.error());
  return FetchPassphrase(enc->value_or(EncryptionDef{}), vol.path);
}

Result<VolumeRef> StorageDriver::CreateVolume(const std::string& pool, std::string_view xml,
                                              const ProgressFn& progress) {
  if (auto writable = RequireWritable("virStorageVolCreateXML"); !writable)
    return std::unexpected(writable.error());
  Result<Pool*> p = FindActivePool(pool);
  if (!p) return std::unexpected(p.error());
  Result<VolumeDef> def = ParseVolumeXml(xml);
  if (!def) return std::unexpected(def.error());
  if (def->name.find('/') != std::string::npos || def->name == "." || def->name == "..") {
    return Fail(ErrorCode::kOperationInvalid, ErrorDomain::kStorage,
                "Requested operation is not valid: volume name '" + def->name + "' cannot contain '/'");
  }
  if (::access(MetadataPath(pool, def->name).c_str(), F_OK) == 0) {
    return Fail(kStorageVolExist, ErrorDomain::kStorage, "storage volume '" + def->name + "' exists already");
  }
  if (def->has_backing_store) return Unsupported("backing stores are not supported");
  const std::string path = (*p)->def.target_path + "/" + def->name;
  const bool raw = def->format == kVolumeFormatRaw;
  const bool qcow2 = def->format == kVolumeFormatQcow2;
  // Mutable: a secret created for the volume is recorded in it (volume_secret_gen.h).
  std::optional<EncryptionDef>& enc = def->encryption;

  // The checks and their order are libvirt 9.0's (storageBackendCreateQemuImg and friends).
  if (enc && !raw && !qcow2) {
    return Unsupported("volume encryption unsupported with format " +
                       std::string(VolumeFormatName(def->format)));
  }
  if (!raw && !qcow2) {
    return Unsupported("creating volumes of format " + std::string(VolumeFormatName(def->format)) +
                       " is not supported (raw or qcow2)");
  }
  std::optional<VolumeSecretPlan> secret;
  std::optional<LuksFormatOptions> luks;
  // LUKS2 on request (raw only); LUKS1 stays the default, as qemu opens only LUKS1.
  const bool luks2 = enc && enc->format == EncryptionFormat::kLuks2;
  if (enc) {
    if (raw && enc->format != EncryptionFormat::kLuks && !luks2) {
      return InternalError(ErrorDomain::kStorage, "Only luks encryption is supported for raw files");
    }
    if (qcow2 && (enc->format == EncryptionFormat::kQcow || enc->format == EncryptionFormat::kDefault)) {
      return Unsupported("creation of qcow2 encrypted image is not supported");
    }
    // qemu's qcow2 driver embeds only LUKS1 headers (block/qcow2.c uses QCRYPTO_BLOCK_FORMAT_LUKS,
    // whose reader, crypto/block-luks.c, accepts QCRYPTO_BLOCK_LUKS_VERSION 1 only), so a LUKS2 qcow2 volume
    // would open in no hypervisor.
    if (qcow2 && luks2) {
      return Unsupported(
          "LUKS2 encryption is not supported inside qcow2 volumes: qemu's qcow2 encryption is "
          "LUKS1 only (use format='luks')");
    }
    if (enc->format != EncryptionFormat::kLuks && !(raw && luks2)) {
      return Unsupported("unsupported volume encryption format " +
                         std::to_string(static_cast<int>(enc->format)));
    }
    // The named secret's value, or a generated one for a secret without a value or a new secret
    // (no <secret>); stored by Commit, the last step below.
    Result<VolumeSecretPlan> plan = VolumeSecretPlan::Prepare(*secrets_, *enc, path);
    if (!plan) return std::unexpected(plan.error());
    secret.emplace(std::move(*plan));
    if (!IsQemuPassphrase(secret->passphrase())) {
      return Fail(
          ErrorCode::kInvalidSecret, ErrorDomain::kStorage,
          "Invalid secret: the secret value is not valid UTF-8 or contains a NUL byte, so qemu could not "
          "use it as a LUKS passphrase");
    }
    Result<LuksFormatOptions> options = FormatOptionsFor(*enc, options_.kdf);
    if (!options) return std::unexpected(options.error());
    luks = std::move(*options);
  }
  const mode_t mode = def->perms.mode.value_or(0600);
  const std::uint64_t capacity = def->capacity.value_or(0);

  auto cleanup = [&](const Error& e) -> Result<VolumeRef> {
    ::unlink(path.c_str());
    return std::unexpected(e);
  };
  TransferOptions transfer;
  transfer.threads = options_.threads;
  transfer.progress = progress;
  if (qcow2) {
    Qcow2CreateOptions o;
    o.capacity = capacity;
    o.version3 = def->compat.has_value() && *def->compat != "0.10";
    o.luks = luks;
    Result<std::unique_ptr<Qcow2Image>> image =
        Qcow2Image::Create(path, mode, o, luks ? &secret->passphrase() : nullptr);
    if (!image) return std::unexpected(image.error());
  } else if (luks) {
    auto create = [&]() -> Result<std::unique_ptr<VolumeImage>> {
      if (!luks2) return LuksImage::Create(path, mode, capacity, secret->passphrase(), *luks);
      Luks2FormatOptions o = DefaultLuks2FormatOptions();
      o.cipher = luks->cipher;
      return CreateLuks2Image(path, mode, capacity, secret->passphrase(), o);
    };
    Result<std::unique_ptr<VolumeImage>> image = create();
    if (!image) return std::unexpected(image.error());
    // An explicit full <allocation> asks for a zero-filled volume (qemu and libvirt leave a new
    // LUKS payload as decrypted noise).
    if (def->allocation && *def->allocation >= capacity && capacity > 0) {
      if (Result<void> r = FillImage(**image, 0, (*image)->capacity(), false, transfer); !r)
        return cleanup(r.error());
      if (Result<void> r = (*image)->Flush(); !r) return cleanup(r.error());
    }
  } else {
    Result<std::unique_ptr<BlockFile>> file = BlockFile::Create(path, mode);
    if (!file) return std::unexpected(file.error());
    if (Result<void> r = (*file)->Resize(capacity); !r) return cleanup(r.error());
    // libvirt allocates a raw file up to <allocation>, which defaults to the capacity.
    const std::uint64_t allocation = std::min(def->allocation.value_or(capacity), capacity);
    if (allocation > 0) {
      const int err = ::posix_fallocate((*file)->fd(), 0, static_cast<off_t>(allocation));
      if (err != 0 && err != EOPNOTSUPP && err != EINVAL) {
        return cleanup(
            SystemError(ErrorDomain::kStorage, err,
                        "cannot allocate " + std::to_string(allocation) + " bytes in file '" + path + "'")
                .error());
      }
    }
  }
  if ((def->perms.owner || def->perms.group) &&
      ::chown(path.c_str(), def->perms.owner.value_or(static_cast<uid_t>(-1)),
              def->perms.group.value_or(static_cast<gid_t>(-1))) != 0) {
    return cleanup(SystemError(ErrorDomain::kStorage, errno, "cannot chown '" + path + "'").error());
  }
  if (Result<void> r = WriteVolumeMetadata(pool, def->name, enc); !r) return cleanup(r.error());
  // Last: the secret side (a new secret, a generated value). If it cannot be stored, the volume
  // goes; if it is stored, nothing after it can fail.
  if (secret) {
    if (Result<void> r = secret->Commit(); !r) {
      ::unlink(MetadataPath(pool, def->name).c_str());
      return cleanup(r.error());
    }
  }
  return VolumeRef{pool, def->name, path};
}

Result<void> StorageDriver::DeleteVolume(const VolumeRef& vol) {
  if (auto writable = RequireWritable("virStorageVolDelete"); !writable)
    return std::unexpected(writable.error());
  if (::unlink(vol.path.c_str()) != 0 && errno != ENOENT) {
    return SystemError(ErrorDomain::kStorage, errno, "cannot unlink file '" + vol.path + "'");
  }
  ::unlink(MetadataPath(vol.pool, vol.name).c_str());
  ::unlink(RekeyJournalPath(vol).c_str());
  return {};
}

Result<std::unique_ptr<VolumeImage>> StorageDriver::OpenImage(const VolumeRef& vol) {
  // A re-key or conversion a crash interrupted is finished first (a conversion changes what the
  // probe finds); the volume opens with the secret's value either way, so a failure here is only
  // logged.
  if (Result<RekeyRecovery> recovered = RecoverRekey(vol); !recovered) {
    Log(LogLevel::kWarning, "storage_volumes", recovered.error().message());
  }
  Result<ProbedFile> probed = ProbeFile(vol.path);
  if (!probed) return std::unexpected(probed.error());
  // A LUKS file whose header cannot be used is neither opened nor written as plaintext.
  if (probed->broken) return std::unexpected(BrokenVolumeError(vol.path, *probed->broken));
  Result<std::unique_ptr<BlockFile>> file = BlockFile::Open(vol.path, BlockFile::Mode::kReadWrite);
  if (!file) return std::unexpected(file.error());
  if (probed->luks == LuksVersion::kLuks2) {
    // The header is checked before the secret is fetched: a damaged one is reported as such.
    if (Result<Luks2Header> header = ReadLuks2Header(**file); !header) return std::unexpected(header.error());
    Result<SecretBytes> passphrase = VolumePassphrase(vol);
    if (!passphrase) return std::unexpected(passphrase.error());
    Result<std::unique_ptr<Luks2Image>> image = Luks2Image::Open(std::move(*file), *passphrase);
    if (!image) return std::unexpected(image.error());
    return std::unique_ptr<VolumeImage>(std::move(*image));
  }
  if (!probed->encrypted) {
    // Plaintext access only when the driver's record agrees: a volume it knows as encrypted whose
    // header no longer says so (or whose record is unreadable) must not be read or written as
    // plaintext.
    Result<std::optional<EncryptionDef>> recorded = ReadVolumeMetadata(vol.pool, vol.name);
    if (!recorded) return std::unexpected(recorded.error());
    if (*recorded) {
      return InternalError(ErrorDomain::kStorage,
                           "storage volume '" + vol.path + "' is recorded as encrypted in '" +
                               MetadataPath(vol.pool, vol.name) + "' but its file has no encryption header");
    }
    if (probed->format == kVolumeFormatQcow2) {
      Result<std::unique_ptr<Qcow2Image>> image = Qcow2Image::Open(std::move(*file), nullptr);
      if (!image) return std::unexpected(image.error());
      return std::unique_ptr<VolumeImage>(std::move(*image));
    }
    return OpenRawImage(std::move(*file));
  }
  Result<SecretBytes> passphrase = VolumePassphrase(vol);
  if (!passphrase) return std::unexpected(passphrase.error());
  if (probed->format == kVolumeFormatQcow2) {
    Result<std::unique_ptr<Qcow2Image>> image = Qcow2Image::Open(std::move(*file), &*passphrase);
    if (!image) return std::unexpected(image.error());
    return std::unique_ptr<VolumeImage>(std::move(*image));
  }
  Result<std::unique_ptr<LuksImage>> image = LuksImage::Open(std::move(*file), *passphrase);
  if (!image) return std::unexpected(image.error());
  return std::unique_ptr<VolumeImage>(std::move(*image));
}

Result<std::uint64_t> StorageDriver::ResizeVolume(const VolumeRef& vol, std::uint64_t capacity,
                                                  unsigned flags, const ProgressFn& progress) {
  if (auto writable = RequireWritable("virStorageVolResize"); !writable)
    return std::unexpected(writable.error());
  Result<std::unique_ptr<VolumeImage>> image = OpenImage(vol);
  if (!image) return std::unexpected(image.error());
  const std::uint64_t current = (*image)->capacity();
  if (flags & kResizeDelta) {
    capacity = (flags & kResizeShrink) ? current - std::min(capacity, current) : capacity + current;
  }
  if (capacity < current && !(flags & kResizeShrink)) {
    return InvalidArg(
        ErrorDomain::kStorage,
        "invalid argument: Can't shrink capacity below current capacity unless shrink flag explicitly "
        "specified");
  }
  if (Result<void> r = (*image)->Resize(capacity); !r) return std::unexpected(r.error());
  if ((flags & kResizeAllocate) && capacity > current) {
    // Allocating means writing: plaintext zeros, encrypted when the volume is.
    TransferOptions transfer;
    transfer.threads = options_.threads;
    transfer.progress = progress;
    if (Result<void> r = FillImage(**image, current, (*image)->capacity() - current, false, transfer); !r) {
      return std::unexpected(r.error());
    }
  }
  if (Result<void> r = (*image)->Flush(); !r) return std::unexpected(r.error());
  return (*image)->capacity();
}

Result<std::uint64_t> StorageDriver::Upload(const VolumeRef& vol, int fd, std::uint64_t offset,
                                            std::uint64_t length, const ProgressFn& progress) {
  if (auto writable = RequireWritable("virStorageVolUpload"); !writable)
    return std::unexpected(writable.error());
  Result<std::unique_ptr<VolumeImage>> image = OpenImage(vol);
  if (!image) return std::unexpected(image.error());
  TransferOptions transfer;
  transfer.threads = options_.threads;
  transfer.progress = progress;
  // No fdatasync at the end, like libvirt's upload stream and qemu-img convert (cache=unsafe):
  // the data is in the page cache and reaches the disk with normal writeback.
  return CopyToImage(fd, **image, offset, length ? std::optional<std::uint64_t>(length) : std::nullopt,
                     transfer);
}

Result<std::uint64_t> StorageDriver::Download(const VolumeRef& vol, int fd, std::uint64_t offset,
                                              std::uint64_t length, const ProgressFn& progress) {
  if (auto writable = RequireWritable("virStorageVolDownload"); !writable)
    return std::unexpected(writable.error());
  Result<std::unique_ptr<VolumeImage>> image = OpenImage(vol);
  if (!image) return std::unexpected(image.error());
  const std::uint64_t capacity = (*image)->capacity();
  if (offset > capacity) {
    return InvalidArg(ErrorDomain::kStorage, "invalid argument: offset " + std::to_string(offset) +
                                                 " is beyond the volume capacity of " +
                                                 std::to_string(capacity) + " bytes");
  }
  if (length == 0 || length > capacity - offset) length = capacity - offset;
  TransferOptions transfer;
  transfer.threads = options_.threads;
  transfer.progress = progress;
  return CopyFromImage(**image, offset, length, fd, transfer);
}

Result<void> StorageDriver::Wipe(const VolumeRef& vol, WipeAlgorithm algorithm, const ProgressFn& progress) {
  if (auto writable = RequireWritable("virStorageVolWipe"); !writable)
    return std::unexpected(writable.error());
  if (algorithm == WipeAlgorithm::kOther) {
    return Fail(ErrorCode::kArgumentUnsupported, ErrorDomain::kStorage,
                "argument unsupported: only the 'zero' and 'random' wiping algorithms are supported");
  }
  Result<std::unique_ptr<VolumeImage>> image = OpenImage(vol);
  if (!image) return std::unexpected(image.error());
  TransferOptions transfer;
  transfer.threads = options_.threads;
  transfer.progress = progress;
  if (Result<void> r =
          FillImage(**image, 0, (*image)->capacity(), algorithm == WipeAlgorithm::kRandom, transfer);
      !r) {
    return r;
  }
  return (*image)->Flush();
}

}  // namespace vsecret::volume
