// Storage pool XML for directory pools: parse (pool-define), format (pool-dumpxml and the
// persistent config file), following libvirt 9.0's virStoragePoolDefParseXML / Format.
//
// Every libvirt pool type parses (so that messages match), but only 'dir' has a backend in
// vsecret; the storage driver refuses the others the way libvirt refuses a type whose backend
// is not loaded.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "conf/storage_perms.h"
#include "vsecret/error.h"
#include "vsecret/uuid.h"

namespace vsecret {

// virStoragePoolType names, by number.
std::string_view PoolTypeName(int type);
inline constexpr int kPoolTypeDir = 0;

struct PoolDef {
  int type = kPoolTypeDir;
  std::string name;
  Uuid uuid;
  std::string target_path;  // sanitised like virFileSanitizePath
  StoragePerms perms;
};

// Parses API input named "(storage_pool_definition)". A missing <uuid> yields a random one.
Result<PoolDef> ParsePoolXml(std::string_view xml);

struct PoolSizes {
  std::uint64_t capacity = 0;
  std::uint64_t allocation = 0;
  std::uint64_t available = 0;
};

// pool-dumpxml: sizes are zero for an inactive pool; for an active one libvirt shows the target
// directory's mode and ids (refreshed from stat) in <permissions>.
std::string FormatPoolXml(const PoolDef& def, const PoolSizes& sizes);

// libvirt's virFileSanitizePath: "///a//b/" -> "/a/b" (a leading "//" is kept).
std::string SanitizePath(std::string_view path);

}  // namespace vsecret
