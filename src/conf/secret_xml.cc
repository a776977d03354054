// Secret XML parse and format, following libvirt 9.0's virSecretDefParse / virSecretDefFormat and
// the way its virxml.c turns libxml2 diagnostics into error messages (secret-driver spec §1).
//
// Two parsers produce the same SecretDef:
//  * a strict recogniser for documents that are byte-for-byte what FormatSecretXml writes, which is
//    what the driver reads back from disk at start-up (it must be cheap: up to 100 000 files);
//  * libxml2, for everything else, with libvirt's options and look-up rules.
// The recogniser declines anything it is not certain about, so it never changes a verdict; the
// differential unit test holds it to that.
#include "conf/secret_xml.h"

#include <libxml/parser.h>
#include <libxml/relaxng.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include <array>
#include <climits>
#include <cstdarg>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>

#include "conf/xml_escape.h"
#include "vsecret_schemas.h"

namespace vsecret {
namespace secret_xml_internal {
// Not in the header on purpose: the two halves of ParseSecretXml, exposed only so that the unit
// tests can compare them (they declare these themselves).
std::optional<SecretDef> ParseCanonicalSecretXml(std::string_view xml);
Result<SecretDef> ParseSecretXmlWithLibxml(std::string_view xml, unsigned flags,
                                           std::string_view source_name);
}  // namespace secret_xml_internal

namespace {

// The document name libvirt gives API input. libvirt hands such input to libxml2 as a C string
// (xmlCtxtReadDoc), which ends at the first NUL and, in libxml2 2.9, ignores the encoding
// declaration; a file goes through an I/O buffer that honours it.
constexpr std::string_view kApiSourceName = "(definition_of_secret)";

// libvirt's XML_PARSE flags for every document (virXMLParseHelper): no network access, no
// warnings, and in particular no entity substitution and no DTD loading.
constexpr int kParseOptions = XML_PARSE_NONET | XML_PARSE_NOWARNING;

// ---------------------------------------------------------------------------------------------
// libxml2 plumbing

void EnsureLibxmlInitialised() {
  // Both initialisers touch unlocked globals in libxml2 2.9, so they must run exactly once.
  static std::once_flag once;
  std::call_once(once, [] {
    xmlInitParser();
    xmlRelaxNGInitTypes();
  });
}

void DiscardMessage(void* /*ctx*/, const char* /*msg*/, ...) {}

// libxml2 sends diagnostics that have no context-specific sink to per-thread fallback handlers,
// which print to stderr by default, and a per-thread structured handler would divert the
// context-specific ones away from our callbacks. Both are neutralised for the duration of one
// parse and restored afterwards, so other libxml2 users in the process are unaffected.
class ScopedLibxmlErrorRouting {
 public:
  ScopedLibxmlErrorRouting()
      : generic_(xmlGenericError),
        generic_ctx_(xmlGenericErrorContext),
        structured_(xmlStructuredError),
        structured_ctx_(xmlStructuredErrorContext) {
    xmlSetGenericErrorFunc(nullptr, DiscardMessage);
    xmlSetStructuredErrorFunc(nullptr, nullptr);
  }
  ~ScopedLibxmlErrorRouting() {
    xmlSetGenericErrorFunc(generic_ctx_, generic_);
    xmlSetStructuredErrorFunc(structured_ctx_, structured_);
  }
  ScopedLibxmlErrorRouting(const ScopedLibxmlErrorRouting&) = delete;
  ScopedLibxmlErrorRouting& operator=(const ScopedLibxmlErrorRouting&) = delete;

 private:
  xmlGenericErrorFunc generic_;
  void* generic_ctx_;
  xmlStructuredErrorFunc structured_;
  void* structured_ctx_;
};

struct ParserCtxtFree {
  void operator()(xmlParserCtxt* p) const { xmlFreeParserCtxt(p); }
};
struct DocFree {
  void operator()(xmlDoc* p) const { xmlFreeDoc(p); }
};
struct XmlCharFree {
  void operator()(xmlChar* p) const { xmlFree(p); }
};
struct RngParserFree {
  void operator()(xmlRelaxNGParserCtxt* p) const { xmlRelaxNGFreeParserCtxt(p); }
};
struct RngFree {
  void operator()(xmlRelaxNG* p) const { xmlRelaxNGFree(p); }
};
struct RngValidFree {
  void operator()(xmlRelaxNGValidCtxt* p) const { xmlRelaxNGFreeValidCtxt(p); }
};

// The first fatal syntax error of the parse running on this thread. libvirt keeps "the first
// error wins" in its thread-local last-error slot; this is the equivalent. Sub-parsers libxml2
// spawns for entity content call back with their own context, so the state cannot live there.
struct SyntaxErrorSlot {
  std::optional<Error> error;
};
thread_local SyntaxErrorSlot* t_syntax_errors = nullptr;

// Marks parser contexts whose errors belong to the secret domain; libvirt stores its domain code
// in _private and sub-parsers inherit that pointer.
int g_secret_domain_tag = 0;

// Same text as libvirt's catchXMLError: "<file>:<line>: <libxml2 message><source line>\n<caret>",
// where the caret line repeats tabs and turns other characters before the error column into '-'.
void CatchSyntaxError(void* ctx, const char* /*msg*/, ...) {
  auto* pctxt = static_cast<xmlParserCtxtPtr>(ctx);
  SyntaxErrorSlot* slot = t_syntax_errors;
  if (pctxt == nullptr || slot == nullptr || slot->error.has_value() || pctxt->input == nullptr ||
      pctxt->lastError.level != XML_ERR_FATAL || pctxt->lastError.message == nullptr) {
    return;
  }
  const xmlChar* base = pctxt->input->base;
  const xmlChar* cur = pctxt->input->cur;
  while (cur > base && (*cur == '\n' || *cur == '\r')) --cur;
  while (cur > base && *cur != '\n' && *cur != '\r') --cur;
  if (*cur == '\n' || *cur == '\r') ++cur;
  const std::size_t column = static_cast<std::size_t>(pctxt->input->cur - cur);

  std::string context;
  while (*cur != 0 && *cur != '\n' && *cur != '\r') context.push_back(static_cast<char>(*cur++));
  std::string caret;
  for (std::size_t n = 0; n < column && n < context.size(); ++n) {
    caret.push_back(context[n] == '\t' ? '\t' : '-');
  }
  caret.push_back('^');
  // libvirt formats an empty context line from a NULL buffer, which glibc prints as "(null)".
  if (context.empty()) context = "(null)";

  const xmlError& e = pctxt->lastError;
  std::string text = e.file != nullptr ? std::string(e.file) + ":" : std::string("at line ");
  text += std::to_string(e.line) + ": " + e.message + context + "\n" + caret;
  const ErrorDomain domain =
      pctxt->_private == &g_secret_domain_tag ? ErrorDomain::kSecret : ErrorDomain::kXml;
  slot->error = Error(ErrorCode::kXmlDetail, domain, std::move(text));
}

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
  xmlRelaxNGSetParserErrors(parser.get(), AppendRngMessage, DiscardMessage, &messages);
  std::unique_ptr<xmlRelaxNG, RngFree> grammar(xmlRelaxNGParse(parser.get()));
  if (!grammar) return InternalError(ErrorDomain::kXml, "Unable to parse RNG " + path + ": " + messages);
  std::unique_ptr<xmlRelaxNGValidCtxt, RngValidFree> valid(xmlRelaxNGNewValidCtxt(grammar.get()));
  if (!valid) return InternalError(ErrorDomain::kXml, "Unable to create RNG validation context " + path);
  xmlRelaxNGSetValidErrors(valid.get(), AppendRngMessage, DiscardMessage, &messages);
  if (xmlRelaxNGValidateDoc(valid.get(), doc) != 0) {
    return Fail(ErrorCode::kXmlInvalidSchema, ErrorDomain::kXml,
                "XML document failed to validate against schema: Unable to validate doc against " + path +
                    "\n" + messages);
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// Look-ups with the semantics of libvirt's XPath expressions relative to the root: a bare name
// matches only un-namespaced nodes, string() takes the first match in document order and yields
// its flattened text (text and CDATA of all descendants and entity references, nothing else), and
// virXPathString treats "" as absent.

bool SameName(const xmlChar* actual, const char* wanted) {
  return xmlStrEqual(actual, reinterpret_cast<const xmlChar*>(wanted)) != 0;
}

bool IsNamed(const xmlNode* node, const char* name) {
  return node->type == XML_ELEMENT_NODE && node->ns == nullptr && SameName(node->name, name);
}

const xmlNode* FirstChild(const xmlNode* parent, const char* name) {
  for (const xmlNode* c = parent->children; c != nullptr; c = c->next) {
    if (IsNamed(c, name)) return c;
  }
  return nullptr;
}

const xmlAttr* FindAttr(const xmlNode* node, const char* name) {
  for (const xmlAttr* a = node->properties; a != nullptr; a = a->next) {
    if (a->ns == nullptr && SameName(a->name, name)) return a;
  }
  return nullptr;
}

// libxml2 itself treats an attribute as a node with the same leading layout.
const xmlNode* AsNode(const xmlAttr* attr) { return reinterpret_cast<const xmlNode*>(attr); }

// xmlNodeGetContent is exactly what libxml2's XPath string() uses for a node.
std::optional<std::string> NonEmptyContent(const xmlNode* node) {
  if (node == nullptr) return std::nullopt;
  std::unique_ptr<xmlChar, XmlCharFree> text(xmlNodeGetContent(node));
  if (!text || text.get()[0] == 0) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(text.get()));
}

std::optional<std::string> ChildText(const xmlNode* root, const char* name) {
  return NonEmptyContent(FirstChild(root, name));
}

// "./usage/<name>" and "./usage/@type": the first hit in document order may sit in any <usage>.
std::optional<std::string> UsageChildText(const xmlNode* root, const char* name) {
  for (const xmlNode* u = root->children; u != nullptr; u = u->next) {
    if (!IsNamed(u, "usage")) continue;
    if (const xmlNode* c = FirstChild(u, name)) return NonEmptyContent(c);
  }
  return std::nullopt;
}

std::optional<std::string> UsageTypeText(const xmlNode* root) {
  for (const xmlNode* u = root->children; u != nullptr; u = u->next) {
    if (!IsNamed(u, "usage")) continue;
    if (const xmlAttr* a = FindAttr(u, "type")) return NonEmptyContent(AsNode(a));
  }
  return std::nullopt;
}

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

// secretXMLParseNode: the checks and their order decide which error wins.
Result<SecretDef> DefFromTree(const xmlNode* root) {
  SecretDef def;
  const std::pair<const char*, bool*> flags[] = {{"ephemeral", &def.ephemeral}, {"private", &def.is_private}};
  for (const auto& [name, field] : flags) {
    const std::optional<std::string> value = NonEmptyContent(AsNode(FindAttr(root, name)));
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

  if (FirstChild(root, "usage") == nullptr) return def;
  const std::optional<std::string> type_name = UsageTypeText(root);
  if (!type_name) return XmlError(ErrorDomain::kSecret, "unknown secret usage type");
  const std::optional<UsageType> type = UsageTypeFromName(*type_name);
  if (!type) return ConfigUnsupported(ErrorDomain::kSecret, "unknown secret usage type " + *type_name);
  def.usage_type = *type;
  if (*type == UsageType::kNone) return def;
  const UsageSpec spec = UsageSpecFor(*type);
  def.usage_id = UsageChildText(root, spec.child);
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
  EnsureLibxmlInitialised();
  const std::string name(source_name);
  const bool from_api = source_name == kApiSourceName;
  const std::string c_string = from_api ? std::string(xml.substr(0, xml.find('\0'))) : std::string();
  if (!from_api && xml.size() > static_cast<std::size_t>(INT_MAX)) {
    return Fail(ErrorCode::kXmlError, ErrorDomain::kSecret,
                "XML error: failed to parse xml document '" + name + "'");
  }

  ScopedLibxmlErrorRouting routing;
  SyntaxErrorSlot slot;
  t_syntax_errors = &slot;
  std::unique_ptr<xmlParserCtxt, ParserCtxtFree> pctxt(xmlNewParserCtxt());
  if (!pctxt || pctxt->sax == nullptr) std::abort();  // allocation failure, as libvirt does
  pctxt->_private = &g_secret_domain_tag;
  pctxt->sax->error = CatchSyntaxError;
  std::unique_ptr<xmlDoc, DocFree> doc(
      from_api ? xmlCtxtReadDoc(pctxt.get(), reinterpret_cast<const xmlChar*>(c_string.c_str()), name.c_str(),
                                nullptr, kParseOptions)
               : xmlCtxtReadMemory(pctxt.get(), xml.data(), static_cast<int>(xml.size()), name.c_str(),
                                   nullptr, kParseOptions));
  t_syntax_errors = nullptr;

  if (!doc) {
    if (slot.error) return std::unexpected(std::move(*slot.error));
    return Fail(ErrorCode::kXmlError, ErrorDomain::kSecret,
                "XML error: failed to parse xml document '" + name + "'");
  }
  const xmlNode* root = xmlDocGetRootElement(doc.get());
  if (root == nullptr) return InternalError(ErrorDomain::kSecret, "missing root element");
  // libvirt compares only the local name, so a namespaced root passes (spec §1.2 quirk).
  if (!SameName(root->name, "secret")) {
    return XmlError(ErrorDomain::kXml, std::string("expecting root element of 'secret', not '") +
                                           reinterpret_cast<const char*>(root->name) + "'");
  }
  if ((flags & kDefineValidate) != 0) {
    if (Result<void> valid = ValidateAgainstSchema(doc.get()); !valid) return std::unexpected(valid.error());
  }
  return DefFromTree(root);
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
