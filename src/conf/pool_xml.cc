#include "conf/pool_xml.h"

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>

#include "conf/xml_escape.h"
#include "conf/xml_util.h"

namespace vsecret {
namespace {

using xml_util::ChildText;
using xml_util::FirstChild;

constexpr std::string_view kPoolTypes[] = {"dir",      "fs",           "netfs", "logical", "disk",
                                           "iscsi",    "iscsi-direct", "scsi",  "mpath",   "rbd",
                                           "sheepdog", "gluster",      "zfs",   "vstorage"};

}  // namespace

std::string_view PoolTypeName(int type) {
  if (type < 0 || static_cast<std::size_t>(type) >= std::size(kPoolTypes)) return "";
  return kPoolTypes[type];
}

std::string SanitizePath(std::string_view path) {
  std::string out;
  std::size_t i = 0;
  // "//x" is a valid POSIX special case and stays, but "///x" is "/x".
  if (path.size() >= 2 && path[0] == '/' && path[1] == '/' && (path.size() == 2 || path[2] != '/')) {
    out = "//";
    i = 2;
  }
  for (; i < path.size(); ++i) {
    if (path[i] == '/' && !out.empty() && out.back() == '/') continue;
    out.push_back(path[i]);
  }
  while (out.size() > 1 && out.back() == '/' && out != "//") out.pop_back();
  return out;
}

Result<PoolDef> ParsePoolXml(std::string_view xml) {
  Result<xml_util::DocPtr> doc = xml_util::ParseDocument(xml, {.name = "(storage_pool_definition)"}, "pool");
  if (!doc) return std::unexpected(doc.error());
  const xmlNode* root = xmlDocGetRootElement(doc->get());
  PoolDef def;
  const std::optional<std::string> type = xml_util::Prop(root, "type");
  if (!type) return XmlError(ErrorDomain::kStorage, "Missing required attribute 'type' in element 'pool'");
  bool known = false;
  for (std::size_t i = 0; i < std::size(kPoolTypes); ++i) {
    if (*type == kPoolTypes[i]) {
      def.type = static_cast<int>(i);
      known = true;
    }
  }
  if (!known) {
    return XmlError(ErrorDomain::kStorage,
                    "Invalid value for attribute 'type' in element 'pool': '" + *type + "'.");
  }
  std::optional<std::string> name = ChildText(root, "name");
  if (!name) {
    // Pools named by their source (logical, rbd, ...) take the source name.
    if (const xmlNode* source = FirstChild(root, "source")) name = ChildText(source, "name");
  }
  if (!name) return XmlError(ErrorDomain::kStorage, "missing pool source name element");
  if (name->find('/') != std::string::npos)
    return XmlError(ErrorDomain::kStorage, "name " + *name + " cannot contain '/'");
  def.name = std::move(*name);
  if (std::optional<std::string> uuid = ChildText(root, "uuid")) {
    std::optional<Uuid> parsed = Uuid::Parse(*uuid);
    if (!parsed) return XmlError(ErrorDomain::kStorage, "malformed uuid element");
    def.uuid = *parsed;
  } else {
    def.uuid = Uuid::Random();
  }
  const xmlNode* target = FirstChild(root, "target");
  std::optional<std::string> path = target ? ChildText(target, "path") : std::nullopt;
  if (!path) return XmlError(ErrorDomain::kStorage, "missing storage pool target path");
  def.target_path = SanitizePath(*path);
  Result<StoragePerms> perms = ParseStoragePerms(target);
  if (!perms) return std::unexpected(perms.error());
  def.perms = *perms;
  return def;
}

std::string FormatPoolXml(const PoolDef& def, const PoolSizes& sizes) {
  std::string out = "<pool type='";
  out += PoolTypeName(def.type);
  out += "'>\n  <name>";
  AppendXmlEscaped(out, def.name);
  out += "</name>\n  <uuid>" + def.uuid.ToString() + "</uuid>\n";
  out += "  <capacity unit='bytes'>" + std::to_string(sizes.capacity) + "</capacity>\n";
  out += "  <allocation unit='bytes'>" + std::to_string(sizes.allocation) + "</allocation>\n";
  out += "  <available unit='bytes'>" + std::to_string(sizes.available) + "</available>\n";
  out += "  <source>\n  </source>\n  <target>\n    <path>";
  AppendXmlEscaped(out, def.target_path);
  out += "</path>\n";
  AppendStoragePermsXml(out, def.perms, 4);
  out += "  </target>\n</pool>\n";
  return out;
}

}  // namespace vsecret
