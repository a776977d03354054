// Fuzzes the LUKS1 header parser that runs on the first sector of every volume vsecret opens.
// A header that parses must serialise to bytes that parse to the same header.
#include <cstddef>
#include <cstdint>
#include <span>

#include "fuzz_check.h"
#include "volume/luks_header.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  (void)vsecret::volume::ProbeLuks(bytes);
  auto header = vsecret::volume::ParseLuksHeader(bytes);
  if (!header) return 0;
  const auto serialised = vsecret::volume::SerializeLuksHeader(*header);
  auto again = vsecret::volume::ParseLuksHeader(serialised);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(*again == *header);
  return 0;
}
