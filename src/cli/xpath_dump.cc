#include "cli/xpath_dump.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xpath.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "cli/console.h"

namespace vsecret::cli {
namespace {

struct DocFree {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};
struct XPathContextFree {
  void operator()(xmlXPathContext* c) const { xmlXPathFreeContext(c); }
};
struct XPathObjectFree {
  void operator()(xmlXPathObject* o) const { xmlXPathFreeObject(o); }
};
struct BufferFree {
  void operator()(xmlBuffer* b) const { xmlBufferFree(b); }
};

// libxml2 reports XPath syntax errors through its (thread-local) generic error channel, which
// virsh leaves at the default: formatted with context ("XPath error : ...", the expression and
// a caret) onto stderr. libxml2 only formats like that for its default handler, so that handler
// stays in place, pointed at a memory stream, and what it wrote is forwarded to the console.
// The thread's previous handlers are restored afterwards.
class LibxmlErrorCapture {
 public:
  explicit LibxmlErrorCapture(Console& console)
      : console_(console),
        old_generic_(xmlGenericError),
        old_generic_ctx_(xmlGenericErrorContext),
        old_structured_(xmlStructuredError),
        old_structured_ctx_(xmlStructuredErrorContext) {
    stream_ = open_memstream(&buffer_, &size_);
    xmlSetStructuredErrorFunc(nullptr, nullptr);
    // A null handler selects libxml2's default one; its context is the FILE* it prints to.
    xmlSetGenericErrorFunc(stream_, nullptr);
  }
  // Forwards what libxml2 printed so far and restores the previous handlers.
  void Finish() {
    if (done_) return;
    done_ = true;
    xmlSetGenericErrorFunc(old_generic_ctx_, old_generic_);
    xmlSetStructuredErrorFunc(old_structured_ctx_, old_structured_);
    if (stream_ == nullptr) return;
    std::fclose(stream_);
    if (size_ > 0) console_.RawError(std::string_view(buffer_, size_));
    std::free(buffer_);
  }
  ~LibxmlErrorCapture() { Finish(); }
  LibxmlErrorCapture(const LibxmlErrorCapture&) = delete;
  LibxmlErrorCapture& operator=(const LibxmlErrorCapture&) = delete;

 private:
  Console& console_;
  xmlGenericErrorFunc old_generic_;
  void* old_generic_ctx_;
  xmlStructuredErrorFunc old_structured_;
  void* old_structured_ctx_;
  std::FILE* stream_ = nullptr;
  char* buffer_ = nullptr;
  std::size_t size_ = 0;
  bool done_ = false;
};

// virXMLNodeToString: formatted dump of one node, in the context of doc.
std::string NodeToString(xmlDoc* doc, xmlNode* node) {
  std::unique_ptr<xmlBuffer, BufferFree> buf(xmlBufferCreate());
  if (!buf || xmlNodeDump(buf.get(), doc, node, 0, 1) == 0) {
    return "(null)";  // what virsh prints when the dump comes back empty
  }
  return reinterpret_cast<const char*>(xmlBufferContent(buf.get()));
}

}  // namespace

Result<void> DumpXml(Console& console, const std::string& xml, const std::optional<std::string_view>& xpath,
                     bool wrap) {
  if (!xpath) {
    console.Print(xml);
    return {};
  }
  LibxmlErrorCapture libxml_errors(console);

  // Blank text nodes are dropped so that the selected nodes can be re-indented on output.
  std::unique_ptr<xmlDoc, DocFree> doc(
      xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "secret", nullptr,
                    XML_PARSE_NONET | XML_PARSE_NOWARNING | XML_PARSE_NOBLANKS));
  if (!doc) return InternalError(ErrorDomain::kXml, "failed to parse the secret XML");

  std::unique_ptr<xmlXPathContext, XPathContextFree> ctxt(xmlXPathNewContext(doc.get()));
  if (!ctxt) return InternalError(ErrorDomain::kXml, "failed to create an XPath context");
  ctxt->node = xmlDocGetRootElement(doc.get());

  std::string expr(*xpath);
  std::unique_ptr<xmlXPathObject, XPathObjectFree> obj(
      xmlXPathEval(reinterpret_cast<const xmlChar*>(expr.c_str()), ctxt.get()));
  libxml_errors.Finish();
  std::vector<xmlNode*> nodes;
  if (obj) {
    if (obj->type != XPATH_NODESET) return InternalError(ErrorDomain::kXml, "Incorrect xpath '" + expr + "'");
    if (obj->nodesetval != nullptr) {
      for (int i = 0; i < obj->nodesetval->nodeNr; ++i) nodes.push_back(obj->nodesetval->nodeTab[i]);
    }
  }

  if (wrap) {
    std::unique_ptr<xmlDoc, DocFree> wrapper(xmlNewDoc(reinterpret_cast<const xmlChar*>("1.0")));
    xmlNode* root = xmlNewNode(nullptr, reinterpret_cast<const xmlChar*>("nodes"));
    xmlDocSetRootElement(wrapper.get(), root);
    for (xmlNode* node : nodes) {
      xmlNode* copy = xmlDocCopyNode(node, wrapper.get(), 1);
      // xmlAddChild may merge a text copy into its neighbour (freeing the copy) and returns
      // null only on failure, when the copy is still ours to free. virsh fails silently then.
      if (xmlAddChild(root, copy) == nullptr) {
        xmlFreeNode(copy);
        return std::unexpected(Error(ErrorCode::kOk, ErrorDomain::kNone, ""));
      }
    }
    console.Print(NodeToString(doc.get(), root) + "\n");
  } else {
    for (xmlNode* node : nodes) console.Print(NodeToString(doc.get(), node) + "\n");
  }
  return {};
}

}  // namespace vsecret::cli
