// Where the encryption settings come from and which key is used: secret.conf plus libvirt 12.1's
// key decision, and vsecret's rotation journal.
//
// Which secret.conf. libvirt 12.x reads /etc/libvirt/secret.conf when it runs as root and
// $XDG_CONFIG_HOME/libvirt/secret.conf (~/.config/...) otherwise, in every mode, embedded
// (secret:///embed?root=DIR) included. vsecret reads the same file, except that a store may
// carry its own secret.conf next to its config directory, which then takes its place as a whole:
//   system   /etc/libvirt/secrets                  -> /etc/libvirt/secret.conf (the same file)
//   session  $XDG_CONFIG_HOME/libvirt/secrets      -> $XDG_CONFIG_HOME/libvirt/secret.conf (same)
//   embedded DIR/etc/secrets (vsecretd --root DIR) -> DIR/etc/secret.conf if it exists, else
//                                                     libvirt's file above
// (a store-local file is a vsecret addition: libvirt 12.x ignores it, so a root shared with
// libvirt should rely on libvirt's file).
//
// Which encrypted format. Values are encrypted in libvirt 12.x's <uuid>.aes256cbc, so that
// libvirt can take the store over at any time, unless the store opted in to vsecret's
// authenticated <uuid>.vsenc: <config_dir>/vsecret-store.conf with `value_format = "vsenc"`
// (written by `vsecret-admin migrate --format vsenc`; libvirt ignores the file, and cannot read
// the values). While a key rotation is pending, new values are written as .vsenc whatever the
// store's format, because .vsenc names its key and .aes256cbc does not.
//
// Key decision (libvirt 12.1's), with P = secrets_encryption_key, E = encrypt_data and
// C = $CREDENTIALS_DIRECTORY/secrets-encryption-key when that variable is set and the file exists:
//   1. key path = P if set, else C if it exists, else unset;
//   2. E unset: encryption is on exactly when there is a key path;
//   3. E = 0:   encryption is off and no key is read, whatever P and C say;
//   4. E = 1:   without a key path, <runtime dir>/libvirt/secrets/encryption-key (runtime dir:
//               $XDG_RUNTIME_DIR, else the user cache dir), also for the system daemon;
//   5. encryption on: the key file is read (store/encryption_key.h: ReadKeyFile); any failure
//      fails start-up. There is no fallback to writing values in the clear.
//
// Rotation journal: while `vsecret-admin rotate` runs, <config_dir>/vsecret-rotation.conf names
// the incoming key file (and its key id). Whenever it exists and encryption is on, that key is
// loaded too and new values are sealed with it, so a store interrupted half-way through a
// rotation stays fully readable (old files need the old key, rewritten ones the new key).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "base/env.h"
#include "conf/secret_conf.h"
#include "store/encryption_key.h"
#include "store/secret_store.h"
#include "store/value_codec.h"
#include "vsecret/error.h"

namespace vsecret {

inline constexpr std::string_view kCredentialName = "secrets-encryption-key";
inline constexpr std::string_view kRotationJournalName = "vsecret-rotation.conf";
inline constexpr std::string_view kStoreFormatFileName = "vsecret-store.conf";

// The parts of the process environment the key decision reads.
struct KeyEnvironment {
  std::optional<std::string> credentials_directory;  // $CREDENTIALS_DIRECTORY, if set and non-empty
  std::string runtime_dir;                           // glib's user runtime dir

  static KeyEnvironment FromProcess();
};

struct EncryptionOptions {
  // secret.conf to read; nullopt means none (every setting unset). A missing file is fine.
  std::optional<std::string> secret_conf_path;
  // Read instead when secret_conf_path does not exist: the file libvirt 12.x reads.
  std::optional<std::string> libvirt_secret_conf_path;
  KeyEnvironment environment;
  // Takes the place of secrets_encryption_key from secret.conf (vsecret-admin --key).
  std::optional<std::string> key_path_override;

  // secret.conf next to paths.config_dir, then libvirt's (see above), and the process environment.
  static EncryptionOptions ForStore(const StorePaths& paths);
  // No secret.conf and an empty environment: encryption stays off.
  static EncryptionOptions Disabled();
};

enum class KeySource { kNone, kConfigured, kCredential, kDefault };
std::string_view KeySourceName(KeySource source);  // "none", "secret.conf", "credential", "default"

struct EncryptionDecision {
  bool enabled = false;
  std::optional<std::string> key_path;
  KeySource source = KeySource::kNone;
};

// Steps 1-4 above. credential_exists says whether C exists (the caller probes the file).
EncryptionDecision DecideEncryption(const SecretConf& conf, const KeyEnvironment& environment,
                                    bool credential_exists);

// Reads secret.conf through env: a missing file gives all-unset settings; an unreadable one
// "Failed to open file '<path>': <strerror>" / "Failed to read file '<path>': <strerror>";
// syntax and type errors as ParseSecretConf.
Result<SecretConf> LoadSecretConf(Env* env, const std::string& path);

struct RotationJournal {
  std::string pending_key_path;
  KeyId pending_key_id{};
};

std::string RotationJournalPath(const StorePaths& paths);
// nullopt when there is no journal; a malformed one is an error naming the file.
Result<std::optional<RotationJournal>> ReadRotationJournal(Env* env, const StorePaths& paths);
// Atomic, mode 0600, directory fsynced.
Result<void> WriteRotationJournal(Env* env, const StorePaths& paths, const RotationJournal& journal);
Result<void> RemoveRotationJournal(Env* env, const StorePaths& paths);

// libvirt's secret.conf for this process: /etc/libvirt/secret.conf as root, else
// $XDG_CONFIG_HOME/libvirt/secret.conf.
std::string LibvirtSecretConfPath();

// The store's encrypted format: .aes256cbc unless <config_dir>/vsecret-store.conf says
// value_format = "vsenc". A malformed file is an error naming it.
Result<ValueFormat> ReadStoreFormat(Env* env, const StorePaths& paths);
// kSealed writes the opt-in file (atomically, mode 0600); any other format removes it.
Result<void> WriteStoreFormat(Env* env, const StorePaths& paths, ValueFormat format);

// Everything the store needs, resolved.
struct LoadedEncryption {
  std::string conf_path;  // the secret.conf read; "" when there was none
  EncryptionDecision decision;
  std::shared_ptr<const Keyring> keyring;   // null when encryption is off
  std::optional<RotationJournal> rotation;  // a rotation in progress (its key is in keyring)

  ValueFormat store_format = ValueFormat::kAes256Cbc;  // ReadStoreFormat
  ValueFormat write_format = ValueFormat::kAes256Cbc;  // store_format, or kSealed during a rotation

  ValueProtection protection() const { return ValueProtection{decision.enabled, keyring, write_format}; }
};

// secret.conf, the decision, the key file and, when encrypting, the rotation journal's key.
// Every failure is an error: the caller must not open the store without it.
Result<LoadedEncryption> LoadEncryption(const EncryptionOptions& options, const StorePaths& paths, Env* env);

}  // namespace vsecret
