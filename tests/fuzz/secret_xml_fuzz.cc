// Fuzzes ParseSecretXml, with and without RelaxNG validation, and checks that whatever parses
// formats to a fixed point: the canonical form must parse back to the same canonical form, or
// define -> dumpxml -> define would drift. One drift is libvirt's own and kept on purpose:
// virBufferEscapeString writes a CR in a description raw, and XML end-of-line handling turns
// it into LF when read back (tests/data/secretxml/cases/ok-charref-cr.*), so CRs are compared
// as LFs.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "conf/secret_xml.h"
#include "fuzz_check.h"
#include "vsecret/secret.h"

namespace {

// XML 1.0 §2.11 end-of-line handling, as the parser applies it.
std::string NormalizeLineEnds(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // The first byte picks the flags so one corpus covers both paths.
  const unsigned flags = (data[0] & 1) ? vsecret::kDefineValidate : 0;
  const std::string_view xml(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto def = vsecret::ParseSecretXml(xml, flags);
  if (!def) return 0;
  const std::string canonical = vsecret::FormatSecretXml(*def);
  auto again = vsecret::ParseSecretXml(canonical, 0);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(vsecret::FormatSecretXml(*again) == NormalizeLineEnds(canonical));
  return 0;
}
