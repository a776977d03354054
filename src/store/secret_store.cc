#include "store/secret_store.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "base/log.h"
#include "conf/secret_xml.h"
#include "store/atomic_file.h"

namespace vsecret {
namespace {

constexpr mode_t kDirMode = 0700;
constexpr mode_t kFileMode = 0600;
constexpr std::string_view kDefinitionExtension = ".xml";
constexpr std::string_view kPidFileName = "driver.pid";
constexpr std::string_view kLogWhere = "SecretStore";

std::string Quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

std::string Strerror(int errnum) {
  char buf[256];
  return strerror_r(errnum, buf, sizeof buf);
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// virPidFileAcquirePath's wording for each step of taking the lock.
const char* PidFileStepMessage(IoOp op) {
  switch (op) {
    case IoOp::kOpen:
      return "Failed to open pid file ";
    case IoOp::kStat:
      return "Unable to check status of pid file ";
    case IoOp::kTruncate:
      return "Failed to truncate pid file ";
    case IoOp::kWrite:
      return "Failed to write to pid file ";
    default:
      return "Failed to acquire pid file ";
  }
}

}  // namespace

StorePaths StorePaths::ForRoot(const std::string& root) {
  return StorePaths{root + "/etc/secrets", root + "/run/secrets"};
}

SecretStore::SecretStore(StorePaths paths, Env* env, std::unique_ptr<PidFileLock> lock)
    : paths_(std::move(paths)), env_(env), lock_(std::move(lock)), value_codec_(MakeBase64ValueCodec()) {}

SecretStore::~SecretStore() = default;

Result<std::unique_ptr<SecretStore>> SecretStore::Open(const StorePaths& paths, Env* env) {
  if (auto made = env->CreateDirs(paths.config_dir, kDirMode); !made) {
    return SystemError(ErrorDomain::kSecret, made.error().errnum,
                       "cannot create config directory " + Quoted(paths.config_dir));
  }
  if (auto made = env->CreateDirs(paths.state_dir, kDirMode); !made) {
    return SystemError(ErrorDomain::kSecret, made.error().errnum,
                       "cannot create state directory " + Quoted(paths.state_dir));
  }
  // Joined with a plain '/', as libvirt's virFileBuildPath does, so messages match byte for byte
  // even when a directory is given with a trailing slash.
  const std::string pid_path = paths.state_dir + "/" + std::string(kPidFileName);
  auto lock = env->LockPidFile(pid_path, ::getpid());
  if (!lock) {
    return SystemError(ErrorDomain::kNone, lock.error().errnum,
                       PidFileStepMessage(lock.error().op) + Quoted(pid_path));
  }
  return std::unique_ptr<SecretStore>(new SecretStore(paths, env, std::move(*lock)));
}

std::string SecretStore::ConfigPath(std::string_view file_name) const {
  return paths_.config_dir + "/" + std::string(file_name);
}

std::string SecretStore::DefinitionPath(const Uuid& uuid) const {
  return ConfigPath(uuid.ToString() + std::string(kDefinitionExtension));
}

std::string SecretStore::ValuePath(const Uuid& uuid) const {
  return ConfigPath(uuid.ToString() + std::string(value_codec_->extension()));
}

Result<SecretStore::Listing> SecretStore::List() const {
  Listing listing;
  auto children = env_->ListDir(paths_.config_dir);
  if (!children) {
    if (children.error().errnum == ENOENT) return listing;
    return SystemError(ErrorDomain::kNone, children.error().errnum,
                       "cannot open directory " + Quoted(paths_.config_dir));
  }
  for (DirEntry& entry : *children) {
    // Only the suffix counts: "x.xml.new" and "x.xml.bak" are ignored, and a badly named
    // "*.xml" is listed so that loading can report it.
    if (EndsWith(entry.name, kDefinitionExtension)) {
      listing.definition_files.push_back(std::move(entry.name));
      continue;
    }
    for (std::string_view ext : kValueFileExtensions) {
      if (!EndsWith(entry.name, ext)) continue;
      std::string stem = entry.name.substr(0, entry.name.size() - ext.size());
      bool regular = entry.type == DirEntry::Type::kRegular;
      auto [it, inserted] = listing.value_files.try_emplace(std::move(stem), regular);
      if (!inserted) it->second = it->second && regular;
    }
  }
  return listing;
}

Result<std::vector<std::string>> SecretStore::ListDefinitionFiles() const {
  auto listing = List();
  if (!listing) return std::unexpected(listing.error());
  return std::move(listing->definition_files);
}

Result<SecretDef> SecretStore::ReadDefinition(const std::string& file_name) const {
  const std::string path = ConfigPath(file_name);
  // The reference hands the path to libxml2, which reports an unreadable file only on stderr
  // ("I/O error : ...") and leaves libvirt with its generic message; the log line stands in for
  // the former.
  auto unreadable = [&](int errnum) {
    Log(LogLevel::kWarning, kLogWhere, "cannot read " + Quoted(path) + ": " + Strerror(errnum));
    return XmlError(ErrorDomain::kSecret, "failed to parse xml document " + Quoted(path));
  };
  auto file = env_->NewReadableFile(path);
  if (!file) return unreadable(file.error().errnum);
  auto content = (*file)->ReadAll(kMaxValueFileBytes);
  if (!content) {
    // libxml2 reads a directory as an empty stream, so the reference reports "Document is
    // empty" for it; parsing nothing reproduces that message.
    if (content.error().op != IoOp::kRead || content.error().errnum != EISDIR) {
      return unreadable(content.error().errnum);
    }
    content = SecretBytes();
  }
  // An empty buffer has no data pointer; hand the parser a real empty string instead, which is
  // what it sees for an empty file.
  const std::string_view xml = content->empty() ? std::string_view("") : content->AsStringView();
  auto def = ParseSecretXml(xml, 0, path);
  if (!def) return std::unexpected(def.error());
  if (file_name != def->uuid.ToString() + std::string(kDefinitionExtension)) {
    // "<uuid>" is literal text in libvirt's message, not a placeholder.
    return InternalError(ErrorDomain::kSecret, "<uuid> does not match secret file name " + Quoted(file_name));
  }
  return def;
}

Result<std::optional<SecretBytes>> SecretStore::ReadValue(const Uuid& uuid) const {
  const std::string path = ValuePath(uuid);
  auto file = env_->NewReadableFile(path);
  if (!file) {
    if (file.error().errnum == ENOENT) return std::optional<SecretBytes>();
    return SystemError(ErrorDomain::kSecret, file.error().errnum, "cannot open " + Quoted(path));
  }
  auto content = (*file)->ReadAll(kMaxValueFileBytes);
  if (!content) {
    // The cap exists only in newer libvirt, which reports it through virFileReadAll.
    if (content.error().errnum == EOVERFLOW) {
      return SystemError(ErrorDomain::kNone, EOVERFLOW, "Failed to read file " + Quoted(path));
    }
    return SystemError(ErrorDomain::kSecret, content.error().errnum, "cannot read " + Quoted(path));
  }
  auto value = value_codec_->Decode(*content, path);
  if (!value) return std::unexpected(value.error());
  return std::optional<SecretBytes>(std::move(*value));
}

Result<void> SecretStore::WriteDefinition(const SecretDef& def) {
  const std::string xml = FormatSecretXml(def);
  return RewriteFileAtomically(
      env_, DefinitionPath(def.uuid),
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(xml.data()), xml.size()),
      kFileMode);
}

Result<void> SecretStore::WriteValue(const Uuid& uuid, const SecretBytes& value) {
  auto content = value_codec_->Encode(value);
  if (!content) return std::unexpected(content.error());
  if (auto written = RewriteFileAtomically(env_, ValuePath(uuid), content->span(), kFileMode); !written) {
    return written;
  }
  // A value must live in exactly one format; a leftover file of another format would shadow or
  // resurrect an old value on the next load.
  bool removed = false;
  for (std::string_view ext : kValueFileExtensions) {
    if (ext == value_codec_->extension()) continue;
    removed |= env_->RemoveFile(ConfigPath(uuid.ToString() + std::string(ext))).has_value();
  }
  if (removed) SyncDirOrLog(env_, paths_.config_dir);
  return {};
}

Result<void> SecretStore::DeleteDefinition(const Uuid& uuid) {
  const std::string path = DefinitionPath(uuid);
  auto removed = env_->RemoveFile(path);
  if (!removed) {
    if (removed.error().errnum == ENOENT) return {};
    return SystemError(ErrorDomain::kSecret, removed.error().errnum, "cannot unlink " + Quoted(path));
  }
  SyncDirOrLog(env_, paths_.config_dir);
  return {};
}

void SecretStore::DeleteValues(const Uuid& uuid) {
  bool removed = false;
  for (std::string_view ext : kValueFileExtensions) {
    removed |= env_->RemoveFile(ConfigPath(uuid.ToString() + std::string(ext))).has_value();
  }
  if (removed) SyncDirOrLog(env_, paths_.config_dir);
}

}  // namespace vsecret
