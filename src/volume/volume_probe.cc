#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>

#include "volume/block_file.h"
#include "volume/luks_image.h"
#include "volume/storage_internal.h"

namespace vsecret::volume {

Result<ProbedFile> ProbeFile(const std::string& path) {
  ProbedFile out;
  if (::stat(path.c_str(), &out.st) != 0) {
    return SystemError(ErrorDomain::kStorage, errno, "cannot stat file '" + path + "'");
  }
  out.capacity = static_cast<std::uint64_t>(out.st.st_size);
  Result<std::unique_ptr<BlockFile>> file = BlockFile::Open(path, BlockFile::Mode::kReadOnly);
  if (!file) return std::unexpected(file.error());
  std::array<std::uint8_t, kLuksHeaderSize> head{};
  Result<std::size_t> got = (*file)->ReadSomeAt(0, head);
  if (!got) return std::unexpected(got.error());
  Result<std::optional<Qcow2Info>> qcow2 = ProbeQcow2(**file);
  if (qcow2 && *qcow2) {
    out.format = kVolumeFormatQcow2;
    out.qcow2 = **qcow2;
    out.capacity = (*qcow2)->size;
    out.encrypted = (*qcow2)->crypt_method == 2;
    return out;
  }
  out.luks = ProbeLuks(std::span(head).first(*got));
  if (out.luks == LuksVersion::kLuks1) {
    Result<LuksHeader> header = ParseLuksHeader(std::span(head).first(*got));
    if (header) {
      out.encrypted = true;
      out.capacity = LuksCapacity(*header, out.capacity);
      out.luks_header = std::move(*header);
    }
  }
  return out;
}

Result<std::vector<std::string>> ListPoolFiles(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return SystemError(ErrorDomain::kStorage, errno, "cannot open directory '" + dir + "'");
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    if (::stat((dir + "/" + name).c_str(), &st) == 0 && S_ISREG(st.st_mode)) names.push_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

void RemoveTree(const std::string& dir) {
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") ::unlink((dir + "/" + name).c_str());
    }
    ::closedir(d);
  }
  ::rmdir(dir.c_str());
}

}  // namespace vsecret::volume
