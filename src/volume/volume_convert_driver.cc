// vol-convert: the StorageDriver's in-place LUKS1 <-> LUKS2 conversion, its journal and its
// recovery (the protocol and the layout rules are in volume_convert.h).
#include <openssl/crypto.h>

#include <algorithm>
#include <vector>

#include "base/env.h"
#include "base/log.h"
#include "store/atomic_file.h"
#include "volume/luks2_format.h"
#include "volume/luks2_keyslot_edit.h"
#include "volume/storage_driver.h"
#include "volume/storage_internal.h"
#include "volume/volume_convert.h"

namespace vsecret::volume {
namespace {

constexpr char kLogWhere[] = "volume_convert";
constexpr char kApi[] = "virStorageVolConvert";
constexpr std::uint64_t kHdr = kConvertLuks2HdrSize;

std::unexpected<Error> Invalid(const std::string& detail) {
  return Fail(ErrorCode::kOperationInvalid, ErrorDomain::kStorage,
              "Requested operation is not valid: " + detail);
}

bool SameKey(const SecretBytes& a, const SecretBytes& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Result<void> WriteSynced(BlockFile& file, std::uint64_t at, std::span<const std::uint8_t> bytes,
                         const char* what) {
  if (Result<void> r = file.WriteAt(at, bytes, what); !r) return r;
  return file.Sync();
}

// The secondary LUKS2 copy at 16 KiB when it is valid (the conversion to LUKS2 has committed).
std::optional<Luks2Header> SecondaryCopy(const BlockFile& file, std::vector<std::uint8_t>* bytes) {
  bytes->assign(kHdr, 0);
  if (!file.ReadAt(kHdr, *bytes, "LUKS2 header")) return std::nullopt;
  Result<Luks2Header> parsed = ParseLuks2Copy(*bytes, kHdr);
  if (!parsed || parsed->hdr_size != kHdr) return std::nullopt;
  return std::move(*parsed);
}

// Undoes an uncommitted conversion to LUKS2: the LUKS1 header in place says which material is
// live; every inactive slot's extent (where a copy may have gone, or the moved slot came from) is
// overwritten with random bytes.
Result<void> WipeInactiveLuks1(BlockFile& file, const LuksHeader& h) {
  // Whole extents (material rounded up to 4 KiB, as ValidateLuksHeader keeps them apart): a copy
  // placed at cryptsetup's offset straddles two of them.
  const std::uint64_t material = std::uint64_t{h.SlotMaterialSectors()} * kLuksSectorSize;
  std::vector<std::uint8_t> noise((material + 4095) / 4096 * 4096);
  for (const LuksKeySlot& s : h.slots) {
    if (s.active) continue;
    if (Result<void> r = RandomBytes(noise); !r) return r;
    if (Result<void> r = file.WriteAt(std::uint64_t{s.key_offset} * kLuksSectorSize, noise, "key material");
        !r)
      return r;
  }
  return file.Sync();
}

// Copies key material (encrypted, but kept in wiping memory all the same), then syncs.
Result<void> CopyMaterial(BlockFile& file, const std::vector<MaterialMove>& moves) {
  for (const MaterialMove& m : moves) {
    SecretBytes material;
    material.Resize(m.length);
    if (Result<void> r = file.ReadAt(m.from, {material.data(), material.size()}, "key material"); !r)
      return r;
    if (Result<void> r = file.WriteAt(m.to, material.span(), "key material"); !r) return r;
  }
  return file.Sync();
}

// A wrong passphrase ("Invalid password", kOperationFailed) is reported as the secret not
// opening the volume; read errors as they are.
std::unexpected<Error> NotOpened(const Error& e, const std::string& path) {
  if (e.code() != ErrorCode::kOperationFailed || e.message().find("Invalid password") == std::string::npos)
    return std::unexpected(e);
  return Fail(ErrorCode::kOperationFailed, ErrorDomain::kStorage,
              "operation failed: the secret's value does not open volume '" + path +
                  "' (re-key it with vol-rekey first)");
}

}  // namespace

Result<void> StorageDriver::FinishConvert(const VolumeRef& vol, BlockFile& file, const RekeyJournal& j) {
  EncryptionFormat format = EncryptionFormat::kLuks;
  if (j.target == LuksVersion::kLuks2) {
    // The material a moved slot left behind, and anything else no keyslot uses.
    Result<Luks2Header> header = ReadLuks2Header(file);
    if (!header) return std::unexpected(header.error());
    if (Result<void> r = WipeLuks2FreeAreas(file, *header); !r) return r;
    format = EncryptionFormat::kLuks2;
  } else {
    // Everything before the payload that the header and the live keyslots do not use: the LUKS2
    // metadata and any key material left where it was.
    Result<LuksHeader> header = ReadLuksHeader(file, 0);
    if (!header) return std::unexpected(header.error());
    const std::uint64_t extent =
        (std::uint64_t{header->SlotMaterialSectors()} * kLuksSectorSize + 4095) / 4096 * 4096;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> live;
    for (const LuksKeySlot& s : header->slots) {
      if (s.active) live.emplace_back(std::uint64_t{s.key_offset} * kLuksSectorSize, extent);
    }
    std::sort(live.begin(), live.end());
    live.emplace_back(std::uint64_t{header->payload_offset} * kLuksSectorSize, 0);
    std::uint64_t at = kLuksHeaderSize;
    for (const auto& [begin, length] : live) {
      if (begin > at) {
        std::vector<std::uint8_t> zeros(begin - at, 0);
        if (Result<void> r = file.WriteAt(at, zeros, "LUKS header area"); !r) return r;
      }
      at = std::max(at, begin + length);
    }
    if (Result<void> r = file.Sync(); !r) return r;
  }
  CrashPoint("convert-wiped");
  Result<std::optional<EncryptionDef>> recorded = ReadVolumeMetadata(vol.pool, vol.name);
  if (!recorded) return std::unexpected(recorded.error());
  EncryptionDef enc = recorded->value_or(EncryptionDef{});
  enc.format = format;
  if (Result<void> r = WriteVolumeMetadata(vol.pool, vol.name, enc); !r) return r;
  return RemoveRekeyJournal(RekeyJournalPath(vol));
}

Result<RekeyRecovery> StorageDriver::RecoverConvert(const VolumeRef& vol, const RekeyJournal& j) {
  const std::string path = RekeyJournalPath(vol);
  Result<std::unique_ptr<BlockFile>> opened = BlockFile::Open(vol.path, BlockFile::Mode::kReadWrite);
  if (!opened) return std::unexpected(opened.error());
  BlockFile& file = **opened;
  auto discard = [&](const std::string& why) -> Result<RekeyRecovery> {
    Log(LogLevel::kWarning, kLogWhere, "conversion journal '" + path + "': " + why + ": discarded");
    if (Result<void> r = RemoveRekeyJournal(path); !r) return std::unexpected(r.error());
    return RekeyRecovery::kNone;
  };
  RekeyRecovery outcome = RekeyRecovery::kRolledBack;
  if (j.target == LuksVersion::kLuks2) {
    std::vector<std::uint8_t> secondary;
    if (std::optional<Luks2Header> committed = SecondaryCopy(file, &secondary);
        committed && committed->uuid == j.luks_uuid) {
      Result<Luks2Header> header = ReadLuks2Header(file);
      if (header && !header->primary_valid) {
        // The primary copy is missing or torn: rebuilt from the secondary's JSON.
        const auto* json = reinterpret_cast<const char*>(secondary.data() + kLuks2BinaryHeaderSize);
        const std::string text(json, strnlen(json, kHdr - kLuks2BinaryHeaderSize));
        Result<std::vector<std::uint8_t>> primary =
            BuildLuks2Copy(0, text, committed->uuid, committed->salt, committed->seqid);
        if (!primary) return std::unexpected(primary.error());
        if (Result<void> r = WriteSynced(file, 0, *primary, "LUKS2 header"); !r)
          return std::unexpected(r.error());
      }
      if (Result<void> r = FinishConvert(vol, file, j); !r) return std::unexpected(r.error());
      outcome = RekeyRecovery::kCompleted;
    } else {
      Result<LuksHeader> h1 = ReadLuksHeader(file, 0);
      if (!h1 || h1->uuid != j.luks_uuid)
        return discard("the volume holds no LUKS1 header of UUID " + j.luks_uuid);
      if (Result<void> r = WipeInactiveLuks1(file, *h1); !r) return std::unexpected(r.error());
      if (Result<void> r = RemoveRekeyJournal(path); !r) return std::unexpected(r.error());
    }
  } else {
    std::vector<std::uint8_t> start(kLuksHeaderSize, 0);
    Result<LuksHeader> h1 = InternalError(ErrorDomain::kStorage, "short file");
    if (file.ReadAt(0, start, "LUKS header") && ProbeLuks(start) == LuksVersion::kLuks1) {
      h1 = ReadLuksHeader(file, 0);
    }
    if (h1 && h1->uuid == j.luks_uuid) {
      if (Result<void> r = FinishConvert(vol, file, j); !r) return std::unexpected(r.error());
      outcome = RekeyRecovery::kCompleted;
    } else {
      // Before the LUKS1 header only free space of the LUKS2 volume was written: wiped again.
      Result<Luks2Header> h2 = ReadLuks2Header(file);
      if (!h2 || h2->uuid != j.luks_uuid)
        return discard("the volume holds no LUKS2 header of UUID " + j.luks_uuid);
      if (Result<void> r = WipeLuks2FreeAreas(file, *h2); !r) return std::unexpected(r.error());
      if (Result<void> r = RemoveRekeyJournal(path); !r) return std::unexpected(r.error());
    }
  }
  Log(LogLevel::kInfo, kLogWhere,
      std::string("interrupted conversion of '") + vol.path + "' " +
          (outcome == RekeyRecovery::kCompleted ? "completed" : "rolled back"));
  return outcome;
}

Result<void> StorageDriver::ConvertVolume(const VolumeRef& vol, EncryptionFormat target) {
  if (auto writable = RequireWritable(kApi); !writable) return std::unexpected(writable.error());
  if (target != EncryptionFormat::kLuks && target != EncryptionFormat::kLuks2) {
    return InvalidArg(ErrorDomain::kStorage, "invalid argument: volumes convert to luks2 or luks1 only");
  }
  const bool to_luks2 = target == EncryptionFormat::kLuks2;
  if (Result<RekeyRecovery> r = RecoverRekey(vol); !r) return std::unexpected(r.error());
  Result<ProbedFile> probed = ProbeFile(vol.path);
  if (!probed) return std::unexpected(probed.error());
  if (probed->broken) return std::unexpected(BrokenVolumeError(vol.path, *probed->broken));
  if (probed->qcow2) {
    if (probed->qcow2->crypt_method != 2)
      return Invalid("storage volume '" + vol.path + "' is not encrypted");
    // qemu's qcow2 driver embeds only LUKS1 headers (block/qcow2.c creates and opens them with
    // QCRYPTO_BLOCK_FORMAT_LUKS, crypto/block-luks.c, which accepts QCRYPTO_BLOCK_LUKS_VERSION 1 only): a
    // LUKS2 header inside qcow2 would be a volume no hypervisor opens.
    if (to_luks2) {
      return ConfigUnsupported(ErrorDomain::kStorage,
                               "LUKS2 encryption is not supported inside qcow2 volumes: qemu's qcow2 "
                               "encryption is LUKS1 only ('" +
                                   vol.path + "')");
    }
    return Invalid("storage volume '" + vol.path +
                   "' is in LUKS1 format already (qcow2 encryption is LUKS1)");
  }
  if (probed->luks == LuksVersion::kNotLuks) {
    return Invalid("storage volume '" + vol.path + "' is not a LUKS volume");
  }
  if ((probed->luks == LuksVersion::kLuks2) == to_luks2) {
    return Invalid("storage volume '" + vol.path + "' is in " + (to_luks2 ? "LUKS2" : "LUKS1") +
                   " format already");
  }
  Result<std::unique_ptr<BlockFile>> opened = BlockFile::Open(vol.path, BlockFile::Mode::kReadWrite);
  if (!opened) return std::unexpected(opened.error());
  BlockFile& file = **opened;

  RekeyJournal j;
  j.operation = RekeyJournal::Operation::kConvert;
  j.target = to_luks2 ? LuksVersion::kLuks2 : LuksVersion::kLuks1;
  const std::string journal = RekeyJournalPath(vol);
  auto write_journal = [&]() -> Result<void> {
    const std::string text = FormatRekeyJournal(j);
    if (Result<void> r = RewriteFileAtomically(
            Env::Default(), journal, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()}, 0600);
        !r) {
      return r;
    }
    CrashPoint("convert-journal");
    return {};
  };
  // Before the commit point a failure is undone as a crash would be.
  auto roll_back = [&](const Error& e) -> Result<void> {
    if (Result<RekeyRecovery> r = RecoverConvert(vol, j); !r) {
      Log(LogLevel::kError, kLogWhere,
          "cannot roll back the conversion of '" + vol.path + "': " + r.error().message());
    }
    return std::unexpected(e);
  };

  if (!to_luks2) {
    Result<Luks2Header> h2 = ReadLuks2Header(file);
    if (!h2) return std::unexpected(h2.error());
    // The layout is checked before the secret is used (an argon2 unlock is slow).
    Result<Luks2ToLuks1Plan> plan = PlanLuks2ToLuks1(*h2, vol.path);
    if (!plan) return std::unexpected(plan.error());
    const LuksHeader* h1 = &plan->header;
    Result<SecretBytes> value = VolumePassphrase(vol);
    if (!value) return std::unexpected(value.error());
    Result<UnlockedLuks2> before = UnlockLuks2(file, *h2, *value);
    if (!before) return NotOpened(before.error(), vol.path);
    j.luks_uuid = h1->uuid;
    if (Result<void> r = write_journal(); !r) return r;
    if (Result<void> r = CopyMaterial(file, plan->moves); !r) return roll_back(r.error());
    if (!plan->moves.empty()) CrashPoint("convert-material-copied");
    Result<UnlockedLuks> after = UnlockLuks(file, 0, *h1, *value);
    if (!after || !SameKey(after->master_key, before->volume_key)) {
      return roll_back(InternalError(ErrorDomain::kStorage, "the LUKS1 header built for '" + vol.path +
                                                                "' does not open the volume's key")
                           .error());
    }
    // The commit point: one 592-byte write at 0.
    if (Result<void> r = WriteSynced(file, 0, SerializeLuksHeader(*h1), "LUKS header"); !r)
      return roll_back(r.error());
    CrashPoint("convert-header-written");
    return FinishConvert(vol, file, j);
  }

  Result<LuksHeader> h1 = ReadLuksHeader(file, 0);
  if (!h1) return std::unexpected(h1.error());
  Result<Luks1ToLuks2Plan> plan = PlanLuks1ToLuks2(*h1, vol.path);
  if (!plan) return std::unexpected(plan.error());
  Result<SecretBytes> value = VolumePassphrase(vol);
  if (!value) return std::unexpected(value.error());
  Result<UnlockedLuks> before = UnlockLuks(file, 0, *h1, *value);
  if (!before) return NotOpened(before.error(), vol.path);
  // A valid LUKS2 copy left at 16 KiB (by an earlier LUKS2 life of the file) would read as this
  // conversion's commit: cleared first. It lies in no live slot's material, or it would not be
  // valid.
  std::vector<std::uint8_t> stale;
  if (SecondaryCopy(file, &stale)) {
    std::vector<std::uint8_t> zeros(kHdr, 0);
    if (Result<void> r = WriteSynced(file, kHdr, zeros, "LUKS2 header"); !r) return r;
  }
  j.luks_uuid = h1->uuid;
  if (Result<void> r = write_journal(); !r) return r;

  // 1. Material out of the way of the headers, then the LUKS1 header that points at it.
  if (Result<void> r = CopyMaterial(file, plan->moves); !r) return roll_back(r.error());
  CrashPoint("convert-material-copied");
  if (!plan->moves.empty()) {
    if (Result<void> r = WriteSynced(file, 0, SerializeLuksHeader(plan->staged), "LUKS header"); !r)
      return roll_back(r.error());
    CrashPoint("convert-luks1-staged");
  }
  if (!plan->final_moves.empty()) {
    if (Result<void> r = CopyMaterial(file, plan->final_moves); !r) return roll_back(r.error());
    CrashPoint("convert-material-placed");
  }
  // 2. The LUKS2 copies, checked to open the volume's key from the material on disk first.
  std::vector<std::uint8_t> salt(kLuks2SaltSize);
  if (Result<void> r = RandomBytes(salt); !r) return roll_back(r.error());
  Result<std::vector<std::uint8_t>> primary = BuildLuks2Copy(0, plan->json, h1->uuid, salt, 1);
  if (!primary) return roll_back(primary.error());
  Result<std::vector<std::uint8_t>> secondary = BuildLuks2Copy(kHdr, plan->json, h1->uuid, salt, 1);
  if (!secondary) return roll_back(secondary.error());
  Result<Luks2Header> h2 = ParseLuks2Copy(*primary, 0);
  if (!h2) return roll_back(h2.error());
  Result<UnlockedLuks2> after = UnlockLuks2(file, *h2, *value);
  if (!after || !SameKey(after->volume_key, before->master_key)) {
    return roll_back(InternalError(ErrorDomain::kStorage, "the LUKS2 header built for '" + vol.path +
                                                              "' does not open the volume's key")
                         .error());
  }
  // 3. The commit point: the secondary copy (it covers no live LUKS1 material); then the primary.
  if (Result<void> r = WriteSynced(file, kHdr, *secondary, "LUKS2 header"); !r) return roll_back(r.error());
  CrashPoint("convert-secondary-written");
  if (Result<void> r = WriteSynced(file, 0, *primary, "LUKS2 header"); !r) return std::unexpected(r.error());
  CrashPoint("convert-primary-written");
  return FinishConvert(vol, file, j);
}

}  // namespace vsecret::volume
