// Printing an XML document, or the nodes an XPath expression selects from it, the way virsh's
// `--xpath` / `--wrap` options do (virshDumpXML).
//
//  * No expression: the document is printed unchanged.
//  * Otherwise the document is re-parsed without blank text nodes and each selected node is
//    serialised by libxml2 (attributes as ` name="value"`, text as escaped text), one per line.
//  * With wrap, copies of the nodes become the children (or attributes) of a <nodes> element,
//    which is serialised as one indented document fragment.
//  * An expression libxml2 cannot compile selects nothing; libxml2's own diagnostic still goes
//    to the error stream. An expression whose value is not a node set is an error
//    "internal error: Incorrect xpath '<expr>'".
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "vsecret/error.h"

namespace vsecret::cli {

class Console;

// Writes the result on the console. On failure returns the error for the caller to report; an
// error with an empty message is a failure virsh does not explain (libxml2 refusing to attach a
// node to the wrapper), so there is nothing to report.
Result<void> DumpXml(Console& console, const std::string& xml, const std::optional<std::string_view>& xpath,
                     bool wrap);

}  // namespace vsecret::cli
