// SecretStore: libvirt's on-disk layout for one driver instance.
//
//   <config_dir>/<uuid>.xml        canonical XML of a persistent secret (mode 0600)
//   <config_dir>/<uuid>.base64     its value, base64, one line, no newline (mode 0600)
//   <config_dir>/<uuid>.aes256cbc  its value encrypted the libvirt 12.1 way (written when encrypting)
//   <config_dir>/<uuid>.vsenc      its value sealed with AES-256-GCM (written when encrypting a
//                                  store that opted in to it, and during a key rotation)
//   <state_dir>/driver.pid         exclusive instance lock, holds the decimal pid, no newline
//
// Which value format is written, and which keys decrypt, is the ValueProtection set on the store
// (base64 and no keys until SetValueProtection is called); see store/value_codec.h for formats.
//
// The store performs file operations only; the semantics (which writes happen when, what a
// load conflict means) live in SecretDriver. Every write is crash-safe: temp file "<name>.new"
// (mode 0600), write, fsync, close, rename, fsync of the directory. On failure the temp file
// is removed and the previous file is untouched.
//
// Thread-safety: a SecretStore is not internally synchronised; the driver serialises calls.
// The const reads, and WriteValueFile on distinct UUIDs, may run concurrently with each other
// (bulk loading and conversion do) as long as nothing else mutates the store meanwhile.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/env.h"
#include "store/encryption_key.h"
#include "store/value_codec.h"
#include "vsecret/error.h"
#include "vsecret/secret.h"
#include "vsecret/secret_bytes.h"

namespace vsecret {

struct StorePaths {
  std::string config_dir;  // XML and value files
  std::string state_dir;   // driver.pid lock

  // root/etc/secrets and root/run/secrets (the embedded layout).
  static StorePaths ForRoot(const std::string& root);
};

class SecretStore {
 public:
  // Value files larger than this are refused on read (libvirt 12.x: "more won't fit in the RPC
  // buffer"); the same bound applies to definition files.
  static constexpr std::size_t kMaxValueFileBytes = 10 * 1024 * 1024;

  // Creates both directories (and missing parents) with mode 0700 when absent, existing ones
  // untouched ("cannot create config|state directory '<dir>': <strerror>"), then takes the
  // instance lock: <state_dir>/driver.pid (0644 before the umask) holding the decimal pid. A
  // second instance on the same state dir, in this process or another, fails with
  // "Failed to acquire pid file '<state_dir>/driver.pid': Resource temporarily unavailable".
  // The lock conflicts with libvirt's own, so vsecret and libvirtd cannot share a root.
  static Result<std::unique_ptr<SecretStore>> Open(const StorePaths& paths, Env* env = Env::Default());
  ~SecretStore();  // releases the lock and removes driver.pid

  SecretStore(const SecretStore&) = delete;
  SecretStore& operator=(const SecretStore&) = delete;

  const StorePaths& paths() const { return paths_; }
  Env* env() const { return env_; }

  // Replaces the write format and the keys (driver start-up and reload). Not synchronised with
  // concurrent reads: the caller serialises, as for every other call.
  void SetValueProtection(ValueProtection protection);
  const ValueProtection& value_protection() const { return protection_; }
  // The protection's encrypted format when encrypting, .base64 otherwise.
  ValueFormat write_format() const {
    return protection_.encrypt ? protection_.encrypted_format : ValueFormat::kBase64;
  }
  // Whether an encrypted value file (.aes256cbc or .vsenc) has been seen in the config dir by
  // List() or written since the store was opened. While it is true and the store does not
  // encrypt, WriteValue refuses to write a value in the clear (see there).
  bool holds_encrypted_values() const { return holds_encrypted_.load(std::memory_order_relaxed); }

  // One pass over the config dir: the definition files, and which secrets have value files.
  struct Listing {
    // Names (not paths) of the "*.xml" entries, in readdir order (as ListDefinitionFiles).
    std::vector<std::string> definition_files;
    // File stem ("<uuid>") -> true when every value file of that secret is known to be a
    // regular file (so reading it can be deferred), false when one is a directory, another
    // special file, or of a type readdir did not report.
    std::unordered_map<std::string, bool> value_files;
    // File stem -> the value formats present (FormatBit), for callers that want to skip probing
    // for files that do not exist.
    std::unordered_map<std::string, unsigned> value_formats;
  };
  Result<Listing> List() const;

  // Names (not paths) of the "*.xml" entries of the config dir, in readdir order; "*.xml.new"
  // leftovers of an interrupted write are not listed. A missing config dir gives an empty list;
  // another listing failure is "cannot open directory '<dir>': <strerror>".
  Result<std::vector<std::string>> ListDefinitionFiles() const;
  // Reads and parses <config_dir>/<file_name> without schema validation (libxml2 messages
  // name the file path), then checks that file_name is "<canonical uuid>.xml":
  // "internal error: <uuid> does not match secret file name '<file_name>'" (the "<uuid>" is
  // literal, as in libvirt). An unreadable file is "XML error: failed to parse xml document
  // '<path>'" (the reason is logged); a directory parses as an empty document, as in libvirt.
  Result<SecretDef> ReadDefinition(const std::string& file_name) const;
  // The stored value of a secret, or nullopt when it has no value file. Read failures are
  // errors: "cannot open '<path>': <strerror>", "cannot read '<path>': <strerror>" (e.g. "Is a
  // directory"), and for a file over kMaxValueFileBytes "Failed to read file '<path>': Value too
  // large for defined data type"; decode failures are the codec's (store/value_codec.h).
  //
  // When a secret has more than one value file (a crash between writing one format and removing
  // the others, or files copied in by hand), the newest valid one wins: candidates are tried by
  // modification time, newest first; a tie goes to write_format(), then to .vsenc, .aes256cbc,
  // .base64 in that order. A candidate that
  // fails to decode as corrupt (tampered, truncated, bad padding) is logged and skipped; one that
  // no loaded key opens stops the read with that error, so a key problem is never masked by an
  // older copy of the value. libvirt instead lets .base64 win, which resurrects the old value.
  Result<std::optional<SecretBytes>> ReadValue(const Uuid& uuid) const;

  // ReadValue with what a maintenance pass needs to know about the file that won.
  struct StoredValue {
    SecretBytes value;
    ValueFormat format = ValueFormat::kBase64;
    std::optional<KeyId> key_id;  // .vsenc only
    std::size_t file_count = 0;   // value files found for the secret
  };
  // `present` limits the formats probed (a Listing's value_formats entry); by default all are.
  Result<std::optional<StoredValue>> ReadStoredValue(const Uuid& uuid, unsigned present = kAllFormats) const;

  // Both writes replace the file atomically (see store/atomic_file.h for the failure messages);
  // on failure the previous file is intact and no "<name>.new" is left behind.
  Result<void> WriteDefinition(const SecretDef& def);
  // Writes the value file in write_format(), then removes value files of the other formats
  // (errors ignored). When the store does not encrypt (no key loaded, or encrypt_data = 0) but
  // holds encrypted values (holds_encrypted_values(), or an encrypted file of this very secret),
  // nothing is written and nothing removed: "Requested operation is not valid: the secrets in
  // '<config_dir>' are encrypted but no encryption key is loaded; refusing to store the value of
  // secret '<uuid>' in the clear" (OPERATION_INVALID). libvirt 12.x writes the .base64 file and
  // deletes the encrypted one.
  Result<void> WriteValue(const Uuid& uuid, const SecretBytes& value);
  // For bulk rewrites: writes the value file of `format` (temp file, fsync, rename) and, unless
  // sync_dir, neither fsyncs the directory nor removes the other formats. The caller then calls
  // SyncConfigDir() before RemoveValueFilesExcept(), so that an old file is never removed before
  // its replacement is durable.
  Result<void> WriteValueFile(const Uuid& uuid, const SecretBytes& value, ValueFormat format, bool sync_dir);
  // Unlinks the value files of uuid other than `keep`, ignoring errors; true if any was removed.
  // The directory is not fsynced.
  // `present` limits the formats tried, as for ReadStoredValue.
  bool RemoveValueFilesExcept(const Uuid& uuid, ValueFormat keep, unsigned present = kAllFormats);
  void SyncConfigDir();
  // Unlinks <uuid>.xml; ENOENT is success, any other error is
  // "cannot unlink '<path>': <strerror>".
  Result<void> DeleteDefinition(const Uuid& uuid);
  // Unlinks every value file of the secret, ignoring errors.
  void DeleteValues(const Uuid& uuid);

  std::string DefinitionPath(const Uuid& uuid) const;
  // The value file written for uuid: in write_format(), or in the given format.
  std::string ValuePath(const Uuid& uuid) const { return ValuePath(uuid, write_format()); }
  std::string ValuePath(const Uuid& uuid, ValueFormat format) const;

 private:
  SecretStore(StorePaths paths, Env* env, std::unique_ptr<PidFileLock> lock);

  std::string ConfigPath(std::string_view file_name) const;
  const ValueCodec& CodecFor(ValueFormat format) const;

  StorePaths paths_;
  Env* env_;  // not owned; outlives the store
  std::unique_ptr<PidFileLock> lock_;
  ValueProtection protection_;
  // See holds_encrypted_values(); atomic because bulk conversion writes distinct UUIDs in parallel.
  mutable std::atomic<bool> holds_encrypted_ = false;
  // One codec per format, rebuilt by SetValueProtection around protection_.keyring.
  std::unique_ptr<ValueCodec> base64_codec_;
  std::unique_ptr<ValueCodec> cbc_codec_;
  std::unique_ptr<ValueCodec> sealed_codec_;
};

}  // namespace vsecret
