#include "conf/xml_util.h"

#include <libxml/parser.h>
#include <libxml/relaxng.h>
#include <libxml/xmlerror.h>

#include <climits>
#include <cstdlib>
#include <mutex>
#include <string_view>

#include "vsecret/compat.h"

namespace vsecret::xml_util {
namespace {

// virXMLParseHelper's options: no network access, no warnings, and in particular no entity
// substitution and no DTD loading.
constexpr int kParseOptions = XML_PARSE_NONET | XML_PARSE_NOWARNING;

struct ParserCtxtFree {
  void operator()(xmlParserCtxt* p) const { xmlFreeParserCtxt(p); }
};
struct XmlCharFree {
  void operator()(xmlChar* p) const { xmlFree(p); }
};

// The first fatal syntax error of the parse running on this thread. libvirt keeps "the first
// error wins" in its thread-local last-error slot; this is the equivalent. Sub-parsers libxml2
// spawns for entity content call back with their own context, so the state cannot live there.
struct SyntaxErrorSlot {
  ErrorDomain domain;
  bool libvirt9;  // libvirt 9.0's form of the message
  std::optional<Error> error;
};
thread_local SyntaxErrorSlot* t_syntax_errors = nullptr;

// Marks parser contexts whose errors belong to the parse's own domain; libvirt stores its domain
// code in _private and sub-parsers inherit that pointer. Errors from contexts without it are in
// the XML domain.
int g_domain_tag = 0;

// libxml2 2.14 (libvirt 12.x's) words two diagnostics differently from the 2.9 vsecret links
// against; the rest of the corpus (tests/data/secretxml) reads the same in both.
std::string Libxml214Wording(std::string message) {
  constexpr std::string_view kNotUtf8 = "Input is not proper UTF-8, indicate encoding !\n";
  constexpr std::string_view kUnsupported = "Unsupported encoding ";
  if (message.starts_with(kNotUtf8)) return "Invalid bytes in character encoding\n";
  if (message.starts_with(kUnsupported)) {
    // Rebuilt rather than insert()ed: GCC 12 reports a false -Wrestrict for the insert (PR 105329).
    std::string reworded(kUnsupported.substr(0, kUnsupported.size() - 1));
    reworded.append(":").append(std::string_view(message).substr(kUnsupported.size() - 1));
    return reworded;
  }
  return message;
}

// Same text as libvirt's catchXMLError: "<file>:<line>: <libxml2 message><source line>\n<caret>",
// where the caret line repeats tabs and turns other characters before the error column into '-'.
// "at line <line>: " stands in for "<file>:<line>: " when the input has no name (libvirt 12.x's
// API input, entity content).
//
// The source line differs between the references when the error sits at the end of the input:
// libvirt 9.0 shows the empty remainder after the last newline as "(null)" and a lone caret;
// libvirt 12.x steps back over the trailing newlines to the last line with text, and leaves
// both lines out when there is none (an empty or all-newline document).
void CatchSyntaxError(void* ctx, const char* /*msg*/, ...) {
  auto* pctxt = static_cast<xmlParserCtxtPtr>(ctx);
  SyntaxErrorSlot* slot = t_syntax_errors;
  if (pctxt == nullptr || slot == nullptr || slot->error.has_value() || pctxt->input == nullptr ||
      pctxt->lastError.level != XML_ERR_FATAL || pctxt->lastError.message == nullptr) {
    return;
  }
  const bool libvirt9 = slot->libvirt9;
  const xmlChar* base = pctxt->input->base;
  const xmlChar* cur = pctxt->input->cur;
  while (cur > base && (*cur == '\n' || *cur == '\r' || (!libvirt9 && *cur == 0))) --cur;
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
  // libvirt 9.0 formats an empty context line from a NULL buffer, which glibc prints as "(null)".
  if (context.empty() && libvirt9) context = "(null)";

  const xmlError& e = pctxt->lastError;
  std::string text = e.file != nullptr ? std::string(e.file) + ":" : std::string("at line ");
  text += std::to_string(e.line) + ": ";
  text += libvirt9 ? std::string(e.message) : Libxml214Wording(e.message);
  if (!context.empty()) text += context + "\n" + caret;
  const ErrorDomain domain = pctxt->_private == &g_domain_tag ? slot->domain : ErrorDomain::kXml;
  slot->error = Error(ErrorCode::kXmlDetail, domain, std::move(text));
}

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
  // libxml2 itself treats an attribute as a node with the same leading layout.
  std::unique_ptr<xmlChar, XmlCharFree> value(xmlNodeGetContent(reinterpret_cast<const xmlNode*>(attr)));
  return std::string(value ? reinterpret_cast<const char*>(value.get()) : "");
}

std::optional<std::string> NonEmpty(std::optional<std::string> value) {
  if (value && value->empty()) return std::nullopt;
  return value;
}

}  // namespace

void EnsureLibxmlInitialised() {
  static std::once_flag once;
  std::call_once(once, [] {
    xmlInitParser();
    xmlRelaxNGInitTypes();
  });
}

void DiscardMessage(void* /*ctx*/, const char* /*msg*/, ...) {}

ScopedErrorRouting::ScopedErrorRouting()
    : generic_(xmlGenericError),
      generic_ctx_(xmlGenericErrorContext),
      structured_(xmlStructuredError),
      structured_ctx_(xmlStructuredErrorContext) {
  xmlSetGenericErrorFunc(nullptr, DiscardMessage);
  xmlSetStructuredErrorFunc(nullptr, nullptr);
}

ScopedErrorRouting::~ScopedErrorRouting() {
  xmlSetGenericErrorFunc(generic_ctx_, generic_);
  xmlSetStructuredErrorFunc(structured_ctx_, structured_);
}

Result<DocPtr> ParseDocument(std::string_view xml, const ParseSource& source, const char* root_name) {
  EnsureLibxmlInitialised();
  const std::string name(source.name);
  if (!source.is_api_input && xml.size() > static_cast<std::size_t>(INT_MAX)) {
    return Fail(ErrorCode::kXmlError, source.domain,
                "XML error: failed to parse xml document '" + name + "'");
  }
  const std::string c_string =
      source.is_api_input ? std::string(xml.substr(0, xml.find('\0'))) : std::string();
  // libvirt 12.x hands API input to libxml2 without a name and, like a file, honours its encoding
  // declaration; 9.0 names it and (libxml2 2.9's xmlCtxtReadDoc) ignores the declaration.
  const bool libvirt9 = !source.libvirt12_form || Libvirt9Compat();
  const bool as_c_string = source.is_api_input && libvirt9;
  const char* url = source.is_api_input && !libvirt9 ? nullptr : name.c_str();
  if (!as_c_string && c_string.size() > static_cast<std::size_t>(INT_MAX)) {
    return Fail(ErrorCode::kXmlError, source.domain,
                "XML error: failed to parse xml document '" + name + "'");
  }

  DocPtr doc;
  SyntaxErrorSlot slot{source.domain, libvirt9, std::nullopt};
  {
    ScopedErrorRouting routing;
    t_syntax_errors = &slot;
    std::unique_ptr<xmlParserCtxt, ParserCtxtFree> pctxt(xmlNewParserCtxt());
    if (!pctxt || pctxt->sax == nullptr) std::abort();  // out of memory, as libvirt treats it
    pctxt->_private = &g_domain_tag;
    pctxt->sax->error = CatchSyntaxError;
    const std::string_view bytes = source.is_api_input ? std::string_view(c_string) : xml;
    doc.reset(as_c_string ? xmlCtxtReadDoc(pctxt.get(), reinterpret_cast<const xmlChar*>(c_string.c_str()),
                                           url, nullptr, kParseOptions)
                          : xmlCtxtReadMemory(pctxt.get(), bytes.data(), static_cast<int>(bytes.size()), url,
                                              nullptr, kParseOptions));
    t_syntax_errors = nullptr;
  }

  if (!doc) {
    if (slot.error) return std::unexpected(std::move(*slot.error));
    return Fail(ErrorCode::kXmlError, source.domain,
                "XML error: failed to parse xml document '" + name + "'");
  }
  const xmlNode* root = xmlDocGetRootElement(doc.get());
  if (root == nullptr) return InternalError(source.domain, "missing root element");
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

// xmlNodeGetContent is exactly what libxml2's XPath string() uses for a node.
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
  for (const xmlNode* c = parent->children; c != nullptr; c = c->next) {
    if (!IsElement(c, a)) continue;
    if (const xmlNode* inner = FirstChild(c, b)) return Text(inner);
  }
  return std::nullopt;
}

std::optional<std::string> AttrText(const xmlNode* node, const char* name) {
  if (node == nullptr) return std::nullopt;
  return NonEmpty(AttrValue(node, name, false));
}

std::optional<std::string> PathAttrText(const xmlNode* parent, const char* a, const char* name) {
  for (const xmlNode* c = parent->children; c != nullptr; c = c->next) {
    if (!IsElement(c, a)) continue;
    if (std::optional<std::string> value = AttrValue(c, name, false)) return NonEmpty(std::move(value));
  }
  return std::nullopt;
}

}  // namespace vsecret::xml_util
