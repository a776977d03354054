// Whole-store operations behind `vsecret-admin` (and reusable by the daemon): verify every value,
// convert every value to one format (migration to .vsenc, export back to libvirt's formats for a
// downgrade) and rotate the master key.
//
// Every operation works on an open SecretStore, so it holds the store's instance lock: no driver
// (embedded or vsecretd) can use the store at the same time, and no value changes underneath.
//
// Crash safety. A value is only ever replaced by rename of a complete, fsynced temp file, and a
// value file of another format is only removed after the directory holding its replacement has
// been fsynced. At every instant each secret therefore has at least one complete value file that
// the keys then configured can open; interrupted operations are resumed by running them again
// (values already in the target form are skipped). Rotation additionally keeps the rotation
// journal (store/encryption_config.h) from before the first value is re-sealed until after the
// new key is installed, so the old and the new key are both loaded by anything that opens the
// store in between.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "store/encryption_config.h"
#include "store/secret_store.h"
#include "store/value_codec.h"
#include "vsecret/error.h"
#include "vsecret/uuid.h"

namespace vsecret {

// Called with (done, total) after each batch and at the end; never with secret data.
using ProgressCallback = std::function<void(std::size_t done, std::size_t total)>;

struct MaintenanceReport {
  std::size_t values = 0;     // secrets with at least one value file
  std::size_t rewritten = 0;  // value files written
  std::size_t unchanged = 0;  // already in the target form
  // What the values were found in: "base64", "aes256cbc", "vsenc <key id>".
  std::map<std::string, std::size_t> found;
  std::vector<std::string> failures;  // "<uuid>: <message>", values left as they were
};

// The UUIDs of every secret that has a value file (whether or not its XML exists), sorted.
// Value files whose stem is not a canonical UUID are ignored, as the loader ignores them.
Result<std::vector<Uuid>> ListStoredValues(const SecretStore& store);

// Reads every definition and every value as the driver would, decrypting with the store's keys.
// Failures are listed in the report, not returned.
Result<MaintenanceReport> VerifyStore(const SecretStore& store, const ProgressCallback& progress);

// Rewrites every value in `format` with the store's write key (store.value_protection()). A value
// that is already in `format`, alone, and (for .vsenc) sealed with the write key is left alone.
// Directory fsyncs and removal of the replaced files are batched, which is what makes a large
// store fast to convert. Values that cannot be read are reported and left in place.
Result<MaintenanceReport> ConvertValues(SecretStore& store, ValueFormat format,
                                        const ProgressCallback& progress);

struct RotationRequest {
  std::string new_key_path;  // raw 32-byte key file, kept until the rotation has completed
  // Where the new key goes once every value is sealed with it: replace the configured key file
  // (empty credential_path), or encrypt it with `systemd-creds encrypt --name=<credential_name>`
  // into credential_path (when the key comes from $CREDENTIALS_DIRECTORY).
  std::string credential_path;
  std::string credential_name = "secrets-encryption-key";
};

struct RotationReport {
  MaintenanceReport values;
  // false: values failed. Before the key is installed (installed_at empty) the journal stays and
  // both keys stay in use; after it, the failures are values left as .vsenc under the new key
  // that `vsecret-admin migrate` moves back to the store's format once fixed.
  bool completed = false;
  std::string installed_at;
  std::size_t reformatted = 0;  // values moved back from .vsenc to the store's format (step 5)
};

// Re-seals every value under the new key and installs it (see the file comment for the order
// of steps). Values are re-sealed as .vsenc, which names its key, and once the new key is the
// only one in use, a store whose format is .aes256cbc (ReadStoreFormat) is rewritten in it. `current` is what
// LoadEncryption returned for this store; encryption must be on. Resumes an interrupted rotation to the same
// key; refuses one to a different key.
Result<RotationReport> RotateKey(SecretStore& store, const LoadedEncryption& current,
                                 const RotationRequest& request, const ProgressCallback& progress);

}  // namespace vsecret
