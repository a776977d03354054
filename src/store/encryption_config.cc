#include "store/encryption_config.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "base/log.h"
#include "base/strings.h"
#include "conf/virconf.h"
#include "store/atomic_file.h"

namespace vsecret {
namespace {

constexpr std::string_view kLogWhere = "secret_encryption";
// virConfReadFile's sanity limit.
constexpr std::size_t kMaxConfBytes = 10 * 1024 * 1024;
constexpr mode_t kJournalMode = 0600;

std::optional<std::string> NonEmptyEnv(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

std::string HomeDir() {
  if (auto home = NonEmptyEnv("HOME")) return *home;
  if (const passwd* pw = ::getpwuid(::getuid()); pw != nullptr && pw->pw_dir != nullptr) return pw->pw_dir;
  return "/";
}

// g_get_user_runtime_dir(): $XDG_RUNTIME_DIR, else g_get_user_cache_dir() ($XDG_CACHE_HOME, else
// ~/.cache).
std::string UserRuntimeDir() {
  if (auto dir = NonEmptyEnv("XDG_RUNTIME_DIR")) return *dir;
  if (auto cache = NonEmptyEnv("XDG_CACHE_HOME")) return *cache;
  return HomeDir() + "/.cache";
}

// glib's g_get_user_config_dir(): $XDG_CONFIG_HOME, else ~/.config.
std::string UserConfigDir() {
  if (auto dir = NonEmptyEnv("XDG_CONFIG_HOME")) return *dir;
  return HomeDir() + "/.config";
}

std::string ParentDir(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return DirectoryOf(dir);
}

Result<std::optional<SecretBytes>> ReadOptionalFile(Env* env, const std::string& path) {
  auto file = env->NewReadableFile(path);
  if (!file) {
    if (file.error().errnum == ENOENT) return std::optional<SecretBytes>();
    return SystemError(ErrorDomain::kNone, file.error().errnum, "Failed to open file " + Quoted(path));
  }
  auto content = (*file)->ReadAll(kMaxConfBytes);
  if (!content) {
    return SystemError(ErrorDomain::kNone, content.error().errnum, "Failed to read file " + Quoted(path));
  }
  return std::optional<SecretBytes>(std::move(*content));
}

std::unexpected<Error> BadJournal(const std::string& path, const std::string& why) {
  return Fail(ErrorCode::kConfSyntax, ErrorDomain::kSecret,
              "internal error: rotation journal " + Quoted(path) + " is invalid: " + why);
}

}  // namespace

KeyEnvironment KeyEnvironment::FromProcess() {
  KeyEnvironment e;
  e.credentials_directory = NonEmptyEnv("CREDENTIALS_DIRECTORY");
  e.runtime_dir = UserRuntimeDir();
  return e;
}

std::string LibvirtSecretConfPath() {
  if (::geteuid() == 0) return "/etc/libvirt/secret.conf";
  return UserConfigDir() + "/libvirt/secret.conf";
}

EncryptionOptions EncryptionOptions::ForStore(const StorePaths& paths) {
  EncryptionOptions o;
  o.secret_conf_path = ParentDir(paths.config_dir) + "/secret.conf";
  std::string libvirt_path = LibvirtSecretConfPath();
  if (libvirt_path != *o.secret_conf_path) o.libvirt_secret_conf_path = std::move(libvirt_path);
  o.environment = KeyEnvironment::FromProcess();
  return o;
}

EncryptionOptions EncryptionOptions::Disabled() { return EncryptionOptions{}; }

std::string_view KeySourceName(KeySource source) {
  switch (source) {
    case KeySource::kConfigured:
      return "secret.conf";
    case KeySource::kCredential:
      return "credential";
    case KeySource::kDefault:
      return "default";
    case KeySource::kNone:
      break;
  }
  return "none";
}

EncryptionDecision DecideEncryption(const SecretConf& conf, const KeyEnvironment& environment,
                                    bool credential_exists) {
  EncryptionDecision d;
  if (conf.secrets_encryption_key) {
    d.key_path = conf.secrets_encryption_key;
    d.source = KeySource::kConfigured;
  } else if (environment.credentials_directory && credential_exists) {
    d.key_path = *environment.credentials_directory + "/" + std::string(kCredentialName);
    d.source = KeySource::kCredential;
  }
  if (!conf.encrypt_data) {
    d.enabled = d.key_path.has_value();
  } else if (!*conf.encrypt_data) {
    d.enabled = false;
  } else {
    d.enabled = true;
    if (!d.key_path) {
      d.key_path = environment.runtime_dir + "/libvirt/secrets/encryption-key";
      d.source = KeySource::kDefault;
    }
  }
  return d;
}

Result<SecretConf> LoadSecretConf(Env* env, const std::string& path) {
  auto content = ReadOptionalFile(env, path);
  if (!content) return std::unexpected(content.error());
  if (!*content) return SecretConf{};
  return ParseSecretConf((*content)->AsStringView(), path);
}

std::string RotationJournalPath(const StorePaths& paths) {
  return paths.config_dir + "/" + std::string(kRotationJournalName);
}

Result<std::optional<RotationJournal>> ReadRotationJournal(Env* env, const StorePaths& paths) {
  const std::string path = RotationJournalPath(paths);
  auto content = ReadOptionalFile(env, path);
  if (!content) return std::unexpected(content.error());
  if (!*content) return std::optional<RotationJournal>();
  auto conf = VirConf::Parse((*content)->AsStringView(), path);
  if (!conf) return std::unexpected(conf.error());
  auto key_path = conf->GetString("pending_key");
  if (!key_path) return std::unexpected(key_path.error());
  auto key_id = conf->GetString("pending_key_id");
  if (!key_id) return std::unexpected(key_id.error());
  if (!*key_path || (*key_path)->empty()) return BadJournal(path, "no pending_key");
  std::optional<KeyId> id = *key_id ? KeyIdFromHex(**key_id) : std::nullopt;
  if (!id) return BadJournal(path, "no valid pending_key_id");
  return std::optional<RotationJournal>(RotationJournal{**key_path, *id});
}

Result<void> WriteRotationJournal(Env* env, const StorePaths& paths, const RotationJournal& journal) {
  const std::string& key = journal.pending_key_path;
  // virConf strings have no escapes; such a path could not be read back.
  if (key.find_first_of("\"\n\r") != std::string::npos) {
    return InvalidArg(ErrorDomain::kSecret, "key file path " + Quoted(key) + " cannot be recorded");
  }
  const std::string text =
      "# vsecret-admin rotate is moving this store to the key below. While this file exists, vsecret\n"
      "# reads values with the configured key and with this one, and seals new values with this one.\n"
      "# Keep the key file until the rotation completes; this file is then removed.\n"
      "pending_key = \"" +
      key + "\"\npending_key_id = \"" + KeyIdToHex(journal.pending_key_id) + "\"\n";
  return RewriteFileAtomically(
      env, RotationJournalPath(paths),
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()),
      kJournalMode);
}

Result<void> RemoveRotationJournal(Env* env, const StorePaths& paths) {
  const std::string path = RotationJournalPath(paths);
  if (auto removed = env->RemoveFile(path); !removed && removed.error().errnum != ENOENT) {
    return SystemError(ErrorDomain::kSecret, removed.error().errnum, "cannot unlink " + Quoted(path));
  }
  SyncDirOrLog(env, paths.config_dir);
  return {};
}

std::string StoreFormatPath(const StorePaths& paths) {
  return paths.config_dir + "/" + std::string(kStoreFormatFileName);
}

Result<ValueFormat> ReadStoreFormat(Env* env, const StorePaths& paths) {
  const std::string path = StoreFormatPath(paths);
  auto content = ReadOptionalFile(env, path);
  if (!content) return std::unexpected(content.error());
  if (!*content) return ValueFormat::kAes256Cbc;
  auto conf = VirConf::Parse((*content)->AsStringView(), path);
  if (!conf) return std::unexpected(conf.error());
  auto name = conf->GetString("value_format");
  if (!name) return std::unexpected(name.error());
  const std::optional<ValueFormat> format = *name ? FormatFromName(**name) : ValueFormat::kAes256Cbc;
  if (!format || *format == ValueFormat::kBase64) {
    return Fail(ErrorCode::kConfSyntax, ErrorDomain::kSecret,
                "internal error: " + path + ": value_format must be \"aes256cbc\" or \"vsenc\", not " +
                    Quoted(name->value_or("")));
  }
  return *format;
}

Result<void> WriteStoreFormat(Env* env, const StorePaths& paths, ValueFormat format) {
  const std::string path = StoreFormatPath(paths);
  if (format != ValueFormat::kSealed) {
    if (auto removed = env->RemoveFile(path); !removed && removed.error().errnum != ENOENT) {
      return SystemError(ErrorDomain::kSecret, removed.error().errnum, "cannot unlink " + Quoted(path));
    }
    SyncDirOrLog(env, paths.config_dir);
    return {};
  }
  const std::string text =
      "# Written by vsecret-admin migrate --format vsenc. vsecret encrypts the values of this store\n"
      "# in its authenticated .vsenc format, which libvirt cannot read: do not let libvirt manage\n"
      "# this store. `vsecret-admin migrate --format aes256cbc` goes back to libvirt's format.\n"
      "value_format = \"vsenc\"\n";
  return RewriteFileAtomically(
      env, path,
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()),
      kJournalMode);
}

Result<LoadedEncryption> LoadEncryption(const EncryptionOptions& options, const StorePaths& paths, Env* env) {
  LoadedEncryption loaded;
  SecretConf conf;
  // The store's own secret.conf when it has one, else the one libvirt 12.x reads.
  for (const std::optional<std::string>* candidate :
       {&options.secret_conf_path, &options.libvirt_secret_conf_path}) {
    if (!*candidate) continue;
    // libvirt skips a file that virFileExists() does not see (stat fails: missing, or behind a
    // directory the daemon's user cannot search, such as /root for a daemon running as nobody)
    // and fails on one it sees but cannot read.
    struct stat st {};
    if (::stat((*candidate)->c_str(), &st) != 0) continue;
    auto content = ReadOptionalFile(env, **candidate);
    if (!content) return std::unexpected(content.error());
    if (!*content) continue;
    loaded.conf_path = **candidate;
    auto read = ParseSecretConf((*content)->AsStringView(), loaded.conf_path);
    if (!read) return std::unexpected(read.error());
    conf = std::move(*read);
    break;
  }
  if (options.key_path_override) conf.secrets_encryption_key = options.key_path_override;
  bool credential_exists = false;
  if (options.environment.credentials_directory) {
    // Existence as virFileExists sees it: anything but a missing file counts, so that an
    // unreadable credential is reported by the key read instead of silently skipped.
    auto probe =
        env->NewReadableFile(*options.environment.credentials_directory + "/" + std::string(kCredentialName));
    credential_exists =
        probe.has_value() || (probe.error().errnum != ENOENT && probe.error().errnum != ENOTDIR);
  }
  loaded.decision = DecideEncryption(conf, options.environment, credential_exists);

  auto journal = ReadRotationJournal(env, paths);
  if (!journal) return std::unexpected(journal.error());
  auto store_format = ReadStoreFormat(env, paths);
  if (!store_format) return std::unexpected(store_format.error());
  loaded.store_format = *store_format;
  loaded.write_format = *journal ? ValueFormat::kSealed : *store_format;
  if (!loaded.decision.enabled) {
    if (*journal) {
      Log(LogLevel::kWarning, kLogWhere,
          "a key rotation is pending (" + RotationJournalPath(paths) + ") but encryption is disabled");
    }
    return loaded;
  }

  auto key = ReadKeyFile(env, *loaded.decision.key_path);
  if (!key) return std::unexpected(key.error());
  std::vector<EncryptionKey> keys;
  keys.push_back(std::move(*key));
  if (*journal) {
    auto pending = ReadKeyFile(env, (*journal)->pending_key_path);
    if (!pending) return std::unexpected(pending.error());
    if (pending->id() != (*journal)->pending_key_id) {
      return Fail(ErrorCode::kInvalidSecret, ErrorDomain::kSecret,
                  "Invalid secret: key file " + Quoted((*journal)->pending_key_path) + " has key id " +
                      KeyIdToHex(pending->id()) + ", but the rotation journal " +
                      Quoted(RotationJournalPath(paths)) + " expects " +
                      KeyIdToHex((*journal)->pending_key_id));
    }
    keys.push_back(std::move(*pending));
    loaded.rotation = std::move(**journal);
  }
  const std::size_t write_index = keys.size() - 1;
  loaded.keyring = std::make_shared<const Keyring>(std::move(keys), write_index);
  return loaded;
}

}  // namespace vsecret
