// <permissions> of a pool's or a volume's <target>: libvirt parses and formats both with one
// function (virStorageDefParsePerms / virStoragePermsFormat), and so does vsecret.
#pragma once

#include <libxml/tree.h>
#include <sys/types.h>

#include <optional>
#include <string>

#include "vsecret/error.h"

namespace vsecret {

struct StoragePerms {
  std::optional<mode_t> mode;
  std::optional<uid_t> owner;
  std::optional<gid_t> group;

  bool empty() const { return !mode && !owner && !group; }
  bool operator==(const StoragePerms&) const = default;
};

// The <permissions> child of TARGET (nullptr or no child: all unset). mode is octal and at most
// 0777 ("malformed octal mode"); owner and group are XPath numbers, -1 meaning unset
// ("malformed owner element" / "malformed group element").
Result<StoragePerms> ParseStoragePerms(const xmlNode* target);

// "<permissions>" with the set fields, indented for a <target> at INDENT spaces; nothing when
// all are unset.
void AppendStoragePermsXml(std::string& out, const StoragePerms& perms, int indent);

}  // namespace vsecret
