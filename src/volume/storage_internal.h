// Pieces shared by the StorageDriver implementation files; not part of its interface.
#pragma once

#include <sys/stat.h>

#include <optional>
#include <string>
#include <vector>

#include "volume/luks_header.h"
#include "volume/qcow2_image.h"
#include "volume/storage_driver.h"

namespace vsecret::volume {

struct StorageDriver::Pool {
  PoolDef def;
  bool active = false;
  bool autostart = false;
};

// What a look at a file in a pool directory tells (libvirt's probe, for the formats vsecret
// knows: qcow2, LUKS1, LUKS2 and raw). A file that starts with the LUKS magic is an encrypted
// volume whatever else is wrong with it: when its header is damaged or truncated, or of a LUKS
// version this build does not read, it is a *broken* volume (encrypted, capacity 0, `broken`
// says why), listed and described but never opened.
struct ProbedFile {
  struct stat st {};
  int format = kVolumeFormatRaw;
  std::uint64_t capacity = 0;
  bool encrypted = false;
  LuksVersion luks = LuksVersion::kNotLuks;
  std::optional<Qcow2Info> qcow2;
  std::optional<LuksHeader> luks_header;
  std::optional<Error> broken;
};

Result<ProbedFile> ProbeFile(const std::string& path);
// The error every data operation on a broken volume fails with: "internal error: cannot open
// LUKS volume '<path>': <what is wrong>" (the reason in qemu's words where qemu has them).
Error BrokenVolumeError(const std::string& path, const Error& reason);
// Names of the regular files (symlinks followed) in dir, sorted.
Result<std::vector<std::string>> ListPoolFiles(const std::string& dir);
// Removes the files of dir and dir itself; errors are ignored (runtime state only).
void RemoveTree(const std::string& dir);
// The whole content of a small file: nullopt when it does not exist (ENOENT), an error naming
// the file for anything else (libvirt's virFileReadAll wording: "Failed to open file '...'",
// "Failed to read file '...'"; a directory in its place is EISDIR, more than max_bytes is
// EOVERFLOW), so that a broken file is never mistaken for a missing one.
Result<std::optional<std::string>> ReadSmallFile(const std::string& path, std::size_t max_bytes);
// qemu reads secrets as UTF-8 text; a value it would refuse ("Data from secret ... is not valid
// UTF-8", or one with a NUL) must not become the passphrase of a volume meant for qemu.
bool IsQemuPassphrase(const SecretBytes& value);

}  // namespace vsecret::volume
