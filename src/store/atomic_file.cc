#include "store/atomic_file.h"

#include <cerrno>
#include <cstring>

#include "base/log.h"
#include "base/strings.h"

namespace vsecret {
namespace {

constexpr std::string_view kLogWhere = "RewriteFileAtomically";

std::string Strerror(int errnum) {
  char buf[256];
  return strerror_r(errnum, buf, sizeof buf);
}

}  // namespace

std::string DirectoryOf(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

void SyncDirOrLog(Env* env, const std::string& dir) {
  auto synced = env->SyncDir(dir);
  // Some file systems do not support fsync on directories; there is nothing more to do there.
  if (!synced && synced.error().errnum != EINVAL) {
    Log(LogLevel::kWarning, kLogWhere,
        "cannot sync directory " + Quoted(dir) + ": " + Strerror(synced.error().errnum));
  }
}

Result<void> RewriteFileAtomically(Env* env, const std::string& path, std::span<const std::uint8_t> data,
                                   mode_t mode, bool sync_dir) {
  const std::string tmp = path + ".new";
  auto fail = [&](int errnum, const std::string& detail) {
    // As the reference does, the temp file is removed on every failure path, creation included.
    (void)env->RemoveFile(tmp);
    return SystemError(ErrorDomain::kNone, errnum, detail);
  };

  auto file = env->NewWritableFile(tmp, mode);
  if (!file) return fail(file.error().errnum, "Failed to create file " + Quoted(tmp));
  if (auto written = (*file)->Append(data); !written) {
    file->reset();
    return fail(written.error().errnum, "cannot write data to file " + Quoted(tmp));
  }
  if (auto synced = (*file)->Sync(); !synced) {
    file->reset();
    return fail(synced.error().errnum, "cannot sync file " + Quoted(tmp));
  }
  auto closed = (*file)->Close();
  file->reset();
  if (!closed) return fail(closed.error().errnum, "cannot save file " + Quoted(tmp));
  if (auto renamed = env->RenameFile(tmp, path); !renamed) {
    return fail(renamed.error().errnum, "cannot rename file " + Quoted(tmp) + " as " + Quoted(path));
  }
  if (sync_dir) SyncDirOrLog(env, DirectoryOf(path));
  return {};
}

}  // namespace vsecret
