// Storage volume XML: parse the document given to vol-create, format what vol-dumpxml prints,
// following libvirt 9.0's virStorageVolDefParseXML / virStorageVolDefFormat for directory pools.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "conf/encryption_xml.h"
#include "conf/storage_perms.h"
#include "vsecret/error.h"

namespace vsecret {

// File formats a directory pool knows (virStorageFileFormat); vsecret creates raw and qcow2.
std::optional<int> VolumeFormatFromName(std::string_view name);
std::string_view VolumeFormatName(int format);
inline constexpr int kVolumeFormatRaw = 1;
inline constexpr int kVolumeFormatQcow2 = 14;

// What vol-create asks for.
struct VolumeDef {
  std::string name;
  std::optional<std::uint64_t> capacity;
  std::optional<std::uint64_t> allocation;
  int format = kVolumeFormatRaw;
  StoragePerms perms;
  std::optional<EncryptionDef> encryption;
  std::optional<std::string> compat;
  bool has_backing_store = false;
};

// Parses API input named "(storage_volume_definition)". Errors are libvirt's, e.g.
// "XML error: missing volume name element", "XML error: missing capacity element",
// "XML error: malformed capacity element", "invalid argument: unknown suffix 'zz'",
// "numerical overflow: value too large: 100E", "unsupported configuration: unknown volume format
// type foo", and every <encryption> message.
Result<VolumeDef> ParseVolumeXml(std::string_view xml);

// libvirt's virScaleInteger for a value and a unit suffix ("", "b", "KiB", "KB", "M", ...).
Result<std::uint64_t> ScaleInteger(std::uint64_t value, std::string_view suffix);

struct Timestamp {
  std::int64_t sec = 0;
  long nsec = 0;
};

// What vol-dumpxml shows for a file in a directory pool.
struct VolumeStatus {
  std::string name;
  std::string path;  // also the key
  bool is_dir = false;
  std::uint64_t capacity = 0;
  std::uint64_t allocation = 0;
  std::uint64_t physical = 0;
  int format = kVolumeFormatRaw;
  mode_t mode = 0600;
  uid_t owner = 0;
  gid_t group = 0;
  Timestamp atime, mtime, ctime;
  std::optional<EncryptionDef> encryption;
  std::optional<std::string> compat;          // qcow2 v3: "1.1"
  std::optional<std::uint64_t> cluster_size;  // qcow2
  bool lazy_refcounts = false;
};

std::string FormatVolumeXml(const VolumeStatus& status);

// The document virsh vol-create-as builds (and prints with --print-xml).
std::string FormatVolumeRequestXml(const std::string& name, std::uint64_t capacity,
                                   std::optional<std::uint64_t> allocation,
                                   const std::optional<std::string>& format,
                                   const std::optional<EncryptionDef>& encryption);

}  // namespace vsecret
