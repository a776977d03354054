#include "conf/xml_escape.h"

namespace vsecret {

void AppendXmlEscaped(std::string& out, std::string_view text) {
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        if (c >= 0x01 && c <= 0x19 && c != '\t' && c != '\n' && c != '\r') break;
        out.push_back(ch);
    }
  }
}

}  // namespace vsecret
