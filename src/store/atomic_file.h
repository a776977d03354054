// Crash-safe replacement of a whole file, following libvirt's virFileRewrite (write <target>.new
// with mode 0600, fsync, close, rename over the target) plus the directory fsync libvirt omits.
//
//   1. create "<path>.new" with exactly `mode` (fchmod, whatever the umask)
//   2. write everything, 3. fsync, 4. close, 5. rename over <path>, 6. fsync the directory
//
// A crash at any point leaves <path> holding either its old or its new complete content; a stale
// "<path>.new" may be left behind and is simply overwritten by the next rewrite.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>

#include "base/env.h"
#include "vsecret/error.h"

namespace vsecret {

// Rewrites path with data. Failures of steps 1-5 unlink the temp file, leave <path> untouched and
// return libvirt's messages (code kSystemError, domain kNone, strerror appended):
//   "Failed to create file '<tmp>'", "cannot write data to file '<tmp>'",
//   "cannot sync file '<tmp>'", "cannot save file '<tmp>'",
//   "cannot rename file '<tmp>' as '<path>'".
// A failed directory fsync (step 6) is logged and not returned: the new content is already in
// place, and reporting failure would make the caller believe the old content is still there.
// Without sync_dir step 6 is left to the caller, which batches it over many files.
// data is never logged or quoted in an error.
Result<void> RewriteFileAtomically(Env* env, const std::string& path, std::span<const std::uint8_t> data,
                                   mode_t mode, bool sync_dir = true);

// The directory part of path ("." when it has none), for directory fsyncs.
std::string DirectoryOf(const std::string& path);

// fsync of dir, for steps that have already taken effect: a failure is logged, not returned.
void SyncDirOrLog(Env* env, const std::string& dir);

}  // namespace vsecret
