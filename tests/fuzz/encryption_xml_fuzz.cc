// Fuzzes the storage XML parsers: <encryption> (inside volumes), volume and pool definitions.
// Whatever <encryption> parses must format to XML that parses to the same formatted text.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "conf/encryption_xml.h"
#include "conf/pool_xml.h"
#include "conf/volume_xml.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view xml(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      auto def = vsecret::ParseEncryptionXml(xml);
      if (!def) break;
      std::string first;
      vsecret::FormatEncryptionXml(first, *def, 0);
      auto again = vsecret::ParseEncryptionXml(first);
      FUZZ_CHECK(again.has_value());
      std::string second;
      vsecret::FormatEncryptionXml(second, *again, 0);
      FUZZ_CHECK(first == second);
      break;
    }
    case 1:
      (void)vsecret::ParseVolumeXml(xml);
      break;
    default:
      (void)vsecret::ParsePoolXml(xml);
      break;
  }
  return 0;
}
