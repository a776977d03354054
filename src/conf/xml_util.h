// libxml2 plumbing shared by the XML parsers in conf/ (secret, encryption, volume, pool).
//
// It reproduces libvirt's virXMLParseHelper: its parser options, its syntax-error text
// ("<name>:<line>: <libxml2 message><source line>\n<caret>", the first fatal error winning, in
// libvirt 12.x's form unless vsecret/compat.h selects 9.0's), its root-name check, and the look-ups its
// parsers make with XPath relative to a node. Those look-ups keep XPath's semantics: a bare name matches only
// un-namespaced nodes, string() takes the first match in document order and yields its flattened text (text
// and CDATA of all descendants and entity references), and virXPathString treats "" as absent.
//
// Thread-safety: every function may be called from any thread; libxml2 is initialised once, and
// the error handlers a parse installs are per-thread and restored before ParseDocument returns.
#pragma once

#include <libxml/tree.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vsecret/error.h"

namespace vsecret::xml_util {

struct DocFree {
  void operator()(xmlDoc* doc) const { xmlFreeDoc(doc); }
};
using DocPtr = std::unique_ptr<xmlDoc, DocFree>;

// Runs libxml2's (and its RelaxNG types') global initialisation exactly once per process: in
// libxml2 2.9 both touch unlocked globals.
void EnsureLibxmlInitialised();

// While alive, keeps libxml2's per-thread fallback handlers from printing to stderr and from
// diverting context-specific diagnostics away from the callbacks a parser or validator sets.
// The thread's previous handlers are restored on destruction, so other libxml2 users in the
// process are unaffected. Nesting is allowed.
class ScopedErrorRouting {
 public:
  ScopedErrorRouting();
  ~ScopedErrorRouting();
  ScopedErrorRouting(const ScopedErrorRouting&) = delete;
  ScopedErrorRouting& operator=(const ScopedErrorRouting&) = delete;

 private:
  xmlGenericErrorFunc generic_;
  void* generic_ctx_;
  xmlStructuredErrorFunc structured_;
  void* structured_ctx_;
};

// A libxml2 message sink that drops the message (for handler slots that must not be null).
void DiscardMessage(void* ctx, const char* msg, ...);

struct ParseSource {
  // The document name libvirt gives the input: it starts every syntax-error message.
  std::string_view name;
  // API input ends at the first NUL (libvirt passes a C string). libvirt 12.x parses it without a
  // document name ("at line N: ...") and honours its encoding declaration; libvirt 9.0 names it
  // and ignores the declaration (libxml2 2.9's xmlCtxtReadDoc). A file's content is named and
  // its declaration honoured in both.
  bool is_api_input = true;
  // The domain of syntax errors and of the "failed to parse" and "missing root element" errors
  // (the root-name mismatch is always in the XML domain, as in libvirt).
  ErrorDomain domain = ErrorDomain::kXml;
  // Whether the input's syntax errors and encoding follow libvirt 12.x (unless vsecret/compat.h
  // selects 9.0). Only the secret parser's have been checked against 12.x; the volume, pool and
  // encryption parsers keep libvirt 9.0's recorded form.
  bool libvirt12_form = false;
};

// Parses xml and checks that the root element's local name is root_name ("expecting root
// element of '<root>', not '<name>'"). A namespaced root passes, as it does in libvirt.
Result<DocPtr> ParseDocument(std::string_view xml, const ParseSource& source, const char* root_name);

// The first child element with this name and no namespace ("./name[1]").
const xmlNode* FirstChild(const xmlNode* parent, const char* name);
// Every such child, in document order ("./name").
std::vector<const xmlNode*> Children(const xmlNode* parent, const char* name);
// virXMLPropString: the attribute's value, "" included; nullopt when absent. Namespaces are
// ignored, as xmlGetProp ignores them.
std::optional<std::string> Prop(const xmlNode* node, const char* name);
// virXPathString("string(...)"): the flattened text of a node; "" counts as absent, and so does
// a null node.
std::optional<std::string> Text(const xmlNode* node);
// The text of the first child element with this name ("string(./name)").
std::optional<std::string> ChildText(const xmlNode* parent, const char* name);
// "string(./a/b)": the first b under any a, in document order.
std::optional<std::string> PathText(const xmlNode* parent, const char* a, const char* b);
// virXPathString("string(./@name)"): the un-namespaced attribute's value, "" counting as absent;
// nullopt for a null node.
std::optional<std::string> AttrText(const xmlNode* node, const char* name);
// "string(./a/@name)": the attribute of the first a that has it, in document order.
std::optional<std::string> PathAttrText(const xmlNode* parent, const char* a, const char* name);

}  // namespace vsecret::xml_util
