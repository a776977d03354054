#include "store/encryption_config.h"

#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "base/log.h"
#include "store/atomic_file.h"

namespace vsecret {
namespace {

constexpr std::string_view kLogWhere = "secret_encryption";
// virConfReadFile's sanity limit.
constexpr std::size_t kMaxConfBytes = 10 * 1024 * 1024;
constexpr mode_t kJournalMode = 0600;

std::string Quoted(const std::string& s) { return "'" + s + "'"; }

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

EncryptionOptions EncryptionOptions::ForStore(const StorePaths& paths) {
  EncryptionOptions o;
  o.secret_conf_path = ParentDir(paths.config_dir) + "/secret.conf";
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
  auto conf = ConfFile::Parse((*content)->AsStringView(), path);
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

Result<LoadedEncryption> LoadEncryption(const EncryptionOptions& options, const StorePaths& paths, Env* env) {
  LoadedEncryption loaded;
  SecretConf conf;
  if (options.secret_conf_path) {
    loaded.conf_path = *options.secret_conf_path;
    auto read = LoadSecretConf(env, loaded.conf_path);
    if (!read) return std::unexpected(read.error());
    conf = std::move(*read);
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
