#include "store/secret_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "base/log.h"
#include "base/strings.h"
#include "conf/secret_xml.h"
#include "store/atomic_file.h"
#include "store/sealed_format.h"

namespace vsecret {
namespace {

constexpr mode_t kDirMode = 0700;
constexpr mode_t kFileMode = 0600;
constexpr std::string_view kDefinitionExtension = ".xml";
constexpr std::string_view kPidFileName = "driver.pid";
constexpr std::string_view kLogWhere = "SecretStore";

// Whether path may name a file: anything but ENOENT/ENOTDIR counts, so that an unreadable
// encrypted file is never taken for an absent one.
bool MayExist(Env* env, const std::string& path) {
  auto file = env->NewReadableFile(path);
  return file.has_value() || (file.error().errnum != ENOENT && file.error().errnum != ENOTDIR);
}

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

// The modification time of path, or the epoch when it cannot be had. Only used to order several
// value files of one secret; Env has no stat, and a failed stat just loses the ordering hint.
struct timespec ModificationTime(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return st.st_mtim;
}

bool Newer(const struct timespec& a, const struct timespec& b) {
  return a.tv_sec != b.tv_sec ? a.tv_sec > b.tv_sec : a.tv_nsec > b.tv_nsec;
}

}  // namespace

StorePaths StorePaths::ForRoot(const std::string& root) {
  return StorePaths{root + "/etc/secrets", root + "/run/secrets"};
}

SecretStore::SecretStore(StorePaths paths, Env* env, std::unique_ptr<PidFileLock> lock)
    : paths_(std::move(paths)), env_(env), lock_(std::move(lock)) {
  SetValueProtection(ValueProtection{});
}

void SecretStore::SetValueProtection(ValueProtection protection) {
  protection_ = std::move(protection);
  base64_codec_ = MakeBase64ValueCodec();
  cbc_codec_ = MakeAes256CbcValueCodec(protection_.keyring);
  sealed_codec_ = MakeSealedValueCodec(protection_.keyring);
}

const ValueCodec& SecretStore::CodecFor(ValueFormat format) const {
  switch (format) {
    case ValueFormat::kSealed:
      return *sealed_codec_;
    case ValueFormat::kAes256Cbc:
      return *cbc_codec_;
    case ValueFormat::kBase64:
      break;
  }
  return *base64_codec_;
}

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

std::string SecretStore::ValuePath(const Uuid& uuid, ValueFormat format) const {
  return ConfigPath(uuid.ToString() + std::string(ExtensionOf(format)));
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
    for (ValueFormat format : {ValueFormat::kSealed, ValueFormat::kAes256Cbc, ValueFormat::kBase64}) {
      const std::string_view ext = ExtensionOf(format);
      if (!EndsWith(entry.name, ext)) continue;
      std::string stem = entry.name.substr(0, entry.name.size() - ext.size());
      bool regular = entry.type == DirEntry::Type::kRegular;
      listing.value_formats[stem] |= FormatBit(format);
      if (format != ValueFormat::kBase64) holds_encrypted_ = true;
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
  auto stored = ReadStoredValue(uuid);
  if (!stored) return std::unexpected(stored.error());
  if (!*stored) return std::optional<SecretBytes>();
  return std::optional<SecretBytes>(std::move((*stored)->value));
}

Result<std::optional<SecretStore::StoredValue>> SecretStore::ReadStoredValue(const Uuid& uuid,
                                                                             unsigned present) const {
  struct Candidate {
    ValueFormat format;
    std::string path;
    SecretBytes content;
    struct timespec mtime {};
  };
  std::vector<Candidate> candidates;
  // The legacy format is probed first, so a failing open names the file libvirt would have read.
  for (ValueFormat format : {ValueFormat::kBase64, ValueFormat::kAes256Cbc, ValueFormat::kSealed}) {
    if ((present & FormatBit(format)) == 0) continue;
    std::string path = ValuePath(uuid, format);
    auto file = env_->NewReadableFile(path);
    if (!file) {
      if (file.error().errnum == ENOENT) continue;
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
    candidates.push_back(Candidate{format, std::move(path), std::move(*content), {}});
  }
  if (candidates.empty()) return std::optional<StoredValue>();
  if (candidates.size() > 1) {
    for (Candidate& c : candidates) c.mtime = ModificationTime(c.path);
    // File times are only as fine as the kernel's clock tick, so a tie is possible between files
    // written milliseconds apart. It goes to the format this store writes now (the one a write
    // interrupted before its cleanup would have left behind), then authenticated first.
    const ValueFormat writing = write_format();
    auto rank = [writing](ValueFormat f) { return f == writing ? -1 : static_cast<int>(f); };
    std::sort(candidates.begin(), candidates.end(), [&rank](const Candidate& a, const Candidate& b) {
      if (Newer(a.mtime, b.mtime)) return true;
      if (Newer(b.mtime, a.mtime)) return false;
      return rank(a.format) < rank(b.format);
    });
  }
  std::optional<Error> first_error;
  for (const Candidate& c : candidates) {
    DecodeResult value = CodecFor(c.format).Decode(uuid, c.content, c.path);
    if (value) {
      if (first_error) {
        Log(LogLevel::kWarning, kLogWhere,
            "using the older value file " + Quoted(c.path) + " of secret " + uuid.ToString() +
                " instead: " + first_error->message());
      }
      StoredValue stored;
      stored.value = std::move(*value);
      stored.format = c.format;
      if (c.format == ValueFormat::kSealed) stored.key_id = SealedKeyId(c.content);
      stored.file_count = candidates.size();
      return std::optional<StoredValue>(std::move(stored));
    }
    if (value.error().kind == DecodeError::Kind::kKeyUnavailable) return std::unexpected(value.error().error);
    if (!first_error) first_error = value.error().error;
  }
  return std::unexpected(*first_error);
}

Result<void> SecretStore::WriteDefinition(const SecretDef& def) {
  const std::string xml = FormatSecretXml(def);
  return RewriteFileAtomically(
      env_, DefinitionPath(def.uuid),
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(xml.data()), xml.size()),
      kFileMode);
}

Result<void> SecretStore::WriteValue(const Uuid& uuid, const SecretBytes& value) {
  if (!protection_.encrypt) {
    bool encrypted = holds_encrypted_.load(std::memory_order_relaxed);
    for (ValueFormat format : {ValueFormat::kSealed, ValueFormat::kAes256Cbc}) {
      encrypted = encrypted || MayExist(env_, ValuePath(uuid, format));
    }
    if (encrypted) {
      holds_encrypted_ = true;
      return Fail(ErrorCode::kOperationInvalid, ErrorDomain::kSecret,
                  "Requested operation is not valid: the secrets in " + Quoted(paths_.config_dir) +
                      " are encrypted but no encryption key is loaded; refusing to store the value of "
                      "secret " +
                      Quoted(uuid.ToString()) + " in the clear");
    }
  }
  return WriteValueFile(uuid, value, write_format(), /*sync_dir=*/true);
}

Result<void> SecretStore::WriteValueFile(const Uuid& uuid, const SecretBytes& value, ValueFormat format,
                                         bool sync_dir) {
  auto content = CodecFor(format).Encode(uuid, value);
  if (!content) return std::unexpected(content.error());
  if (auto written =
          RewriteFileAtomically(env_, ValuePath(uuid, format), content->span(), kFileMode, sync_dir);
      !written) {
    return written;
  }
  if (format != ValueFormat::kBase64) holds_encrypted_ = true;
  if (!sync_dir) return {};
  // A value must live in exactly one format; a leftover file of another format would shadow or
  // resurrect an old value on the next load.
  if (RemoveValueFilesExcept(uuid, format)) SyncDirOrLog(env_, paths_.config_dir);
  return {};
}

bool SecretStore::RemoveValueFilesExcept(const Uuid& uuid, ValueFormat keep, unsigned present) {
  bool removed = false;
  for (ValueFormat format : {ValueFormat::kSealed, ValueFormat::kAes256Cbc, ValueFormat::kBase64}) {
    if (format == keep || (present & FormatBit(format)) == 0) continue;
    removed |= env_->RemoveFile(ValuePath(uuid, format)).has_value();
  }
  return removed;
}

void SecretStore::SyncConfigDir() { SyncDirOrLog(env_, paths_.config_dir); }

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
