#include "store/store_maintenance.h"

#include <algorithm>
#include <atomic>
#include <thread>

#include "base/log.h"
#include "base/strings.h"
#include "store/atomic_file.h"
#include "store/systemd_creds.h"

namespace vsecret {
namespace {

constexpr std::string_view kLogWhere = "store_maintenance";
// Values rewritten between two directory fsyncs. Large enough that the fsyncs cost little,
// small enough that progress is visible and an interrupted run leaves few stale files.
constexpr std::size_t kBatch = 256;
constexpr mode_t kKeyFileMode = 0600;

std::string FoundLabel(const SecretStore::StoredValue& stored) {
  std::string label(FormatName(stored.format));
  if (stored.key_id) label.append(" ").append(KeyIdToHex(*stored.key_id));
  return label;
}

void Report(const ProgressCallback& progress, std::size_t done, std::size_t total) {
  if (progress) progress(done, total);
}

}  // namespace

namespace {

struct StoredEntry {
  Uuid uuid;
  unsigned formats = kAllFormats;  // the value files present when listed
};

Result<std::vector<StoredEntry>> ListEntries(const SecretStore& store) {
  auto listing = store.List();
  if (!listing) return std::unexpected(listing.error());
  std::vector<StoredEntry> entries;
  entries.reserve(listing->value_formats.size());
  for (const auto& [stem, formats] : listing->value_formats) {
    std::optional<Uuid> uuid = Uuid::Parse(stem);
    if (uuid && uuid->ToString() == stem) entries.push_back(StoredEntry{*uuid, formats});
  }
  std::sort(entries.begin(), entries.end(),
            [](const StoredEntry& a, const StoredEntry& b) { return a.uuid < b.uuid; });
  return entries;
}

// What happened to one value during a conversion.
struct Outcome {
  enum class Kind { kGone, kFailed, kUnchanged, kRewritten } kind = Kind::kGone;
  std::string found;    // FoundLabel of what was read
  std::string failure;  // for kFailed
  unsigned formats = 0;
};

// Runs fn(i) for every i in [begin, end) on up to kWorkers threads. The work is dominated by
// fsync and file creation, which overlap well and let the file system group its commits.
void ParallelFor(std::size_t begin, std::size_t end, const std::function<void(std::size_t)>& fn) {
  constexpr std::size_t kWorkers = 8;
  const std::size_t n = end - begin;
  const std::size_t workers = std::min(kWorkers, n);
  if (workers <= 1) {
    for (std::size_t i = begin; i < end; ++i) fn(i);
    return;
  }
  std::atomic<std::size_t> next{begin};
  std::vector<std::thread> pool;
  pool.reserve(workers);
  for (std::size_t w = 0; w < workers; ++w) {
    pool.emplace_back([&] {
      for (std::size_t i = next++; i < end; i = next++) fn(i);
    });
  }
  for (std::thread& t : pool) t.join();
}

}  // namespace

Result<std::vector<Uuid>> ListStoredValues(const SecretStore& store) {
  auto entries = ListEntries(store);
  if (!entries) return std::unexpected(entries.error());
  std::vector<Uuid> uuids;
  uuids.reserve(entries->size());
  for (const StoredEntry& e : *entries) uuids.push_back(e.uuid);
  return uuids;
}

Result<MaintenanceReport> VerifyStore(const SecretStore& store, const ProgressCallback& progress) {
  auto listing = store.List();
  if (!listing) return std::unexpected(listing.error());
  auto entries = ListEntries(store);
  if (!entries) return std::unexpected(entries.error());
  MaintenanceReport report;
  for (const std::string& file : listing->definition_files) {
    if (auto def = store.ReadDefinition(file); !def)
      report.failures.push_back(file + ": " + def.error().message());
  }
  report.values = entries->size();
  for (std::size_t i = 0; i < entries->size(); ++i) {
    const StoredEntry& entry = (*entries)[i];
    auto stored = store.ReadStoredValue(entry.uuid, entry.formats);
    if (!stored) {
      report.failures.push_back(entry.uuid.ToString() + ": " + stored.error().message());
    } else if (*stored) {
      ++report.found[FoundLabel(**stored)];
      ++report.unchanged;
    }
    if ((i + 1) % kBatch == 0) Report(progress, i + 1, entries->size());
  }
  Report(progress, entries->size(), entries->size());
  return report;
}

Result<MaintenanceReport> ConvertValues(SecretStore& store, ValueFormat format,
                                        const ProgressCallback& progress) {
  auto entries = ListEntries(store);
  if (!entries) return std::unexpected(entries.error());
  const ValueProtection& protection = store.value_protection();
  if (format != ValueFormat::kBase64 && !protection.keyring) {
    return InvalidArg(ErrorDomain::kSecret, "cannot write " + std::string(FormatName(format)) +
                                                " values: no encryption key is configured");
  }
  std::optional<KeyId> write_id;
  if (protection.keyring) write_id = protection.keyring->write_key().id();

  // Reads one value and, unless it is already in the target form, writes its replacement
  // (fsynced and renamed into place, but with the directory not yet fsynced).
  auto convert = [&](const StoredEntry& entry) {
    Outcome out;
    auto stored = store.ReadStoredValue(entry.uuid, entry.formats);
    if (!stored) {
      out.kind = Outcome::Kind::kFailed;
      out.failure = stored.error().message();
      return out;
    }
    if (!*stored) return out;
    SecretStore::StoredValue& value = **stored;
    out.found = FoundLabel(value);
    out.formats = entry.formats;
    const bool in_place = value.format == format && value.file_count == 1 &&
                          (format != ValueFormat::kSealed || value.key_id == write_id);
    if (in_place) {
      out.kind = Outcome::Kind::kUnchanged;
    } else if (auto written = store.WriteValueFile(entry.uuid, value.value, format, /*sync_dir=*/false);
               !written) {
      out.kind = Outcome::Kind::kFailed;
      out.failure = written.error().message();
    } else {
      out.kind = Outcome::Kind::kRewritten;
    }
    return out;
  };

  MaintenanceReport report;
  report.values = entries->size();
  std::vector<Outcome> outcomes;
  for (std::size_t begin = 0; begin < entries->size(); begin += kBatch) {
    const std::size_t end = std::min(entries->size(), begin + kBatch);
    outcomes.assign(end - begin, Outcome{});
    ParallelFor(begin, end, [&](std::size_t i) { outcomes[i - begin] = convert((*entries)[i]); });
    // The replacements are durable before any file they replace is removed.
    bool any_rewritten = false;
    for (const Outcome& o : outcomes) any_rewritten |= o.kind == Outcome::Kind::kRewritten;
    if (any_rewritten) store.SyncConfigDir();
    bool removed = false;
    for (std::size_t i = begin; i < end; ++i) {
      const Outcome& o = outcomes[i - begin];
      const std::string uuid = (*entries)[i].uuid.ToString();
      if (!o.found.empty()) ++report.found[o.found];
      switch (o.kind) {
        case Outcome::Kind::kGone:
          break;
        case Outcome::Kind::kFailed:
          report.failures.push_back(uuid + ": " + o.failure);
          break;
        case Outcome::Kind::kUnchanged:
          ++report.unchanged;
          break;
        case Outcome::Kind::kRewritten:
          ++report.rewritten;
          removed |= store.RemoveValueFilesExcept((*entries)[i].uuid, format, o.formats);
          break;
      }
    }
    if (removed) store.SyncConfigDir();
    Report(progress, end, entries->size());
  }
  if (entries->empty()) Report(progress, 0, 0);
  return report;
}

Result<RotationReport> RotateKey(SecretStore& store, const LoadedEncryption& current,
                                 const RotationRequest& request, const ProgressCallback& progress) {
  Env* env = store.env();
  const StorePaths& paths = store.paths();
  if (!current.decision.enabled || !current.keyring || !current.decision.key_path) {
    return Fail(
        ErrorCode::kOperationInvalid, ErrorDomain::kSecret,
        "Requested operation is not valid: encryption is not enabled for this store, so there is no key to "
        "rotate");
  }
  const std::string& key_path = *current.decision.key_path;
  if (request.new_key_path == key_path) {
    return InvalidArg(ErrorDomain::kSecret,
                      "the new key must be in a different file than the current key " + Quoted(key_path));
  }
  const bool to_credential = !request.credential_path.empty();
  if (current.decision.source == KeySource::kCredential && !to_credential) {
    return InvalidArg(ErrorDomain::kSecret, "the current key is the systemd credential " + Quoted(key_path) +
                                                "; give the credential file to re-seal the new key into");
  }
  auto new_key = ReadKeyFile(env, request.new_key_path);
  if (!new_key) return std::unexpected(new_key.error());
  // The configured key is the keyring's first; a pending rotation's key, if any, follows it.
  const EncryptionKey& configured = current.keyring->keys().front();
  if (current.rotation && current.rotation->pending_key_id != new_key->id()) {
    return Fail(ErrorCode::kOperationInvalid, ErrorDomain::kSecret,
                "Requested operation is not valid: a rotation to " +
                    Quoted(current.rotation->pending_key_path) + " (key " +
                    KeyIdToHex(current.rotation->pending_key_id) + ") is pending; complete it first");
  }
  if (!current.rotation && configured.id() == new_key->id()) {
    return InvalidArg(ErrorDomain::kSecret, "the new key is the key already in use");
  }

  // 1. Record the incoming key, so that anything opening the store from now on loads both.
  if (!current.rotation) {
    if (auto w = WriteRotationJournal(env, paths, RotationJournal{request.new_key_path, new_key->id()}); !w) {
      return std::unexpected(w.error());
    }
  }
  Log(LogLevel::kInfo, kLogWhere,
      "rotating from key " + KeyIdToHex(configured.id()) + " to key " + KeyIdToHex(new_key->id()));

  // 2. Re-seal every value with the new key; the old one still reads what is not done yet.
  std::vector<EncryptionKey> keys;
  keys.push_back(configured.Clone());
  keys.push_back(new_key->Clone());
  // .vsenc names its key, so a half-rotated store stays unambiguous: .aes256cbc files are all
  // under the configured key (the keyring's first), .vsenc files say which key they need.
  store.SetValueProtection(
      ValueProtection{true, std::make_shared<const Keyring>(std::move(keys), 1), ValueFormat::kSealed});
  RotationReport report;
  auto converted = ConvertValues(store, ValueFormat::kSealed, progress);
  if (!converted) return std::unexpected(converted.error());
  report.values = std::move(*converted);
  if (!report.values.failures.empty()) return report;  // journal kept: both keys stay loaded

  // 3. Install the new key where the configuration finds it. Until this completes the journal
  //    keeps the new key loaded; afterwards the old key is no longer needed by any value.
  if (to_credential) {
    if (auto sealed =
            SealWithSystemdCreds(env, new_key->bytes(), request.credential_name, request.credential_path);
        !sealed) {
      return std::unexpected(sealed.error());
    }
    report.installed_at = request.credential_path;
  } else {
    if (auto w = RewriteFileAtomically(env, key_path, new_key->bytes().span(), kKeyFileMode); !w) {
      return std::unexpected(w.error());
    }
    report.installed_at = key_path;
  }

  // 4. Done: forget the journal and the old key.
  if (auto removed = RemoveRotationJournal(env, paths); !removed) return std::unexpected(removed.error());
  std::vector<EncryptionKey> only_new;
  only_new.push_back(std::move(*new_key));
  store.SetValueProtection(
      ValueProtection{true, std::make_shared<const Keyring>(std::move(only_new), 0), current.store_format});

  // 5. Back to the store's own format (libvirt's .aes256cbc unless it opted in to .vsenc), now
  //    that a single key is in use. Values this step cannot rewrite stay readable as .vsenc.
  if (current.store_format != ValueFormat::kSealed) {
    auto back = ConvertValues(store, current.store_format, progress);
    if (!back) return std::unexpected(back.error());
    report.values.failures = std::move(back->failures);
    report.reformatted = back->rewritten;
    if (!report.values.failures.empty()) return report;
  }
  report.completed = true;
  return report;
}

}  // namespace vsecret
