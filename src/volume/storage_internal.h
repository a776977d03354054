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
// knows: qcow2, LUKS1 and raw). LUKS2 files are reported as raw, as libvirt 9.0 reports them,
// but flagged so that writes can refuse them.
struct ProbedFile {
  struct stat st {};
  int format = kVolumeFormatRaw;
  std::uint64_t capacity = 0;
  bool encrypted = false;
  LuksVersion luks = LuksVersion::kNotLuks;
  std::optional<Qcow2Info> qcow2;
  std::optional<LuksHeader> luks_header;
};

Result<ProbedFile> ProbeFile(const std::string& path);
// Names of the regular files (symlinks followed) in dir, sorted.
Result<std::vector<std::string>> ListPoolFiles(const std::string& dir);
// Removes the files of dir and dir itself; errors are ignored (runtime state only).
void RemoveTree(const std::string& dir);

}  // namespace vsecret::volume
