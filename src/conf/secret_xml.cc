// Secret XML parse and format, following libvirt 12.x's virSecretDefParse / virSecretDefFormat and
// the way its virxml.c turns libxml2 diagnostics into error messages; libvirt 9.0's where vsecret/compat.h
// selects it. The two differ in the usage-type errors, the syntax-error form and encoding declarations.
//
// Two parsers produce the same SecretDef:
//  * a strict recogniser for documents that are byte-for-byte what FormatSecretXml writes, which is
//    what the driver reads back from disk at start-up (it must be cheap: up to 100 000 files);
//  * libxml2, for everything else, with libvirt's options and look-up rules.
// The recogniser declines anything it is not certain about, so it never changes a verdict; the
// differential unit test holds it to that.
#include "conf/secret_xml.h"

#include <libxml/relaxng.h>
#include <libxml/tree.h>

#include <array>
#include <cstdarg>
#include <cstdio>
#include <memory>
#include <optional>

#include "conf/secret_xml_internal.h"
#include "conf/xml_escape.h"
#include "conf/xml_util.h"
#include "vsecret/compat.h"
#include "vsecret_schemas.h"

namespace vsecret {

namespace {

// The document name libvirt gives API input; anything else names a file.
constexpr std::string_view kApiSourceName = "(definition_of_secret)";

// ---------------------------------------------------------------------------------------------
// RelaxNG validation

struct RngParserFree {
  void operator()(xmlRelaxNGParserCtxt* p) const { xmlRelaxNGFreeParserCtxt(p); }
};
struct RngFree {
  void operator()(xmlRelaxNG* p) const { xmlRelaxNGFree(p); }
};
struct RngValidFree {
  void operator()(xmlRelaxNGValidCtxt* p) const { xmlRelaxNGFreeValidCtxt(p); }
};

// Collects RelaxNG diagnostics the way libvirt's catchRNGError does: every message appended,
// each already ending in its own newline.
void AppendRngMessage(void* ctx, const char* msg, ...) {
  auto* out = static_cast<std::string*>(ctx);
  va_list args;
  va_start(args, msg);
  va_list copy;
  va_copy(copy, args);
  const int len = std::vsnprintf(nullptr, 0, msg, copy);
  va_end(copy);
  if (len > 0) {
    const std::size_t old = out->size();
    out->resize(old + static_cast<std::size_t>(len) + 1);
    std::vsnprintf(out->data() + old, static_cast<std::size_t>(len) + 1, msg, args);
    out->resize(old + static_cast<std::size_t>(len));
  }
  va_end(args);
}

std::string SchemaPath() {
  std::string path(schemas::kInstallDir);
  path += "/secret.rng";
  return path;
}

// virXMLValidateAgainstSchema: compile the grammar, validate the whole parsed document.
Result<void> ValidateAgainstSchema(xmlDoc* doc) {
  const std::string path = SchemaPath();
  std::string messages;
  std::unique_ptr<xmlRelaxNGParserCtxt, RngParserFree> parser(
      xmlRelaxNGNewMemParserCtxt(schemas::k_secret.data(), static_cast<int>(schemas::k_secret.size())));
  if (!parser) return InternalError(ErrorDomain::kXml, "Unable to create RNG parser for " + path);
  xmlRelaxNGSetParserErrors(parser.get(), AppendRngMessage, xml_util::DiscardMessage, &messages);
  std::unique_ptr<xmlRelaxNG, RngFree> grammar(xmlRelaxNGParse(parser.get()));
  if (!grammar) return InternalError(ErrorDomain::kXml, "Unable to parse RNG " + path + ": " + messages);
  std::unique_ptr<xmlRelaxNGValidCtxt, RngValidFree> valid(xmlRelaxNGNewValidCtxt(grammar.get()));
  if (!valid) return InternalError(ErrorDomain::kXml, "Unable to create RNG validation context " + path);
  xmlRelaxNGSetValidErrors(valid.get(), AppendRngMessage, xml_util::DiscardMessage, &messages);
  if (xmlRelaxNGValidateDoc(valid.get(), doc) != 0) {
    return Fail(ErrorCode::kXmlInvalidSchema, ErrorDomain::kXml,
                "XML document failed to validate against schema: Unable to validate doc against " + path +
                    "\n" + messages);
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// The tree, read with the look-ups of libvirt's XPath expressions relative to the root.

using xml_util::AttrText;
using xml_util::ChildText;
using xml_util::FirstChild;

struct UsageSpec {
  const char* child;
  const char* missing;  // libvirt's "... is missing" detail
};

UsageSpec UsageSpecFor(UsageType type) {
  switch (type) {
    case UsageType::kVolume:
      return {"volume", "volume usage specified, but volume path is missing"};
    case UsageType::kCeph:
      return {"name", "Ceph usage specified, but name is missing"};
    case UsageType::kIscsi:
      return {"target", "iSCSI usage specified, but target is missing"};
    case UsageType::kTls:
      return {"name", "TLS usage specified, but name is missing"};
    case UsageType::kVtpm:
      return {"name", "vTPM usage specified, but name is missing"};
    case UsageType::kNone:
      break;
  }
  return {nullptr, nullptr};
}

// libvirt 9.0: "string(./usage/@type)", whose first hit in document order may sit in any <usage>
// (and so may the usage id's); an empty or absent type and an unknown one are separate errors.
Result<UsageType> UsageTypeOf9(const xmlNode* root) {
  const std::optional<std::string> type_name = xml_util::PathAttrText(root, "usage", "type");
  if (!type_name) return XmlError(ErrorDomain::kSecret, "unknown secret usage type");
  const std::optional<UsageType> type = UsageTypeFromName(*type_name);
  if (!type) return ConfigUnsupported(ErrorDomain::kSecret, "unknown secret usage type " + *type_name);
  return *type;
}

// libvirt 12.x: the required enum attribute of the first <usage> element (any namespace, as
// xmlGetProp reads it), whose children also give the usage id. Errors are in the XML domain.
Result<UsageType> UsageTypeOf12(const xmlNode* usage) {
  const std::optional<std::string> type_name = xml_util::Prop(usage, "type");
  if (!type_name) return XmlError(ErrorDomain::kXml, "Missing required attribute 'type' in element 'usage'");
  const std::optional<UsageType> type = UsageTypeFromName(*type_name);
  if (!type) {
    return XmlError(ErrorDomain::kXml,
                    "Invalid value for attribute 'type' in element 'usage': '" + *type_name + "'.");
  }
  return *type;
}

// secretXMLParseNode: the checks and their order decide which error wins.
Result<SecretDef> DefFromTree(const xmlNode* root) {
  SecretDef def;
  const std::pair<const char*, bool*> flags[] = {{"ephemeral", &def.ephemeral}, {"private", &def.is_private}};
  for (const auto& [name, field] : flags) {
    const std::optional<std::string> value = AttrText(root, name);
    if (!value) continue;
    if (*value != "yes" && *value != "no") {
      return XmlError(ErrorDomain::kSecret, std::string("invalid value of '") + name + "'");
    }
    *field = *value == "yes";
  }

  if (const std::optional<std::string> text = ChildText(root, "uuid")) {
    const std::optional<Uuid> uuid = Uuid::Parse(*text);
    if (!uuid) return InternalError(ErrorDomain::kSecret, "malformed uuid element");
    def.uuid = *uuid;
  } else {
    def.uuid = Uuid::Random();
  }

  def.description = ChildText(root, "description");

  const xmlNode* usage = FirstChild(root, "usage");
  if (usage == nullptr) return def;
  const Result<UsageType> type = Libvirt9Compat() ? UsageTypeOf9(root) : UsageTypeOf12(usage);
  if (!type) return std::unexpected(type.error());
  def.usage_type = *type;
  if (*type == UsageType::kNone) return def;
  const UsageSpec spec = UsageSpecFor(*type);
  def.usage_id =
      Libvirt9Compat() ? xml_util::PathText(root, "usage", spec.child) : ChildText(usage, spec.child);
  if (!def.usage_id) return InternalError(ErrorDomain::kSecret, spec.missing);
  return def;
}

// ---------------------------------------------------------------------------------------------
// Canonical-form recogniser.

// Length of one UTF-8 sequence at s[i] encoding a character XML 1.0 allows (libxml2 rejects the
// others: overlongs, surrogates, U+FFFE, U+FFFF, beyond U+10FFFF); 0 when it is not one.
std::size_t XmlCharLength(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const auto cont = [&](std::size_t k) { return i + k < s.size() && (b(k) & 0xC0) == 0x80; };
  const unsigned char c = b(0);
  if (c < 0x80) return (c >= 0x20 || c == '\t' || c == '\n') ? 1 : 0;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    const unsigned cp = (c & 0x0Fu) << 12 | (b(1) & 0x3Fu) << 6 | (b(2) & 0x3Fu);
    if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF) return 0;
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    const unsigned cp = (c & 0x07u) << 18 | (b(1) & 0x3Fu) << 12 | (b(2) & 0x3Fu) << 6 | (b(3) & 0x3Fu);
    return (cp >= 0x10000 && cp <= 0x10FFFF) ? 4 : 0;
  }
  return 0;
}

class CanonicalReader {
 public:
  explicit CanonicalReader(std::string_view in) : in_(in) {}

  bool Literal(std::string_view lit) {
    if (in_.substr(pos_, lit.size()) != lit) return false;
    pos_ += lit.size();
    return true;
  }
  bool AtEnd() const { return pos_ == in_.size(); }

  // One of the given words, returned by index.
  template <std::size_t N>
  std::optional<std::size_t> OneOf(const std::array<std::string_view, N>& words) {
    for (std::size_t i = 0; i < N; ++i) {
      if (Literal(words[i])) return i;
    }
    return std::nullopt;
  }

  // Character data up to the next '<', as the writer escapes it: the five entities and nothing
  // else that is special. Raw '>', quotes and CR are declined because the writer never emits
  // them and libxml2 would treat some of them differently (CR is normalised, "]]>" is an error).
  std::optional<std::string> Text() {
    std::string out;
    while (pos_ < in_.size() && in_[pos_] != '<') {
      const char c = in_[pos_];
      if (c == '&') {
        static constexpr std::array<std::pair<std::string_view, char>, 5> kEntities = {
            {{"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&quot;", '"'}, {"&apos;", '\''}}};
        bool known = false;
        for (const auto& [entity, ch] : kEntities) {
          if (Literal(entity)) {
            out.push_back(ch);
            known = true;
            break;
          }
        }
        if (!known) return std::nullopt;
        continue;
      }
      if (c == '>' || c == '"' || c == '\'') return std::nullopt;
      const std::size_t len = XmlCharLength(in_, pos_);
      if (len == 0) return std::nullopt;
      out.append(in_.substr(pos_, len));
      pos_ += len;
    }
    if (out.empty()) return std::nullopt;  // libvirt reads an empty element as absent
    return out;
  }

  // Lowercase 8-4-4-4-12, exactly as FormatSecretXml prints it.
  std::optional<Uuid> CanonicalUuid() {
    static constexpr std::size_t kLen = 36;
    if (in_.size() - pos_ < kLen) return std::nullopt;
    const std::string_view text = in_.substr(pos_, kLen);
    for (std::size_t i = 0; i < kLen; ++i) {
      const char c = text[i];
      const bool dash_slot = i == 8 || i == 13 || i == 18 || i == 23;
      const bool ok = dash_slot ? c == '-' : ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
      if (!ok) return std::nullopt;
    }
    pos_ += kLen;
    return Uuid::Parse(text);
  }

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
};

constexpr std::array<std::string_view, 2> kYesNo = {"yes", "no"};

// Usage kinds that FormatSecretXml prints, with their id element, in UsageType order from 1.
constexpr std::array<std::string_view, 5> kUsageTypeNames = {"volume", "ceph", "iscsi", "tls", "vtpm"};
constexpr std::array<std::string_view, 5> kUsageIdElements = {"volume", "name", "target", "name", "name"};

}  // namespace

namespace secret_xml_internal {

std::optional<SecretDef> ParseCanonicalSecretXml(std::string_view xml) {
  CanonicalReader r(xml);
  SecretDef def;
  if (!r.Literal("<secret ephemeral='")) return std::nullopt;
  const auto ephemeral = r.OneOf(kYesNo);
  if (!ephemeral || !r.Literal("' private='")) return std::nullopt;
  const auto is_private = r.OneOf(kYesNo);
  if (!is_private || !r.Literal("'>\n  <uuid>")) return std::nullopt;
  def.ephemeral = *ephemeral == 0;
  def.is_private = *is_private == 0;
  const std::optional<Uuid> uuid = r.CanonicalUuid();
  if (!uuid || !r.Literal("</uuid>\n")) return std::nullopt;
  def.uuid = *uuid;
  if (r.Literal("  <description>")) {
    def.description = r.Text();
    if (!def.description || !r.Literal("</description>\n")) return std::nullopt;
  }
  if (r.Literal("  <usage type='")) {
    const auto kind = r.OneOf(kUsageTypeNames);
    if (!kind || !r.Literal("'>\n    <")) return std::nullopt;
    const std::string_view tag = kUsageIdElements[*kind];
    if (!r.Literal(tag) || !r.Literal(">")) return std::nullopt;
    def.usage_type = static_cast<UsageType>(*kind + 1);
    def.usage_id = r.Text();
    if (!def.usage_id || !r.Literal("</") || !r.Literal(tag) || !r.Literal(">\n  </usage>\n")) {
      return std::nullopt;
    }
  }
  if (!r.Literal("</secret>\n") || !r.AtEnd()) return std::nullopt;
  return def;
}

Result<SecretDef> ParseSecretXmlWithLibxml(std::string_view xml, unsigned flags,
                                           std::string_view source_name) {
  // Schema validation reports through the same per-thread channels as the parser.
  xml_util::ScopedErrorRouting routing;
  const xml_util::ParseSource source{.name = source_name,
                                     .is_api_input = source_name == kApiSourceName,
                                     .domain = ErrorDomain::kSecret,
                                     .libvirt12_form = true};
  Result<xml_util::DocPtr> doc = xml_util::ParseDocument(xml, source, "secret");
  if (!doc) return std::unexpected(doc.error());
  if ((flags & kDefineValidate) != 0) {
    if (Result<void> valid = ValidateAgainstSchema(doc->get()); !valid) return std::unexpected(valid.error());
  }
  return DefFromTree(xmlDocGetRootElement(doc->get()));
}

}  // namespace secret_xml_internal

Result<SecretDef> ParseSecretXml(std::string_view xml, unsigned flags, std::string_view source_name) {
  if ((flags & kDefineValidate) == 0) {
    if (std::optional<SecretDef> def = secret_xml_internal::ParseCanonicalSecretXml(xml)) {
      return *std::move(def);
    }
  }
  return secret_xml_internal::ParseSecretXmlWithLibxml(xml, flags, source_name);
}

std::string FormatSecretXml(const SecretDef& def) {
  std::string out;
  out.reserve(160);
  out += "<secret ephemeral='";
  out += def.ephemeral ? "yes" : "no";
  out += "' private='";
  out += def.is_private ? "yes" : "no";
  out += "'>\n  <uuid>";
  out += def.uuid.ToString();
  out += "</uuid>\n";
  if (def.description) {
    out += "  <description>";
    AppendXmlEscaped(out, *def.description);
    out += "</description>\n";
  }
  const int kind = static_cast<int>(def.usage_type);
  if (kind >= 1 && kind <= static_cast<int>(kUsageTypeNames.size())) {
    out += "  <usage type='";
    out += kUsageTypeNames[kind - 1];
    out += "'>\n";
    // libvirt prints nothing at all, not even the tags, for a missing id.
    if (def.usage_id) {
      const std::string_view tag = kUsageIdElements[kind - 1];
      out += "    <";
      out += tag;
      out += ">";
      AppendXmlEscaped(out, *def.usage_id);
      out += "</";
      out += tag;
      out += ">\n";
    }
    out += "  </usage>\n";
  }
  out += "</secret>\n";
  return out;
}

}  // namespace vsecret
