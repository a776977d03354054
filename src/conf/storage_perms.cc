#include "conf/storage_perms.h"

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>

#include "conf/xml_util.h"

namespace vsecret {
namespace {

bool IsXmlSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// virXPathLongLong("number(./NAME)"): XPath number() of the text, surrounding white space
// allowed; -1 is accepted and means unset.
Result<std::optional<long long>> IdElement(const xmlNode* perms, const char* name, const char* message) {
  const xmlNode* node = xml_util::FirstChild(perms, name);
  if (node == nullptr) return std::optional<long long>();
  const std::string text = xml_util::Text(node).value_or("");
  const char* s = text.c_str();
  while (IsXmlSpace(*s)) ++s;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s, &end, 10);
  while (end != nullptr && IsXmlSpace(*end)) ++end;
  if (end == s || *end != '\0' || errno != 0 ||
      (v != -1 && (v < 0 || v > static_cast<long long>(UINT_MAX)))) {
    return XmlError(ErrorDomain::kStorage, message);
  }
  if (v == -1) return std::optional<long long>();
  return std::optional<long long>(v);
}

}  // namespace

Result<StoragePerms> ParseStoragePerms(const xmlNode* target) {
  StoragePerms perms;
  const xmlNode* node = target != nullptr ? xml_util::FirstChild(target, "permissions") : nullptr;
  if (node == nullptr) return perms;
  if (std::optional<std::string> mode = xml_util::ChildText(node, "mode")) {
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(mode->c_str(), &end, 8);
    if (end == mode->c_str() || *end != '\0' || errno != 0 || v < INT_MIN || v > INT_MAX || (v & ~0777L)) {
      return XmlError(ErrorDomain::kStorage, "malformed octal mode");
    }
    perms.mode = static_cast<mode_t>(v);
  }
  Result<std::optional<long long>> owner = IdElement(node, "owner", "malformed owner element");
  if (!owner) return std::unexpected(owner.error());
  if (*owner) perms.owner = static_cast<uid_t>(**owner);
  Result<std::optional<long long>> group = IdElement(node, "group", "malformed group element");
  if (!group) return std::unexpected(group.error());
  if (*group) perms.group = static_cast<gid_t>(**group);
  return perms;
}

void AppendStoragePermsXml(std::string& out, const StoragePerms& perms, int indent) {
  if (perms.empty()) return;
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  out += pad + "<permissions>\n";
  if (perms.mode) {
    char mode[32];
    std::snprintf(mode, sizeof mode, "0%o", static_cast<unsigned>(*perms.mode));
    out += pad + "  <mode>" + mode + "</mode>\n";
  }
  if (perms.owner) out += pad + "  <owner>" + std::to_string(*perms.owner) + "</owner>\n";
  if (perms.group) out += pad + "  <group>" + std::to_string(*perms.group) + "</group>\n";
  out += pad + "</permissions>\n";
}

}  // namespace vsecret
