#include "conf/volume_xml.h"

#include <strings.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "conf/xml_escape.h"
#include "conf/xml_util.h"

namespace vsecret {
namespace {

using xml_util::AttrText;
using xml_util::ChildText;
using xml_util::FirstChild;
using xml_util::PathText;

constexpr std::string_view kFormatNames[] = {"none", "raw",  "dir",   "bochs", "cloop", "dmg",
                                             "iso",  "vpc",  "vdi",   "fat",   "vhd",   "ploop",
                                             "cow",  "qcow", "qcow2", "qed",   "vmdk"};
constexpr std::string_view kVolumeTypes[] = {"file", "block", "dir", "network", "netdir", "ploop"};

constexpr auto kOverflowCode = static_cast<ErrorCode>(82);  // VIR_ERR_OVERFLOW

// virStrToLong_ullp with no end pointer: strtoull rules, no '-', nothing after the digits.
std::optional<std::uint64_t> ParseUnsigned(const std::string& text) {
  const char* s = text.c_str();
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (end == s || *end != '\0' || errno != 0 || std::memchr(s, '-', static_cast<std::size_t>(end - s))) {
    return std::nullopt;
  }
  return v;
}

Result<std::uint64_t> StorageSize(const std::optional<std::string>& unit, const std::string& value) {
  std::optional<std::uint64_t> n = ParseUnsigned(value);
  if (!n) return XmlError(ErrorDomain::kStorage, "malformed capacity element");
  Result<std::uint64_t> scaled = ScaleInteger(*n, unit.value_or(""));
  if (!scaled) return scaled;
  // off_t is signed: nothing larger than 2^63 - 1 bytes can exist.
  if (*scaled > static_cast<std::uint64_t>(LLONG_MAX)) {
    return Fail(kOverflowCode, ErrorDomain::kStorage,
                "numerical overflow: value too large: " + std::to_string(*n) + unit.value_or(""));
  }
  return scaled;
}

void AppendTimestamp(std::string& out, const char* name, const Timestamp& ts) {
  char buf[96];
  if (ts.nsec != 0) {
    std::snprintf(buf, sizeof buf, "      <%s>%lld.%09ld</%s>\n", name, static_cast<long long>(ts.sec),
                  ts.nsec, name);
  } else {
    std::snprintf(buf, sizeof buf, "      <%s>%lld</%s>\n", name, static_cast<long long>(ts.sec), name);
  }
  out += buf;
}

}  // namespace

std::optional<int> VolumeFormatFromName(std::string_view name) {
  for (std::size_t i = 1; i < std::size(kFormatNames); ++i) {
    if (kFormatNames[i] == name) return static_cast<int>(i);
  }
  return std::nullopt;
}

std::string_view VolumeFormatName(int format) {
  if (format < 0 || static_cast<std::size_t>(format) >= std::size(kFormatNames)) return "none";
  return kFormatNames[format];
}

Result<std::uint64_t> ScaleInteger(std::uint64_t value, std::string_view suffix) {
  std::uint64_t scale = 1;
  const std::string s(suffix);
  if (!s.empty() && strcasecmp(s.c_str(), "b") != 0 && strcasecmp(s.c_str(), "byte") != 0 &&
      strcasecmp(s.c_str(), "bytes") != 0) {
    std::uint64_t base;
    if (s.size() == 1 || strcasecmp(s.c_str() + 1, "iB") == 0) {
      base = 1024;
    } else if (s.size() == 2 && (s[1] == 'b' || s[1] == 'B')) {
      base = 1000;
    } else {
      return InvalidArg(ErrorDomain::kNone, "invalid argument: unknown suffix '" + s + "'");
    }
    int power;
    switch (s[0] | 0x20) {
      case 'k':
        power = 1;
        break;
      case 'm':
        power = 2;
        break;
      case 'g':
        power = 3;
        break;
      case 't':
        power = 4;
        break;
      case 'p':
        power = 5;
        break;
      case 'e':
        power = 6;
        break;
      default:
        return InvalidArg(ErrorDomain::kNone, "invalid argument: unknown suffix '" + s + "'");
    }
    for (int i = 0; i < power; ++i) scale *= base;
  }
  if (value != 0 && value > ULLONG_MAX / scale) {
    return Fail(kOverflowCode, ErrorDomain::kNone,
                "numerical overflow: value too large: " + std::to_string(value) + s);
  }
  return value * scale;
}

Result<VolumeDef> ParseVolumeXml(std::string_view xml) {
  Result<xml_util::DocPtr> doc =
      xml_util::ParseDocument(xml, {.name = "(storage_volume_definition)"}, "volume");
  if (!doc) return std::unexpected(doc.error());
  const xmlNode* root = xmlDocGetRootElement(doc->get());
  VolumeDef def;
  std::optional<std::string> name = ChildText(root, "name");
  if (!name) return XmlError(ErrorDomain::kStorage, "missing volume name element");
  def.name = std::move(*name);
  if (std::optional<std::string> type = AttrText(root, "type")) {
    if (std::find(std::begin(kVolumeTypes), std::end(kVolumeTypes), *type) == std::end(kVolumeTypes)) {
      return ConfigUnsupported(ErrorDomain::kStorage, "unknown volume type '" + *type + "'");
    }
  }
  def.has_backing_store = PathText(root, "backingStore", "path").has_value();
  const xmlNode* capacity = FirstChild(root, "capacity");
  if (std::optional<std::string> text = xml_util::Text(capacity)) {
    Result<std::uint64_t> size = StorageSize(AttrText(capacity, "unit"), *text);
    if (!size) return std::unexpected(size.error());
    def.capacity = *size;
  } else if (!def.has_backing_store) {
    return XmlError(ErrorDomain::kStorage, "missing capacity element");
  }
  const xmlNode* allocation = FirstChild(root, "allocation");
  if (std::optional<std::string> text = xml_util::Text(allocation)) {
    Result<std::uint64_t> size = StorageSize(AttrText(allocation, "unit"), *text);
    if (!size) return std::unexpected(size.error());
    def.allocation = *size;
  }
  const xmlNode* target = FirstChild(root, "target");
  if (std::optional<std::string> format =
          target ? AttrText(FirstChild(target, "format"), "type") : std::nullopt) {
    std::optional<int> id = VolumeFormatFromName(*format);
    if (!id) return ConfigUnsupported(ErrorDomain::kStorage, "unknown volume format type " + *format);
    def.format = *id;
  }
  Result<StoragePerms> perms = ParseStoragePerms(target);
  if (!perms) return std::unexpected(perms.error());
  def.perms = *perms;
  if (const xmlNode* enc = target ? FirstChild(target, "encryption") : nullptr) {
    Result<EncryptionDef> parsed = ParseEncryptionNode(enc);
    if (!parsed) return std::unexpected(parsed.error());
    def.encryption = std::move(*parsed);
  }
  if (target != nullptr) def.compat = ChildText(target, "compat");
  if (def.compat && *def.compat != "0.10" && *def.compat != "1.1") {
    // virStorageFileCheckCompat: "<major>.<minor>" with major 0 or 1.
    const std::string& c = *def.compat;
    const std::size_t dot = c.find('.');
    const bool numeric = dot != std::string::npos && dot > 0 && dot + 1 < c.size() &&
                         c.find_first_not_of("0123456789.") == std::string::npos;
    if (!numeric) return XmlError(ErrorDomain::kStorage, "forbidden characters in 'compat' attribute");
    if (c.substr(0, dot) != "0" && c.substr(0, dot) != "1") {
      return XmlError(ErrorDomain::kStorage,
                      "unsupported compat version " + c.substr(0, dot) + " in 'compat' attribute");
    }
  }
  return def;
}

std::string FormatVolumeXml(const VolumeStatus& s) {
  std::string out = std::string("<volume type='") + (s.is_dir ? "dir" : "file") + "'>\n  <name>";
  AppendXmlEscaped(out, s.name);
  out += "</name>\n  <key>";
  AppendXmlEscaped(out, s.path);
  out += "</key>\n";
  out += "  <capacity unit='bytes'>" + std::to_string(s.capacity) + "</capacity>\n";
  out += "  <allocation unit='bytes'>" + std::to_string(s.allocation) + "</allocation>\n";
  if (s.physical != 0) out += "  <physical unit='bytes'>" + std::to_string(s.physical) + "</physical>\n";
  out += "  <target>\n    <path>";
  AppendXmlEscaped(out, s.path);
  out += "</path>\n    <format type='";
  out += VolumeFormatName(s.format);
  out += "'/>\n";
  AppendStoragePermsXml(out, StoragePerms{s.mode, s.owner, s.group}, 4);
  out += "    <timestamps>\n";
  AppendTimestamp(out, "atime", s.atime);
  AppendTimestamp(out, "mtime", s.mtime);
  AppendTimestamp(out, "ctime", s.ctime);
  out += "      <btime>0</btime>\n    </timestamps>\n";
  if (s.encryption) FormatEncryptionXml(out, *s.encryption, 4);
  if (s.compat) {
    out += "    <compat>";
    AppendXmlEscaped(out, *s.compat);
    out += "</compat>\n";
  }
  if (s.cluster_size)
    out += "    <clusterSize unit='B'>" + std::to_string(*s.cluster_size) + "</clusterSize>\n";
  if (s.compat && *s.compat != "0.10") {
    out +=
        s.lazy_refcounts ? "    <features>\n      <lazy_refcounts/>\n    </features>\n" : "    <features/>\n";
  }
  out += "  </target>\n</volume>\n";
  return out;
}

std::string FormatVolumeRequestXml(const std::string& name, std::uint64_t capacity,
                                   std::optional<std::uint64_t> allocation,
                                   const std::optional<std::string>& format,
                                   const std::optional<EncryptionDef>& encryption) {
  std::string out = "<volume>\n  <name>";
  AppendXmlEscaped(out, name);
  out += "</name>\n  <capacity>" + std::to_string(capacity) + "</capacity>\n";
  if (allocation) out += "  <allocation>" + std::to_string(*allocation) + "</allocation>\n";
  if (format || encryption) {
    out += "  <target>\n";
    if (format) {
      out += "    <format type='";
      AppendXmlEscaped(out, *format);
      out += "'/>\n";
    }
    if (encryption) FormatEncryptionXml(out, *encryption, 4);
    out += "  </target>\n";
  }
  out += "</volume>\n";
  return out;
}

}  // namespace vsecret
