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

std::optional<long long> ParseId(const xmlNode* node) {
  const std::string text = xml_util::Text(node).value_or("");
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  while (end != nullptr && (*end == ' ' || *end == '\n' || *end == '\t' || *end == '\r')) ++end;
  if (end == text.c_str() || *end != '\0' || errno != 0 || v < -1 || v > static_cast<long long>(UINT_MAX)) {
    return std::nullopt;
  }
  return v;
}

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
  if (const xmlNode* perms = target ? FirstChild(target, "permissions") : nullptr) {
    if (std::optional<std::string> mode = ChildText(perms, "mode")) {
      char* end = nullptr;
      errno = 0;
      const long v = std::strtol(mode->c_str(), &end, 8);
      if (end == mode->c_str() || *end != '\0' || errno != 0 || (v & ~0777L)) {
        return XmlError(ErrorDomain::kStorage, "malformed octal mode");
      }
      def.perms.mode = static_cast<mode_t>(v);
    }
    if (const xmlNode* owner = FirstChild(perms, "owner")) {
      std::optional<long long> v = ParseId(owner);
      if (!v) return XmlError(ErrorDomain::kStorage, "malformed owner element");
      if (*v >= 0) def.perms.owner = static_cast<uid_t>(*v);
    }
    if (const xmlNode* group = FirstChild(perms, "group")) {
      std::optional<long long> v = ParseId(group);
      if (!v) return XmlError(ErrorDomain::kStorage, "malformed group element");
      if (*v >= 0) def.perms.group = static_cast<gid_t>(*v);
    }
  }
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
  if (def.perms.mode || def.perms.owner || def.perms.group) {
    out += "    <permissions>\n";
    if (def.perms.mode) {
      char mode[32];
      std::snprintf(mode, sizeof mode, "0%o", static_cast<unsigned>(*def.perms.mode));
      out += std::string("      <mode>") + mode + "</mode>\n";
    }
    if (def.perms.owner) out += "      <owner>" + std::to_string(*def.perms.owner) + "</owner>\n";
    if (def.perms.group) out += "      <group>" + std::to_string(*def.perms.group) + "</group>\n";
    out += "    </permissions>\n";
  }
  out += "  </target>\n</pool>\n";
  return out;
}

}  // namespace vsecret
