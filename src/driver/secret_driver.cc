#include "driver/secret_driver.h"

#include <algorithm>
#include <functional>
#include <thread>

#include "base/log.h"
#include "conf/secret_xml.h"

namespace vsecret {
namespace {

constexpr std::string_view kLogWhere = "secret_driver";

std::unexpected<Error> ReadOnlyDenied(const char* api) {
  return OperationDenied(ErrorDomain::kSecret, std::string("read only access prevents ") + api);
}

std::unexpected<Error> NoMatchingUuid(const Uuid& uuid) {
  return NoSecret("no secret with matching uuid '" + uuid.ToString() + "'");
}

}  // namespace

std::size_t SecretDriver::UsageKeyHash::operator()(const UsageKey& k) const noexcept {
  return std::hash<std::string>()(k.id) * 31 + static_cast<std::size_t>(k.type);
}

SecretDriver::SecretDriver(std::unique_ptr<SecretStore> store, EncryptionOptions encryption)
    : store_(std::move(store)), encryption_options_(std::move(encryption)) {}

SecretDriver::~SecretDriver() = default;

Result<std::unique_ptr<SecretDriver>> SecretDriver::Open(const StorePaths& paths, Env* env) {
  return Open(paths, EncryptionOptions::ForStore(paths), env);
}

Result<std::unique_ptr<SecretDriver>> SecretDriver::Open(const StorePaths& paths,
                                                         const EncryptionOptions& encryption, Env* env) {
  // The key is loaded before the store is opened, so a key problem leaves no trace on disk.
  auto loaded = LoadEncryption(encryption, paths, env);
  if (!loaded) return std::unexpected(loaded.error());
  auto store = SecretStore::Open(paths, env);
  if (!store) return std::unexpected(store.error());
  (*store)->SetValueProtection(loaded->protection());
  std::unique_ptr<SecretDriver> driver(new SecretDriver(std::move(*store), encryption));
  {
    MutexLock lock(driver->mutex_);
    driver->LoadAllLocked(/*reload=*/false);
  }
  return driver;
}

SecretRef SecretDriver::RefOf(const SecretDef& def) {
  return SecretRef{def.uuid, def.usage_type, def.usage_id.value_or("")};
}

void SecretDriver::InsertLocked(std::unique_ptr<Entry> entry) {
  const SecretDef& def = entry->def;
  if (def.usage_type != UsageType::kNone)
    by_usage_.emplace(UsageKey{def.usage_type, *def.usage_id}, def.uuid);
  if (def.ephemeral) ++ephemeral_count_;
  Uuid uuid = def.uuid;
  by_uuid_.emplace(uuid, std::move(entry));
}

void SecretDriver::EraseLocked(const Uuid& uuid) {
  auto it = by_uuid_.find(uuid);
  if (it == by_uuid_.end()) return;
  const SecretDef& def = it->second->def;
  if (def.usage_type != UsageType::kNone) {
    auto u = by_usage_.find(UsageKey{def.usage_type, *def.usage_id});
    if (u != by_usage_.end() && u->second == uuid) by_usage_.erase(u);
  }
  if (def.ephemeral) --ephemeral_count_;
  by_uuid_.erase(it);  // the Entry's SecretBytes wipes the value
}

void SecretDriver::ReindexLocked(const SecretDef& old_def, const SecretDef& new_def) {
  if (old_def.usage_type != new_def.usage_type || old_def.usage_id != new_def.usage_id) {
    if (old_def.usage_type != UsageType::kNone) {
      auto u = by_usage_.find(UsageKey{old_def.usage_type, *old_def.usage_id});
      if (u != by_usage_.end() && u->second == old_def.uuid) by_usage_.erase(u);
    }
    if (new_def.usage_type != UsageType::kNone) {
      by_usage_.insert_or_assign(UsageKey{new_def.usage_type, *new_def.usage_id}, new_def.uuid);
    }
  }
  if (old_def.ephemeral != new_def.ephemeral) {
    if (new_def.ephemeral) {
      ++ephemeral_count_;
    } else {
      --ephemeral_count_;
    }
  }
}

Result<void> SecretDriver::CheckDefinitionLocked(const SecretDef& def, const Entry* existing) const {
  if (existing != nullptr) {
    const SecretDef& old = existing->def;
    if (old.usage_id != def.usage_id) {
      return InternalError(ErrorDomain::kSecret, "a secret with UUID " + def.uuid.ToString() +
                                                     " is already defined for use with " +
                                                     old.usage_id.value_or("(null)"));
    }
    if (old.is_private && !def.is_private) {
      return InternalError(ErrorDomain::kSecret, "cannot change private flag on existing secret");
    }
    // libvirt skips this check on redefine, which lets a usage-type change create a duplicate
    // (after a reload one of the two then vanishes); we check it like a new definition.
    if (old.usage_type == def.usage_type || def.usage_type == UsageType::kNone) return {};
  }
  if (def.usage_type == UsageType::kNone) return {};
  auto u = by_usage_.find(UsageKey{def.usage_type, *def.usage_id});
  if (u != by_usage_.end() && u->second != def.uuid) {
    return InternalError(ErrorDomain::kSecret, "a secret with UUID " + u->second.ToString() +
                                                   " already defined for use with " + *def.usage_id);
  }
  return {};
}

Result<SecretRef> SecretDriver::DefineXml(const Caller& caller, std::string_view xml, unsigned flags) {
  if (caller.read_only) return ReadOnlyDenied("virSecretDefineXML");
  if (unsigned bad = flags & ~kDefineValidate) {
    return UnsupportedFlags(ErrorDomain::kSecret, bad, "secretDefineXML");
  }
  auto parsed = ParseSecretXml(xml, flags);
  if (!parsed) return std::unexpected(parsed.error());
  SecretDef def = std::move(*parsed);

  SecretRef ref = RefOf(def);
  {
    MutexLock lock(mutex_);
    auto it = by_uuid_.find(def.uuid);
    Entry* existing = it == by_uuid_.end() ? nullptr : it->second.get();
    if (auto ok = CheckDefinitionLocked(def, existing); !ok) return std::unexpected(ok.error());

    if (existing == nullptr) {
      if (!def.ephemeral) {
        // A value file left by an undefine or ephemeral flip that a crash interrupted (the
        // definition goes first there) must not be adopted by a new secret with the same UUID.
        store_->DeleteValues(def.uuid);
        if (auto w = store_->WriteDefinition(def); !w) return std::unexpected(w.error());
      }
      auto entry = std::make_unique<Entry>();
      entry->def = std::move(def);
      InsertLocked(std::move(entry));
    } else {
      const SecretDef& old = existing->def;
      if (!def.ephemeral) {
        bool wrote_value = false;
        if (old.ephemeral && existing->value) {
          if (auto w = store_->WriteValue(def.uuid, *existing->value); !w) return std::unexpected(w.error());
          wrote_value = true;
        } else if (old.ephemeral) {
          store_->DeleteValues(def.uuid);  // no orphan may become this secret's value
        }
        if (auto w = store_->WriteDefinition(def); !w) {
          if (wrote_value) store_->DeleteValues(def.uuid);
          return std::unexpected(w.error());
        }
      } else if (!old.ephemeral) {
        // The value must be in memory before its file goes away.
        if (auto m = MaterializeValueLocked(*existing); !m) return std::unexpected(m.error());
        // Persistent -> ephemeral: the definition goes first, so a crash in between leaves at
        // worst an orphan value file (ignored at load), never a resurrected secret.
        if (auto d = store_->DeleteDefinition(def.uuid); !d) return std::unexpected(d.error());
        store_->DeleteValues(def.uuid);
      }
      ReindexLocked(old, def);
      existing->def = std::move(def);
    }
  }
  events_.Dispatch({SecretEvent{SecretEventId::kLifecycle, ref, LifecycleEvent::kDefined, 0}});
  return ref;
}

Result<void> SecretDriver::Undefine(const Caller& caller, const Uuid& uuid) {
  if (caller.read_only) return ReadOnlyDenied("virSecretUndefine");
  SecretRef ref;
  {
    MutexLock lock(mutex_);
    auto it = by_uuid_.find(uuid);
    if (it == by_uuid_.end()) return NoMatchingUuid(uuid);
    ref = RefOf(it->second->def);
    // Unlike libvirt, an ephemeral secret's stale XML (if any) is removed too (libvirt leaves it
    // behind, so the secret comes back after a restart).
    if (auto d = store_->DeleteDefinition(uuid); !d) return std::unexpected(d.error());
    store_->DeleteValues(uuid);
    EraseLocked(uuid);
  }
  events_.Dispatch({SecretEvent{SecretEventId::kLifecycle, ref, LifecycleEvent::kUndefined, 0}});
  return {};
}

Result<void> SecretDriver::SetValue(const Caller& caller, const Uuid& uuid, const SecretBytes& value,
                                    unsigned flags) {
  if (caller.read_only) return ReadOnlyDenied("virSecretSetValue");
  // libvirt accepts an empty value in-process, clearing memory but not the disk, and rejects
  // it over RPC; we reject it everywhere with the message its RPC path gives.
  if (value.empty()) return InvalidArg(ErrorDomain::kSecret, "value in virSecretSetValue must not be NULL");
  if (flags != 0) return UnsupportedFlags(ErrorDomain::kSecret, flags, "secretSetValue");
  SecretRef ref;
  {
    MutexLock lock(mutex_);
    auto it = by_uuid_.find(uuid);
    if (it == by_uuid_.end()) return NoMatchingUuid(uuid);
    Entry& entry = *it->second;
    if (!entry.def.ephemeral) {
      if (auto w = store_->WriteValue(uuid, value); !w) return std::unexpected(w.error());
    }
    entry.value = value.Clone();  // the old value is wiped by SecretBytes' move assignment
    entry.value_on_disk = false;
    ref = RefOf(entry.def);
  }
  events_.Dispatch({SecretEvent{SecretEventId::kValueChanged, ref, LifecycleEvent::kDefined, 0}});
  return {};
}

Result<void> SecretDriver::MaterializeValueLocked(Entry& entry) {
  if (!entry.value_on_disk) return {};
  auto value = store_->ReadValue(entry.def.uuid);
  if (!value) return std::unexpected(value.error());
  entry.value_on_disk = false;
  entry.value = std::move(*value);
  if (entry.value && entry.value->empty()) entry.value.reset();
  return {};
}

Result<SecretBytes> SecretDriver::ReadValueLocked(Entry& entry, bool trusted) {
  if (entry.def.is_private && !trusted) return InvalidSecret("secret is private");
  if (auto m = MaterializeValueLocked(entry); !m) return std::unexpected(m.error());
  if (!entry.value) {
    return NoSecret("secret '" + entry.def.uuid.ToString() + "' does not have a value");
  }
  return entry.value->Clone();
}

Result<SecretBytes> SecretDriver::GetValue(const Caller& caller, const Uuid& uuid, unsigned flags) {
  if (caller.read_only) return ReadOnlyDenied("virSecretGetValue");
  if (flags != 0) return UnsupportedFlags(ErrorDomain::kSecret, flags, "secretGetValue");
  MutexLock lock(mutex_);
  auto it = by_uuid_.find(uuid);
  if (it == by_uuid_.end()) return NoMatchingUuid(uuid);
  return ReadValueLocked(*it->second, caller.trusted);
}

Result<SecretBytes> SecretDriver::GetValueForConsumer(const Uuid& uuid, UsageType expected) {
  MutexLock lock(mutex_);
  auto it = by_uuid_.find(uuid);
  if (it == by_uuid_.end()) return NoMatchingUuid(uuid);
  const SecretDef& def = it->second->def;
  if (def.usage_type != expected && def.usage_type != UsageType::kNone) {
    return Fail(ErrorCode::kInvalidArg, ErrorDomain::kSecret,
                "invalid argument: secret with uuid " + uuid.ToString() + " is of type '" +
                    std::string(UsageTypeName(def.usage_type)) + "' not expected '" +
                    std::string(UsageTypeName(expected)) + "' type");
  }
  return ReadValueLocked(*it->second, /*trusted=*/true);
}

Result<SecretBytes> SecretDriver::GetValueForConsumer(UsageType expected, std::string_view usage_id) {
  MutexLock lock(mutex_);
  auto u = by_usage_.find(UsageKey{expected, std::string(usage_id)});
  if (expected == UsageType::kNone || u == by_usage_.end()) {
    return NoSecret("no secret with matching usage '" + std::string(usage_id) + "'");
  }
  return ReadValueLocked(*by_uuid_.at(u->second), /*trusted=*/true);
}

Result<std::string> SecretDriver::GetXmlDesc(const Caller&, const Uuid& uuid, unsigned flags) {
  if (flags != 0) return UnsupportedFlags(ErrorDomain::kSecret, flags, "secretGetXMLDesc");
  MutexLock lock(mutex_);
  auto it = by_uuid_.find(uuid);
  if (it == by_uuid_.end()) return NoMatchingUuid(uuid);
  return FormatSecretXml(it->second->def);
}

Result<SecretRef> SecretDriver::LookupByUuid(const Uuid& uuid) const {
  MutexLock lock(mutex_);
  auto it = by_uuid_.find(uuid);
  if (it == by_uuid_.end()) return NoMatchingUuid(uuid);
  return RefOf(it->second->def);
}

Result<SecretRef> SecretDriver::LookupByUsage(int usage_type, std::string_view usage_id) const {
  MutexLock lock(mutex_);
  if (usage_type > 0 && usage_type < kUsageTypeLast) {
    auto u = by_usage_.find(UsageKey{static_cast<UsageType>(usage_type), std::string(usage_id)});
    if (u != by_usage_.end()) return RefOf(by_uuid_.at(u->second)->def);
  }
  return NoSecret("no secret with matching usage '" + std::string(usage_id) + "'");
}

Result<std::vector<SecretRef>> SecretDriver::ListAll(unsigned flags) const {
  if (unsigned bad = flags & ~kListAllFlags) {
    return UnsupportedFlags(ErrorDomain::kSecret, bad, "secretConnectListAllSecrets");
  }
  auto group_accepts = [](unsigned group, unsigned yes_bit, bool value) {
    unsigned bits = group & (yes_bit | yes_bit << 1);
    if (bits == 0 || bits == (yes_bit | yes_bit << 1)) return true;
    return (bits == yes_bit) == value;
  };
  std::vector<SecretRef> out;
  MutexLock lock(mutex_);
  out.reserve(by_uuid_.size());
  for (const auto& [uuid, entry] : by_uuid_) {
    if (!group_accepts(flags, kListEphemeral, entry->def.ephemeral)) continue;
    if (!group_accepts(flags, kListPrivate, entry->def.is_private)) continue;
    out.push_back(RefOf(entry->def));
  }
  return out;
}

int SecretDriver::NumOfSecrets() const {
  MutexLock lock(mutex_);
  return static_cast<int>(by_uuid_.size());
}

Result<std::vector<std::string>> SecretDriver::ListUuids(int max) const {
  if (max < 0) {
    return InvalidArg(ErrorDomain::kSecret,
                      "maxuuids in virConnectListSecrets must be greater than or equal to zero");
  }
  std::vector<std::string> out;
  MutexLock lock(mutex_);
  for (const auto& [uuid, entry] : by_uuid_) {
    if (out.size() >= static_cast<std::size_t>(max)) break;
    out.push_back(uuid.ToString());
  }
  return out;
}

std::size_t SecretDriver::EphemeralCount() const {
  MutexLock lock(mutex_);
  return ephemeral_count_;
}

void SecretDriver::Reload() {
  MutexLock lock(mutex_);
  auto loaded = LoadEncryption(encryption_options_, store_->paths(), store_->env());
  if (loaded) {
    store_->SetValueProtection(loaded->protection());
  } else {
    Log(LogLevel::kError, kLogWhere,
        "cannot reload the encryption settings, keeping the previous ones: " + loaded.error().message());
  }
  LoadAllLocked(/*reload=*/true);
}

void SecretDriver::LoadAllLocked(bool reload) {
  auto listing = store_->List();
  if (!listing) {
    Log(LogLevel::kError, kLogWhere, "Error reading secrets: " + listing.error().message());
    return;
  }
  const std::vector<std::string>& files = listing->definition_files;
  // Reading and parsing are independent per file, so they run in parallel; registration then
  // happens strictly in readdir order, which decides who wins a usage conflict.
  struct Loaded {
    Result<SecretDef> def = std::unexpected(Error());
    bool value_on_disk = false;
    Result<std::optional<SecretBytes>> value = std::optional<SecretBytes>();
  };
  std::vector<Loaded> loaded(files.size());
  auto work = [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      Loaded& item = loaded[i];
      item.def = store_->ReadDefinition(files[i]);
      if (!item.def) continue;
      auto vf = listing->value_files.find(item.def->uuid.ToString());
      if (vf == listing->value_files.end()) continue;
      // Deferred only when it can hardly fail: regular files of a persistent secret. Anything
      // else is read now so that an unreadable value skips the secret, as libvirt does.
      if (vf->second && !item.def->ephemeral) {
        item.value_on_disk = true;
      } else {
        item.value = store_->ReadValue(item.def->uuid);
      }
    }
  };
  std::size_t n = files.size();
  std::size_t threads = std::min<std::size_t>(std::max(1u, std::thread::hardware_concurrency()), 8);
  if (n < 2048 || threads < 2) {
    work(0, n);
  } else {
    std::vector<std::thread> pool;
    std::size_t chunk = (n + threads - 1) / threads;
    for (std::size_t t = 0; t < threads; ++t) {
      std::size_t b = t * chunk, e = std::min(n, b + chunk);
      if (b < e) pool.emplace_back(work, b, e);
    }
    for (auto& th : pool) th.join();
  }

  by_uuid_.reserve(by_uuid_.size() + n);
  by_usage_.reserve(by_usage_.size() + n);
  for (Loaded& item : loaded) {
    if (!item.def) {
      Log(LogLevel::kError, kLogWhere, "Error reading secret: " + item.def.error().message());
      continue;
    }
    SecretDef& def = *item.def;
    auto it = by_uuid_.find(def.uuid);
    Entry* existing = it == by_uuid_.end() ? nullptr : it->second.get();
    if (auto ok = CheckDefinitionLocked(def, existing); !ok) {
      Log(LogLevel::kError, kLogWhere, "Error reading secret: " + ok.error().message());
      continue;
    }
    if (!item.value) {
      Log(LogLevel::kError, kLogWhere, "Error reading secret: " + item.value.error().message());
      if (existing != nullptr && reload) EraseLocked(def.uuid);
      continue;
    }
    // An empty value file (libvirt 9.0 loads it as a zero-length value that get-value then
    // fails on with "cause is unknown") means no value here.
    if (*item.value && (*item.value)->empty()) item.value->reset();
    Entry* target = existing;
    if (existing != nullptr) {
      ReindexLocked(existing->def, def);
      existing->def = std::move(def);
    } else {
      auto entry = std::make_unique<Entry>();
      entry->def = std::move(def);
      target = entry.get();
      InsertLocked(std::move(entry));
    }
    target->value = std::move(*item.value);
    target->value_on_disk = item.value_on_disk;
  }
}

}  // namespace vsecret
