// Key-slot half of StorageDriver: vol-rekey, vol-key-add, vol-key-remove and the recovery of an
// interrupted re-key (the protocol is described in volume_rekey.h).
#include "volume/volume_rekey.h"

#include <openssl/crypto.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <vector>

#include "base/env.h"
#include "base/log.h"
#include "store/atomic_file.h"
#include "volume/luks2_format.h"
#include "volume/luks2_header.h"
#include "volume/luks2_keyslot_edit.h"
#include "volume/storage_driver.h"
#include "volume/storage_internal.h"

namespace vsecret::volume {

// The key slots of one volume, LUKS1 or LUKS2: what the re-key journal and its recovery need.
// Slot numbers are keyslot ids (0-7 for LUKS1, 0-31 for LUKS2); "active" means usable.
class RekeySlots {
 public:
  struct Opened {
    int slot = -1;
    SecretBytes key;
  };
  virtual ~RekeySlots() = default;
  virtual const std::string& uuid() const = 0;
  virtual int capacity() const = 0;
  virtual bool Active(int slot) const = 0;
  virtual Result<void> Reload() = 0;
  // The slot a passphrase opens (any active one, or only `only`); wrong passphrases fail with
  // "Invalid password" (code kOperationFailed).
  virtual Result<Opened> Unlock(const SecretBytes& passphrase, std::optional<int> only) const = 0;
  // Adds a slot for passphrase holding opened.key (material, sync, header, sync).
  virtual Result<int> Add(const Opened& opened, const SecretBytes& passphrase, std::optional<int> slot) = 0;
  // Removes an active slot (header, sync, material wiped, sync).
  virtual Result<void> Remove(int slot) = 0;
  // Wipes the material an interrupted add or removal of inactive `slot` may have left.
  virtual Result<void> WipeInactive(int slot) = 0;

  int ActiveCount() const {
    int n = 0;
    for (int i = 0; i < capacity(); ++i) n += Active(i) ? 1 : 0;
    return n;
  }
  std::optional<int> FreeSlot() const {
    for (int i = 0; i < capacity(); ++i) {
      if (!Active(i)) return i;
    }
    return std::nullopt;
  }
};

namespace {

class Luks1Slots final : public RekeySlots {
 public:
  Luks1Slots(BlockFile& file, std::uint64_t base, LuksHeader header, KdfOptions kdf)
      : file_(file), base_(base), header_(std::move(header)), kdf_(kdf) {}
  const std::string& uuid() const override { return header_.uuid; }
  int capacity() const override { return static_cast<int>(kLuksNumKeySlots); }
  bool Active(int slot) const override {
    return slot >= 0 && slot < capacity() && header_.slots[static_cast<std::size_t>(slot)].active;
  }
  Result<void> Reload() override {
    Result<LuksHeader> h = ReadLuksHeader(file_, base_);
    if (!h) return std::unexpected(h.error());
    header_ = std::move(*h);
    return {};
  }
  Result<Opened> Unlock(const SecretBytes& passphrase, std::optional<int> only) const override {
    LuksHeader h = header_;
    if (only) {
      for (std::size_t i = 0; i < kLuksNumKeySlots; ++i) {
        if (static_cast<int>(i) != *only) h.slots[i].active = false;
      }
    }
    Result<UnlockedLuks> u = UnlockLuks(file_, base_, h, passphrase);
    if (!u) return std::unexpected(u.error());
    return Opened{u->slot, std::move(u->master_key)};
  }
  Result<int> Add(const Opened& opened, const SecretBytes& passphrase, std::optional<int> slot) override {
    UnlockedLuks luks{header_, SecretBytes(opened.key.span()), opened.slot};
    Result<int> added = AddKeySlot(file_, base_, luks, passphrase, slot, kdf_);
    if (added) header_ = std::move(luks.header);
    return added;
  }
  Result<void> Remove(int slot) override { return RemoveKeySlot(file_, base_, header_, slot); }
  Result<void> WipeInactive(int slot) override {
    if (slot < 0 || slot >= capacity() || Active(slot)) return {};
    const LuksKeySlot& s = header_.slots[static_cast<std::size_t>(slot)];
    std::vector<std::uint8_t> noise(static_cast<std::size_t>(header_.key_bytes) * kLuksStripes);
    if (Result<void> r = RandomBytes(noise); !r) return r;
    if (Result<void> r = file_.WriteAt(base_ + static_cast<std::uint64_t>(s.key_offset) * kLuksSectorSize,
                                       noise, "key material");
        !r) {
      return r;
    }
    return file_.Sync();
  }

 private:
  BlockFile& file_;
  std::uint64_t base_;
  LuksHeader header_;
  KdfOptions kdf_;
};

class Luks2Slots final : public RekeySlots {
 public:
  Luks2Slots(BlockFile& file, Luks2Header header) : file_(file), header_(std::move(header)) {}
  const std::string& uuid() const override { return header_.uuid; }
  int capacity() const override { return kLuks2MaxKeyslots; }
  bool Active(int slot) const override {
    return std::any_of(header_.keyslots.begin(), header_.keyslots.end(),
                       [&](const Luks2Keyslot& k) { return k.id == slot; });
  }
  Result<void> Reload() override {
    Result<Luks2Header> h = ReadLuks2Header(file_);
    if (!h) return std::unexpected(h.error());
    header_ = std::move(*h);
    return {};
  }
  Result<Opened> Unlock(const SecretBytes& passphrase, std::optional<int> only) const override {
    Luks2Header h = header_;
    if (only) std::erase_if(h.keyslots, [&](const Luks2Keyslot& k) { return k.id != *only; });
    Result<UnlockedLuks2> u = UnlockLuks2(file_, h, passphrase);
    if (!u) return std::unexpected(u.error());
    return Opened{u->keyslot, std::move(u->volume_key)};
  }
  Result<int> Add(const Opened& opened, const SecretBytes& passphrase, std::optional<int> slot) override {
    UnlockedLuks2 luks{header_, SecretBytes(opened.key.span()), opened.slot};
    Result<int> added = AddLuks2Keyslot(file_, luks, passphrase, slot, DefaultLuks2FormatOptions());
    if (added) header_ = std::move(luks.header);
    return added;
  }
  Result<void> Remove(int slot) override { return RemoveLuks2Keyslot(file_, header_, slot); }
  Result<void> WipeInactive(int slot) override {
    if (Active(slot)) return {};
    return WipeLuks2FreeAreas(file_, header_);
  }

 private:
  BlockFile& file_;
  Luks2Header header_;
};

}  // namespace

struct StorageDriver::KeyedVolume {
  VolumeRef vol;
  std::unique_ptr<BlockFile> file;
  std::unique_ptr<RekeySlots> slots;
  Uuid secret;
  std::string journal;
};

namespace {

constexpr char kLogWhere[] = "volume_rekey";
constexpr char kJournalMagic[] = "vsecret-rekey 1";
constexpr std::size_t kMaxJournalBytes = 4096;

std::unexpected<Error> Invalid(const std::string& detail) {
  return Fail(ErrorCode::kOperationInvalid, ErrorDomain::kStorage,
              "Requested operation is not valid: " + detail);
}

std::unexpected<Error> Failed(const std::string& detail) {
  return Fail(ErrorCode::kOperationFailed, ErrorDomain::kStorage, "operation failed: " + detail);
}

bool IsWrongPassphrase(const Error& e) {
  return e.code() == ErrorCode::kOperationFailed && e.message().find("Invalid password") != std::string::npos;
}

// The key when `slot` alone opens with passphrase; nullopt when it does not (or is not active).
// Read errors are errors.
Result<std::optional<SecretBytes>> OpenSlot(const RekeySlots& slots, int slot,
                                            const SecretBytes& passphrase) {
  if (!slots.Active(slot)) return std::optional<SecretBytes>();
  Result<RekeySlots::Opened> opened = slots.Unlock(passphrase, slot);
  if (!opened) {
    if (IsWrongPassphrase(opened.error())) return std::optional<SecretBytes>();
    return std::unexpected(opened.error());
  }
  return std::optional<SecretBytes>(std::move(opened->key));
}

std::unexpected<Error> NotQemuPassphrase() {
  return Fail(
      ErrorCode::kInvalidSecret, ErrorDomain::kStorage,
      "Invalid secret: the new value is not valid UTF-8 or contains a NUL byte, so qemu could not use it "
      "as a LUKS passphrase");
}

}  // namespace

std::string FormatRekeyJournal(const RekeyJournal& j) {
  std::string out = std::string(kJournalMagic) + "\n";
  if (j.operation == RekeyJournal::Operation::kConvert) {
    out += "operation=convert\n";
    out += std::string("target=") + (j.target == LuksVersion::kLuks2 ? "luks2" : "luks1") + "\n";
    out += "luks-uuid=" + j.luks_uuid + "\n";
    return out;
  }
  out += "secret=" + j.secret.ToString() + "\n";
  out += "old-slot=" + std::to_string(j.old_slot) + "\n";
  out += "new-slot=" + std::to_string(j.new_slot) + "\n";
  out += std::string("set-secret=") + (j.set_secret ? "yes" : "no") + "\n";
  out += "luks-uuid=" + j.luks_uuid + "\n";
  return out;
}

Result<RekeyJournal> ParseRekeyJournal(std::string_view text, const std::string& path) {
  auto broken = [&](const std::string& why) {
    return InternalError(ErrorDomain::kStorage, "cannot parse re-key journal '" + path + "': " + why);
  };
  RekeyJournal j;
  bool have_secret = false, have_old = false, have_new = false, have_set = false, have_luks = false;
  bool have_operation = false, have_target = false;
  std::size_t line_no = 0;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    if (nl == std::string_view::npos) return broken("truncated line");
    const std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    if (line_no++ == 0) {
      if (line != kJournalMagic) return broken("not a re-key journal");
      continue;
    }
    const std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) return broken("malformed line");
    const std::string_view key = line.substr(0, eq);
    const std::string value(line.substr(eq + 1));
    auto slot = [&](int* out) -> bool {
      // Keyslot ids: 0-7 for LUKS1, 0-31 for LUKS2.
      if (value.empty() || value.size() > 2 || !std::all_of(value.begin(), value.end(), ::isdigit) ||
          (value.size() == 2 && value[0] == '0'))
        return false;
      *out = std::stoi(value);
      return *out < kLuks2MaxKeyslots;
    };
    if (key == "secret" && !have_secret) {
      std::optional<Uuid> uuid = Uuid::Parse(value);
      if (!uuid) return broken("bad secret UUID");
      j.secret = *uuid;
      have_secret = true;
    } else if (key == "old-slot" && !have_old) {
      if (!slot(&j.old_slot)) return broken("bad old-slot");
      have_old = true;
    } else if (key == "new-slot" && !have_new) {
      if (!slot(&j.new_slot)) return broken("bad new-slot");
      have_new = true;
    } else if (key == "set-secret" && !have_set) {
      if (value != "yes" && value != "no") return broken("bad set-secret");
      j.set_secret = value == "yes";
      have_set = true;
    } else if (key == "operation" && !have_operation && line_no == 2) {
      if (value == "convert") {
        j.operation = RekeyJournal::Operation::kConvert;
      } else if (value != "rekey") {
        return broken("bad operation");
      }
      have_operation = true;
    } else if (key == "target" && !have_target && j.operation == RekeyJournal::Operation::kConvert) {
      if (value != "luks1" && value != "luks2") return broken("bad target");
      j.target = value == "luks2" ? LuksVersion::kLuks2 : LuksVersion::kLuks1;
      have_target = true;
    } else if (key == "luks-uuid" && !have_luks) {
      j.luks_uuid = value;
      have_luks = true;
    } else {
      return broken("unexpected line '" + std::string(key) + "'");
    }
  }
  if (line_no == 0) return broken("empty file");
  if (j.operation == RekeyJournal::Operation::kConvert) {
    if (!have_target || !have_luks) return broken("missing field");
    if (have_secret || have_old || have_new || have_set)
      return broken("re-key fields in a conversion journal");
    return j;
  }
  if (!have_secret || !have_old || !have_new || !have_set || !have_luks) return broken("missing field");
  if (j.old_slot == j.new_slot) return broken("old-slot and new-slot are the same");
  return j;
}

Result<void> RemoveRekeyJournal(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return SystemError(ErrorDomain::kStorage, errno, "cannot remove re-key journal '" + path + "'");
  }
  SyncDirOrLog(Env::Default(), DirectoryOf(path));
  return {};
}

Result<std::optional<RekeyJournal>> ReadRekeyJournal(const std::string& path) {
  Result<std::optional<std::string>> text = ReadSmallFile(path, kMaxJournalBytes);
  if (!text) return std::unexpected(text.error());
  if (!*text) return std::optional<RekeyJournal>();
  Result<RekeyJournal> journal = ParseRekeyJournal(**text, path);
  if (!journal) return std::unexpected(journal.error());
  return std::optional<RekeyJournal>(std::move(*journal));
}

void CrashPoint(std::string_view step) {
  const char* at = std::getenv("VSECRET_TEST_CRASH_AT");
  if (at != nullptr && step == at) ::raise(SIGKILL);
}

std::string StorageDriver::RekeyJournalPath(const VolumeRef& vol) const {
  // ".jnl": four characters, like ".xml", so that pool-refresh keeps it while the volume exists
  // (it forgets "<name>.xxx" entries whose file is gone) and vol-list never takes it for a volume.
  return VolumesDir(vol.pool) + "/" + vol.name + ".jnl";
}

Result<StorageDriver::KeyedVolume> StorageDriver::OpenKeyed(const VolumeRef& vol) {
  Result<ProbedFile> probed = ProbeFile(vol.path);
  if (!probed) return std::unexpected(probed.error());
  KeyedVolume k;
  std::uint64_t base = 0;  // where the LUKS header starts (the FDE cluster of qcow2)
  k.vol = vol;
  k.journal = RekeyJournalPath(vol);
  if (probed->qcow2) {
    if (probed->qcow2->crypt_method != 2)
      return Invalid("storage volume '" + vol.path + "' is not encrypted");
    base = probed->qcow2->luks_offset;
  } else if (probed->luks == LuksVersion::kNotLuks) {
    return Invalid("storage volume '" + vol.path + "' is not encrypted");
  }
  // Key slots of a header the probe refused are never written (that would also "repair" it).
  if (probed->broken) return std::unexpected(BrokenVolumeError(vol.path, *probed->broken));
  Result<std::unique_ptr<BlockFile>> file = BlockFile::Open(vol.path, BlockFile::Mode::kReadWrite);
  if (!file) return std::unexpected(file.error());
  k.file = std::move(*file);
  if (!probed->qcow2 && probed->luks == LuksVersion::kLuks2) {
    Result<Luks2Header> header = ReadLuks2Header(*k.file);
    if (!header) return std::unexpected(header.error());
    k.slots = std::make_unique<Luks2Slots>(*k.file, std::move(*header));
  } else {
    Result<LuksHeader> header = ReadLuksHeader(*k.file, base);
    if (!header) return std::unexpected(header.error());
    k.slots = std::make_unique<Luks1Slots>(*k.file, base, std::move(*header), options_.kdf);
  }
  // The secret to re-key: the one the driver recorded, else the `volume <path>` usage secret.
  Result<std::optional<EncryptionDef>> enc = ReadVolumeMetadata(vol.pool, vol.name);
  if (!enc) return std::unexpected(enc.error());
  std::optional<EncryptionSecret> named;
  if (*enc && !(*enc)->secrets.empty()) {
    if ((*enc)->secrets.size() > 1) {
      return InvalidArg(ErrorDomain::kStorage,
                        "invalid argument: A single <secret type='passphrase'...> element is expected in "
                        "encryption description");
    }
    named = (*enc)->secrets.front();
  }
  if (named && named->uuid) {
    Result<SecretRef> ref = secrets_->LookupByUuid(*named->uuid);
    if (!ref) return std::unexpected(ref.error());
    k.secret = ref->uuid;
  } else {
    const std::string usage = named ? named->usage.value_or("") : vol.path;
    Result<SecretRef> ref = secrets_->LookupByUsage(static_cast<int>(UsageType::kVolume), usage);
    if (!ref) return std::unexpected(ref.error());
    k.secret = ref->uuid;
  }
  return k;
}

Result<RekeyRecovery> StorageDriver::RecoverKeyed(KeyedVolume& k) {
  Result<std::optional<RekeyJournal>> journal = ReadRekeyJournal(k.journal);
  if (!journal) return std::unexpected(journal.error());
  if (!*journal) return RekeyRecovery::kNone;
  const RekeyJournal& j = **journal;
  if (j.operation == RekeyJournal::Operation::kConvert) {
    // RecoverRekey finishes conversions before any key-slot change opens the volume.
    return Failed("an interrupted conversion of '" + k.vol.path + "' is pending in '" + k.journal + "'");
  }
  RekeySlots& slots = *k.slots;
  if (j.luks_uuid != slots.uuid()) {
    // The file was replaced since: the journal describes another header.
    Log(LogLevel::kWarning, kLogWhere,
        "re-key journal '" + k.journal + "' is for LUKS UUID " + j.luks_uuid + ", the volume has " +
            slots.uuid() + ": discarded");
    if (Result<void> r = RemoveRekeyJournal(k.journal); !r) return std::unexpected(r.error());
    return RekeyRecovery::kNone;
  }
  RekeyRecovery outcome;
  if (!slots.Active(j.new_slot)) {
    // The new slot was never enabled: the secret still holds the value slot A opens.
    if (Result<void> r = slots.WipeInactive(j.new_slot); !r) return std::unexpected(r.error());
    outcome = RekeyRecovery::kRolledBack;
  } else if (!slots.Active(j.old_slot)) {
    // Slot A was being removed, after the commit.
    if (Result<void> r = slots.WipeInactive(j.old_slot); !r) return std::unexpected(r.error());
    outcome = RekeyRecovery::kCompleted;
  } else {
    Result<SecretBytes> value = secrets_->GetValueForConsumer(j.secret, UsageType::kVolume);
    if (!value) return std::unexpected(value.error());
    Result<std::optional<SecretBytes>> opens_new = OpenSlot(slots, j.new_slot, *value);
    if (!opens_new) return std::unexpected(opens_new.error());
    int remove = j.old_slot;
    outcome = RekeyRecovery::kCompleted;
    if (!*opens_new) {
      Result<std::optional<SecretBytes>> opens_old = OpenSlot(slots, j.old_slot, *value);
      if (!opens_old) return std::unexpected(opens_old.error());
      if (!*opens_old) {
        return Failed("cannot finish the interrupted re-key of '" + k.vol.path + "' recorded in '" +
                      k.journal + "': the secret's value opens neither keyslot " +
                      std::to_string(j.old_slot) + " nor " + std::to_string(j.new_slot));
      }
      remove = j.new_slot;
      outcome = RekeyRecovery::kRolledBack;
    }
    if (Result<void> r = slots.Remove(remove); !r) return std::unexpected(r.error());
  }
  if (Result<void> r = RemoveRekeyJournal(k.journal); !r) return std::unexpected(r.error());
  Log(LogLevel::kInfo, kLogWhere,
      std::string("interrupted re-key of '") + k.vol.path + "' " +
          (outcome == RekeyRecovery::kCompleted ? "completed" : "rolled back"));
  return outcome;
}

Result<RekeyRecovery> StorageDriver::RecoverRekey(const VolumeRef& vol) {
  if (::access(RekeyJournalPath(vol).c_str(), F_OK) != 0) return RekeyRecovery::kNone;
  if (auto writable = RequireWritable("virStorageVolRekey"); !writable)
    return std::unexpected(writable.error());
  Result<std::optional<RekeyJournal>> journal = ReadRekeyJournal(RekeyJournalPath(vol));
  if (!journal) return std::unexpected(journal.error());
  if (!*journal) return RekeyRecovery::kNone;
  if ((*journal)->operation == RekeyJournal::Operation::kConvert) return RecoverConvert(vol, **journal);
  Result<KeyedVolume> k = OpenKeyed(vol);
  if (!k) return std::unexpected(k.error());
  return RecoverKeyed(*k);
}

Result<StorageDriver::KeyedVolume> StorageDriver::OpenKeyedForChange(const VolumeRef& vol,
                                                                     std::string_view api) {
  if (auto writable = RequireWritable(api); !writable) return std::unexpected(writable.error());
  // A conversion a crash interrupted changes the header format: finished before the slots are read.
  if (Result<RekeyRecovery> r = RecoverRekey(vol); !r) return std::unexpected(r.error());
  Result<KeyedVolume> opened = OpenKeyed(vol);
  if (!opened) return std::unexpected(opened.error());
  if (Result<RekeyRecovery> r = RecoverKeyed(*opened); !r) return std::unexpected(r.error());
  return opened;
}

Result<RekeyResult> StorageDriver::RekeyVolume(const VolumeRef& vol, RekeyRequest request) {
  Result<KeyedVolume> opened = OpenKeyedForChange(vol, "virStorageVolRekey");
  if (!opened) return std::unexpected(opened.error());
  KeyedVolume& k = *opened;

  const bool set_secret = !request.old_value.has_value();
  Result<SecretBytes> current = secrets_->GetValueForConsumer(k.secret, UsageType::kVolume);
  if (!current) return std::unexpected(current.error());
  SecretBytes old_value = set_secret ? std::move(*current) : std::move(*request.old_value);
  SecretBytes new_value;
  if (set_secret) {
    if (!request.new_value) return InvalidArg(ErrorDomain::kStorage, "invalid argument: no new value given");
    new_value = std::move(*request.new_value);
  } else {
    if (request.new_value) {
      return InvalidArg(ErrorDomain::kStorage,
                        "invalid argument: with an old value the new one is the secret's current value");
    }
    new_value = std::move(*current);
  }
  if (!IsQemuPassphrase(new_value)) return NotQemuPassphrase();
  if (new_value.size() == old_value.size() &&
      CRYPTO_memcmp(new_value.data(), old_value.data(), new_value.size()) == 0) {
    return Invalid(set_secret ? "the new value is the secret's current value"
                              : "the old value given is the secret's current value: nothing to re-key");
  }

  RekeySlots& slots = *k.slots;
  Result<RekeySlots::Opened> luks = slots.Unlock(old_value, std::nullopt);
  if (!luks) {
    if (!IsWrongPassphrase(luks.error())) return std::unexpected(luks.error());
    return Failed(set_secret ? "the secret's value does not open volume '" + vol.path +
                                   "' (changed by secret-set-value? give the passphrase that still opens it "
                                   "with --old-value-file)"
                             : "the old value given does not open volume '" + vol.path + "'");
  }
  if (!set_secret) {
    Result<RekeySlots::Opened> already = slots.Unlock(new_value, std::nullopt);
    if (already) return Invalid("the secret's value opens volume '" + vol.path + "' already");
    if (!IsWrongPassphrase(already.error())) return std::unexpected(already.error());
  }
  RekeyJournal j;
  j.secret = k.secret;
  j.old_slot = luks->slot;
  j.set_secret = set_secret;
  j.luks_uuid = slots.uuid();
  j.new_slot = slots.FreeSlot().value_or(-1);
  if (j.new_slot < 0) return Invalid("no free keyslot for the new value (remove one with vol-key-remove)");

  // 1. The journal, before anything in the volume changes.
  const std::string text = FormatRekeyJournal(j);
  if (Result<void> r = RewriteFileAtomically(
          Env::Default(), k.journal, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()}, 0600);
      !r) {
    return std::unexpected(r.error());
  }
  CrashPoint("rekey-journal");
  // Undoes steps 1-2 after a failure before the commit.
  auto roll_back = [&](const Error& e) -> Result<RekeyResult> {
    if (Result<RekeyRecovery> r = RecoverKeyed(k); !r) {
      Log(LogLevel::kError, kLogWhere,
          "cannot roll back the re-key of '" + vol.path + "': " + r.error().message());
    }
    return std::unexpected(e);
  };
  // 2. The new slot, checked from what is on disk.
  if (Result<int> added = slots.Add(*luks, new_value, j.new_slot); !added) {
    (void)slots.Reload();
    return roll_back(added.error());
  }
  CrashPoint("rekey-slot-added");
  if (Result<void> reread = slots.Reload(); !reread) return roll_back(reread.error());
  Result<std::optional<SecretBytes>> check = OpenSlot(slots, j.new_slot, new_value);
  if (!check) return roll_back(check.error());
  if (!*check || (*check)->size() != luks->key.size() ||
      CRYPTO_memcmp((*check)->data(), luks->key.data(), luks->key.size()) != 0) {
    return roll_back(InternalError(ErrorDomain::kStorage, "keyslot " + std::to_string(j.new_slot) + " of '" +
                                                              vol.path +
                                                              "' does not open the volume after writing")
                         .error());
  }
  CrashPoint("rekey-verified");
  // 3. The commit point.
  if (set_secret) {
    if (Result<void> r =
            secrets_->SetValue(Caller{.read_only = false, .trusted = true}, k.secret, new_value, 0);
        !r) {
      return roll_back(r.error());
    }
    CrashPoint("rekey-secret-set");
  }
  // 4. The old slot goes; 5. the journal.
  if (Result<void> r = slots.Remove(j.old_slot); !r) {
    // Both slots still open the volume; the next command retries the removal.
    return std::unexpected(r.error());
  }
  CrashPoint("rekey-old-removed");
  if (Result<void> r = RemoveRekeyJournal(k.journal); !r) return std::unexpected(r.error());
  return RekeyResult{j.old_slot, j.new_slot};
}

Result<int> StorageDriver::AddVolumeKey(const VolumeRef& vol, const SecretBytes& passphrase,
                                        std::optional<int> slot) {
  if (auto writable = RequireWritable("virStorageVolKeyAdd"); !writable)
    return std::unexpected(writable.error());
  if (passphrase.empty())
    return InvalidArg(ErrorDomain::kStorage, "invalid argument: the passphrase is empty");
  if (!IsQemuPassphrase(passphrase)) return NotQemuPassphrase();
  Result<KeyedVolume> opened = OpenKeyedForChange(vol, "virStorageVolKeyAdd");
  if (!opened) return std::unexpected(opened.error());
  KeyedVolume& k = *opened;
  RekeySlots& slots = *k.slots;
  if (Result<void> h = slots.Reload(); !h) return std::unexpected(h.error());
  Result<RekeySlots::Opened> existing = slots.Unlock(passphrase, std::nullopt);
  if (existing) {
    return Invalid("the passphrase opens keyslot " + std::to_string(existing->slot) + " of '" + vol.path +
                   "' already");
  }
  if (!IsWrongPassphrase(existing.error())) return std::unexpected(existing.error());
  Result<SecretBytes> value = secrets_->GetValueForConsumer(k.secret, UsageType::kVolume);
  if (!value) return std::unexpected(value.error());
  Result<RekeySlots::Opened> luks = slots.Unlock(*value, std::nullopt);
  if (!luks) {
    if (!IsWrongPassphrase(luks.error())) return std::unexpected(luks.error());
    return Failed("the secret's value does not open volume '" + vol.path + "' (re-key it with vol-rekey)");
  }
  return slots.Add(*luks, passphrase, slot);
}

Result<int> StorageDriver::RemoveVolumeKey(const VolumeRef& vol, std::optional<int> slot,
                                           const SecretBytes* passphrase, bool force) {
  Result<KeyedVolume> opened = OpenKeyedForChange(vol, "virStorageVolKeyRemove");
  if (!opened) return std::unexpected(opened.error());
  KeyedVolume& k = *opened;
  RekeySlots& slots = *k.slots;
  if (Result<void> h = slots.Reload(); !h) return std::unexpected(h.error());
  int target = -1;
  if (slot) {
    if (*slot < 0 || *slot >= slots.capacity()) {
      return Invalid("keyslot " + std::to_string(*slot) + " does not exist (0-" +
                     std::to_string(slots.capacity() - 1) + ")");
    }
    if (!slots.Active(*slot)) {
      return Invalid("keyslot " + std::to_string(*slot) + " is not active");
    }
    target = *slot;
  } else if (passphrase != nullptr) {
    Result<RekeySlots::Opened> opens = slots.Unlock(*passphrase, std::nullopt);
    if (!opens) {
      if (IsWrongPassphrase(opens.error()))
        return Failed("the passphrase opens no keyslot of '" + vol.path + "'");
      return std::unexpected(opens.error());
    }
    target = opens->slot;
  } else {
    return InvalidArg(ErrorDomain::kStorage, "invalid argument: no keyslot or passphrase given");
  }
  if (slots.ActiveCount() == 1) {
    return Invalid("keyslot " + std::to_string(target) + " is the last active keyslot of '" + vol.path +
                   "': removing it would make the volume unreadable");
  }
  if (!force) {
    Result<SecretBytes> value = secrets_->GetValueForConsumer(k.secret, UsageType::kVolume);
    if (!value) return std::unexpected(value.error());
    Result<std::optional<SecretBytes>> secret_opens = OpenSlot(slots, target, *value);
    if (!secret_opens) return std::unexpected(secret_opens.error());
    if (*secret_opens) {
      return Invalid("keyslot " + std::to_string(target) + " holds the value of secret " +
                     k.secret.ToString() + ": removing it would lock the volume's users out (use --force)");
    }
  }
  if (Result<void> r = slots.Remove(target); !r) return std::unexpected(r.error());
  return target;
}

}  // namespace vsecret::volume
