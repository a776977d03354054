#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>

#include "volume/block_file.h"
#include "volume/luks2_image.h"
#include "volume/luks_image.h"
#include "volume/storage_internal.h"

namespace vsecret::volume {
namespace {

// The LUKS1 half of the probe: ProbeFile sends version 2 to the LUKS2 reader and everything else
// here, so a header of any other version makes a broken volume (listed, never opened). Fewer
// than kLuksHeaderSize bytes after the magic is a truncated header.
Result<LuksHeader> ParseProbedLuks(std::span<const std::uint8_t> head) {
  const LuksVersion version = ProbeLuks(head);
  if (version != LuksVersion::kLuks1 && head.size() >= 8) {
    const unsigned number = static_cast<unsigned>(head[6]) << 8 | head[7];
    return InternalError(ErrorDomain::kStorage,
                         "LUKS version " + std::to_string(number) + " is not supported");
  }
  if (head.size() < kLuksHeaderSize) {
    return InternalError(ErrorDomain::kStorage, "LUKS header is truncated (" + std::to_string(head.size()) +
                                                    " of " + std::to_string(kLuksHeaderSize) + " bytes)");
  }
  return ParseLuksHeader(head);
}

}  // namespace

Error BrokenVolumeError(const std::string& path, const Error& reason) {
  std::string_view detail = reason.message();
  const std::string_view prefix = LibvirtMessagePrefix(reason.code());
  if (!prefix.empty() && detail.starts_with(prefix)) detail.remove_prefix(prefix.size());
  return InternalError(ErrorDomain::kStorage,
                       "cannot open LUKS volume '" + path + "': " + std::string(detail))
      .error();
}

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
  const std::span<const std::uint8_t> start = std::span(head).first(*got);
  out.luks = ProbeLuks(start);
  if (!HasLuksMagic(start)) {
    // A LUKS2 secondary header without a primary (wiped magic, or another signature written over
    // it) is still an encrypted volume, never plaintext. cryptsetup recovers such a primary only
    // when no other signature claims the file; vsecret does not guess and refuses it.
    Result<std::optional<std::uint64_t>> secondary = FindLuks2Secondary(**file);
    if (!secondary) return std::unexpected(secondary.error());
    if (!*secondary) return out;
    out.luks = LuksVersion::kLuks2;
    out.encrypted = true;
    out.capacity = 0;
    out.broken = InternalError(ErrorDomain::kStorage,
                               "LUKS2 primary header is missing (a secondary header is at offset " +
                                   std::to_string(**secondary) + "); 'cryptsetup repair' can restore it")
                     .error();
    return out;
  }
  // From here on the file is a LUKS volume: encrypted, whether or not it can be opened.
  out.encrypted = true;
  if (out.luks == LuksVersion::kLuks2) {
    Result<Luks2Header> header2 = ReadLuks2Header(**file);
    if (!header2) {
      out.broken = header2.error();
      out.capacity = 0;
      return out;
    }
    out.capacity = Luks2Capacity(*header2, out.capacity);
    return out;
  }
  Result<LuksHeader> header = ParseProbedLuks(start);
  if (header) {
    const std::uint64_t needed = std::uint64_t{header->payload_offset} * kLuksSectorSize;
    if (out.capacity < needed) {
      header = InternalError(ErrorDomain::kStorage,
                             "LUKS volume is truncated: the file has " + std::to_string(out.capacity) +
                                 " bytes, its header and key slots need " + std::to_string(needed));
    }
  }
  if (!header) {
    out.broken = header.error();
    out.capacity = 0;
    return out;
  }
  out.capacity = LuksCapacity(*header, out.capacity);
  out.luks_header = std::move(*header);
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
