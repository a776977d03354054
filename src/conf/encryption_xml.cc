#include "conf/encryption_xml.h"

#include <libxml/parser.h>
#include <libxml/xmlerror.h>

#include <array>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "conf/xml_escape.h"

namespace vsecret {
namespace storage_xml {
namespace {

// virXMLParseHelper's options: no network, no warnings, no entity substitution, no DTD.
constexpr int kParseOptions = XML_PARSE_NONET | XML_PARSE_NOWARNING;

void IgnoreMessage(void* /*ctx*/, const char* /*msg*/, ...) {}

// The first fatal error of the parse running on this thread (libvirt keeps the first one).
thread_local std::optional<Error>* t_first_error = nullptr;

// libvirt's catchXMLError text: the document name and line, libxml2's message (which ends in a
// newline), the offending source line, and a caret line that keeps tabs and dashes the rest.
void OnSyntaxError(void* ctx, const char* /*msg*/, ...) {
  auto* pctxt = static_cast<xmlParserCtxtPtr>(ctx);
  if (pctxt == nullptr || t_first_error == nullptr || t_first_error->has_value() || pctxt->input == nullptr ||
      pctxt->lastError.level != XML_ERR_FATAL || pctxt->lastError.message == nullptr) {
    return;
  }
  const xmlChar* base = pctxt->input->base;
  const xmlChar* cur = pctxt->input->cur;
  while (cur > base && (*cur == '\n' || *cur == '\r')) --cur;
  while (cur > base && *cur != '\n' && *cur != '\r') --cur;
  if (*cur == '\n' || *cur == '\r') ++cur;
  const auto column = static_cast<std::size_t>(pctxt->input->cur - cur);
  std::string line;
  while (*cur != 0 && *cur != '\n' && *cur != '\r') line.push_back(static_cast<char>(*cur++));
  std::string caret;
  for (std::size_t i = 0; i < column && i < line.size(); ++i) caret.push_back(line[i] == '\t' ? '\t' : '-');
  caret.push_back('^');
  if (line.empty()) line = "(null)";  // libvirt prints a NULL context through glibc's "%s"
  const xmlError& e = pctxt->lastError;
  std::string text = e.file != nullptr ? std::string(e.file) + ":" : std::string("at line ");
  text += std::to_string(e.line) + ": " + e.message + line + "\n" + caret;
  *t_first_error = Error(ErrorCode::kXmlDetail, ErrorDomain::kXml, std::move(text));
}

struct ParserCtxtFree {
  void operator()(xmlParserCtxt* p) const { xmlFreeParserCtxt(p); }
};
struct XmlCharFree {
  void operator()(xmlChar* p) const { xmlFree(p); }
};

bool NameIs(const xmlChar* actual, const char* wanted) {
  return xmlStrEqual(actual, reinterpret_cast<const xmlChar*>(wanted)) != 0;
}

bool IsElement(const xmlNode* node, const char* name) {
  return node->type == XML_ELEMENT_NODE && node->ns == nullptr && NameIs(node->name, name);
}

// any_ns: libvirt's virXMLPropString (xmlGetProp) ignores namespaces, its XPath "@name" does not.
const xmlAttr* FindAttr(const xmlNode* node, const char* name, bool any_ns) {
  for (const xmlAttr* a = node->properties; a != nullptr; a = a->next) {
    if ((any_ns || a->ns == nullptr) && NameIs(a->name, name)) return a;
  }
  return nullptr;
}

std::optional<std::string> AttrValue(const xmlNode* node, const char* name, bool any_ns) {
  const xmlAttr* attr = FindAttr(node, name, any_ns);
  if (attr == nullptr) return std::nullopt;
  std::unique_ptr<xmlChar, XmlCharFree> value(xmlNodeGetContent(reinterpret_cast<const xmlNode*>(attr)));
  return std::string(value ? reinterpret_cast<const char*>(value.get()) : "");
}

}  // namespace

Result<DocPtr> ParseDocument(std::string_view xml, std::string_view source_name, const char* root_name) {
  static std::once_flag once;
  std::call_once(once, [] { xmlInitParser(); });
  const std::string name(source_name);
  const std::string c_string(xml.substr(0, xml.find('\0')));

  // Keep libxml2's fallback handlers from printing to stderr while this parse runs.
  const xmlGenericErrorFunc old_generic = xmlGenericError;
  void* const old_generic_ctx = xmlGenericErrorContext;
  const xmlStructuredErrorFunc old_structured = xmlStructuredError;
  void* const old_structured_ctx = xmlStructuredErrorContext;
  xmlSetGenericErrorFunc(nullptr, IgnoreMessage);
  xmlSetStructuredErrorFunc(nullptr, nullptr);

  std::optional<Error> first_error;
  t_first_error = &first_error;
  std::unique_ptr<xmlParserCtxt, ParserCtxtFree> pctxt(xmlNewParserCtxt());
  if (!pctxt || pctxt->sax == nullptr) std::abort();  // out of memory, as libvirt treats it
  pctxt->sax->error = OnSyntaxError;
  DocPtr doc(xmlCtxtReadDoc(pctxt.get(), reinterpret_cast<const xmlChar*>(c_string.c_str()), name.c_str(),
                            nullptr, kParseOptions));
  t_first_error = nullptr;
  xmlSetGenericErrorFunc(old_generic_ctx, old_generic);
  xmlSetStructuredErrorFunc(old_structured_ctx, old_structured);

  if (!doc) {
    if (first_error) return std::unexpected(std::move(*first_error));
    return Fail(ErrorCode::kXmlError, ErrorDomain::kXml,
                "XML error: failed to parse xml document '" + name + "'");
  }
  const xmlNode* root = xmlDocGetRootElement(doc.get());
  if (root == nullptr) return InternalError(ErrorDomain::kXml, "missing root element");
  if (!NameIs(root->name, root_name)) {
    return XmlError(ErrorDomain::kXml, std::string("expecting root element of '") + root_name + "', not '" +
                                           reinterpret_cast<const char*>(root->name) + "'");
  }
  return doc;
}

const xmlNode* FirstChild(const xmlNode* parent, const char* name) {
  for (const xmlNode* c = parent->children; c != nullptr; c = c->next) {
    if (IsElement(c, name)) return c;
  }
  return nullptr;
}

std::vector<const xmlNode*> Children(const xmlNode* parent, const char* name) {
  std::vector<const xmlNode*> out;
  for (const xmlNode* c = parent->children; c != nullptr; c = c->next) {
    if (IsElement(c, name)) out.push_back(c);
  }
  return out;
}

std::optional<std::string> Prop(const xmlNode* node, const char* name) { return AttrValue(node, name, true); }

std::optional<std::string> Text(const xmlNode* node) {
  if (node == nullptr) return std::nullopt;
  std::unique_ptr<xmlChar, XmlCharFree> text(xmlNodeGetContent(node));
  if (!text || text.get()[0] == 0) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(text.get()));
}

std::optional<std::string> ChildText(const xmlNode* parent, const char* name) {
  return Text(FirstChild(parent, name));
}

std::optional<std::string> PathText(const xmlNode* parent, const char* a, const char* b) {
  for (const xmlNode* outer : Children(parent, a)) {
    if (const xmlNode* inner = FirstChild(outer, b)) return Text(inner);
  }
  return std::nullopt;
}

std::optional<std::string> AttrText(const xmlNode* node, const char* name) {
  if (node == nullptr) return std::nullopt;
  std::optional<std::string> value = AttrValue(node, name, false);
  if (value && value->empty()) return std::nullopt;
  return value;
}

}  // namespace storage_xml

namespace {

using storage_xml::AttrText;
using storage_xml::Prop;

constexpr std::array<std::string_view, 5> kFormatNames = {"default", "qcow", "luks", "luks2", "luks-any"};
constexpr std::array<std::string_view, 3> kEngineNames = {"default", "qemu", "librbd"};

std::string ElementName(const xmlNode* node) { return reinterpret_cast<const char*>(node->name); }

// virXMLPropUInt(..., base 10, VIR_XML_PROP_REQUIRED): strtoul rules (leading blanks and '+'
// allowed), but no '-' anywhere, no trailing garbage, and it must fit in 32 bits.
Result<unsigned> RequiredUnsigned(const xmlNode* node, const char* name) {
  const std::optional<std::string> text = Prop(node, name);
  if (!text) {
    return XmlError(ErrorDomain::kStorage, std::string("Missing required attribute '") + name +
                                               "' in element '" + ElementName(node) + "'");
  }
  const char* s = text->c_str();
  char* end = nullptr;
  errno = 0;
  const unsigned long value = std::strtoul(s, &end, 10);
  const bool bad =
      end == s || *end != '\0' || errno != 0 || std::memchr(s, '-', end - s) != nullptr || value > UINT_MAX;
  if (bad) {
    return XmlError(ErrorDomain::kStorage, std::string("Invalid value for attribute '") + name +
                                               "' in element '" + ElementName(node) + "': '" + *text +
                                               "'. Expected non-negative integer value");
  }
  return static_cast<unsigned>(value);
}

Result<EncryptionSecret> ParseSecret(const xmlNode* node) {
  const std::optional<std::string> type = AttrText(node, "type");
  if (!type) return XmlError(ErrorDomain::kStorage, "unknown volume encryption secret type");
  if (*type != "passphrase") {
    return ConfigUnsupported(ErrorDomain::kStorage, "unknown volume encryption secret type " + *type);
  }
  // virSecretLookupParseSecret: present-but-empty attributes count as given.
  std::optional<std::string> uuid = Prop(node, "uuid");
  std::optional<std::string> usage = Prop(node, "usage");
  if (!uuid && !usage) return XmlError(ErrorDomain::kStorage, "missing secret uuid or usage attribute");
  if (uuid && usage) return XmlError(ErrorDomain::kStorage, "either secret uuid or usage expected");
  EncryptionSecret secret;
  if (uuid) {
    secret.uuid = Uuid::Parse(*uuid);
    if (!secret.uuid) return XmlError(ErrorDomain::kStorage, "invalid secret uuid '" + *uuid + "'");
  } else {
    secret.usage = std::move(usage);
  }
  return secret;
}

Result<EncryptionCipher> ParseCipher(const xmlNode* node) {
  EncryptionCipher cipher;
  std::optional<std::string> name = Prop(node, "name");
  if (!name) return XmlError(ErrorDomain::kStorage, "cipher info missing 'name' attribute");
  cipher.name = std::move(*name);
  Result<unsigned> size = RequiredUnsigned(node, "size");
  if (!size) return std::unexpected(size.error());
  cipher.size = *size;
  cipher.mode = Prop(node, "mode");
  cipher.hash = Prop(node, "hash");
  return cipher;
}

void AppendAttr(std::string& out, std::string_view name, std::string_view value) {
  out += ' ';
  out += name;
  out += "='";
  AppendXmlEscaped(out, value);
  out += '\'';
}

}  // namespace

std::string_view EncryptionFormatName(EncryptionFormat format) {
  return kFormatNames[static_cast<std::size_t>(format)];
}

Result<EncryptionDef> ParseEncryptionNode(const xmlNode* node) {
  EncryptionDef def;
  const std::optional<std::string> format = AttrText(node, "format");
  if (!format) return XmlError(ErrorDomain::kStorage, "unknown volume encryption format");
  bool known = false;
  for (std::size_t i = 0; i < kFormatNames.size(); ++i) {
    if (*format == kFormatNames[i]) {
      def.format = static_cast<EncryptionFormat>(i);
      known = true;
    }
  }
  if (!known)
    return ConfigUnsupported(ErrorDomain::kStorage, "unknown volume encryption format type " + *format);

  // virXMLPropEnum with VIR_XML_PROP_NONZERO: "default" is as invalid as an unknown word.
  if (const std::optional<std::string> engine = Prop(node, "engine")) {
    bool valid = false;
    for (std::size_t i = 1; i < kEngineNames.size(); ++i) {
      if (*engine == kEngineNames[i]) {
        def.engine = static_cast<EncryptionEngine>(i);
        valid = true;
      }
    }
    if (!valid) {
      return XmlError(ErrorDomain::kStorage, "Invalid value for attribute 'engine' in element '" +
                                                 ElementName(node) + "': '" + *engine + "'.");
    }
  }

  for (const xmlNode* secret_node : storage_xml::Children(node, "secret")) {
    Result<EncryptionSecret> secret = ParseSecret(secret_node);
    if (!secret) return std::unexpected(secret.error());
    def.secrets.push_back(std::move(*secret));
  }

  // Cipher and ivgen only mean something for luks; for other formats libvirt drops them unread.
  if (def.format != EncryptionFormat::kLuks) return def;
  if (const xmlNode* cipher_node = storage_xml::FirstChild(node, "cipher")) {
    Result<EncryptionCipher> cipher = ParseCipher(cipher_node);
    if (!cipher) return std::unexpected(cipher.error());
    def.cipher = std::move(*cipher);
  }
  if (const xmlNode* ivgen_node = storage_xml::FirstChild(node, "ivgen")) {
    if (!def.cipher) return XmlError(ErrorDomain::kStorage, "ivgen element found, but cipher is missing");
    std::optional<std::string> name = Prop(ivgen_node, "name");
    if (!name) return XmlError(ErrorDomain::kStorage, "missing ivgen info name string");
    def.ivgen = EncryptionIvgen{std::move(*name), Prop(ivgen_node, "hash")};
  }
  return def;
}

Result<EncryptionDef> ParseEncryptionXml(std::string_view xml) {
  Result<storage_xml::DocPtr> doc = storage_xml::ParseDocument(xml, "(encryption)", "encryption");
  if (!doc) return std::unexpected(doc.error());
  return ParseEncryptionNode(xmlDocGetRootElement(doc->get()));
}

void FormatEncryptionXml(std::string& out, const EncryptionDef& def, int indent) {
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  const std::string inner = pad + "  ";
  out += pad;
  out += "<encryption format='";
  out += EncryptionFormatName(def.format);
  out += '\'';
  if (def.engine != EncryptionEngine::kDefault) {
    out += " engine='";
    out += kEngineNames[static_cast<std::size_t>(def.engine)];
    out += '\'';
  }
  out += ">\n";
  for (const EncryptionSecret& secret : def.secrets) {
    out += inner;
    out += "<secret type='passphrase'";
    if (secret.uuid) {
      out += " uuid='" + secret.uuid->ToString() + "'";
    } else if (secret.usage) {
      AppendAttr(out, "usage", *secret.usage);
    }
    out += "/>\n";
  }
  if (def.format == EncryptionFormat::kLuks && def.cipher) {
    out += inner;
    out += "<cipher";
    AppendAttr(out, "name", def.cipher->name);
    out += " size='" + std::to_string(def.cipher->size) + "'";
    if (def.cipher->mode) AppendAttr(out, "mode", *def.cipher->mode);
    if (def.cipher->hash) AppendAttr(out, "hash", *def.cipher->hash);
    out += "/>\n";
    if (def.ivgen) {
      out += inner;
      out += "<ivgen";
      AppendAttr(out, "name", def.ivgen->name);
      if (def.ivgen->hash) AppendAttr(out, "hash", *def.ivgen->hash);
      out += "/>\n";
    }
  }
  out += pad;
  out += "</encryption>\n";
}

}  // namespace vsecret
