// XML text and attribute escaping as libvirt's virBufferEscapeString does it, shared by every
// formatter that must match libvirt's output byte for byte.
#pragma once

#include <string>
#include <string_view>

namespace vsecret {

// Appends text with < > & " ' replaced by &lt; &gt; &amp; &quot; &apos;. The C0 controls
// libvirt lists (0x01-0x19 except TAB, LF and CR) are dropped silently; everything else,
// UTF-8 included, is copied as is.
void AppendXmlEscaped(std::string& out, std::string_view text);

}  // namespace vsecret
