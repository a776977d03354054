// SecretDriver: the semantics of libvirt's secret driver: the object rules (define, undefine,
// values, lookups, listing, events) and how the store is loaded and reloaded.
//
// It owns the registry (O(1) lookup by UUID and by (usage type, usage id)), applies the
// define/redefine/undefine/set-value/get-value rules, persists through a SecretStore, and
// publishes events on its EventBus. The embedded connection and the daemon both call it; it
// is the only place these rules live.
//
// Deliberate differences from libvirt 9.0 (defects of its driver), documented in the README:
//  * Going persistent -> ephemeral deletes the stale <uuid>.xml, and undefine always removes
//    it, so an undefined or ephemeral secret never reappears after a restart.
//  * A redefine that changes the usage type is checked for usage uniqueness like a new define.
//  * An empty value is rejected ("value in virSecretSetValue must not be NULL") in-process too.
//  * Several value files of one secret are resolved by the store (the newest valid one wins,
//    see SecretStore::ReadValue), never by "last read wins", which lets a stale .base64 win.
//
// Value files are read lazily: at load only their presence (and that they are regular files) is
// checked; the content is read on first use. A value file that turns out unreadable then fails
// that call instead of hiding the secret at start-up as libvirt does.
//
// Thread-safety: all public methods are safe to call concurrently; one mutex serialises the
// registry and the store (the *Locked helpers run with it held). Events are dispatched after
// that mutex is released.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/thread_annotations.h"
#include "driver/event_bus.h"
#include "store/encryption_config.h"
#include "store/secret_store.h"
#include "vsecret/error.h"
#include "vsecret/secret.h"
#include "vsecret/secret_bytes.h"

namespace vsecret {

// Who is calling. Read-only callers may only look up, list and dump XML. Trusted callers are
// other in-process subsystems (volumes) acting on the user's behalf: they may read private
// values, as libvirt's elevated identity may.
struct Caller {
  bool read_only = false;
  bool trusted = false;
};

class SecretDriver {
 public:
  // Opens the store at paths (creating directories, taking the instance lock) and loads every
  // secret found there. Bad files are logged and skipped, never fatal.
  // Encryption at rest follows secret.conf next to the config directory and the process
  // environment (EncryptionOptions::ForStore); a bad secret.conf or key fails the open.
  static Result<std::unique_ptr<SecretDriver>> Open(const StorePaths& paths, Env* env = Env::Default());
  // The same with explicit encryption options (tests, tools).
  static Result<std::unique_ptr<SecretDriver>> Open(const StorePaths& paths,
                                                    const EncryptionOptions& encryption,
                                                    Env* env = Env::Default());
  ~SecretDriver();

  Result<SecretRef> DefineXml(const Caller& caller, std::string_view xml, unsigned flags) EXCLUDES(mutex_);
  Result<void> Undefine(const Caller& caller, const Uuid& uuid) EXCLUDES(mutex_);
  Result<void> SetValue(const Caller& caller, const Uuid& uuid, const SecretBytes& value, unsigned flags)
      EXCLUDES(mutex_);
  Result<SecretBytes> GetValue(const Caller& caller, const Uuid& uuid, unsigned flags) EXCLUDES(mutex_);
  Result<std::string> GetXmlDesc(const Caller& caller, const Uuid& uuid, unsigned flags) EXCLUDES(mutex_);

  Result<SecretRef> LookupByUuid(const Uuid& uuid) const EXCLUDES(mutex_);
  Result<SecretRef> LookupByUsage(int usage_type, std::string_view usage_id) const EXCLUDES(mutex_);
  Result<std::vector<SecretRef>> ListAll(unsigned flags) const EXCLUDES(mutex_);
  int NumOfSecrets() const EXCLUDES(mutex_);
  Result<std::vector<std::string>> ListUuids(int max) const EXCLUDES(mutex_);

  // The value a consumer (volume, disk) needs, looked up by UUID with the expected usage type
  // checked ("secret with uuid <u> is of type '<actual>' not expected '<expected>' type"; usage
  // none is tolerated) or by (expected type, usage id). Always a trusted read.
  Result<SecretBytes> GetValueForConsumer(const Uuid& uuid, UsageType expected) EXCLUDES(mutex_);
  Result<SecretBytes> GetValueForConsumer(UsageType expected, std::string_view usage_id) EXCLUDES(mutex_);

  // Re-reads secret.conf and the key, then every XML file (SIGHUP): existing UUIDs are redefined
  // under the redefine rules and get their value re-read; secrets whose files vanished stay in
  // memory. If the encryption settings can no longer be loaded, the error is logged and the
  // previous settings and key stay in force (values are never written in the clear because a
  // key file went missing).
  void Reload() EXCLUDES(mutex_);

  // Number of ephemeral secrets held; a session daemon must not idle-exit while it is > 0.
  std::size_t EphemeralCount() const EXCLUDES(mutex_);

  EventBus& events() { return events_; }
  const StorePaths& paths() const { return store_->paths(); }

 private:
  struct Entry {
    SecretDef def;
    std::optional<SecretBytes> value;
    // The value is in a regular value file that has not been read yet. Values are read on
    // first use, so start-up reads half the files and values nobody asks for never enter memory.
    bool value_on_disk = false;
  };
  struct UsageKey {
    UsageType type;
    std::string id;
    bool operator==(const UsageKey&) const = default;
  };
  struct UsageKeyHash {
    std::size_t operator()(const UsageKey& k) const noexcept;
  };

  SecretDriver(std::unique_ptr<SecretStore> store, EncryptionOptions encryption);

  void LoadAllLocked(bool reload) REQUIRES(mutex_);
  // Checks a new or changed definition against the registry; nullptr entry for a new secret.
  Result<void> CheckDefinitionLocked(const SecretDef& def, const Entry* existing) const REQUIRES(mutex_);
  void InsertLocked(std::unique_ptr<Entry> entry) REQUIRES(mutex_);
  void EraseLocked(const Uuid& uuid) REQUIRES(mutex_);
  void ReindexLocked(const SecretDef& old_def, const SecretDef& new_def) REQUIRES(mutex_);
  Result<SecretBytes> ReadValueLocked(Entry& entry, bool trusted) REQUIRES(mutex_);
  // Reads a deferred value file into entry.value; an empty file means no value.
  Result<void> MaterializeValueLocked(Entry& entry) REQUIRES(mutex_);
  static SecretRef RefOf(const SecretDef& def);

  std::unique_ptr<SecretStore> store_;
  const EncryptionOptions encryption_options_;
  EventBus events_;

  mutable Mutex mutex_;
  std::unordered_map<Uuid, std::unique_ptr<Entry>, UuidHash> by_uuid_ GUARDED_BY(mutex_);
  std::unordered_map<UsageKey, Uuid, UsageKeyHash> by_usage_ GUARDED_BY(mutex_);
  std::size_t ephemeral_count_ GUARDED_BY(mutex_) = 0;
};

}  // namespace vsecret
