// SecretStore: libvirt's on-disk layout for one driver instance (secret-driver spec §3).
//
//   <config_dir>/<uuid>.xml      canonical XML of a persistent secret (mode 0600)
//   <config_dir>/<uuid>.base64   its value, base64, one line, no newline (mode 0600)
//   <state_dir>/driver.pid       exclusive instance lock, holds the decimal pid, no newline
//
// The store performs file operations only; the semantics (which writes happen when, what a
// load conflict means) live in SecretDriver. Every write is crash-safe: temp file "<name>.new"
// (mode 0600), write, fsync, close, rename, fsync of the directory. On failure the temp file
// is removed and the previous file is untouched.
//
// Thread-safety: a SecretStore is not internally synchronised; the driver serialises calls.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/env.h"
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

  // One pass over the config dir: the definition files, and which secrets have value files.
  struct Listing {
    // Names (not paths) of the "*.xml" entries, in readdir order (as ListDefinitionFiles).
    std::vector<std::string> definition_files;
    // File stem ("<uuid>") -> true when every value file of that secret is known to be a
    // regular file (so reading it can be deferred), false when one is a directory, another
    // special file, or of a type readdir did not report.
    std::unordered_map<std::string, bool> value_files;
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
  // The stored value of a secret, or nullopt when it has no value file. Read or decode
  // failures are errors: "cannot open '<path>': <strerror>", "cannot read '<path>': <strerror>"
  // (e.g. "Is a directory"), and for a file over kMaxValueFileBytes
  // "Failed to read file '<path>': Value too large for defined data type".
  Result<std::optional<SecretBytes>> ReadValue(const Uuid& uuid) const;

  // Both writes replace the file atomically (see store/atomic_file.h for the failure messages);
  // on failure the previous file is intact and no "<name>.new" is left behind.
  Result<void> WriteDefinition(const SecretDef& def);
  // Writes the value file, then removes value files of the other formats (errors ignored).
  Result<void> WriteValue(const Uuid& uuid, const SecretBytes& value);
  // Unlinks <uuid>.xml; ENOENT is success, any other error is
  // "cannot unlink '<path>': <strerror>".
  Result<void> DeleteDefinition(const Uuid& uuid);
  // Unlinks every value file of the secret, ignoring errors.
  void DeleteValues(const Uuid& uuid);

  std::string DefinitionPath(const Uuid& uuid) const;
  std::string ValuePath(const Uuid& uuid) const;

 private:
  SecretStore(StorePaths paths, Env* env, std::unique_ptr<PidFileLock> lock);

  std::string ConfigPath(std::string_view file_name) const;

  StorePaths paths_;
  Env* env_;  // not owned; outlives the store
  std::unique_ptr<PidFileLock> lock_;
  // The format new values are written in, and the one ReadValue reads. Files of the other known
  // formats are removed after a write and ignored on read (as libvirt 9.0 ignores .aes256cbc).
  std::unique_ptr<ValueCodec> value_codec_;
};

}  // namespace vsecret
